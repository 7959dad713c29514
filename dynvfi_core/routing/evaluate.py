"""``dynvfi route-eval``: how much of the heavy model's quality routing keeps, at what cost.

Every model runs exactly once per triplet (:func:`measure_pairs`); fast-only, heavy-only,
routed, random and oracle results are then all derived from the cached per-pair metrics and
per-pair seconds, so routers are compared on identical numbers and a threshold sweep is free.

- routed: heavy model where the score is below the threshold; time = scoring + chosen model;
- random: the same number of heavy pairs per subset, drawn at random: what a router without
  information achieves, reported as its exact expectation (plus the spread of seeded draws);
- oracle: the same number of heavy pairs, those where the heavy model gains most PSNR over the
  fast one given the ground truth: the best any router can do at that heavy fraction.

The yardstick is ``gain_share_of_oracle`` = routed gain over fast / oracle gain over fast.
"""

from __future__ import annotations

import json
import math
import time
from collections.abc import Sequence
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np
import pandas as pd
import torch
from scipy import stats
from tqdm import tqdm

from dynvfi_core.errors import ConfigError, InputError
from dynvfi_core.evaluation import load_triplet
from dynvfi_core.imageio import to_uint8
from dynvfi_core.metrics import all_metrics
from dynvfi_core.models import VFIModel, create
from dynvfi_core.routing.calibrate import calibrate_budget, threshold_for_share
from dynvfi_core.routing.pipeline import sync_device
from dynvfi_core.routing.report import plot_sweep, write_markdown
from dynvfi_core.routing.scorers import Scorer, motion_magnitude, scorer_name
from dynvfi_core.routing.snufilm import SUBSETS as SNU_SUBSETS
from dynvfi_core.triplets import Skipped, TripletRef

#: seeded draws of random routing whose spread is reported next to its exact expectation
RANDOM_DRAWS = 20
#: heavy shares at which the threshold sweep is evaluated
SWEEP_SHARES = tuple(np.round(np.linspace(0.0, 1.0, 21), 4))
#: name of the aggregate over every evaluated pair
ALL = "all"
#: the router's own cost may be at most this fraction of the fast model's time per pair: the
#: time aim is fast time on the easy share + heavy time on the hard share + this allowance
SCORE_TIME_ALLOWANCE = 0.25


@dataclass
class PairTable:
    """Per-pair measurements, one entry per triplet, in triplet order."""

    ids: list[str]
    subsets: list[str]
    score: np.ndarray
    motion: np.ndarray  # mean flow magnitude, % of width (for motion bins); NaN when not measured
    psnr_fast: np.ndarray
    ssim_fast: np.ndarray
    psnr_heavy: np.ndarray
    ssim_heavy: np.ndarray
    t_score: np.ndarray
    t_fast: np.ndarray
    t_heavy: np.ndarray
    #: scores and scoring seconds of further routers compared on the same model outputs
    alt_score: dict[str, np.ndarray] = field(default_factory=dict)
    alt_t_score: dict[str, np.ndarray] = field(default_factory=dict)
    #: perceptual distance (LPIPS family) of the fast model's frame to the ground truth, if measured
    perc_fast: np.ndarray | None = None
    #: per-pair seconds from the calm cost pass (:func:`measure_costs`), keyed "fast", "heavy",
    #: "score" and "score[NAME]"; the time-aim verdict uses them instead of the live timings
    cost: dict[str, np.ndarray] = field(default_factory=dict)

    def to_frame(self) -> pd.DataFrame:
        cols = {k: v for k, v in vars(self).items() if not isinstance(v, dict) and v is not None}
        cols |= {f"cost_{k}": v for k, v in self.cost.items()}
        for name in self.alt_score:
            cols[f"score[{name}]"] = self.alt_score[name]
            cols[f"t_score[{name}]"] = self.alt_t_score[name]
        return pd.DataFrame(cols)

    def select(self, mask: np.ndarray) -> PairTable:
        idx = np.flatnonzero(mask)

        def pick(v):
            if v is None:
                return None
            if isinstance(v, dict):
                return {k: a[idx] for k, a in v.items()}
            return [v[i] for i in idx] if isinstance(v, list) else v[idx]

        return PairTable(**{k: pick(v) for k, v in vars(self).items()})


def timed(fn, device: torch.device):
    """``fn()`` and its wall-clock seconds, with queued GPU work waited for on both sides."""
    sync_device(device)
    start = time.perf_counter()
    out = fn()
    sync_device(device)
    return out, time.perf_counter() - start


def measure_pairs(
    triplets: Sequence[TripletRef],
    scorer: Scorer,
    fast: VFIModel,
    heavy: VFIModel,
    with_motion: bool = False,
    progress: bool = True,
    compare: dict[str, Scorer] | None = None,
    perceptual: bool = False,
) -> PairTable:
    """Run the scorer(s) and both models once per triplet; per-pair metrics and seconds.

    ``perceptual`` also measures the LPIPS-family distance of the fast model's frame to the
    ground truth (``perc_fast``), so scorers can be ranked against it as well as against PSNR.

    The first triplet is run once untimed first, so one-off costs (lazy weight loading, kernel
    selection, allocator warm-up) do not land on whichever pair happens to come first.
    """
    if not triplets:
        raise InputError("no triplets to evaluate")
    n = len(triplets)
    cols = {k: np.full(n, np.nan) for k in ("score", "motion", "psnr_fast", "ssim_fast", "psnr_heavy",
                                            "ssim_heavy", "t_score", "t_fast", "t_heavy")}
    compare = compare or {}
    alt = {name: np.full(n, np.nan) for name in compare}
    alt_t = {name: np.full(n, np.nan) for name in compare}
    perc = np.full(n, np.nan) if perceptual else None
    metric = None
    if perceptual:
        from dynvfi_core.perceptual import get_metric

        metric = get_metric(fast.device)
    f0, _, f1 = load_triplet(triplets[0])
    u0, u1 = to_uint8(f0), to_uint8(f1)
    for sc in (scorer, *compare.values()):
        sc.score_batch(u0, u1)
    fast.interpolate(f0, f1, 0.5)
    heavy.interpolate(f0, f1, 0.5)
    for i, t in enumerate(tqdm(triplets, desc="route-eval", unit="pair", disable=not progress)):
        f0, gt, f1 = load_triplet(t)
        u0, u1 = to_uint8(f0), to_uint8(f1)
        cols["score"][i], cols["t_score"][i] = _score_one(scorer, u0, u1)
        for name, sc in compare.items():
            alt[name][i], alt_t[name][i] = _score_one(sc, u0, u1)
        for name, model in (("fast", fast), ("heavy", heavy)):
            pred, sec = timed(lambda m=model, a=f0, b=f1: m.interpolate(a, b, 0.5), model.device)
            m = all_metrics(pred, gt)
            cols[f"psnr_{name}"][i] = float(m["psnr"][0])
            cols[f"ssim_{name}"][i] = float(m["ssim"][0])
            cols[f"t_{name}"][i] = sec
            if name == "fast" and metric is not None:
                perc[i] = float(metric(pred.clamp(0, 1), gt)[0][0])
        if with_motion:
            cols["motion"][i] = motion_magnitude(u0[0], u1[0])
    return PairTable(ids=[t.id for t in triplets], subsets=[t.subset for t in triplets], **cols,
                     alt_score=alt, alt_t_score=alt_t, perc_fast=perc)


def _median_seconds(fn, device: torch.device, repeats: int) -> float:
    """Median wall seconds of ``repeats`` calls after one untimed warm-up call."""
    fn()
    return float(np.median([timed(fn, device)[1] for _ in range(repeats)]))


def measure_costs(triplets: Sequence[TripletRef], scorer: Scorer, fast: VFIModel, heavy: VFIModel,
                  compare: dict[str, Scorer] | None = None, repeats: int = 5) -> dict[str, np.ndarray]:
    """Per-pair costs from a separate, calm pass: the median of ``repeats`` runs per frame size.

    Why: the live timings of the evaluated pairs are single runs on whatever else the machine
    was doing, and the time-aim verdict flipped between runs on a busy machine. Cost depends on
    the frame size only, so each distinct size is timed on one of its pairs (the first) for
    every model and scorer, and every pair of that size gets that median.
    """
    sizes: dict[tuple[int, int], int] = {}
    shapes = []
    for i, t in enumerate(triplets):
        f0, _, _ = load_triplet(t)
        shape = tuple(f0.shape[-2:])
        shapes.append(shape)
        sizes.setdefault(shape, i)
    runners = {"fast": fast, "heavy": heavy}
    scorers = {"score": scorer, **{f"score[{k}]": v for k, v in (compare or {}).items()}}
    per_size: dict[str, dict[tuple[int, int], float]] = {k: {} for k in (*runners, *scorers)}
    for shape, i in tqdm(sizes.items(), desc="cost pass", unit="size", disable=len(sizes) < 2):
        f0, _, f1 = load_triplet(triplets[i])
        u0, u1 = to_uint8(f0), to_uint8(f1)
        for key, model in runners.items():
            per_size[key][shape] = _median_seconds(lambda m=model: m.interpolate(f0, f1, 0.5), model.device, repeats)
        for key, sc in scorers.items():
            per_size[key][shape] = _median_seconds(lambda s=sc: s.score_batch(u0, u1), fast.device, repeats)
    return {key: np.array([table[s] for s in shapes]) for key, table in per_size.items()}


def _score_one(scorer: Scorer, u0: np.ndarray, u1: np.ndarray) -> tuple[float, float]:
    """One pair's score and the seconds it took."""
    start = time.perf_counter()
    s = np.asarray(scorer.score_batch(u0, u1), dtype=np.float64).reshape(-1)
    sec = time.perf_counter() - start
    if s.size != 1:
        raise InputError(f"scorer {scorer_name(scorer)} returned {s.size} scores for one pair")
    return float(s[0]), sec


# -- routers on cached numbers -------------------------------------------------------------------

def _summary(p: PairTable, heavy_mask: np.ndarray, with_score_time: bool | str) -> dict:
    """Mean PSNR/SSIM/seconds when ``heavy_mask`` pairs go heavy and the rest fast.

    ``with_score_time``: add the main scorer's time (True), none (False) or a compared scorer's (its name).
    """
    if isinstance(with_score_time, str):
        score_t = p.alt_t_score[with_score_time]
    else:
        score_t = p.t_score if with_score_time else 0.0
    secs = np.where(heavy_mask, p.t_heavy, p.t_fast) + score_t
    return {
        "psnr": float(np.where(heavy_mask, p.psnr_heavy, p.psnr_fast).mean()),
        "ssim": float(np.where(heavy_mask, p.ssim_heavy, p.ssim_fast).mean()),
        "s_per_pair": float(secs.mean()),
        "heavy_fraction": float(heavy_mask.mean()),
    }


def _model_seconds(p: PairTable) -> tuple[np.ndarray, np.ndarray]:
    """Fast and heavy seconds per pair for the time aim: calm costs when measured, else live."""
    if p.cost:
        return p.cost["fast"], p.cost["heavy"]
    return p.t_fast, p.t_heavy


def time_bound(p: PairTable, heavy_mask: np.ndarray) -> float:
    """Seconds per pair the routed pipeline may take: the models it chose plus the scoring allowance."""
    t_fast, t_heavy = _model_seconds(p)
    return float(np.where(heavy_mask, t_heavy, t_fast).mean() + SCORE_TIME_ALLOWANCE * t_fast.mean())


def meets_time_aim(p: PairTable, heavy_mask: np.ndarray, scorer: str | None = None) -> bool:
    """Whether routing with ``heavy_mask`` (scored by the main scorer, or compared ``scorer``) meets
    :func:`time_bound`, on the calm costs when measured (else on the live timings)."""
    t_fast, t_heavy = _model_seconds(p)
    key = "score" if scorer is None else f"score[{scorer}]"
    if p.cost:
        score_t = p.cost[key]
    else:
        score_t = p.t_score if scorer is None else p.alt_t_score[scorer]
    return bool(float((np.where(heavy_mask, t_heavy, t_fast) + score_t).mean()) <= time_bound(p, heavy_mask))


def oracle_mask(p: PairTable, k: int) -> np.ndarray:
    """The ``k`` pairs where the heavy model gains most PSNR over the fast one (ties: first pair)."""
    gain = p.psnr_heavy - p.psnr_fast
    mask = np.zeros(len(gain), dtype=bool)
    mask[np.argsort(-gain, kind="stable")[:k]] = True
    return mask


def random_summary(p: PairTable, k: int, seed: int, draws: int = RANDOM_DRAWS) -> dict:
    """Random routing of ``k`` of the ``n`` pairs to the heavy model: its exact expectation.

    Under a uniform choice of ``k`` distinct pairs each pair is heavy with probability ``k / n``,
    so the expected mean of any per-pair number is ``fast + k / n * mean(heavy - fast)``. A
    Monte-Carlo mean of 20 draws had about 8% noise on the gain share; the expectation has none.
    ``psnr_std`` is extra information: the spread of the mean PSNR over ``draws`` seeded draws
    (without replacement) of one such router.
    """
    n = len(p.ids)
    share = k / n

    def expected(fast: np.ndarray, heavy: np.ndarray) -> float:
        return float(fast.mean() + share * (heavy - fast).mean())

    out = {"psnr": expected(p.psnr_fast, p.psnr_heavy), "ssim": expected(p.ssim_fast, p.ssim_heavy),
           "s_per_pair": expected(p.t_fast, p.t_heavy), "heavy_fraction": share}
    rng = np.random.default_rng(seed)
    runs = []
    for _ in range(draws):
        mask = np.zeros(n, dtype=bool)
        mask[rng.choice(n, size=k, replace=False)] = True
        runs.append(_summary(p, mask, with_score_time=False)["psnr"])
    out["psnr_std"] = float(np.std(runs))
    out["draws"] = draws
    return out


def _share(gain: float, reference_gain: float) -> float | None:
    """``gain / reference_gain``, undefined (None) when the reference (oracle, heavy) gains nothing."""
    return gain / reference_gain if reference_gain > 1e-9 else None


def subset_result(p: PairTable, threshold: float, seed: int, alt_thresholds: dict[str, float] | None = None) -> dict:
    """Fast, heavy, routed, random and oracle numbers for one group of pairs.

    ``alt_thresholds`` routes the compared scorers too (``routed_by``), each at its own threshold.
    """
    n = len(p.ids)
    routed_mask = p.score < threshold
    k = int(routed_mask.sum())
    fast = _summary(p, np.zeros(n, dtype=bool), with_score_time=False)
    heavy = _summary(p, np.ones(n, dtype=bool), with_score_time=False)
    routed = _summary(p, routed_mask, with_score_time=True)
    rand = random_summary(p, k, seed)
    oracle = _summary(p, oracle_mask(p, k), with_score_time=False)
    for d in (fast, heavy):
        d.pop("heavy_fraction")
    oracle_gain = oracle["psnr"] - fast["psnr"]
    bound = time_bound(p, routed_mask)
    routed_by = {}
    for name, th in (alt_thresholds or {}).items():
        r = _summary(p, p.alt_score[name] < th, with_score_time=name)
        o = _summary(p, oracle_mask(p, int((p.alt_score[name] < th).sum())), with_score_time=False)
        alt_bound = time_bound(p, p.alt_score[name] < th)
        routed_by[name] = r | {"gain_share_of_oracle": _share(r["psnr"] - fast["psnr"], o["psnr"] - fast["psnr"]),
                               "gain_share_of_heavy": _share(r["psnr"] - fast["psnr"], heavy["psnr"] - fast["psnr"]),
                               "time_fraction_of_heavy": r["s_per_pair"] / heavy["s_per_pair"],
                               "time_bound_s_per_pair": alt_bound,
                               "within_time_bound": meets_time_aim(p, p.alt_score[name] < th, name)}
    out = {
        "n_pairs": n,
        "fast": fast,
        "heavy": heavy,
        "routed": routed,
        "random": rand,
        "oracle": oracle,
        "gain_share_of_oracle": _share(routed["psnr"] - fast["psnr"], oracle_gain),
        "random_gain_share_of_oracle": _share(rand["psnr"] - fast["psnr"], oracle_gain),
        # the paper's yardstick (share of heavy-only's gain); undefined when heavy does not gain
        "gain_share_of_heavy": _share(routed["psnr"] - fast["psnr"], heavy["psnr"] - fast["psnr"]),
        "heavy_gain_db": heavy["psnr"] - fast["psnr"],
        "time_fraction_of_heavy": routed["s_per_pair"] / heavy["s_per_pair"],
        "time_bound_s_per_pair": bound,
        "within_time_bound": meets_time_aim(p, routed_mask),
        "time_aim_on": "calm cost pass" if p.cost else "live timings",
        "score_s_per_pair": float(p.t_score.mean()),
        "score_time_fraction_of_fast": float((p.cost["score"].mean() / p.cost["fast"].mean()) if p.cost
                                             else (p.t_score.mean() / p.t_fast.mean())),
    }
    if routed_by:
        out["routed_by"] = routed_by
    return out


def sweep(p: PairTable, all_scores: np.ndarray, shares: Sequence[float] = SWEEP_SHARES,
          alt: str | None = None) -> list[dict]:
    """Routed and oracle quality/cost at thresholds placed at several global heavy shares.

    ``alt`` names a compared scorer to sweep instead of the main one.
    """
    points = []
    scores = p.score if alt is None else p.alt_score[alt]
    for share in shares:
        th = threshold_for_share(all_scores, float(share))
        mask = scores < th
        r = _summary(p, mask, with_score_time=True if alt is None else alt)
        o = _summary(p, oracle_mask(p, int(mask.sum())), with_score_time=False)
        points.append({"threshold": th, "heavy_fraction": r["heavy_fraction"], "psnr": r["psnr"],
                       "ssim": r["ssim"], "s_per_pair": r["s_per_pair"], "oracle_psnr": o["psnr"],
                       "oracle_ssim": o["ssim"], "oracle_s_per_pair": o["s_per_pair"]})
    return points


def correlations(score: np.ndarray, quality: np.ndarray) -> tuple[float, float]:
    """(SRCC, PLCC) of scores with a quality (higher = better); NaN where undefined."""
    ok = np.isfinite(score) & np.isfinite(quality)
    if ok.sum() < 3 or np.ptp(score[ok]) == 0 or np.ptp(quality[ok]) == 0:
        return math.nan, math.nan
    return (float(stats.spearmanr(score[ok], quality[ok]).statistic),
            float(stats.pearsonr(score[ok], quality[ok]).statistic))


def ranking(p: PairTable, main_name: str = "scorer") -> dict[str, dict[str, float]]:
    """How well each scorer orders the pairs by the fast model's true quality.

    SRCC and PLCC of every scorer's score (higher = easier) with the fast model's PSNR and, when
    measured, with its negated perceptual distance (so that for both, +1 is a perfect ranking of
    easy above hard). This is the pre-assessment's own job, independent of the heavy model.
    """
    scores = {main_name: p.score, **p.alt_score}
    out = {}
    for name, sc in scores.items():
        srcc, plcc = correlations(sc, p.psnr_fast)
        row = {"srcc_psnr": srcc, "plcc_psnr": plcc}
        if p.perc_fast is not None:
            row["srcc_perceptual"], row["plcc_perceptual"] = correlations(sc, -p.perc_fast)
        out[name] = row
    return out


# -- grouping --------------------------------------------------------------------------------------

def motion_groups(motion: np.ndarray) -> tuple[list[str], list[float]]:
    """Motion terciles of the evaluated set: a label per pair and the two bin edges (% of width)."""
    edges = [float(x) for x in np.quantile(motion, [1 / 3, 2 / 3])]
    labels = np.where(motion < edges[0], "motion-low", np.where(motion < edges[1], "motion-mid", "motion-high"))
    return labels.tolist(), edges


def group_order(names: Sequence[str]) -> list[str]:
    """SNU-FILM subsets in difficulty order, motion bins low -> high, others in first-seen order."""
    preferred = list(SNU_SUBSETS) + ["motion-low", "motion-mid", "motion-high"]
    seen = list(dict.fromkeys(names))
    return [g for g in preferred if g in seen] + [g for g in seen if g not in preferred]


# -- the whole evaluation --------------------------------------------------------------------------

def choose_threshold(p: PairTable, heavy_share: float | None, threshold: float | None,
                     budget: float | None) -> tuple[float, dict]:
    """The routing threshold from exactly one rule, using scores and measured costs, never GT."""
    given = [x is not None for x in (heavy_share, threshold, budget)]
    if sum(given) != 1:
        raise ConfigError("give exactly one of heavy share, threshold or budget")
    if threshold is not None:
        return float(threshold), {"rule": "threshold", "threshold": float(threshold)}
    if heavy_share is not None:
        th = threshold_for_share(p.score, heavy_share)
        return th, {"rule": "heavy_share", "heavy_share": heavy_share}
    cal = calibrate_budget(p.score, p.t_fast, p.t_heavy, p.t_score, budget)
    return cal.threshold, {"rule": "budget", "budget": budget, "calibrated_time_fraction": cal.time_fraction,
                           "budget_reachable": cal.reachable}


def evaluate_table(p: PairTable, heavy_share: float | None = None, threshold: float | None = None,
                   budget: float | None = None, group_by: str = "subset", seed: int = 0,
                   calibration: PairTable | None = None, scorer_label: str = "scorer") -> dict:
    """The route-eval result dict from cached per-pair numbers (no model runs).

    ``calibration``: place the threshold on these pairs (a validation set) instead of the
    evaluated ones, so the evaluated pairs play no part in choosing it.
    """
    th, rule = choose_threshold(calibration if calibration is not None else p, heavy_share, threshold, budget)
    if calibration is not None:
        rule["calibrated_on_pairs"] = len(calibration.ids)
    if group_by == "subset":
        labels, extra = p.subsets, {}
    elif group_by == "motion":
        if np.isnan(p.motion).any():
            raise ConfigError("grouping by motion needs per-pair motion (measure with with_motion=True)")
        labels, edges = motion_groups(p.motion)
        extra = {"motion_bin_edges_pct_width": edges}
    else:
        raise ConfigError(f"group_by must be 'subset' or 'motion', got {group_by!r}")
    labels_arr = np.asarray(labels)
    # compared scorers send the same overall share of pairs to the heavy model (their score scales differ)
    share = float((p.score < th).mean())
    alt_th = {name: threshold_for_share(sc, share) for name, sc in p.alt_score.items()}
    subsets, curves = {}, {}
    alt_curves: dict[str, dict[str, list[dict]]] = {name: {} for name in alt_th}
    for g in [g for g in group_order(labels) if g != ALL] + [ALL]:
        sub = p if g == ALL else p.select(labels_arr == g)
        subsets[g] = subset_result(sub, th, seed, alt_th)
        curves[g] = sweep(sub, p.score)
        for name in alt_th:
            alt_curves[name][g] = sweep(sub, p.alt_score[name], alt=name)
    out = {"threshold": th, **rule, "group_by": group_by, **extra, "subsets": subsets, "sweep": curves,
           "ranking": ranking(p, scorer_label)}
    if alt_th:
        out["compared_thresholds"] = alt_th
        out["sweep_by"] = alt_curves
    return out


def route_eval(
    triplets: list[TripletRef],
    scorer: Scorer,
    fast_spec: str,
    heavy_spec: str,
    heavy_share: float | None = 1 / 3,
    out_dir: Path = Path("route-eval"),
    seed: int = 0,
    threshold: float | None = None,
    budget: float | None = None,
    group_by: str = "subset",
    device: str | None = None,
    progress: bool = True,
    compare: dict[str, Scorer] | None = None,
    calibrate_on: list[TripletRef] | None = None,
    perceptual: bool = False,
    cost_repeats: int = 5,
    skipped: Sequence[Skipped] = (),
) -> dict:
    """Evaluate routing on ``triplets``; write results.json, results.md, curve.png, pairs.csv to ``out_dir``.

    Give one of ``heavy_share`` (default 1/3), ``threshold`` or ``budget`` (pass
    ``heavy_share=None`` with the other two). ``compare`` names further scorers evaluated on the
    same model outputs at the same overall heavy share (``routed_by`` in each subset).
    ``calibrate_on``: a validation set on which the share or budget rule places the threshold
    (scores and measured costs only); the evaluated pairs then just use it.
    ``perceptual``: also rank the scorers against the fast model's perceptual error.
    ``cost_repeats``: runs per frame size in the calm cost pass behind the time-aim verdict
    (:func:`measure_costs`); 0 judges the time aim on the live timings instead.
    ``skipped``: what discovery left out of ``triplets`` (incomplete folders, dangling list
    entries), listed in the report so its pair count can be checked against the data.
    Returns the JSON dict.
    """
    if threshold is not None or budget is not None:
        heavy_share = None
    torch.manual_seed(seed)
    fast = create(fast_spec, device)
    heavy = create(heavy_spec, device)
    calibration = None
    if calibrate_on is not None:
        calibration = measure_pairs(calibrate_on, scorer, fast, heavy, progress=progress)
    pairs = measure_pairs(triplets, scorer, fast, heavy, with_motion=group_by == "motion", progress=progress,
                          compare=compare, perceptual=perceptual)
    if cost_repeats > 0:
        pairs.cost = measure_costs(triplets, scorer, fast, heavy, compare, cost_repeats)
    result = evaluate_table(pairs, heavy_share, threshold, budget, group_by, seed, calibration,
                            scorer_label=scorer_name(scorer))
    out_dir = Path(out_dir)
    out_dir.mkdir(parents=True, exist_ok=True)
    result = {
        "config": {"fast": fast.name, "heavy": heavy.name, "scorer": scorer_name(scorer), "seed": seed,
                   "random_draws": RANDOM_DRAWS, "n_pairs": len(triplets), "device": str(fast.device),
                   "cost_repeats": cost_repeats,
                   "torch_threads": torch.get_num_threads(),
                   "skipped": [k.as_json() for k in skipped]},
        **result,
        "files": {"json": str(out_dir / "results.json"), "markdown": str(out_dir / "results.md"),
                  "plot": str(out_dir / "curve.png"), "pairs": str(out_dir / "pairs.csv")},
    }
    pairs.to_frame().to_csv(out_dir / "pairs.csv", index=False)
    plot_sweep(result, out_dir / "curve.png")
    write_markdown(result, out_dir / "results.md")
    (out_dir / "results.json").write_text(json.dumps(json_finite(result), indent=1))
    return result


def json_finite(obj):
    """JSON has no NaN/inf: write them as null."""
    if isinstance(obj, float) and not math.isfinite(obj):
        return None
    if isinstance(obj, dict):
        return {k: json_finite(v) for k, v in obj.items()}
    if isinstance(obj, list):
        return [json_finite(v) for v in obj]
    return obj
