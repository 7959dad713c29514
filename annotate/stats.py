"""Are the human scores trustworthy? Per-item confidence, rater quality and agreement.

- per item: mean score with a 95 % interval that stays on the 1-4 scale: the percentile bootstrap
  of the mean, computed exactly (the distribution of the mean of n draws with replacement from the
  item's scores is an n-fold convolution of their 4-point distribution, so no resampling noise).
  Percentile bootstrap means lie between the smallest and the largest score, so the interval can
  never leave the scale, unlike the Student-t interval (1 and 4 give -16.6 .. 21.6). The t
  half-width ``ci95`` is still reported: the training table uses it as a symmetric spread measure;
- per annotator: counts, control-item accuracy (exact and within one step), BT.500 screening;
- agreement: quadratic-weighted Cohen's kappa for every pair of annotators with shared items, and
  Krippendorff's alpha (ordinal) over everyone;
- ITU-R BT.500 observer screening (Annex 2, the beta2 kurtosis test): per item, scores farther than
  2 sigma from the item mean (sqrt(20) sigma when the scores are not normally distributed, i.e.
  beta2 outside [2, 4]) count as high (P) or low (Q) outliers; an observer is rejected when
  (P+Q)/N > 0.05 and |P-Q|/(P+Q) < 0.3 — often *and* in both directions, i.e. noisy, not biased.

Only human annotators count; pseudo-annotators ``auto:*`` and skips are left out.
"""

from __future__ import annotations

import itertools
import math
import warnings
from dataclasses import dataclass

import krippendorff
import numpy as np
import pandas as pd
from scipy import stats as sps
from sklearn.metrics import cohen_kappa_score
from sqlalchemy import select

from annotate.store import ensure_schema
from db.annotation import Annotator, Vote
from db.engine import session_scope
from db.models import Triplet

LEVELS = [1, 2, 3, 4]
#: the screening needs a spread of opinions per item; with fewer scores nobody can be an outlier
MIN_SCORES_FOR_SCREENING = 3


def load_votes(db_url: str) -> pd.DataFrame:
    """Human scores: annotator, triplet_id, score, is_control, control_answer (skips excluded)."""
    ensure_schema(db_url)
    with session_scope(db_url) as s:
        rows = s.execute(
            select(Annotator.name, Vote.triplet_id, Vote.score, Triplet.is_control, Triplet.control_answer)
            .join(Annotator, Annotator.id == Vote.annotator_id).join(Triplet, Triplet.id == Vote.triplet_id)
            .where(Annotator.is_auto.is_(False), Vote.score.is_not(None))).all()
    return pd.DataFrame(rows, columns=["annotator", "triplet_id", "score", "is_control", "control_answer"])


def ci95(scores: np.ndarray) -> float:
    """Half-width of the 95 % Student-t confidence interval of the mean (NaN below two scores)."""
    n = len(scores)
    if n < 2:
        return float("nan")
    return float(sps.t.ppf(0.975, n - 1) * np.std(scores, ddof=1) / math.sqrt(n))


def bootstrap_interval(scores: np.ndarray, level: float = 0.95) -> tuple[float, float]:
    """Exact percentile-bootstrap interval of the mean of 1-4 scores (NaNs below two scores).

    The bounds are the (1-level)/2 and (1+level)/2 quantiles (inverse CDF: the smallest value
    whose cumulative probability reaches the level) of the bootstrap distribution of the mean.
    """
    x = np.asarray(scores, dtype=int)
    n = len(x)
    if n < 2:
        return float("nan"), float("nan")
    pmf = np.bincount(x - LEVELS[0], minlength=len(LEVELS)) / n
    dist = np.ones(1)
    for _ in range(n):  # distribution of the sum of n draws, on n*1 .. n*4
        dist = np.convolve(dist, pmf)
    cdf = np.cumsum(dist)
    tail = (1 - level) / 2
    lo, hi = (int(np.searchsorted(cdf, q - 1e-12)) for q in (tail, 1 - tail))
    return (n * LEVELS[0] + lo) / n, (n * LEVELS[0] + hi) / n


def per_item(votes: pd.DataFrame) -> pd.DataFrame:
    """triplet_id -> n_votes, mean, std, ci95 (t half-width), ci_low, ci_high (bootstrap, on the scale)."""
    if votes.empty:
        return pd.DataFrame(columns=["n_votes", "mean", "std", "ci95", "ci_low", "ci_high"]).rename_axis("triplet_id")
    g = votes.groupby("triplet_id")["score"]
    out = pd.DataFrame({"n_votes": g.size(), "mean": g.mean(), "std": g.std(ddof=1)})
    out["ci95"] = g.apply(lambda x: ci95(x.to_numpy(dtype=float)))
    bounds = g.apply(lambda x: bootstrap_interval(x.to_numpy()))
    out["ci_low"] = bounds.map(lambda b: b[0])
    out["ci_high"] = bounds.map(lambda b: b[1])
    return out


@dataclass
class Screening:
    annotator: str
    n: int
    p: int
    q: int
    rejected: bool


def bt500_screening(votes: pd.DataFrame) -> dict[str, Screening]:
    """ITU-R BT.500 beta2 observer screening (see the module docstring)."""
    p = dict.fromkeys(votes["annotator"].unique(), 0)
    q = dict(p)
    n = dict(p)
    for _tid, grp in votes.groupby("triplet_id"):
        x = grp["score"].to_numpy(dtype=float)
        for name in grp["annotator"]:
            n[name] += 1
        if len(x) < MIN_SCORES_FOR_SCREENING:
            continue
        mean, sd = x.mean(), x.std(ddof=1)
        m2 = np.mean((x - mean) ** 2)
        if m2 == 0:
            continue
        beta2 = np.mean((x - mean) ** 4) / m2**2
        k = 2.0 if 2.0 <= beta2 <= 4.0 else math.sqrt(20.0)
        for name, score in zip(grp["annotator"], x):
            if score >= mean + k * sd:
                p[name] += 1
            elif score <= mean - k * sd:
                q[name] += 1
    out = {}
    for name, count in n.items():
        pq = p[name] + q[name]
        rejected = pq > 0 and pq / count > 0.05 and abs(p[name] - q[name]) / pq < 0.3
        out[name] = Screening(name, count, p[name], q[name], rejected)
    return out


def pairwise_kappa(votes: pd.DataFrame, min_shared: int = 2) -> list[dict]:
    """Quadratic-weighted Cohen's kappa for each annotator pair sharing ``min_shared``+ items."""
    wide = votes.pivot_table(index="triplet_id", columns="annotator", values="score", aggfunc="first")
    out = []
    for a, b in itertools.combinations(sorted(wide.columns), 2):
        both = wide[[a, b]].dropna()
        if len(both) < min_shared:
            continue
        with warnings.catch_warnings():  # constant raters make kappa undefined: reported as None
            warnings.simplefilter("ignore")
            k = cohen_kappa_score(both[a].astype(int), both[b].astype(int), labels=LEVELS, weights="quadratic")
        out.append({"a": a, "b": b, "shared": len(both), "kappa": None if np.isnan(k) else float(k)})
    return out


def alpha_ordinal(votes: pd.DataFrame) -> float | None:
    """Krippendorff's alpha (ordinal); None when no item has two scores or there is no variation."""
    wide = votes.pivot_table(index="annotator", columns="triplet_id", values="score", aggfunc="first")
    if wide.shape[0] < 2 or (wide.notna().sum(axis=0) >= 2).sum() == 0:
        return None
    data = wide.to_numpy(dtype=float)
    if len(np.unique(data[~np.isnan(data)])) < 2:
        return None
    return float(krippendorff.alpha(reliability_data=data, level_of_measurement="ordinal", value_domain=LEVELS))


def per_annotator(votes: pd.DataFrame, db_url: str) -> list[dict]:
    """Counts (scores and skips), mean score, control accuracy and screening per human annotator."""
    with session_scope(db_url) as s:
        rows = s.execute(select(Annotator.name, Vote.score).join(Vote, Vote.annotator_id == Annotator.id)
                         .where(Annotator.is_auto.is_(False))).all()
        names = s.scalars(select(Annotator.name).where(Annotator.is_auto.is_(False))).all()
    skips = pd.Series([n for n, sc in rows if sc is None], dtype=object).value_counts()
    screening = bt500_screening(votes)
    out = []
    for name in sorted(names):
        mine = votes[votes["annotator"] == name]
        ctrl = mine[mine["is_control"].astype(bool) & mine["control_answer"].notna()]
        diff = (ctrl["score"] - ctrl["control_answer"]).abs()
        scr = screening.get(name)
        out.append({
            "annotator": name, "votes": len(mine), "skips": int(skips.get(name, 0)),
            "mean_score": float(mine["score"].mean()) if len(mine) else None,
            "controls": len(ctrl),
            "control_accuracy": float((diff == 0).mean()) if len(ctrl) else None,
            "control_within1": float((diff <= 1).mean()) if len(ctrl) else None,
            "bt500_p": scr.p if scr else 0, "bt500_q": scr.q if scr else 0,
            "bt500_rejected": scr.rejected if scr else False,
        })
    return out


def compute(db_url: str) -> dict:
    """Everything ``dynvfi annotate stats`` reports, as plain JSON-ready data."""
    votes = load_votes(db_url)
    items = per_item(votes)
    n_multi = int((items["n_votes"] >= 2).sum()) if len(items) else 0
    return {
        "n_votes": len(votes),
        "n_items": len(items),
        "n_items_multi": n_multi,
        "annotators": per_annotator(votes, db_url),
        "kappa": pairwise_kappa(votes) if len(votes) else [],
        "alpha_ordinal": alpha_ordinal(votes) if len(votes) else None,
        "items": [{"triplet_id": int(t), "n_votes": int(r.n_votes), "mean": float(r["mean"]),
                   "ci95": None if np.isnan(r.ci95) else float(r.ci95),
                   "ci_low": None if np.isnan(r.ci_low) else float(r.ci_low),
                   "ci_high": None if np.isnan(r.ci_high) else float(r.ci_high)} for t, r in items.iterrows()],
    }
