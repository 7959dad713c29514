"""Deformable 3x3 convolution with two interchangeable kernels.

The DPA aligns shallow (stage-2) features with offsets predicted from deep features, as AHIQ
does. ``torchvision.ops.deform_conv2d`` is the reference kernel; ``native`` re-expresses the
same operation as ``k*k`` bilinear ``grid_sample`` gathers followed by one matrix multiply,
which autograd, AMP and every backend support without a custom op, and which is faster on CPU
for the small maps the DPA uses (see ``dynvfi_core.dpa.bench.compare_deform``).
Both take offsets in torchvision's layout: ``(B, 2*k*k, H, W)`` with (dy, dx) pairs per tap.
"""

from __future__ import annotations

import math

import torch
import torch.nn.functional as F
from torch import nn
from torchvision.ops import deform_conv2d

from dynvfi_core.errors import ConfigError

IMPLEMENTATIONS = ("torchvision", "native")


def native_deform_conv2d(
    x: torch.Tensor, offset: torch.Tensor, weight: torch.Tensor, bias: torch.Tensor | None
) -> torch.Tensor:
    """Deformable conv (stride 1, 'same' padding, dilation 1, one offset group) via grid_sample.

    Sampling outside the map reads zeros, like torchvision's kernel, so both agree to rounding.
    """
    b, c, h, w = x.shape
    out_c, _, kh, kw = weight.shape
    ys = torch.arange(h, device=x.device, dtype=x.dtype).view(1, h, 1)
    xs = torch.arange(w, device=x.device, dtype=x.dtype).view(1, 1, w)
    off = offset.view(b, kh * kw, 2, h, w)
    taps = []
    for i in range(kh):
        for j in range(kw):
            k = i * kw + j
            py = ys + (i - (kh - 1) // 2) + off[:, k, 0]
            px = xs + (j - (kw - 1) // 2) + off[:, k, 1]
            # grid_sample with align_corners=True maps -1..1 onto pixel centres 0..n-1
            grid = torch.stack((px * (2.0 / max(w - 1, 1)) - 1.0, py * (2.0 / max(h - 1, 1)) - 1.0), dim=-1)
            taps.append(F.grid_sample(x, grid, mode="bilinear", padding_mode="zeros", align_corners=True))
    cols = torch.stack(taps, dim=2)  # (B, C, k*k, H, W), ordered like weight's (C, kh, kw)
    out = torch.einsum("bckhw,ock->bohw", cols, weight.reshape(out_c, c, kh * kw))
    if bias is not None:
        out = out + bias.view(1, -1, 1, 1)
    return out


class DeformConv3x3(nn.Module):
    """3x3 deformable conv whose offsets come from a *separate* guide feature map."""

    def __init__(self, in_channels: int, out_channels: int, guide_channels: int, impl: str = "native") -> None:
        super().__init__()
        if impl not in IMPLEMENTATIONS:
            raise ConfigError(f"deform_impl must be one of {IMPLEMENTATIONS}, got {impl!r}")
        self.impl = impl
        self.offset = nn.Conv2d(guide_channels, 2 * 9, 3, padding=1)
        # zero offsets at start: the layer begins as a plain conv and learns to deform
        nn.init.zeros_(self.offset.weight)
        nn.init.zeros_(self.offset.bias)
        self.weight = nn.Parameter(torch.empty(out_channels, in_channels, 3, 3))
        self.bias = nn.Parameter(torch.zeros(out_channels))
        nn.init.kaiming_uniform_(self.weight, a=math.sqrt(5))

    def forward(self, x: torch.Tensor, guide: torch.Tensor) -> torch.Tensor:
        offset = self.offset(guide)
        if self.impl == "torchvision":
            # torchvision's kernel has no half-precision CPU path and no autocast rule everywhere
            return deform_conv2d(x.float(), offset.float(), self.weight, self.bias, padding=(1, 1))
        return native_deform_conv2d(x, offset.to(x.dtype), self.weight.to(x.dtype), self.bias.to(x.dtype))
