"""EMA-VFI (Zhang et al., CVPR 2023) as registered heavy models ``ema-vfi`` and ``ema-vfi:variant=small``.

The network (:mod:`~dynvfi_core.models.ema_vfi_net`) is our own implementation whose state dict
matches the official release (MCG-NJU/EMA-VFI, MIT licence) key for key, so the official
checkpoints load strictly. They are not on any package registry: users download them from the
Google Drive folder linked in the official README and put them where ``dynvfi weights list``
says (``$DYNVFI_HOME/weights/ema-vfi/ours.pkl``, ``.../ema-vfi-small/ours_small.pkl``) or pass
``checkpoint=PATH``.

Options (``ema-vfi:key=value,...``):

- ``variant``: ``base`` (default; ``ours.pkl``, 65.66M parameters) or ``small``
  (``ours_small.pkl``, 14.49M);
- ``checkpoint``: another file of the same layout, e.g. the arbitrary-timestep releases
  ``ours_t.pkl`` / ``ours_small_t.pkl`` that the official ``demo_Nx.py`` uses;
- ``tta``: the official flip test-time augmentation (both frames rotated by 180 degrees, run in
  the same batch, outputs averaged); default as the official benchmarks and demos: on for
  ``base``, off for ``small``;
- ``scale``: 1 (default), 0.5 or 0.25: flow and mask estimated on frames shrunk by this factor
  and upsampled, the appearance features and refinement at full size (the official
  ``Model.hr_inference``, used by its 2K (0.5) and 4K (0.25) benchmarks): for large frames.

Any timestep in (0, 1) is computed directly (the motion features are scaled by ``t`` and
``1 - t``), as in ``demo_Nx.py``. Frames are padded to a multiple of 32, centred, by repeating
the border pixels, as the official ``InputPadder`` does; the network takes BGR frames (OpenCV
loading in every official script), so channels are flipped on the way in and out.

Routing on a GPU with EMA-VFI as the heavy model::

    dynvfi route-eval --data TRIPLETS --dpa DPA.safetensors --fast rife-v4.25 --heavy ema-vfi --device cuda
"""

from __future__ import annotations

import json
from pathlib import Path

import torch
import torch.nn.functional as F
from torch import nn

from dynvfi_core import weights
from dynvfi_core.errors import ConfigError
from dynvfi_core.models import checkpoints
from dynvfi_core.models.base import NetworkModel
from dynvfi_core.models.ema_vfi_net import PAD_MULTIPLE, VARIANTS, EMAVFINet
from dynvfi_core.models.seeded_weights import seeded_state

_NOTE = ("official EMA-VFI checkpoint ckpt/{name}, downloaded by hand from the Google Drive folder linked "
         "in the MCG-NJU/EMA-VFI README; no hash is published")
WEIGHT_SPECS = {
    "base": weights.WeightSpec(model="ema-vfi", filename="ours.pkl", sha256=None, size=None,
                               note=_NOTE.format(name="ours.pkl")),
    "small": weights.WeightSpec(model="ema-vfi-small", filename="ours_small.pkl", sha256=None, size=None,
                                note=_NOTE.format(name="ours_small.pkl") + " (for ema-vfi:variant=small)"),
}
for _spec in WEIGHT_SPECS.values():
    weights.register(_spec)

#: the official layouts (keys, shapes, dtypes, parameter counts), one per variant
MANIFEST_PATHS = {
    "base": Path(__file__).with_name("data") / "ema_vfi_manifest.json",
    "small": Path(__file__).with_name("data") / "ema_vfi_small_manifest.json",
}
#: buffers that the official network registers while running (shift masks cached per padded
#: area); the official ``Model.load_model`` drops them, and so does this loader
COMPUTED_BUFFERS = ("attn_mask", "HW")
LABEL = "EMA-VFI"
#: ``scale`` values of the official high-resolution inference
SCALES = (1.0, 0.5, 0.25)


def _check_variant(variant: object) -> str:
    if variant not in VARIANTS:
        raise ConfigError(f"EMA-VFI variant must be one of {', '.join(VARIANTS)}, got {variant!r}")
    return str(variant)


def _check_scale(value: object) -> float:
    try:
        scale = float(value)  # type: ignore[arg-type]
    except (TypeError, ValueError) as exc:
        raise ConfigError(f"EMA-VFI scale must be a number, got {value!r}") from exc
    if scale not in SCALES:
        raise ConfigError(f"EMA-VFI scale must be one of {', '.join(str(s) for s in SCALES)}, got {value}")
    return scale


def read_checkpoint(path: str | Path, variant: str = "base") -> dict[str, torch.Tensor]:
    """The state dict of an official EMA-VFI checkpoint: ``module.`` stripped, cached masks dropped."""
    return checkpoints.read_checkpoint(path, LABEL, WEIGHT_SPECS[_check_variant(variant)], drop=COMPUTED_BUFFERS)


def load_checkpoint(net: nn.Module, path: str | Path, variant: str = "base") -> None:
    """Load an official checkpoint file into ``net`` strictly (one-line error on any mismatch)."""
    checkpoints.apply_checkpoint(net, read_checkpoint(path, variant), path, LABEL)


def manifest(variant: str = "base") -> dict:
    """The committed key/shape manifest of a variant."""
    return json.loads(MANIFEST_PATHS[_check_variant(variant)].read_text())


def build_net(variant: str = "base", seed: int | None = None) -> EMAVFINet:
    """An EMA-VFI network; with ``seed``, filled with :func:`seeded_state` weights (tests and
    benchmarks: same architecture and cost as the real one, no weight file needed)."""
    net = EMAVFINet(VARIANTS[_check_variant(variant)])
    if seed is not None:
        net.load_state_dict(seeded_state(manifest(variant)["tensors"], seed), strict=True)
    return net.eval()


class EMAVFIModel(NetworkModel):
    """EMA-VFI as a :class:`VFIModel` (arbitrary timestep, optional official flip TTA)."""

    name = "ema-vfi"
    pad_multiple = PAD_MULTIPLE
    min_side = PAD_MULTIPLE
    arbitrary_t = True
    pad_centred = True
    pad_mode = "replicate"

    def __init__(
        self,
        device: str | torch.device | None = None,
        variant: str = "base",
        checkpoint: str | None = None,
        tta: bool | None = None,
        scale: float = 1.0,
        *,
        net: EMAVFINet | None = None,
    ) -> None:
        """Load the official checkpoint of ``variant`` (``checkpoint`` or the weights directory);
        ``net`` supplies a built network instead (no file is read)."""
        self.variant = _check_variant(variant)
        if tta is not None and not isinstance(tta, bool):
            raise ConfigError(f"tta must be true or false, got {tta!r}")
        self.tta = self.variant == "base" if tta is None else tta
        self.scale = _check_scale(scale)
        # the shrunk frames must still be multiples of 16 (the backbone's coarsest stage)
        self.pad_multiple = self.min_side = max(PAD_MULTIPLE, int(16 / self.scale))
        if net is None:
            spec = WEIGHT_SPECS[self.variant]
            path = Path(checkpoint) if checkpoint else weights.require(spec.model)
            state = read_checkpoint(path, self.variant)  # fails fast, before the network is built
            net = EMAVFINet(VARIANTS[self.variant])
            checkpoints.apply_checkpoint(net, state, path, LABEL)
        super().__init__(net, device)

    def _run(self, img0: torch.Tensor, img1: torch.Tensor, t: torch.Tensor) -> torch.Tensor:
        bgr0, bgr1 = img0.flip(1), img1.flip(1)
        b = bgr0.shape[0]
        if self.tta:  # the official fast TTA: the 180-degree rotated pair rides in the same batch
            bgr0 = torch.cat((bgr0, bgr0.flip(2, 3)))
            bgr1 = torch.cat((bgr1, bgr1.flip(2, 3)))
            t = torch.cat((t, t))
        out = self.net(bgr0, bgr1, t) if self.scale == 1.0 else self._downscaled_flow(bgr0, bgr1, t)
        if self.tta:
            out = (out[:b] + out[b:].flip(2, 3)) / 2
        return out.flip(1)


    def _downscaled_flow(self, img0: torch.Tensor, img1: torch.Tensor, t: torch.Tensor) -> torch.Tensor:
        """The official ``hr_inference``: flow and mask from frames shrunk by ``scale``, upsampled
        (flow values rescaled), then warping and refinement with full-size appearance features."""
        small0, small1 = (F.interpolate(x, scale_factor=self.scale, mode="bilinear", align_corners=False)
                          for x in (img0, img1))
        flow, mask = self.net.estimate(small0, small1, t, *self.net.features(small0, small1))
        up = 1.0 / self.scale
        flow = F.interpolate(flow, scale_factor=up, mode="bilinear", align_corners=False) * up
        mask = F.interpolate(mask, scale_factor=up, mode="bilinear", align_corners=False)
        appearance, _ = self.net.features(img0, img1)
        return self.net.refine(img0, img1, appearance, flow, mask)


def random_weight_model(device: str | torch.device | None = None, variant: str = "base", **options: object) -> EMAVFIModel:
    """The model with seeded random weights, for benchmarks where the official file is absent."""
    return EMAVFIModel(device=device, variant=variant, net=build_net(variant, seed=0), **options)  # type: ignore[arg-type]
