"""Behaviour of the two RIFE networks beyond the goldens: weights, padding, batching, timesteps."""

from __future__ import annotations

import pytest
import torch

from dynvfi_core.errors import ConfigError
from dynvfi_core.metrics import psnr
from dynvfi_core.models import create

TRAINING_ONLY = {"rife-v4.25": ("teacher.", "caltime."), "rife-hdv3": ("module.block_tea.",)}


def db(x: torch.Tensor, y: torch.Tensor) -> float:
    return float(psnr(x, y)[0])


@pytest.mark.parametrize("name", sorted(TRAINING_ONLY))
def test_parameters_are_exactly_the_checkpoint_minus_training_tensors(name, rife, require_weights) -> None:
    raw = torch.load(require_weights(name), map_location="cpu", weights_only=True)
    kept = {k: v for k, v in raw.items() if not k.startswith(TRAINING_ONLY[name])}
    assert 0 < len(kept) < len(raw)
    model = rife(name)
    assert len(list(model.net.parameters())) == len(kept)
    assert model.num_parameters() == sum(v.numel() for v in kept.values())
    assert not list(model.net.buffers())


@pytest.mark.parametrize("name", ["rife-v4.25", "rife-hdv3"])
@pytest.mark.parametrize("hw", [(17, 31), (16, 16), (1, 7), (33, 65)])
def test_any_size_round_trips_and_keeps_alignment(name, hw, rife, fidelity) -> None:
    """Identical frames must come back as themselves: a padding or crop offset would show at once."""
    model = rife(name)
    frame = fidelity.pair("pair1")[0][:, :, : hw[0], : hw[1]]
    out = model.interpolate(frame, frame.clone(), 0.5)
    assert out.shape == frame.shape
    assert db(out, frame) > 40


@pytest.mark.parametrize("name", ["rife-v4.25", "rife-hdv3"])
def test_single_pixel_frames_work(name, rife, fidelity) -> None:
    """Tiny inputs are accepted, not rejected: the network sees them inside the zero padding
    (as the reference pipelines pad), which darkens a lone pixel a little but not much."""
    frame = fidelity.pair("pair1")[0][:, :, :1, :1]
    out = rife(name).interpolate(frame, frame.clone(), 0.5)
    assert out.shape == (1, 3, 1, 1)
    assert float((out - frame).abs().max()) < 0.05


@pytest.mark.parametrize("name", ["rife-v4.25", "rife-hdv3"])
def test_uint8_frames_in_and_out(name, rife, fidelity) -> None:
    from dynvfi_core.imageio import to_uint8

    a, b = (to_uint8(x)[0][:17, :31] for x in fidelity.pair("pair0"))
    out = rife(name).interpolate_frames(a, b)
    assert out.dtype == a.dtype and out.shape == (17, 31, 3)


@pytest.mark.parametrize("name, ts", [("rife-v4.25", (0.3, 0.5, 0.7)), ("rife-hdv3", (0.25, 0.5, 0.75))])
def test_batch_equals_single_calls(name, ts, rife, fidelity) -> None:
    model = rife(name)
    pairs = [fidelity.pair(p) for p in ("pair0", "pair1", "pair2")]
    a = torch.cat([p[0] for p in pairs])
    b = torch.cat([p[1] for p in pairs])
    batched = model.interpolate(a, b, torch.tensor(ts))
    for i, (img0, img1) in enumerate(pairs):
        single = model.interpolate(img0, img1, ts[i])
        assert float((batched[i : i + 1] - single).abs().max()) < 1e-5


@pytest.mark.parametrize("pair", ["pair1", "pair2"])
def test_v425_swapping_inputs_and_reversing_time_agrees(pair, rife, fidelity) -> None:
    model = rife("rife-v4.25")
    a, b = fidelity.pair(pair)
    mid = model.interpolate(a, b, 0.5)
    assert db(mid, model.interpolate(b, a, 0.5)) > max(24.0, db(mid, (a + b) / 2) + 3)
    early = model.interpolate(a, b, 0.3)
    same_time = model.interpolate(b, a, 0.7)
    other_time = model.interpolate(b, a, 0.3)
    assert db(early, same_time) > max(24.0, db(early, other_time) + 6)


def test_hdv3_is_exactly_symmetric(rife, fidelity) -> None:
    """Every HDv3 block averages the forward and the swapped pass, so order cannot matter."""
    model = rife("rife-hdv3")
    a, b = fidelity.pair("pair2")
    assert float((model.interpolate(a, b) - model.interpolate(b, a)).abs().max()) < 1e-5


def test_hdv3_quarter_steps_are_two_halvings(rife, fidelity) -> None:
    model = rife("rife-hdv3")
    a, b = (x[:, :, :64, :96] for x in fidelity.pair("pair1"))  # multiple of 32: no padding
    mid = model.interpolate(a, b, 0.5)
    assert float((model.interpolate(a, b, 0.25) - model.interpolate(a, mid, 0.5)).abs().max()) < 1e-5
    assert float((model.interpolate(a, b, 0.75) - model.interpolate(mid, b, 0.5)).abs().max()) < 1e-5


@pytest.mark.parametrize("spec", ["rife-v4.25:scale=0.3", "rife-hdv3:scale=fast", "rife-v4.25:scale=0"])
def test_bad_scale_is_a_config_error(spec) -> None:
    with pytest.raises(ConfigError, match="scale"):
        create(spec, "cpu")
