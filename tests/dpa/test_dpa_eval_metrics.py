"""DPA evaluation metrics (``train.evaluate.compute_metrics``) against hand counts and scipy.

Conventions under test (documented in train/evaluate.py and train/README.md): a prediction is
correct at tolerance t when ``|pred - gt| < t`` (an error exactly at t is a miss); accuracy, MAE
and PLCC use predictions clipped to [0, 1]; SRCC ranks the raw predictions.
"""

from __future__ import annotations

import numpy as np
import pytest
from scipy import stats

from train.evaluate import compute_metrics

# gt and pred are exact binary fractions where it matters, so the errors 0.125 and 0.25 are exact
GT = np.array([0.0, 0.5, 1.0, 0.25, 0.75])
PRED = np.array([0.05, 0.7, 0.7, 0.375, 0.5])  # errors 0.05, 0.2, 0.3, 0.125 (exactly), 0.25 (exactly)


def test_two_tolerances_are_counted_separately_and_strictly() -> None:
    m = compute_metrics(PRED, GT)
    assert m["acc@0.125"] == pytest.approx(1 / 5)  # only 0.05; 0.125 itself is a miss
    assert m["acc@0.25"] == pytest.approx(3 / 5)  # 0.05, 0.2, 0.125; 0.25 itself is a miss
    assert m["mae"] == pytest.approx((0.05 + 0.2 + 0.3 + 0.125 + 0.25) / 5)
    assert m["n"] == 5


def test_correlations_equal_scipy_on_clipped_and_raw_scores() -> None:
    raw = np.array([-0.6, -0.1, 0.5, 1.8, 0.9])
    gt = np.array([0.1, 0.0, 0.5, 1.0, 0.75])
    m = compute_metrics(raw, gt)
    clipped = np.clip(raw, 0, 1)
    assert m["plcc"] == pytest.approx(stats.pearsonr(clipped, gt).statistic, abs=1e-12)
    assert m["srcc"] == pytest.approx(stats.spearmanr(raw, gt).statistic, abs=1e-12)
    assert m["mae"] == pytest.approx(np.abs(clipped - gt).mean(), abs=1e-12)
    # the conventions are visible on these numbers: the other choice gives another value
    assert abs(stats.pearsonr(raw, gt).statistic - m["plcc"]) > 1e-3
    assert abs(stats.spearmanr(clipped, gt).statistic - m["srcc"]) > 1e-3
    assert abs(np.abs(raw - gt).mean() - m["mae"]) > 1e-3


def test_accuracy_uses_clipped_predictions() -> None:
    """A raw 1.1 on an easiest pair (gt 1.0) is a correct label once clipped."""
    m = compute_metrics(np.array([1.1, -0.2]), np.array([1.0, 0.0]))
    assert m["acc@0.125"] == 1.0 and m["mae"] == 0.0


def test_float32_scores_are_scored_in_float64() -> None:
    """The DPA returns float32 scores: correlations must still be scipy's float64 values."""
    rng = np.random.default_rng(0)
    gt = rng.integers(1, 5, 50).astype(np.float32) / 3 - 1 / 3
    pred = (gt + rng.normal(0, 0.2, 50)).astype(np.float32)
    m = compute_metrics(pred, gt)
    p64, g64 = pred.astype(np.float64), gt.astype(np.float64)
    assert m["plcc"] == stats.pearsonr(np.clip(p64, 0, 1), g64).statistic
    assert m["srcc"] == stats.spearmanr(p64, g64).statistic
    assert m["mae"] == np.abs(np.clip(p64, 0, 1) - g64).mean()


@pytest.mark.filterwarnings("error")  # undefined correlations are NaN by the guard, not scipy's warning
def test_correlations_are_undefined_only_without_spread() -> None:
    nan = compute_metrics(np.array([0.2, 0.4, 0.6]), np.array([0.5, 0.5, 0.5]))  # constant labels
    assert np.isnan(nan["srcc"]) and np.isnan(nan["plcc"])
    flat = compute_metrics(np.array([0.3, 0.3, 0.3]), np.array([0.0, 0.5, 1.0]))  # constant prediction
    assert np.isnan(flat["srcc"]) and np.isnan(flat["plcc"])
    clipped_flat = compute_metrics(np.array([1.2, 1.5, 1.9]), np.array([0.0, 0.5, 1.0]))
    assert clipped_flat["srcc"] == pytest.approx(1.0) and np.isnan(clipped_flat["plcc"])  # PLCC sees 1, 1, 1
    one = compute_metrics(np.array([0.4]), np.array([0.5]))
    assert np.isnan(one["srcc"]) and np.isnan(one["plcc"]) and one["acc@0.125"] == 1.0
    two = compute_metrics(np.array([0.0, 1.0]), np.array([0.0, 1.0]))  # two pairs with spread: defined
    assert two["srcc"] == pytest.approx(1.0) and two["plcc"] == pytest.approx(1.0)


def test_confusion_counts_by_hand() -> None:
    # levels are nearest thirds (exact halves round up): scores 0 -> 1, 0.5 -> 3 (2.5 rounds up),
    # 0.49 -> 2, 0.8 -> 3, 0.84 -> 4, 1.2 -> 4 (clipped), -0.3 -> 1 (clipped)
    from train.evaluate import confusion

    gt = np.array([0.0, 1 / 3, 1 / 3, 2 / 3, 1.0, 1.0, 0.0])
    pred = np.array([0.0, 0.5, 0.49, 0.8, 0.84, 1.2, -0.3])
    want = np.zeros((4, 4), dtype=int)
    for row, col in ((1, 1), (2, 3), (2, 2), (3, 3), (4, 4), (4, 4), (1, 1)):
        want[row - 1, col - 1] += 1  # rows = annotated level, columns = predicted level
    assert confusion(pred, gt).tolist() == want.tolist()
    # a level nobody predicted or annotated still has its row and column
    assert confusion(np.array([0.0]), np.array([0.0])).shape == (4, 4)
