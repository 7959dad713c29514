"""The inference API the router uses: DPA.load / score / score_batch, and the checkpoint file."""

from __future__ import annotations

import numpy as np
import pytest
import torch
from safetensors.torch import save_file

from dynvfi_core.dpa import DPA, save_model
from dynvfi_core.errors import InputError


def _pair(h: int, w: int, seed: int) -> tuple[np.ndarray, np.ndarray]:
    rng = np.random.default_rng(seed)
    a = rng.integers(0, 256, size=(h, w, 3), dtype=np.uint8)
    return a, np.roll(a, 4, axis=1)


def test_scores_any_frame_size_unclipped(tiny_cfg):
    dpa = DPA.untrained(tiny_cfg, device="cpu")
    pairs = [_pair(48, 64, 0), _pair(270, 480, 1), _pair(37, 53, 2)]
    batch = dpa.score_batch([a for a, _ in pairs], [b for _, b in pairs])
    assert batch.shape == (3,) and batch.dtype == np.float32
    assert np.isfinite(batch).all()
    with torch.inference_mode():  # the raw regression output, so out-of-range predictions keep their order
        from dynvfi_core.dpa.preprocess import normalise, pair_views

        views = [pair_views(a, b, tiny_cfg.view) for a, b in pairs]
        x0, x1 = (normalise(torch.from_numpy(np.stack([v[k] for v in views]))) for k in (0, 1))
        np.testing.assert_allclose(batch, dpa.model(x0, x1)["score"].float().numpy(), atol=1e-5)
    single = [dpa.score(a, b) for a, b in pairs]
    np.testing.assert_allclose(batch, single, atol=1e-5)  # batching does not change a pair's score


def test_save_and_load_round_trip_gives_identical_scores(tiny_cfg, tmp_path):
    dpa = DPA.untrained(tiny_cfg, device="cpu", seed=3)
    path = save_model(tmp_path / "dpa.safetensors", dpa.model, tiny_cfg, {"note": "test"})
    loaded = DPA.load(path, device="cpu")
    assert loaded.cfg == tiny_cfg and loaded.meta["note"] == "test"
    a, b = _pair(64, 96, 5)
    assert loaded.score(a, b) == pytest.approx(dpa.score(a, b), abs=1e-6)


def test_bad_inputs_raise_input_errors(tiny_cfg, tmp_path):
    dpa = DPA.untrained(tiny_cfg, device="cpu")
    a, b = _pair(64, 64, 0)
    with pytest.raises(InputError):
        dpa.score(a, b[:32])  # sizes differ
    with pytest.raises(InputError):
        dpa.score(a.astype(np.float32), b)  # not uint8
    with pytest.raises(InputError):
        dpa.score_batch([a, a], [b])
    with pytest.raises(InputError):
        DPA.load(tmp_path / "missing.safetensors")
    other = tmp_path / "other.safetensors"
    save_file({"w": torch.zeros(2)}, str(other))
    with pytest.raises(InputError):
        DPA.load(other)


@pytest.mark.parametrize("score,level", [(0.0, 1), (0.2, 2), (0.5, 3), (0.55, 3), (0.9, 4), (1.0, 4)])
def test_score_to_level(score, level):
    assert DPA.to_level(score) == level
