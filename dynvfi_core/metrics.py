"""Frame-quality metrics used across DynVFI (evaluation, annotation, routing).

All functions take ``(B, 3, H, W)`` float tensors in [0, 1] and return one value per sample.
Predictions are usually quantised to 8 bits first (:func:`quantize`), as a saved frame would be;
that is how VFI benchmarks (and the Middlebury IE definition) score methods.

Colour convention: every metric is computed on the three RGB channels, weighted equally (PSNR's
MSE and IE average over all pixels and channels, SSIM averages its per-channel maps); there is
no conversion to luma (Y), so an error in one channel counts a third of the same error in all
three. Values therefore match RGB-based VFI tables (RIFE, VFIformer), not Y-channel SR tables.
"""

from __future__ import annotations

import piq
import torch

#: PSNR of a perfect prediction is infinite; it is reported as this instead so means stay finite
PSNR_CAP_DB = 100.0


def quantize(x: torch.Tensor) -> torch.Tensor:
    """Round to the 8-bit grid, as writing the frame to a PNG would."""
    return (x.clamp(0, 1) * 255.0).round() / 255.0


def psnr(pred: torch.Tensor, gt: torch.Tensor) -> torch.Tensor:
    """Peak signal-to-noise ratio in dB, per sample, capped at :data:`PSNR_CAP_DB`."""
    mse = (pred.float() - gt.float()).pow(2).flatten(1).mean(dim=1)
    out = -10.0 * torch.log10(mse.clamp_min(10 ** (-PSNR_CAP_DB / 10)))
    return out.clamp_max(PSNR_CAP_DB)


def ssim(pred: torch.Tensor, gt: torch.Tensor) -> torch.Tensor:
    """SSIM (Gaussian 11x11, sigma 1.5, full resolution), per sample.

    piq's default downsampling is off so the value matches the usual VFI-benchmark definition.
    Images smaller than the window are compared with a window that fits them.
    """
    k = min(11, pred.shape[-1], pred.shape[-2])
    k = k if k % 2 == 1 else k - 1
    return piq.ssim(pred.float().clamp(0, 1), gt.float().clamp(0, 1), kernel_size=k, data_range=1.0,
                    reduction="none", downsample=False)


def interpolation_error(pred: torch.Tensor, gt: torch.Tensor) -> torch.Tensor:
    """Middlebury IE: mean absolute difference on the 0-255 scale after rounding the prediction."""
    p = (pred.float().clamp(0, 1) * 255.0).round()
    g = (gt.float().clamp(0, 1) * 255.0).round()
    return (p - g).abs().flatten(1).mean(dim=1)


def all_metrics(pred: torch.Tensor, gt: torch.Tensor) -> dict[str, torch.Tensor]:
    """PSNR, SSIM and IE of 8-bit-quantised predictions."""
    q = quantize(pred)
    return {"psnr": psnr(q, gt), "ssim": ssim(q, gt), "ie": interpolation_error(q, gt)}
