"""Models built from other models: the 50/50 blend baseline, flip TTA and ensembles."""

from __future__ import annotations

import torch

from dynvfi_core.models.base import VFIModel


class Blend(VFIModel):
    """Linear blend ``(1-t)*img0 + t*img1``: the no-motion baseline every VFI model must beat."""

    name = "blend"

    def _run(self, img0: torch.Tensor, img1: torch.Tensor, t: torch.Tensor) -> torch.Tensor:
        w = t.view(-1, 1, 1, 1).to(img0.dtype)
        return img0 * (1 - w) + img1 * w


class FlipTTA(VFIModel):
    """Test-time augmentation: average the inner model over identity, horizontal and vertical flips.

    Flipping both inputs flips the motion field, so the three predictions err differently and
    their mean is usually sharper on large motion (at 3x the cost of the inner model).
    """

    def __init__(self, inner: VFIModel, device: str | torch.device | None = None) -> None:
        super().__init__(device or inner.device)
        self.inner = inner.to(self.device)
        self.name = f"tta({inner.name})"
        # pad_multiple stays 1: the inner model pads each flipped copy itself, by its own rule
        # (bottom/right for RIFE, centred for VFIformer), exactly as it pads an unflipped input
        self.arbitrary_t = True  # the inner model handles its own timesteps

    def to(self, device: str | torch.device) -> "FlipTTA":
        super().to(device)
        self.inner.to(device)
        return self

    def _run(self, img0: torch.Tensor, img1: torch.Tensor, t: torch.Tensor) -> torch.Tensor:
        acc = self.inner.interpolate(img0, img1, t)
        for dims in ((3,), (2,)):
            acc = acc + self.inner.interpolate(img0.flip(dims), img1.flip(dims), t).flip(dims)
        return acc / 3


class Ensemble(VFIModel):
    """Pixel-wise mean of several models' predictions (each model pads for itself)."""

    def __init__(self, members: list[VFIModel], device: str | torch.device | None = None) -> None:
        super().__init__(device or members[0].device)
        self.members = [m.to(self.device) for m in members]
        self.name = "ensemble(" + ",".join(m.name for m in members) + ")"
        self.arbitrary_t = True

    def to(self, device: str | torch.device) -> "Ensemble":
        super().to(device)
        for m in self.members:
            m.to(device)
        return self

    def _run(self, img0: torch.Tensor, img1: torch.Tensor, t: torch.Tensor) -> torch.Tensor:
        out = torch.stack([m.interpolate(img0, img1, t) for m in self.members])
        return out.mean(dim=0)
