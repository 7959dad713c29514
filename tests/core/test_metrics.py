"""Frame metrics against references written from their definitions (numpy / scipy), not the code.

- PSNR: ``10 log10(1 / MSE)`` over all pixels and the three RGB channels equally, of the
  prediction rounded to the 8-bit grid;
- SSIM: Wang et al. (2004), 11x11 Gaussian window of sigma 1.5, valid region only, C1 = 0.01^2,
  C2 = 0.03^2, mean over the map and the three channels (no downsampling, no luma);
- IE: Middlebury's mean absolute difference on the 0-255 scale of the rounded frames.
"""

from __future__ import annotations

import numpy as np
import pytest
import torch
from scipy import ndimage, signal

from dynvfi_core.metrics import PSNR_CAP_DB, all_metrics, interpolation_error, psnr, ssim


def _images(seed: int, shape: tuple[int, int] = (37, 45)) -> tuple[np.ndarray, np.ndarray]:
    """A smooth textured RGB image on the 8-bit grid and a distorted prediction (not on it)."""
    rng = np.random.default_rng(seed)
    gt = ndimage.gaussian_filter(rng.random((3, *shape)), sigma=(0, 2, 2))
    gt = (gt - gt.min()) / (gt.max() - gt.min())
    gt = np.round(gt * 255) / 255
    pred = np.clip(0.8 * gt + 0.1 * np.roll(gt, 2, axis=2) + 0.05 * rng.standard_normal(gt.shape) + 0.03, 0, 1)
    return gt, pred


def _t(a: np.ndarray) -> torch.Tensor:
    return torch.from_numpy(a[None].astype(np.float32))


def _ssim_reference(x: np.ndarray, y: np.ndarray, k: int = 11) -> float:
    """SSIM from its definition, per channel with a valid kxk Gaussian window (sigma 1.5), then averaged."""
    c = np.arange(k) - (k - 1) / 2
    g = np.exp(-(c ** 2) / (2 * 1.5 ** 2))
    w = np.outer(g, g) / np.outer(g, g).sum()
    c1, c2 = 0.01 ** 2, 0.03 ** 2
    maps = []
    for a, b in zip(x.astype(np.float64), y.astype(np.float64)):
        f = lambda z: signal.correlate2d(z, w, mode="valid")  # noqa: E731
        mu_a, mu_b = f(a), f(b)
        var_a, var_b, cov = f(a * a) - mu_a ** 2, f(b * b) - mu_b ** 2, f(a * b) - mu_a * mu_b
        maps.append((2 * mu_a * mu_b + c1) * (2 * cov + c2) / ((mu_a ** 2 + mu_b ** 2 + c1) * (var_a + var_b + c2)))
    return float(np.mean(maps))


@pytest.mark.parametrize("seed", [0, 1])
def test_all_metrics_match_their_definitions(seed: int) -> None:
    gt, pred = _images(seed)
    q = np.round(pred * 255) / 255  # the saved frame
    got = all_metrics(_t(pred), _t(gt))
    assert float(got["psnr"][0]) == pytest.approx(10 * np.log10(1 / np.mean((q - gt) ** 2)), abs=1e-4)
    assert float(got["ssim"][0]) == pytest.approx(_ssim_reference(q, gt), abs=2e-5)
    assert float(got["ie"][0]) == pytest.approx(np.mean(np.abs(np.round(q * 255) - np.round(gt * 255))), abs=1e-4)
    # the reference SSIM is far from the trivial values, so a wrong window would show
    assert 0.3 < _ssim_reference(q, gt) < 0.95


@pytest.mark.parametrize("shape, k", [((64, 8), 7), ((9, 64), 9), ((10, 12), 9)])
def test_ssim_window_shrinks_to_the_largest_odd_size_that_fits(shape: tuple[int, int], k: int) -> None:
    # narrower or shorter than 11 px: the largest odd window within both sides
    gt, pred = _images(3, shape)
    assert float(ssim(_t(pred), _t(gt))[0]) == pytest.approx(_ssim_reference(pred, gt, k), abs=2e-5)


def test_identical_images_score_exactly_the_psnr_cap() -> None:
    gt, _ = _images(4)
    assert float(psnr(_t(gt), _t(gt))[0]) == pytest.approx(PSNR_CAP_DB, abs=1e-4)


def test_ssim_window_is_the_11x11_gaussian_of_sigma_1_5() -> None:
    gt, pred = _images(2, (48, 48))
    ref = _ssim_reference(pred, gt)
    assert float(ssim(_t(pred), _t(gt))[0]) == pytest.approx(ref, abs=2e-5)
    # another window (7x7 box) gives a clearly different value on this image
    box = np.ones((7, 7)) / 49
    mu = lambda z: signal.correlate2d(z, box, mode="valid")  # noqa: E731
    a, b = pred[0], gt[0]
    other = ((2 * mu(a) * mu(b) + 1e-4) * (2 * (mu(a * b) - mu(a) * mu(b)) + 9e-4)
             / ((mu(a) ** 2 + mu(b) ** 2 + 1e-4) * (mu(a * a) - mu(a) ** 2 + mu(b * b) - mu(b) ** 2 + 9e-4))).mean()
    assert abs(other - _ssim_reference(pred[:1], gt[:1])) > 1e-3


def test_predictions_are_rounded_to_8_bits_before_scoring() -> None:
    gt, _ = _images(3)
    pred = gt + 0.3 / 255  # rounds back onto the ground truth
    m = all_metrics(_t(pred), _t(gt))
    assert float(m["psnr"][0]) == PSNR_CAP_DB
    assert float(m["ie"][0]) == 0.0
    assert float(m["ssim"][0]) == pytest.approx(1.0, abs=1e-6)
    # psnr() itself does not round: the same offset unrounded is 20 log10(255 / 0.3) dB
    assert float(psnr(_t(pred), _t(gt))[0]) == pytest.approx(20 * np.log10(255 / 0.3), abs=1e-3)


def test_colour_convention_is_rgb_averaged_equally() -> None:
    """An error in one channel only counts a third of the MSE (no luma weighting, no Y channel)."""
    gt, _ = _images(4)
    gt = np.clip(gt, 20 / 255, 235 / 255)
    for channel in range(3):
        pred = gt.copy()
        pred[channel] += 12 / 255
        expected = 10 * np.log10(3 / (12 / 255) ** 2)
        assert float(all_metrics(_t(pred), _t(gt))["psnr"][0]) == pytest.approx(expected, abs=1e-3)
        assert float(interpolation_error(_t(pred), _t(gt))[0]) == pytest.approx(12 / 3, abs=1e-4)


def test_metrics_are_per_sample() -> None:
    (g0, p0), (g1, p1) = _images(5), _images(6)
    batch = all_metrics(torch.from_numpy(np.stack([p0, p1]).astype(np.float32)),
                        torch.from_numpy(np.stack([g0, g1]).astype(np.float32)))
    for i, (g, p) in enumerate(((g0, p0), (g1, p1))):
        single = all_metrics(_t(p), _t(g))
        for key in ("psnr", "ssim", "ie"):
            assert float(batch[key][i]) == pytest.approx(float(single[key][0]), abs=1e-5)


def test_interpolation_error_rounds_an_unsaved_prediction_itself() -> None:
    """Middlebury IE scores the 8-bit frame even when called on a float prediction."""
    gt, pred = _images(7)
    expected = np.mean(np.abs(np.round(pred * 255) - np.round(gt * 255)))
    assert float(interpolation_error(_t(pred), _t(gt))[0]) == pytest.approx(expected, abs=1e-4)
    # 0.4 of a grey level off everywhere: the 8-bit frame is exact, so IE is 0 (0.4 unrounded)
    gt = np.clip(gt, 2 / 255, 253 / 255)
    assert float(interpolation_error(_t(gt + 0.4 / 255), _t(gt))[0]) == 0.0
    assert float(interpolation_error(_t(gt + 0.6 / 255), _t(gt))[0]) == pytest.approx(1.0, abs=1e-6)


def test_out_of_range_values_are_clipped_like_a_saved_frame() -> None:
    """A network may overshoot [0, 1]; the 8-bit frame it is scored as holds 0 and 255 there."""
    gt = torch.tensor([0.0, 1.0, 0.0, 1.0, 128 / 255]).view(1, 1, 1, 5).expand(1, 3, 1, 5).clone()
    over = torch.tensor([-0.3, 1.4, -1.0, 2.5, 128 / 255]).view(1, 1, 1, 5).expand(1, 3, 1, 5).clone()
    m = all_metrics(over, gt)
    assert float(m["psnr"][0]) == PSNR_CAP_DB and float(m["ie"][0]) == 0.0
    assert float(interpolation_error(over, gt)[0]) == 0.0
    assert float(interpolation_error(gt, over)[0]) == 0.0  # the ground truth is clipped the same way


def test_ssim_clips_both_images_like_saved_frames() -> None:
    # SSIM called directly on an overshooting prediction (or ground truth) scores the clipped frames
    gt, pred = _images(5, (24, 24))
    over = pred * 1.6 - 0.3  # spans about -0.3 .. 1.3
    assert over.min() < -0.1 and over.max() > 1.1
    want = _ssim_reference(np.clip(over, 0, 1), gt)
    assert float(ssim(_t(over), _t(gt))[0]) == pytest.approx(want, abs=2e-5)
    assert float(ssim(_t(gt), _t(over))[0]) == pytest.approx(want, abs=2e-5)  # SSIM is symmetric


def test_ssim_is_computed_at_full_resolution_on_large_frames() -> None:
    # frames of 384 px and more are where SSIM implementations (piq's default, MATLAB's ssim.m)
    # downsample first; the VFI benchmarks' SSIM does not
    gt, pred = _images(6, (400, 416))
    assert float(ssim(_t(pred), _t(gt))[0]) == pytest.approx(_ssim_reference(pred, gt), abs=2e-5)
