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
