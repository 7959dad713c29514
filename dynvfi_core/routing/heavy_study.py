"""``dynvfi heavy-compare``: which heavy model should the router use for this footage?

A heavy model is only worth its cost if it beats the fast model where the router sends it, so
every candidate is judged against the fast model on the same pairs (HEAVY_MODEL.md):

- its mean PSNR gain over the fast model on all pairs, per subset (stride, SNU-FILM level, ...)
  and on the "hard" third: the pairs with the lowest PSNR of the 50/50 blend, i.e. the most
  motion, a definition that favours no candidate;
- how often and how badly it loses (share of pairs losing more than :data:`LOSS_DB`, worst pair):
  an average gain can hide single pairs that lose several dB;
- its cost as a multiple of the fast model's seconds per pair;
- at a heavy share, what routing can keep of it: the oracle's gain (ground truth picks the
  pairs) and the share of that gain kept by routing on the motion score, on a DPA's score and
  at random, all through the same helpers as ``route-eval`` (:mod:`.evaluate`).

Every model runs once per triplet; everything else is derived from the cached per-pair numbers.
"""

from __future__ import annotations

import json
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path

import matplotlib

matplotlib.use("Agg")
import matplotlib.pyplot as plt
import numpy as np
import pandas as pd
import torch
from rich.console import Console
from rich.table import Table
from tqdm import tqdm

from dynvfi_core.errors import ConfigError, InputError
from dynvfi_core.evaluation import load_triplet
from dynvfi_core.imageio import to_uint8
from dynvfi_core.metrics import psnr, quantize
from dynvfi_core.models import VFIModel, create
from dynvfi_core.routing.calibrate import threshold_for_share
from dynvfi_core.routing.evaluate import (
    RANDOM_DRAWS,
    PairTable,
    group_order,
    json_finite,
    subset_result,
    timed,
)
from dynvfi_core.routing.report import percent, save_figure
from dynvfi_core.routing.scorers import Scorer, motion_magnitude, scorer_name
from dynvfi_core.triplets import TripletRef

#: the real-weight candidates compared in HEAVY_MODEL.md (the default heavy model first)
CANDIDATES_DEFAULT = ("tta(rife-v4.25)", "ensemble(rife-v4.25,rife-hdv3)",
                      "ensemble(tta(rife-v4.25),rife-hdv3)", "rife-hdv3")
#: heavy models whose official checkpoints users download by hand (spec, weight-file key, module
#: that registers that key): candidates by default wherever those files are installed
HAND_SUPPLIED = (("vfiformer", "vfiformer", "dynvfi_core.models.vfiformer"),
                 ("ema-vfi", "ema-vfi", "dynvfi_core.models.ema_vfi"),
                 ("ema-vfi:variant=small", "ema-vfi-small", "dynvfi_core.models.ema_vfi"))
#: the reference that defines the hard pairs: it has no flow, so it favours no candidate
BLEND = "blend"
#: share of the pairs (lowest blend PSNR) that counts as hard
HARD_SHARE = 1 / 3
#: a pair counts as lost (or gained) when the candidate is this much worse (better) than the fast model
LOSS_DB = 0.05


def canonical_spec(spec: str) -> str:
    """A spec without whitespace: the name the registry gives the model it builds."""
    return "".join(spec.split())


def default_candidates() -> list[str]:
    """:data:`CANDIDATES_DEFAULT`, then each :data:`HAND_SUPPLIED` model whose weight file is in
    place (``dynvfi weights list`` says where each goes)."""
    import importlib

    from dynvfi_core import weights

    out = list(CANDIDATES_DEFAULT)
    for spec, key, module in HAND_SUPPLIED:
        importlib.import_module(module)  # registers the weight spec
        if weights.status(weights.SPECS[key]) == "ok":
            out.append(spec)
    return out


def candidate_list(fast: str, candidates: Sequence[str]) -> list[str]:
    """Distinct candidate specs other than the fast model, in the given order.

    Checked before any weights load, so a useless call fails at once.
    """
    fast_c = canonical_spec(fast)
    out = list(dict.fromkeys(c for c in map(canonical_spec, candidates) if c and c != fast_c))
    if not out:
        raise ConfigError(f"no heavy candidate distinct from the fast model {fast_c!r}: give --candidate SPEC")
    return out


@dataclass
class StudyTable:
    """Per-pair measurements of every model on the same triplets (in triplet order)."""

    ids: list[str]
    subsets: list[str]
    motion: np.ndarray  # mean DIS flow magnitude, % of the frame width
    dpa: np.ndarray | None  # the DPA's score (higher = easier) when one was given
    psnr: dict[str, np.ndarray]  # model name -> per-pair PSNR (8-bit-quantised prediction)
    seconds: dict[str, np.ndarray]  # model name -> per-pair model seconds
    fast: str
    candidates: list[str]

    def gain(self, candidate: str) -> np.ndarray:
        """Per-pair PSNR gain of ``candidate`` over the fast model (dB)."""
        return self.psnr[candidate] - self.psnr[self.fast]

    def hard_mask(self) -> np.ndarray:
        """The third of the pairs with the lowest blend PSNR (at least one pair; ties: first pair)."""
        n = len(self.ids)
        k = max(1, round(n * HARD_SHARE))
        mask = np.zeros(n, dtype=bool)
        mask[np.argsort(self.psnr[BLEND], kind="stable")[:k]] = True
        return mask

    def pair_table(self, candidate: str) -> PairTable:
        """The route-eval view with ``candidate`` as the heavy model, routed by motion (and the DPA).

        The main score is minus the motion, so that, as for every router, a higher score means an
        easier pair and the lowest scores go heavy. SSIM is not measured here (NaN).
        """
        n = len(self.ids)
        nan = np.full(n, np.nan)
        alt = {} if self.dpa is None else {"dpa": self.dpa}
        return PairTable(ids=self.ids, subsets=self.subsets, score=-self.motion, motion=self.motion,
                         psnr_fast=self.psnr[self.fast], ssim_fast=nan, psnr_heavy=self.psnr[candidate],
                         ssim_heavy=nan, t_score=np.zeros(n), t_fast=self.seconds[self.fast],
                         t_heavy=self.seconds[candidate], alt_score=alt,
                         alt_t_score={k: np.zeros(n) for k in alt})

    def to_frame(self) -> pd.DataFrame:
        cols: dict[str, object] = {"id": self.ids, "subset": self.subsets, "hard": self.hard_mask(),
                                   "motion_pct_width": self.motion}
        if self.dpa is not None:
            cols["dpa_score"] = self.dpa
        for name in self.psnr:
            cols[f"psnr[{name}]"] = self.psnr[name]
            cols[f"seconds[{name}]"] = self.seconds[name]
        for c in self.candidates:
            cols[f"gain[{c}]"] = self.gain(c)
        return pd.DataFrame(cols)


def measure(triplets: Sequence[TripletRef], models: dict[str, VFIModel], fast: str, candidates: Sequence[str],
            dpa: Scorer | None = None, progress: bool = True) -> StudyTable:
    """Run every model (fast, blend, candidates: ``models`` by name) once per triplet.

    The first triplet runs once untimed first, so lazy weight loading and warm-up do not land on
    one pair's seconds.
    """
    if not triplets:
        raise InputError("no triplets to evaluate")
    n = len(triplets)
    scores = {name: np.full(n, np.nan) for name in models}
    secs = {name: np.full(n, np.nan) for name in models}
    motion = np.full(n, np.nan)
    dpa_scores = None if dpa is None else np.full(n, np.nan)
    f0, _, f1 = load_triplet(triplets[0])
    for model in models.values():
        model.interpolate(f0, f1, 0.5)
    if dpa is not None:
        dpa.score_batch(to_uint8(f0), to_uint8(f1))
    for i, t in enumerate(tqdm(triplets, desc="heavy-compare", unit="pair", disable=not progress)):
        f0, gt, f1 = load_triplet(t)
        u0, u1 = to_uint8(f0), to_uint8(f1)
        motion[i] = motion_magnitude(u0[0], u1[0])
        if dpa_scores is not None:
            dpa_scores[i] = float(np.asarray(dpa.score_batch(u0, u1), dtype=np.float64).reshape(-1)[0])
        for name, model in models.items():
            pred, secs[name][i] = timed(lambda m=model, a=f0, b=f1: m.interpolate(a, b, 0.5), model.device)
            scores[name][i] = float(psnr(quantize(pred), gt)[0])
    return StudyTable(ids=[t.id for t in triplets], subsets=[t.subset for t in triplets], motion=motion,
                      dpa=dpa_scores, psnr=scores, seconds=secs, fast=fast, candidates=list(candidates))


# -- analysis on cached numbers ------------------------------------------------------------------

def gain_stats(gain: np.ndarray, ids: Sequence[str]) -> dict:
    """Mean gain, how often it loses or gains more than :data:`LOSS_DB`, and the worst pair."""
    worst = int(np.argmin(gain))
    return {"n_pairs": len(gain), "gain_db": float(gain.mean()),
            "share_losing": float((gain < -LOSS_DB).mean()), "share_gaining": float((gain > LOSS_DB).mean()),
            "worst_gain_db": float(gain[worst]), "worst_pair": ids[worst], "best_gain_db": float(gain.max())}


def routing_stats(p: PairTable, heavy_share: float, seed: int) -> dict:
    """Oracle gain and the share of it kept by motion, DPA and random routing at ``heavy_share``.

    The group is treated as footage of its own: each router sends its ``heavy_share`` of the
    group's pairs (its lowest scores) to the heavy model; the oracle and random routing use the
    same number of heavy pairs (:func:`.evaluate.subset_result`).
    """
    alt = {name: threshold_for_share(s, heavy_share) for name, s in p.alt_score.items()}
    r = subset_result(p, threshold_for_share(p.score, heavy_share), seed, alt)
    out = {"n_pairs": r["n_pairs"], "heavy_fraction": r["routed"]["heavy_fraction"],
           "oracle_gain_db": r["oracle"]["psnr"] - r["fast"]["psnr"],
           "motion_gain_db": r["routed"]["psnr"] - r["fast"]["psnr"],
           "random_gain_db": r["random"]["psnr"] - r["fast"]["psnr"],
           "share_of_oracle": {"motion": r["gain_share_of_oracle"], "random": r["random_gain_share_of_oracle"]}}
    for name, d in r.get("routed_by", {}).items():
        out[f"{name}_gain_db"] = d["psnr"] - r["fast"]["psnr"]
        out["share_of_oracle"][name] = d["gain_share_of_oracle"]
    return out


def analyse(table: StudyTable, heavy_share: float = 1 / 3, seed: int = 0) -> dict:
    """Per candidate: gains (all, hard, per subset), cost, and routing at ``heavy_share``."""
    hard = table.hard_mask()
    subsets = np.asarray(table.subsets)
    names = group_order(table.subsets) if len(set(table.subsets)) > 1 else []
    t_fast = float(table.seconds[table.fast].mean())
    out = {}
    for c in table.candidates:
        gain = table.gain(c)
        p = table.pair_table(c)
        out[c] = {
            "s_per_pair": float(table.seconds[c].mean()),
            "cost_x_fast": float(table.seconds[c].mean()) / t_fast if t_fast > 0 else None,
            "psnr_all": float(table.psnr[c].mean()),
            "psnr_hard": float(table.psnr[c][hard].mean()),
            "all": gain_stats(gain, table.ids),
            "hard": gain_stats(gain[hard], [i for i, h in zip(table.ids, hard) if h]),
            "subsets": {s: gain_stats(gain[subsets == s], [i for i, g in zip(table.ids, subsets) if g == s])
                        for s in names},
            "routing": {"all": routing_stats(p, heavy_share, seed)}
                       | {s: routing_stats(p.select(subsets == s), heavy_share, seed) for s in names},
        }
    return out


def heavy_compare(triplets: Sequence[TripletRef], fast: str, candidates: Sequence[str], out_dir: Path,
                  dpa: Scorer | None = None, heavy_share: float = 1 / 3, device: str | None = None,
                  seed: int = 0, progress: bool = True) -> dict:
    """Measure and compare the candidates; write results.json, results.md, pairs.csv and gains.png.

    Returns the JSON dict.
    """
    if not 0.0 < heavy_share < 1.0:
        raise ConfigError(f"--heavy-share must lie strictly between 0 and 1, got {heavy_share}")
    if not triplets:
        raise InputError("no triplets to evaluate")
    specs = candidate_list(fast, candidates)
    torch.manual_seed(seed)
    fast_model = create(fast, device)
    models: dict[str, VFIModel] = {fast_model.name: fast_model}
    blend = create(BLEND, device)
    models.setdefault(blend.name, blend)
    names = []
    for spec in specs:
        model = create(spec, device)
        models.setdefault(model.name, model)
        names.append(model.name)
    table = measure(triplets, models, fast_model.name, names, dpa, progress)
    out_dir = Path(out_dir)
    out_dir.mkdir(parents=True, exist_ok=True)
    files = {"json": out_dir / "results.json", "markdown": out_dir / "results.md",
             "pairs": out_dir / "pairs.csv", "plot": out_dir / "gains.png"}
    result = {
        "config": {"fast": table.fast, "candidates": table.candidates, "hard": "lowest-blend-PSNR third",
                   "hard_pairs": int(table.hard_mask().sum()), "heavy_share": heavy_share, "loss_db": LOSS_DB,
                   "dpa": None if dpa is None else scorer_name(dpa), "seed": seed, "random_draws": RANDOM_DRAWS,
                   "n_pairs": len(table.ids), "subsets": sorted(set(table.subsets)),
                   "device": str(fast_model.device), "torch_threads": torch.get_num_threads()},
        "fast": {"s_per_pair": float(table.seconds[table.fast].mean()), "psnr_all": float(table.psnr[table.fast].mean()),
                 "psnr_hard": float(table.psnr[table.fast][table.hard_mask()].mean())},
        "candidates": analyse(table, heavy_share, seed),
        "files": {k: str(v) for k, v in files.items()},
    }
    table.to_frame().to_csv(files["pairs"], index=False)
    plot_gains(table, files["plot"])
    files["markdown"].write_text(markdown(result))
    files["json"].write_text(json.dumps(json_finite(result), indent=1))
    return result


# -- reports -------------------------------------------------------------------------------------

def _db(x: float) -> str:
    return f"{x:+.2f}"


def _cost(x: float | None) -> str:
    return "n/a" if x is None else f"{x:.1f}"


def _subset_names(result: dict) -> list[str]:
    first = next(iter(result["candidates"].values()))
    return list(first["subsets"])


def gain_rows(result: dict, with_ids: bool = True) -> tuple[list[str], list[list[str]]]:
    """Header and rows of the gain table (the layout of HEAVY_MODEL.md), shared by Markdown and rich.

    ``with_ids``: name the worst pair (long ids would squeeze a terminal table).
    """
    subsets = _subset_names(result)
    header = (["heavy candidate", "cost (x fast)", "gain all", "gain hard"] + [f"gain {s}" for s in subsets]
              + [f"pairs losing > {LOSS_DB:g} dB", "worst pair"])
    rows = []
    for name, c in result["candidates"].items():
        rows.append([name, _cost(c["cost_x_fast"]), _db(c["all"]["gain_db"]), _db(c["hard"]["gain_db"])]
                    + [_db(c["subsets"][s]["gain_db"]) for s in subsets]
                    + [percent(c["all"]["share_losing"]), _db(c["all"]["worst_gain_db"])
                       + (f" ({c['all']['worst_pair']})" if with_ids else "")])
    return header, rows


def _routers(result: dict) -> list[tuple[str, str]]:
    """(key in share_of_oracle, label) of the routers compared, in report order."""
    out = [("motion", "motion (DIS flow, the fallback scorer)")]
    if result["config"]["dpa"]:
        out.append(("dpa", f"DPA `{result['config']['dpa']}`"))
    return out + [("random", "random (exact expectation)")]


def markdown(result: dict) -> str:
    """The comparison as Markdown: the gain table, then one routing table per candidate."""
    cfg, fast = result["config"], result["fast"]
    header, rows = gain_rows(result)
    lines = [
        "# Heavy-model candidates for the router",
        "",
        (f"- fast model `{cfg['fast']}`: {fast['s_per_pair']:.4f} s/pair, PSNR {fast['psnr_all']:.3f} dB "
         f"(hard {fast['psnr_hard']:.3f} dB); {cfg['n_pairs']} pairs on {cfg['device']} "
         f"({cfg['torch_threads']} torch threads)"),
        (f"- gains in dB over `{cfg['fast']}` (PSNR of 8-bit-quantised predictions), mean over pairs; "
         f"\"hard\" = the {cfg['hard_pairs']} pairs with the lowest PSNR of the 50/50 blend"),
        ("- cost = the candidate's model seconds per pair / the fast model's (wall clock: on a busy machine "
         "compare costs of one run only)"),
        (f"- worst pair = the largest loss against the fast model (pair id); pairs losing = share of pairs "
         f"more than {LOSS_DB:g} dB below the fast model"),
        "",
        f"## Gain over `{cfg['fast']}`",
        "",
        "| " + " | ".join(header) + " |",
        "|" + "---|" * len(header),
    ]
    lines += ["| " + " | ".join([f"`{r[0]}`", *r[1:]]) + " |" for r in rows]
    share = cfg["heavy_share"]
    lines += ["", f"## How much of the oracle's gain a cheap router keeps (heavy share {share:.3f})", "",
              (f"Each group is routed as footage of its own: the {share:.3f} of its pairs with the most motion "
               "(lowest DPA score) go to the heavy candidate; the oracle sends the same number of pairs, those "
               "where the candidate gains most (ground truth), random the same number at random.")]
    for name, c in result["candidates"].items():
        groups = list(c["routing"])
        lines += ["", f"### `{name}`", "",
                  "| router | " + " | ".join(f"{g} ({c['routing'][g]['n_pairs']})" for g in groups) + " |",
                  "|" + "---|" * (len(groups) + 1),
                  "| oracle gain (dB) | " + " | ".join(_db(c["routing"][g]["oracle_gain_db"]) for g in groups) + " |"]
        for key, label in _routers(result):
            lines.append(f"| {label} | " + " | ".join(percent(c["routing"][g]["share_of_oracle"].get(key))
                                                      for g in groups) + " |")
    lines += ["", f"Per-pair numbers: `{result['files']['pairs']}`; gain distribution: `{result['files']['plot']}`"]
    return "\n".join(lines) + "\n"


def plot_gains(table: StudyTable, path: Path) -> Path:
    """Per-pair gain over the fast model per candidate: box plus every pair, for all, hard and each subset.

    Single pairs that lose several dB are what an average hides; here they stand out as points
    left of the zero line. In the "all pairs" panel the hard pairs are drawn in red.
    """
    hard = table.hard_mask()
    subsets = np.asarray(table.subsets)
    panels = [("all pairs", np.ones(len(hard), dtype=bool)), (f"hard third ({int(hard.sum())} pairs)", hard)]
    if len(set(table.subsets)) > 1:
        panels += [(f"{s} ({int((subsets == s).sum())} pairs)", subsets == s) for s in group_order(table.subsets)]
    cands = table.candidates
    cols = min(3, len(panels))
    rows = -(-len(panels) // cols)
    fig, axes = plt.subplots(rows, cols, figsize=(5.5 * cols, 0.9 * len(cands) * rows + 1.8 * rows),
                             squeeze=False, sharey=True)
    rng = np.random.default_rng(0)
    for ax, (title, mask) in zip(axes.flat, panels):
        ys = np.arange(len(cands))
        data = [table.gain(c)[mask] for c in cands]
        ax.boxplot(data, positions=ys, orientation="horizontal", widths=0.5, showfliers=False, showmeans=True)
        for y, c in zip(ys, cands):
            g = table.gain(c)[mask]
            jitter = rng.uniform(-0.18, 0.18, len(g))
            colors = np.where(hard[mask], "tab:red", "tab:blue") if title == "all pairs" else "tab:blue"
            ax.scatter(g, y + jitter, s=9, alpha=0.6, c=colors, linewidths=0)
            ax.annotate(f"{g.min():+.2f}", (g.min(), y - 0.3), fontsize=7, ha="center", color="tab:red")
        ax.axvline(0.0, color="black", lw=0.8)
        ax.set_yticks(ys, cands, fontsize=8)
        ax.set_xlabel(f"PSNR gain over {table.fast} (dB)")
        ax.set_title(title)
        ax.grid(axis="x", alpha=0.3)
    axes.flat[0].invert_yaxis()  # shared: first candidate on top, as in the tables
    for ax in list(axes.flat)[len(panels):]:
        ax.axis("off")
    fig.suptitle("per-pair gain of each heavy candidate (triangle: mean; red in 'all pairs': hard third; "
                 "number: worst pair)")
    return save_figure(fig, path)


def print_tables(result: dict, console: Console) -> None:
    """The gain table and, for all pairs, the routing shares."""
    header, rows = gain_rows(result, with_ids=False)
    gains = Table(title=f"gain over {result['config']['fast']} (dB), {result['config']['n_pairs']} pairs")
    for i, col in enumerate(header):
        gains.add_column(col, justify="left" if i == 0 else "right")
    for r in rows:
        gains.add_row(*r)
    routers = _routers(result)
    routing = Table(title=f"share of the oracle's gain kept, all pairs, heavy share {result['config']['heavy_share']:.3f}")
    for col in ["heavy candidate", "oracle gain", *(k for k, _ in routers)]:
        routing.add_column(col, justify="left" if col == "heavy candidate" else "right")
    for name, c in result["candidates"].items():
        r = c["routing"]["all"]
        routing.add_row(name, _db(r["oracle_gain_db"]), *(percent(r["share_of_oracle"].get(k)) for k, _ in routers))
    console.print(gains, routing)
