"""Full-resolution pair statistics of the motion-prior DPA (``model.prior_stats``)."""

from __future__ import annotations

import numpy as np
import pytest
import torch

from dynvfi_core.dpa import DPA
from dynvfi_core.dpa.config import ModelConfig
from dynvfi_core.dpa.factory import build_model
from dynvfi_core.dpa.preprocess import normalise, pair_stats, pair_views
from dynvfi_core.errors import InputError


def test_stats_by_hand() -> None:
    a = np.zeros((2, 3, 3), np.uint8)
    a[:, 1:] = 10  # one vertical edge of 10 per row: |dx| sums to 2 rows x 3 ch x 10 over 2x2x3 steps
    b = a + np.uint8(4)
    got = pair_stats(a, b)
    # mean |a - b| = 4; mean |dx| = (2 * 3 * 10) / (2 * 2 * 3) = 5, |dy| = 0, same for b
    np.testing.assert_allclose(got, np.log1p([4.0, 5.0]), rtol=1e-6)
    np.testing.assert_allclose(pair_stats(b, a), got)  # symmetric: time reversal keeps them
    np.testing.assert_allclose(pair_stats(a[:, ::-1], b[:, ::-1]), got)  # and flips


@pytest.fixture
def stats_cfg(require_weights) -> ModelConfig:
    require_weights("rife-v4.25")
    return ModelConfig(arch="rife-prior", view=(64, 64), prior_stats=True)


def test_the_head_sees_the_stats_and_inference_passes_them(stats_cfg) -> None:
    rng = np.random.default_rng(0)
    a = rng.integers(0, 256, size=(96, 128, 3), dtype=np.uint8)
    b = np.roll(a, 3, axis=1)
    torch.manual_seed(0)
    net = build_model(stats_cfg).eval()
    v0, v1 = (normalise(torch.from_numpy(v[None])) for v in pair_views(a, b, stats_cfg.view))
    with torch.inference_mode():
        base = net(v0, v1, torch.from_numpy(pair_stats(a, b))[None])["score"]
        other = net(v0, v1, torch.tensor([[0.0, 0.0]]))["score"]
    assert float((base - other).abs()) > 1e-6  # the score depends on the statistics
    got = DPA(net, stats_cfg, "cpu").score(a, b)  # the inference API computes them at full size
    assert got == pytest.approx(float(base), abs=1e-6)
    with pytest.raises(InputError, match="pair statistics"):
        net(v0, v1)


def test_training_items_carry_the_stats_only_for_a_model_that_uses_them(tmp_path) -> None:
    import pandas as pd

    from dynvfi_core.imageio import write_image
    from train.data import PairDataset

    rng = np.random.default_rng(1)
    a = rng.integers(0, 256, size=(40, 56, 3), dtype=np.uint8)
    b = np.roll(a, 2, axis=0)
    write_image(tmp_path / "a.png", a)
    write_image(tmp_path / "b.png", b)
    df = pd.DataFrame({"path0": [str(tmp_path / "a.png")], "path1": [str(tmp_path / "b.png")], "label": [3.0],
                       "input_perceptual": [np.nan]})
    assert "stats" not in PairDataset(df, (32, 32), train=False)[0]  # the paper's DPA pays nothing
    item = PairDataset(df, (32, 32), train=False, stats=True)[0]
    np.testing.assert_allclose(item["stats"].numpy(), pair_stats(a, b))  # of the full-size frames
