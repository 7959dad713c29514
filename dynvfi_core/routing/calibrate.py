"""From scores to levels, and where to put the threshold.

Convention (the DPA's): a higher score means an EASIER pair. With models ordered from fastest to
heaviest and thresholds ``t_1 > t_2 > ...``, a pair goes to level ``k`` = the number of thresholds
its score falls below; two-level routing is the case of a single threshold (score < t -> heavy).

Two ways to place a two-level threshold without looking at ground truth:

- :func:`threshold_for_share`: send a chosen share of the pairs to the heavy model (a quantile of
  the scores);
- :func:`calibrate_budget`: spend a chosen fraction of heavy-only time, given measured costs.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from itertools import pairwise

import numpy as np

from dynvfi_core.errors import ConfigError


def check_thresholds(thresholds: Sequence[float], n_models: int) -> tuple[float, ...]:
    """Validate that ``n_models - 1`` strictly decreasing thresholds were given."""
    th = tuple(float(t) for t in thresholds)
    if len(th) != n_models - 1:
        raise ConfigError(f"{n_models} models need {n_models - 1} threshold(s), got {len(th)}")
    if any(not np.isfinite(t) for t in th):
        raise ConfigError(f"thresholds must be finite numbers, got {th}")
    if any(a <= b for a, b in pairwise(th)):
        raise ConfigError(f"thresholds must be strictly decreasing (easy -> hard), got {th}")
    return th


def assign_levels(scores: np.ndarray | Sequence[float], thresholds: Sequence[float]) -> np.ndarray:
    """Level per pair: how many thresholds its score lies below (0 = easiest = fastest model)."""
    s = np.asarray(scores, dtype=np.float64).reshape(-1)
    th = np.asarray(thresholds, dtype=np.float64).reshape(1, -1)
    return (s[:, None] < th).sum(axis=1).astype(np.int64)


def _cut_points(sorted_scores: np.ndarray) -> np.ndarray:
    """The achievable counts ``k`` of pairs below a threshold (ties cannot be split)."""
    n = len(sorted_scores)
    ks = [0] + [k for k in range(1, n) if sorted_scores[k - 1] < sorted_scores[k]] + [n]
    return np.asarray(sorted(set(ks)), dtype=np.int64)


def _threshold_below(sorted_scores: np.ndarray, k: int) -> float:
    """A threshold with exactly the ``k`` lowest scores below it (``k`` must be a cut point)."""
    n = len(sorted_scores)
    if k <= 0:
        return float(sorted_scores[0])
    if k >= n:
        return float(np.nextafter(sorted_scores[-1], np.inf))
    return float((sorted_scores[k - 1] + sorted_scores[k]) / 2.0)


def threshold_for_share(scores: np.ndarray | Sequence[float], share: float) -> float:
    """Threshold sending the share of pairs closest to ``share`` to the heavy model.

    Uses only the scores (never ground truth), i.e. the ``share``-quantile of the scores; ties are
    kept together, so the achieved share may differ slightly from the request.
    """
    if not 0.0 <= share <= 1.0:
        raise ConfigError(f"heavy share must lie in [0, 1], got {share}")
    s = np.sort(np.asarray(scores, dtype=np.float64).reshape(-1))
    if s.size == 0:
        raise ConfigError("cannot place a threshold without scores")
    ks = _cut_points(s)
    k = int(ks[np.argmin(np.abs(ks - share * s.size))])
    return _threshold_below(s, k)


@dataclass(frozen=True)
class Calibration:
    """The outcome of :func:`calibrate_budget`: where the threshold went and what it costs."""

    threshold: float
    heavy_share: float
    time_fraction: float  # expected time / heavy-only time, on the calibration set
    budget: float
    reachable: bool  # False when even fast-only (plus scoring) exceeds the budget


def calibrate_budget(
    scores: np.ndarray | Sequence[float],
    fast_cost: float | np.ndarray,
    heavy_cost: float | np.ndarray,
    dpa_cost: float | np.ndarray,
    budget: float,
) -> Calibration:
    """Two-level threshold spending at most ``budget`` x heavy-only time on the calibration set.

    Costs are seconds per pair, either one number per model (measured means) or one per pair.
    Sending the ``k`` lowest-scored pairs to the heavy model costs
    ``sum(dpa) + sum(fast) + sum over those k of (heavy - fast)``; the largest achievable ``k``
    within ``budget * sum(heavy)`` wins (staying under budget rather than closest to it).
    """
    if budget <= 0:
        raise ConfigError(f"budget must be a positive fraction of heavy-only time, got {budget}")
    s = np.asarray(scores, dtype=np.float64).reshape(-1)
    n = s.size
    if n == 0:
        raise ConfigError("cannot calibrate a threshold without scores")
    fast = np.broadcast_to(np.asarray(fast_cost, dtype=np.float64), (n,))
    heavy = np.broadcast_to(np.asarray(heavy_cost, dtype=np.float64), (n,))
    dpa = np.broadcast_to(np.asarray(dpa_cost, dtype=np.float64), (n,))
    if heavy.sum() <= 0:
        raise ConfigError("heavy-model cost must be positive to express a budget as its fraction")
    order = np.argsort(s, kind="stable")
    s_sorted = s[order]
    extra = np.concatenate([[0.0], np.cumsum((heavy - fast)[order])])
    total = dpa.sum() + fast.sum() + extra  # time when the k lowest go heavy, k = 0..n
    ks = _cut_points(s_sorted)
    target = budget * heavy.sum()
    ok = ks[total[ks] <= target + 1e-12]
    reachable = ok.size > 0
    k = int(ok.max()) if reachable else 0
    return Calibration(
        threshold=_threshold_below(s_sorted, k),
        heavy_share=k / n,
        time_fraction=float(total[k] / heavy.sum()),
        budget=budget,
        reachable=reachable,
    )
