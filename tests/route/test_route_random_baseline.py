"""Random routing equals the average over every possible choice of k heavy pairs (enumerated)."""

from __future__ import annotations

from itertools import combinations

import numpy as np
import pytest

from dynvfi_core.routing.evaluate import PairTable, evaluate_table, random_summary


def _table(fast: np.ndarray, heavy: np.ndarray, seed: int = 0) -> PairTable:
    n = len(fast)
    rng = np.random.default_rng(seed)
    return PairTable(ids=[str(i) for i in range(n)], subsets=["s"] * n, score=rng.uniform(size=n),
                     motion=np.full(n, np.nan), psnr_fast=fast, ssim_fast=rng.uniform(0.7, 0.8, n),
                     psnr_heavy=heavy, ssim_heavy=rng.uniform(0.75, 0.9, n), t_score=np.full(n, 1e-3),
                     t_fast=rng.uniform(0.01, 0.02, n), t_heavy=rng.uniform(0.1, 0.3, n))


def _enumerated(p: PairTable, k: int) -> dict[str, float]:
    """Mean PSNR/SSIM/seconds over all C(n, k) sets of heavy pairs, and the PSNR's spread."""
    n = len(p.ids)
    runs = []
    for heavy in combinations(range(n), k):
        m = np.isin(np.arange(n), heavy)
        runs.append([np.where(m, p.psnr_heavy, p.psnr_fast).mean(), np.where(m, p.ssim_heavy, p.ssim_fast).mean(),
                     np.where(m, p.t_heavy, p.t_fast).mean()])
    runs = np.array(runs)
    return {"psnr": runs[:, 0].mean(), "ssim": runs[:, 1].mean(), "s_per_pair": runs[:, 2].mean(),
            "psnr_std": runs[:, 0].std()}


@pytest.mark.parametrize("k", [0, 1, 3, 5, 8])
def test_random_routing_is_the_exact_expectation(k: int) -> None:
    rng = np.random.default_rng(1)
    fast = rng.uniform(25, 35, 8)
    p = _table(fast, fast + rng.normal(0.4, 1.5, 8))
    got, ref = random_summary(p, k, seed=0), _enumerated(p, k)
    for key in ("psnr", "ssim", "s_per_pair"):
        assert got[key] == pytest.approx(ref[key], rel=1e-12, abs=1e-12), key
    assert got["heavy_fraction"] == k / 8
    # the same expectation whatever the seed: there is no Monte-Carlo noise left
    assert random_summary(p, k, seed=99)["psnr"] == got["psnr"]


def test_seeded_spread_draws_distinct_pairs_and_really_varies() -> None:
    rng = np.random.default_rng(2)
    fast = rng.uniform(25, 35, 8)
    # equal gains: every set of k distinct pairs gives the same mean, so the spread is exactly 0
    # (pairs drawn with replacement would sometimes repeat one and show a spread)
    assert random_summary(_table(fast, fast + 2.0), 4, seed=0)["psnr_std"] == pytest.approx(0.0, abs=1e-12)
    # unequal gains: the 20 draws are different draws, their spread near the enumerated one
    p = _table(fast, fast + rng.normal(0.4, 1.5, 8))
    got, ref = random_summary(p, 4, seed=0), _enumerated(p, 4)
    assert got["draws"] == 20 and 0.5 * ref["psnr_std"] < got["psnr_std"] < 1.5 * ref["psnr_std"]


def test_route_eval_reports_the_expectation_and_its_gain_share() -> None:
    rng = np.random.default_rng(3)
    fast = rng.uniform(25, 35, 9)
    p = _table(fast, fast + rng.uniform(0.0, 2.0, 9))
    res = evaluate_table(p, heavy_share=1 / 3)["subsets"]["all"]
    k = round(res["random"]["heavy_fraction"] * 9)
    gain = (p.psnr_heavy - p.psnr_fast).mean()
    assert res["random"]["psnr"] == pytest.approx(p.psnr_fast.mean() + k / 9 * gain, rel=1e-12)
    oracle_gain = np.sort(p.psnr_heavy - p.psnr_fast)[::-1][:k].sum() / 9
    assert res["random_gain_share_of_oracle"] == pytest.approx(k / 9 * gain / oracle_gain, rel=1e-9)
