"""DynamicVFI: thresholds are respected, both modes route correctly, batches keep input order."""

from __future__ import annotations

import numpy as np
import pytest
import torch

from dynvfi_core.errors import ConfigError, InputError
from dynvfi_core.models import VFIModel
from dynvfi_core.routing import DynamicVFI, assign_levels


class FixedScorer:
    """Returns preset scores in order, whatever the frames (to pin routes exactly)."""

    def __init__(self, scores) -> None:
        self.scores = list(scores)
        self.calls = 0

    def score_batch(self, frames0, frames1) -> np.ndarray:
        out = self.scores[self.calls:self.calls + len(frames0)]
        self.calls += len(frames0)
        return np.asarray(out)


class ConstantModel(VFIModel):
    """Outputs a constant frame of value ``level / 5`` and records each batch's per-sample ids."""

    def __init__(self, level: int) -> None:
        super().__init__("cpu")
        self.level = level
        self.name = f"const{level}"
        self.batches: list[list[int]] = []

    def _run(self, img0, img1, t):
        # pixel (0, 0) of frame 0 carries the pair's index (see _pairs)
        self.batches.append([round(float(x) * 255) for x in img0[:, 0, 0, 0]])
        return torch.full_like(img0, self.level / 5)


def _pairs(n: int, h: int = 8, w: int = 8) -> list[tuple[np.ndarray, np.ndarray]]:
    pairs = []
    for i in range(n):
        a = np.zeros((h, w, 3), np.uint8)
        a[0, 0, 0] = i
        pairs.append((a, a.copy()))
    return pairs


def test_two_level_routes_below_threshold_to_heavy() -> None:
    scores = [0.9, 0.1, 0.5, 0.49, 0.51, 0.0]
    fast, heavy = ConstantModel(0), ConstantModel(1)
    pipe = DynamicVFI(FixedScorer(scores), [fast, heavy], [0.5])
    res = pipe.run(_pairs(len(scores)))
    assert res.levels.tolist() == [0, 1, 0, 1, 0, 1]
    assert res.route_counts() == {"const0": 3, "const1": 3}
    # each output frame comes from the model its level names
    assert [int(f[0][0, 0, 0]) for f in res.frames] == [51 * lv for lv in res.levels]
    assert set(res.timings) == {"dpa", "const0", "const1"}
    assert all(v >= 0 for v in res.timings.values())


def test_four_level_mode_uses_every_band() -> None:
    scores = [0.95, 0.7, 0.4, 0.1, 0.84, 0.5, 0.17, 0.16]
    models = [ConstantModel(k) for k in range(4)]
    res = DynamicVFI(FixedScorer(scores), models, [5 / 6, 1 / 2, 1 / 6]).run(_pairs(len(scores)))
    assert res.levels.tolist() == [0, 1, 2, 3, 0, 1, 2, 3]
    assert res.levels.tolist() == assign_levels(scores, [5 / 6, 1 / 2, 1 / 6]).tolist()


def test_batches_hold_one_route_and_results_keep_input_order() -> None:
    rng = np.random.default_rng(3)
    scores = rng.uniform(size=23)
    fast, heavy = ConstantModel(0), ConstantModel(1)
    pipe = DynamicVFI(FixedScorer(scores), [fast, heavy], [0.4], batch_size=4)
    pairs = _pairs(23)
    res = pipe.run(pairs, timesteps=(0.25, 0.5, 0.75))
    want_heavy = np.flatnonzero(scores < 0.4).tolist()
    want_fast = np.flatnonzero(scores >= 0.4).tolist()
    # every batch a model saw is a run of its own pairs, in input order, at most 4 long
    for model, want in ((fast, want_fast), (heavy, want_heavy)):
        seen = [i for b in model.batches[::3] for i in b]  # 3 timesteps: each batch is run 3 times
        assert seen == want
        assert max(len(b) for b in model.batches) <= 4
    assert len(res.frames) == 23 and all(len(f) == 3 for f in res.frames)
    for i, frames in enumerate(res.frames):
        assert int(frames[0][0, 0, 0]) == (51 if i in want_heavy else 0)


def test_mixed_frame_sizes_are_batched_separately() -> None:
    pairs = _pairs(3, 8, 8) + _pairs(2, 16, 8)
    res = DynamicVFI(FixedScorer([0.9] * 5), [ConstantModel(0), ConstantModel(1)], [0.5]).run(pairs)
    assert [f[0].shape for f in res.frames] == [(8, 8, 3)] * 3 + [(16, 8, 3)] * 2


def test_given_scores_skip_the_scorer() -> None:
    scorer = FixedScorer([])
    res = DynamicVFI(scorer, [ConstantModel(0), ConstantModel(1)], [0.5]).run(_pairs(2), scores=np.array([0.2, 0.8]))
    assert scorer.calls == 0 and res.levels.tolist() == [1, 0]


@pytest.mark.parametrize("thresholds,n_models", [([0.5, 0.6], 3), ([0.5], 3), ([float("nan")], 2)])
def test_bad_thresholds_are_rejected(thresholds, n_models) -> None:
    with pytest.raises(ConfigError):
        DynamicVFI(FixedScorer([]), [ConstantModel(k) for k in range(n_models)], thresholds)


def test_scorer_must_return_one_score_per_pair() -> None:
    pipe = DynamicVFI(FixedScorer([0.5]), [ConstantModel(0), ConstantModel(1)], [0.5])
    with pytest.raises(InputError, match="scores"):
        pipe.run(_pairs(3))


def test_model_specs_are_built_from_the_registry() -> None:
    pipe = DynamicVFI(FixedScorer([0.1, 0.9]), ["blend", "blend"], [0.5])
    assert pipe.stage_names == ["blend#0", "blend#1"]
    a = np.zeros((4, 4, 3), np.uint8)
    b = np.full((4, 4, 3), 200, np.uint8)
    res = pipe.run([(a, b), (a, b)])
    assert int(res.frames[0][0][0, 0, 0]) == 100


class ShiftRight(VFIModel):
    """Not mirror-equivariant on purpose: always moves frame 0 one pixel to the right."""

    def _run(self, img0, img1, t):
        return torch.roll(img0, 1, dims=3)


def test_flip_consistency_scores_unstable_predictions_as_harder(monkeypatch: pytest.MonkeyPatch) -> None:
    from dynvfi_core.models import registry
    from dynvfi_core.routing.scorers import FlipConsistencyScorer

    monkeypatch.setitem(registry._FACTORIES, "shift-right", lambda device=None: ShiftRight(device))
    rng = np.random.default_rng(0)
    flat = np.full((2, 40, 60, 3), 128, np.uint8)
    noisy = rng.integers(0, 255, size=(2, 40, 60, 3), dtype=np.uint8)
    blend = FlipConsistencyScorer("blend").score_batch(noisy, noisy[::-1])
    assert np.allclose(blend, 1.0)  # a mirror-equivariant model never disagrees with itself
    scorer = FlipConsistencyScorer("shift-right", long_side=32)
    easy, hard = scorer.score_batch(flat, flat), scorer.score_batch(noisy, noisy)
    assert np.allclose(easy, 1.0) and (hard < 0.5).all()
