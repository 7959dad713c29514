"""The backward-warp op: RIFE's exact sampling convention (pixels, align_corners, border clamp)."""

from __future__ import annotations

import torch

from dynvfi_core.models.warp import backward_warp


def _image(h: int = 12, w: int = 20) -> torch.Tensor:
    g = torch.Generator().manual_seed(0)
    return torch.rand(2, 3, h, w, generator=g)


def test_zero_flow_is_identity() -> None:
    img = _image()
    out = backward_warp(img, torch.zeros(2, 2, 12, 20))
    assert float((out - img).abs().max()) < 1e-6


def test_integer_flow_moves_by_whole_pixels_and_clamps_at_the_border() -> None:
    img = _image()
    flow = torch.zeros(2, 2, 12, 20)
    flow[:, 0] = 2.0  # sample two pixels to the right
    flow[:, 1] = -1.0  # and one up
    out = backward_warp(img, flow)
    assert torch.allclose(out[:, :, 1:, :-2], img[:, :, :-1, 2:], atol=1e-5)
    assert torch.allclose(out[:, :, 1:, -2:], img[:, :, :-1, -1:].expand(-1, -1, -1, 2), atol=1e-5)
    assert torch.allclose(out[:, :, 0, :-2], img[:, :, 0, 2:], atol=1e-5)


def test_half_pixel_flow_averages_neighbours() -> None:
    img = _image()
    flow = torch.zeros(2, 2, 12, 20)
    flow[:, 0] = 0.5
    out = backward_warp(img, flow)
    assert torch.allclose(out[..., :-1], (img[..., :-1] + img[..., 1:]) / 2, atol=1e-5)


def test_per_sample_flows_are_independent() -> None:
    img = _image()
    flow = torch.zeros(2, 2, 12, 20)
    flow[1, 0] = 1.0
    out = backward_warp(img, flow)
    assert torch.allclose(out[0], img[0], atol=1e-6)
    assert torch.allclose(out[1, :, :, :-1], img[1, :, :, 1:], atol=1e-5)


def test_half_precision_frames_sample_at_float32_positions() -> None:
    """On 2K-wide fp16 frames, half-precision coordinates would land up to a pixel off."""
    w = 2048
    ramp = torch.arange(w, dtype=torch.float32).view(1, 1, 1, w).expand(1, 1, 4, w).half()
    out = backward_warp(ramp, torch.zeros(1, 2, 4, w, dtype=torch.half))
    assert out.dtype == torch.half
    assert float((out.float() - ramp.float()).abs().max()) < 0.5
