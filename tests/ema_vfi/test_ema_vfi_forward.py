"""Forward behaviour with seeded random weights: masks, padding, timesteps and TTA, each against a
hand-written reference."""

from __future__ import annotations

import pytest
import torch
import torch.nn.functional as F

from dynvfi_core.models.ema_vfi import EMAVFIModel, build_net
from dynvfi_core.models.ema_vfi_backbone import window_mask


@pytest.fixture(scope="module")
def small_net():
    return build_net("small", seed=3)


def _pair(h: int, w: int, batch: int = 1, seed: int = 0) -> tuple[torch.Tensor, torch.Tensor]:
    g = torch.Generator().manual_seed(seed)
    a = torch.rand(batch, 3, h, w, generator=g)
    return a, torch.roll(a, shifts=(2, 3), dims=(2, 3)) * 0.9 + 0.05


def _naive_mask(h: int, w: int, ws: int, shift: int) -> torch.Tensor | None:
    """Region labels written out pixel by pixel: padding bands of the centred padding, and for a
    shifted block the three cyclic-shift bands, with a key masked when either label differs."""
    ph, pw = -(-h // ws) * ws - h, -(-w // ws) * ws - w
    hp, wp = h + ph, w + pw

    def band(i: int, a: int, b: int) -> int:
        return 0 if i < a else (1 if i < b else 2)

    pad = [[band(y, ph // 2, ph // 2 + h) * 3 + band(x, pw // 2, pw // 2 + w) for x in range(wp)] for y in range(hp)]
    sh = [[band(y, hp - ws, hp - shift) * 3 + band(x, wp - ws, wp - shift) for x in range(wp)] for y in range(hp)]
    if not shift and not (ph or pw):
        return None
    masks = []
    for wy in range(0, hp, ws):
        for wx in range(0, wp, ws):
            cells = [(wy + i, wx + j) for i in range(ws) for j in range(ws)]
            m = torch.zeros(ws * ws, ws * ws)
            for qi, (qy, qx) in enumerate(cells):
                for ki, (ky, kx) in enumerate(cells):
                    differs = pad[qy][qx] != pad[ky][kx] if (ph or pw) else False
                    if shift:
                        differs = differs or sh[qy][qx] != sh[ky][kx]
                    m[qi, ki] = -100.0 if differs else 0.0
            masks.append(m)
    return torch.stack(masks)


@pytest.mark.parametrize(("h", "w", "shift"), [(4, 6, 0), (4, 6, 3), (14, 14, 3), (8, 12, 3), (14, 7, 0)])
def test_window_mask_matches_the_written_out_regions(h: int, w: int, shift: int):
    got = window_mask(h, w, 7, shift, torch.device("cpu"))
    expected = _naive_mask(h, w, 7, shift)
    if expected is None:
        assert got is None
    else:
        assert torch.equal(got, expected)


def test_odd_size_uses_centred_replicate_padding_and_bgr(small_net):
    model = EMAVFIModel(device="cpu", variant="small", net=small_net)
    a, b = _pair(37, 45)
    out = model.interpolate(a, b, 0.3)
    # by hand: pad 64-37=27 rows (13 top, 14 bottom) and 64-45=19 columns (9 left, 10 right) by
    # repeating the border, run on BGR, crop the centre back out
    pa, pb = (F.pad(x, (9, 10, 13, 14), mode="replicate").flip(1) for x in (a, b))
    with torch.inference_mode():
        manual = small_net(pa, pb, torch.tensor([0.3])).flip(1)[:, :, 13:50, 9:54]
    assert out.shape == a.shape
    torch.testing.assert_close(out, manual, atol=1e-6, rtol=0)


def test_each_sample_gets_its_own_timestep(small_net):
    model = EMAVFIModel(device="cpu", variant="small", net=small_net)
    a, b = _pair(32, 64, batch=2, seed=1)
    both = model.interpolate(a, b, torch.tensor([0.2, 0.7]))
    torch.testing.assert_close(both[:1], model.interpolate(a[:1], b[:1], 0.2), atol=1e-5, rtol=0)
    torch.testing.assert_close(both[1:], model.interpolate(a[1:], b[1:], 0.7), atol=1e-5, rtol=0)
    # and the timestep matters
    assert (both[:1] - model.interpolate(a[:1], b[:1], 0.8)).abs().max() > 1e-3


def test_tta_is_the_mean_over_the_rotated_pair(small_net):
    a, b = _pair(32, 32, seed=2)
    plain = EMAVFIModel(device="cpu", variant="small", net=small_net, tta=False)
    tta = EMAVFIModel(device="cpu", variant="small", net=small_net, tta=True)
    rotated = plain.interpolate(a.flip(2, 3), b.flip(2, 3), 0.5).flip(2, 3)
    expected = (plain.interpolate(a, b, 0.5) + rotated) / 2
    torch.testing.assert_close(tta.interpolate(a, b, 0.5), expected, atol=1e-5, rtol=0)
