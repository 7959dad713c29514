"""Threshold placement: heavy-share quantiles and compute-budget calibration."""

from __future__ import annotations

import numpy as np
import pytest

from dynvfi_core.errors import ConfigError
from dynvfi_core.routing.calibrate import assign_levels, calibrate_budget, threshold_for_share


@pytest.mark.parametrize("share", [0.0, 0.1, 1 / 3, 0.5, 0.9, 1.0])
def test_share_threshold_sends_that_share_to_heavy(share: float) -> None:
    scores = np.random.default_rng(0).uniform(size=300)
    th = threshold_for_share(scores, share)
    assert abs((scores < th).mean() - share) <= 1 / 300


def test_share_threshold_never_splits_ties() -> None:
    scores = np.array([0.2, 0.2, 0.2, 0.2, 0.8, 0.8])
    th = threshold_for_share(scores, 0.5)  # 3 of 6 is impossible: 4 of 6 is the closest cut
    assert (scores < th).sum() == 4


def test_share_out_of_range_is_rejected() -> None:
    with pytest.raises(ConfigError):
        threshold_for_share([0.1, 0.2], 1.5)


@pytest.mark.parametrize("budget", [0.2, 0.35, 0.5, 0.8])
def test_budget_calibration_hits_its_target_on_a_synthetic_cost_model(budget: float) -> None:
    rng = np.random.default_rng(1)
    n = 500
    scores = rng.uniform(size=n)
    fast = rng.uniform(0.010, 0.020, size=n)  # per-pair costs that vary, as measured ones do
    heavy = rng.uniform(0.30, 0.50, size=n)
    dpa = np.full(n, 0.004)
    cal = calibrate_budget(scores, fast, heavy, dpa, budget)
    hard = scores < cal.threshold
    spent = (dpa + np.where(hard, heavy, fast)).sum() / heavy.sum()
    assert cal.reachable
    assert spent == pytest.approx(cal.time_fraction)
    # never over budget, and short of it by less than one more heavy pair's extra cost
    assert spent <= budget + 1e-12
    assert budget - spent < (heavy - fast).max() / heavy.sum()
    # the hardest pairs (lowest scores) are the ones sent to the heavy model
    assert scores[hard].max(initial=0) < scores[~hard].min()


def test_budget_with_constant_costs_matches_closed_form() -> None:
    scores = np.linspace(0, 1, 1000, endpoint=False)
    cal = calibrate_budget(scores, 1.0, 10.0, 0.5, budget=0.35)
    # 0.5 + 1 + 9 h = 3.5  ->  h = 2/9
    assert cal.heavy_share == pytest.approx(2 / 9, abs=1e-3)
    assert cal.time_fraction <= 0.35


def test_unreachable_budget_routes_everything_fast() -> None:
    cal = calibrate_budget([0.1, 0.5, 0.9], 1.0, 2.0, 0.5, budget=0.5)  # fast + dpa alone is 0.75
    assert not cal.reachable and cal.heavy_share == 0.0
    assert assign_levels([0.1, 0.5, 0.9], [cal.threshold]).tolist() == [0, 0, 0]


def test_budget_must_be_positive() -> None:
    with pytest.raises(ConfigError):
        calibrate_budget([0.1], 1.0, 2.0, 0.0, budget=0)


# Hand-worked cases: each expected value below is computed in the comment beside it, not by the
# functions under test.

def test_three_levels_by_two_thresholds_from_a_column_of_scores() -> None:
    # thresholds 0.7 > 0.3: 0.9 is below none (level 0), 0.5 below 0.7 only (1), 0.1 below both (2);
    # a score exactly at a threshold is not below it
    levels = assign_levels(np.array([[0.9], [0.5], [0.1], [0.7]]), [0.7, 0.3])
    assert levels.tolist() == [0, 1, 2, 0]
    assert levels.dtype.kind == "i"  # levels index the model list


def test_share_threshold_by_hand() -> None:
    s = [0.9, 0.1, 0.5]  # sorted: 0.1, 0.5, 0.9
    assert threshold_for_share(s, 1 / 3) == pytest.approx(0.3)  # one pair below: midway 0.1..0.5
    assert threshold_for_share(s, 0.0) == 0.1  # nothing below the lowest score
    top = threshold_for_share(s, 1.0)
    assert top > 0.9 and assign_levels(s, [top]).tolist() == [1, 1, 1]
    # ties: cut points are 0, 1, 3, 4 pairs; half of 4 = 2 is equally far from 1 and 3, the
    # smaller heavy share wins, so the threshold lies between 0.1 and the tied 0.5s
    assert threshold_for_share([0.5, 0.9, 0.1, 0.5], 0.5) == pytest.approx(0.3)
    # an unsorted column of scores is read as the flat list it is
    assert threshold_for_share(np.array([[0.9], [0.1], [0.5]]), 1 / 3) == pytest.approx(0.3)
    assert threshold_for_share([0.4], 0.0) == 0.4  # one score is enough


def test_share_and_budget_errors_say_what_is_wrong() -> None:
    with pytest.raises(ConfigError, match=r"heavy share must lie in \[0, 1\], got 1.5"):
        threshold_for_share([0.1, 0.2], 1.5)
    with pytest.raises(ConfigError, match="^cannot place a threshold without scores$"):
        threshold_for_share([], 0.5)
    with pytest.raises(ConfigError, match="budget must be a positive fraction of heavy-only time, got 0"):
        calibrate_budget([0.1], 1.0, 2.0, 0.0, 0)
    with pytest.raises(ConfigError, match="^cannot calibrate a threshold without scores$"):
        calibrate_budget([], 1.0, 2.0, 0.0, 0.5)
    with pytest.raises(ConfigError, match="^heavy-model cost must be positive to express a budget as its fraction$"):
        calibrate_budget([0.1, 0.2], 1.0, 0.0, 0.0, 0.5)


def test_budget_by_hand_at_its_edges() -> None:
    # two pairs, fast 1 s, heavy 2 s, no DPA cost: heavy-only time 4 s. Budget 0.5 = 2 s is met
    # exactly by fast-only (2 s): reachable, nothing heavy. One heavy pair would cost 3 s.
    cal = calibrate_budget([0.2, 0.8], 1.0, 2.0, 0.0, 0.5)
    assert cal.reachable and cal.heavy_share == 0.0 and cal.time_fraction == pytest.approx(0.5)
    assert cal.budget == 0.5 and cal.threshold == 0.2
    # budget 0.75 = 3 s: the lower-scored pair goes heavy (3 s); threshold midway 0.2..0.8
    cal = calibrate_budget(np.array([[0.8], [0.2]]), 1.0, 2.0, 0.0, 0.75)
    assert cal.heavy_share == 0.5 and cal.threshold == pytest.approx(0.5)
    assert cal.time_fraction == pytest.approx(0.75)
    # a single pair: heavy (2 s) fits a budget of 1.0 exactly
    cal = calibrate_budget([0.3], 1.0, 2.0, 0.0, 1.0)
    assert cal.reachable and cal.heavy_share == 1.0 and cal.threshold > 0.3
    # costs in milliseconds' range (heavy-only 0.2 s in all) are as valid as seconds: 0.05 + 0.05
    # fast-only is half of it, the lower pair heavy (0.15 s) three quarters
    cal = calibrate_budget([0.2, 0.8], 0.05, 0.1, 0.0, 0.75)
    assert cal.heavy_share == 0.5 and cal.time_fraction == pytest.approx(0.75)


def test_thresholds_are_checked_by_count_finiteness_and_order() -> None:
    from dynvfi_core.routing.calibrate import check_thresholds

    assert check_thresholds([0.7, 0.3], 3) == (0.7, 0.3)
    assert check_thresholds(np.array([1]), 2) == (1.0,) and isinstance(check_thresholds([1], 2)[0], float)
    with pytest.raises(ConfigError, match=r"^3 models need 2 threshold\(s\), got 1$"):
        check_thresholds([0.5], 3)
    with pytest.raises(ConfigError, match=r"^thresholds must be finite numbers, got \(0.5, nan\)$"):
        check_thresholds([0.5, float("nan")], 3)
    with pytest.raises(ConfigError, match=r"^thresholds must be finite numbers"):
        check_thresholds([float("inf")], 2)
    for bad in ([0.3, 0.7], [0.5, 0.5]):  # easy -> hard means strictly decreasing
        with pytest.raises(ConfigError, match=r"^thresholds must be strictly decreasing \(easy -> hard\), got"):
            check_thresholds(bad, 3)
