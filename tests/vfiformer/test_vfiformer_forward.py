"""Forward passes with random weights: shapes, padding, channel order and the window machinery."""

from __future__ import annotations

import copy

import pytest
import torch
import torch.nn.functional as F

from dynvfi_core.errors import ConfigError
from dynvfi_core.models.vfiformer import VFIformerModel
from dynvfi_core.models.vfiformer_transformer import (
    coarse_windows,
    shift_masks,
    window_merge,
    window_partition,
)


@pytest.fixture(scope="module", autouse=True)
def one_thread():
    """64x64 passes are too small to gain from threads, and on a busy machine two contending
    OpenMP threads make them 10x slower; the previous setting is restored for other tests."""
    before = torch.get_num_threads()
    torch.set_num_threads(1)
    yield
    torch.set_num_threads(before)


@pytest.fixture(scope="module")
def model(random_net) -> VFIformerModel:
    return VFIformerModel(device="cpu", net=random_net)


def _pair(h: int, w: int, seed: int = 0) -> tuple[torch.Tensor, torch.Tensor]:
    g = torch.Generator().manual_seed(seed)
    a = torch.rand(1, 3, h, w, generator=g)
    return a, torch.roll(a, shifts=(2, 3), dims=(2, 3)) * 0.9 + 0.05


def test_odd_size_forward_pads_and_crops(model):
    a, b = _pair(37, 45)
    out = model.interpolate(a, b)
    assert out.shape == a.shape
    assert torch.isfinite(out).all()
    assert out.min() >= 0 and out.max() <= 1
    # the same as running the network by hand as the official test loader does: zero-pad to 64
    # equally on both sides (the odd pixel at the bottom/right), RGB -> BGR, crop the centre
    assert model.pad_size(37, 45) == (64, 64)
    pa, pb = (F.pad(x, (9, 10, 13, 14)) for x in (a, b))
    with torch.inference_mode():
        manual = model.net(pa.flip(1), pb.flip(1)).flip(1)[:, :, 13:50, 9:54]
    torch.testing.assert_close(out, manual, atol=1e-5, rtol=0)


def test_batch_samples_do_not_mix(model):
    # both frames of every sample share batched passes inside the net: the halves must stay apart
    (a0, b0), (a1, b1) = _pair(37, 45, seed=4), _pair(37, 45, seed=5)
    batch = model.interpolate(torch.cat((a0, a1)), torch.cat((b0, b1)))
    torch.testing.assert_close(batch[1:], model.interpolate(a1, b1), atol=1e-4, rtol=0)
    assert not torch.allclose(batch[0], batch[1], atol=1e-2)


def test_half_resolution_flow_protocol(random_net):
    # SNU-FILM protocol: flow from half-size frames (zero-padded to 64), upsampled x2, then the
    # synthesis at full size with that flow
    a, b = _pair(64, 64, seed=1)
    half = VFIformerModel(device="cpu", net=random_net, flow_scale=0.5)
    bgr0, bgr1 = a.flip(1), b.flip(1)
    with torch.inference_mode():
        flow = half._flow_from_downscaled(bgr0, bgr1)
        small = [F.interpolate(x, scale_factor=0.5, mode="bilinear", align_corners=False) for x in (bgr0, bgr1)]
        small = [F.pad(x, (0, 32, 0, 32)) for x in small]
        small_flow = random_net.estimate_flow(*small)[:, :, :32, :32]
        expected_flow = F.interpolate(small_flow, scale_factor=2.0, mode="bilinear", align_corners=False) * 2
        manual = random_net(bgr0, bgr1, flow).flip(1)
    assert flow.shape == (1, 4, 64, 64)
    torch.testing.assert_close(flow, expected_flow)
    out = half.interpolate(a, b)
    torch.testing.assert_close(out, manual, atol=1e-5, rtol=0)


def test_bad_flow_scale_is_a_config_error(random_net):
    with pytest.raises(ConfigError, match="flow_scale"):
        VFIformerModel(device="cpu", net=random_net, flow_scale=0.3)


def _half_padded(x: torch.Tensor) -> torch.Tensor:
    """Half-size bilinear map reflect-padded by ws/4 = 2 (where the cross-scale keys come from)."""
    return F.pad(F.interpolate(x, scale_factor=0.5, mode="bilinear", align_corners=False), (2, 2, 2, 2), mode="reflect")


def _naive_region_ids(h: int, w: int, ws: int, shift: int) -> torch.Tensor:
    ids = torch.zeros(1, h, w, 1)
    cuts = (slice(0, -ws), slice(-ws, -shift), slice(-shift, None))
    n = 0
    for rows in cuts:
        for cols in cuts:
            ids[:, rows, cols, :] = n
            n += 1
    return ids


@pytest.mark.parametrize("hw", [(16, 24), (32, 56), (8, 8)])
def test_shift_masks_follow_the_cyclic_shift_regions(hw):
    h, w = hw
    ids = _naive_region_ids(h, w, 8, 4)[0, :, :, 0]
    windows = torch.stack([ids[i:i + 8, j:j + 8].reshape(-1) for i in range(0, h, 8) for j in range(0, w, 8)])
    self_mask, cross_mask = shift_masks(h, w, 8, 4, torch.device("cpu"))
    expected = torch.where(windows[:, None, :] != windows[:, :, None], -100.0, 0.0)
    assert torch.equal(self_mask, expected)
    # cross-scale keys: the half-size id map, reflect-padded by 2, windows of 8 with stride 4
    half = _half_padded(ids[None, None])[0, 0]
    keys = torch.stack([half[i // 2:i // 2 + 8, j // 2:j // 2 + 8].reshape(-1)
                        for i in range(0, h, 8) for j in range(0, w, 8)])
    assert torch.equal(cross_mask, torch.where(keys[:, None, :] != windows[:, :, None], -100.0, 0.0))


def test_window_partition_round_trip_and_coarse_windows():
    x = torch.randn(2, 16, 24, 5)
    windows = window_partition(x, 8)
    assert windows.shape == (2 * 6, 64, 5)
    assert torch.equal(window_merge(windows, 8, 16, 24), x)
    assert torch.equal(windows[4], x[0, 8:16, 8:16].reshape(64, 5))
    coarse = coarse_windows(x, 8)
    half = _half_padded(x.permute(0, 3, 1, 2))
    # window (row 1, col 2) of image 1 sees the half-size area centred on it
    torch.testing.assert_close(coarse[6 + 5], half[1, :, 4:12, 8:16].reshape(5, 64).t())


@pytest.mark.skipif(not torch.cuda.is_available(), reason="needs CUDA")
def test_cuda_fp16_matches_cpu(random_net):
    a, b = _pair(64, 64, seed=3)
    cpu = VFIformerModel(device="cpu", net=random_net).interpolate(a, b)
    gpu = VFIformerModel(device="cuda", net=copy.deepcopy(random_net)).interpolate(a, b)
    assert gpu.device.type == "cpu" and gpu.shape == a.shape
    assert (gpu - cpu).abs().mean() < 2e-2
