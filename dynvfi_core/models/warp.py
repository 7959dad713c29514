"""Backward warping with a dense optical-flow field (the sampling op every RIFE variant uses).

RIFE's networks were trained with one exact convention, and their outputs drift visibly if it
changes: flow is in pixels, ``flow[:, 0]`` horizontal and ``flow[:, 1]`` vertical, pixel
coordinates map to [-1, 1] with ``align_corners=True`` (so a flow of ``(W-1)/2`` pixels moves by
one unit), bilinear sampling, and samples outside the frame take the nearest border value.
"""

from __future__ import annotations

import torch
import torch.nn.functional as F


def backward_warp(img: torch.Tensor, flow: torch.Tensor) -> torch.Tensor:
    """Sample ``img`` at ``p + flow(p)`` for every pixel ``p``.

    Args:
        img: ``(B, C, H, W)`` tensor to sample from.
        flow: ``(B, 2, H, W)`` displacement in pixels (x then y), same spatial size as ``img``.

    Returns:
        ``(B, C, H, W)`` warped tensor in ``img``'s dtype.

    The sampling grid is always built and used in float32: under fp16 autocast, half-precision
    coordinates would be off by about a pixel on 2K-wide frames.
    """
    h, w = flow.shape[2:]
    flow = flow.float()
    xs = torch.linspace(-1.0, 1.0, w, device=flow.device).view(1, 1, w)
    ys = torch.linspace(-1.0, 1.0, h, device=flow.device).view(1, h, 1)
    gx = xs + flow[:, 0] / ((img.shape[3] - 1.0) / 2.0)
    gy = ys + flow[:, 1] / ((img.shape[2] - 1.0) / 2.0)
    grid = torch.stack((gx, gy), dim=3)
    out = F.grid_sample(img.float(), grid, mode="bilinear", padding_mode="border", align_corners=True)
    return out.to(img.dtype)
