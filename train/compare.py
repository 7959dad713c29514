"""Every difficulty scorer on one table: trained DPAs beside the free heuristics.

Why: a DPA is only worth training if it orders and labels unseen pairs better than what costs
nothing (the motion score, the inputs' absolute difference, the flip-consistency score). This
module scores one split of a training table with each of them and reports, per scorer, the
paper's accuracy under tolerance, MAE and SRCC/PLCC against the labels, and SRCC/PLCC against
the fast model's true PSNR (``rife_psnr``; the labels are coarser than it).

A heuristic has no label scale, so for the label metrics it is mapped onto one by isotonic
regression (monotone, increasing) fitted on another split (``val`` by default, the split the
DPAs were selected on); the DPAs are used as trained. Rank correlations use the raw scores, so
the mapping changes nothing there. All scores are "higher = easier", as the router reads them.
"""

from __future__ import annotations

import json
from collections.abc import Sequence
from pathlib import Path

import numpy as np
import pandas as pd
from tqdm import tqdm

from dynvfi_core.dpa.loss import normalise_label
from dynvfi_core.errors import InputError
from dynvfi_core.routing.evaluate import correlations
from train.data import split as split_rows
from train.evaluate import TOLERANCES, compute_metrics


def heuristic_scores(df: pd.DataFrame, name: str, device: str | None = None) -> np.ndarray:
    """Raw scores of the built-in heuristic ``name`` (``motion``, ``flip``, ``absdiff``) per row."""
    from dynvfi_core.imageio import read_image
    from dynvfi_core.routing.scorers import BUILTIN_SCORERS

    if name not in BUILTIN_SCORERS:
        raise InputError(f"unknown heuristic {name!r} (have: {', '.join(BUILTIN_SCORERS)})")
    cls = BUILTIN_SCORERS[name]
    scorer = cls(device=device) if name == "flip" else cls()
    out = [float(scorer.score_batch([read_image(a)], [read_image(b)])[0])
           for a, b in tqdm(zip(df["path0"], df["path1"], strict=True), total=len(df), desc=name, unit="pair",
                            leave=False)]
    return np.asarray(out, dtype=np.float64)


def dpa_scores(df: pd.DataFrame, checkpoint: str | Path, device: str | None = None,
               batch_size: int = 32) -> np.ndarray:
    """Raw scores of a trained DPA checkpoint per row (no augmentation)."""
    from dynvfi_core.device import pick_device
    from dynvfi_core.dpa.factory import load_model
    from train.evaluate import predict

    dev = pick_device(device)
    model, cfg, _ = load_model(checkpoint, dev)
    return predict(model, df, cfg.view, dev, batch_size)[0].astype(np.float64)


def calibrate(raw_fit: np.ndarray, gt_fit: np.ndarray, raw: np.ndarray) -> np.ndarray:
    """Monotone (isotonic, increasing) map of heuristic scores onto the normalised label scale."""
    from sklearn.isotonic import IsotonicRegression

    iso = IsotonicRegression(y_min=0.0, y_max=1.0, increasing=True, out_of_bounds="clip")
    return iso.fit(raw_fit, gt_fit).predict(raw)


def _psnr_correlations(raw: np.ndarray, psnr: np.ndarray) -> dict[str, float]:
    srcc, plcc = correlations(raw, psnr)
    return {"srcc_psnr": srcc, "plcc_psnr": plcc}


def compare(table: pd.DataFrame, dpas: dict[str, str | Path], heuristics: Sequence[str], split: str = "test",
            calibrate_on: str = "val", device: str | None = None, fit_table: pd.DataFrame | None = None) -> dict:
    """Metrics of every scorer on ``split`` (see the module docstring): ``{name: {metric: value}}``.

    The heuristics' label map is fitted on split ``calibrate_on`` of ``fit_table`` (default: of
    ``table``), so a held-out set from another source can borrow the corpus's validation split.
    """
    test = split_rows(table, split)
    fit = split_rows(table if fit_table is None else fit_table, calibrate_on)
    if test.empty:
        raise InputError(f"no rows in split '{split}'")
    if heuristics and fit.empty:
        raise InputError(f"no rows in split '{calibrate_on}' to map the heuristics onto the label scale")
    gt = normalise_label(test["label"].to_numpy(np.float64))
    psnr = test["rife_psnr"].to_numpy(np.float64) if "rife_psnr" in test else np.full(len(test), np.nan)
    rows: dict[str, dict] = {}
    for name, ckpt in dpas.items():
        raw = dpa_scores(test, ckpt, device)
        rows[name] = {"kind": "dpa", **compute_metrics(raw, gt), **_psnr_correlations(raw, psnr)}
    for name in heuristics:
        raw = heuristic_scores(test, name, device)
        mapped = calibrate(heuristic_scores(fit, name, device), normalise_label(fit["label"].to_numpy(np.float64)),
                           raw)
        metrics = compute_metrics(mapped, gt)
        # the isotonic map has ties (steps): rank correlations belong to the raw score
        metrics["srcc"] = compute_metrics(raw, gt)["srcc"]
        rows[name] = {"kind": "heuristic", **metrics, **_psnr_correlations(raw, psnr)}
    return {"split": split, "calibrated_on": calibrate_on, "n": len(test), "scorers": rows}


def to_markdown(result: dict) -> str:
    """One row per scorer, best SRCC with the fast model's PSNR first."""
    cols = [f"acc@{t}" for t in TOLERANCES] + ["mae", "srcc", "plcc", "srcc_psnr", "plcc_psnr"]
    head = ["scorer", "kind", *cols]
    lines = [f"Split `{result['split']}` ({result['n']} pairs); heuristics mapped onto the label scale on "
             f"`{result['calibrated_on']}`. srcc/plcc: with the labels; *_psnr: with the fast model's PSNR.", "",
             "| " + " | ".join(head) + " |", "|" + "---|" * len(head)]
    order = sorted(result["scorers"].items(), key=lambda kv: -np.nan_to_num(kv[1]["srcc_psnr"], nan=-9))
    for name, r in order:
        lines.append("| " + " | ".join([name, r["kind"], *(f"{r[c]:.3f}" for c in cols)]) + " |")
    return "\n".join(lines) + "\n"


def plot(result: dict, path: str | Path) -> Path:
    """Bars per scorer: SRCC with the fast model's PSNR and acc@0.25 with the labels."""
    import matplotlib.pyplot as plt

    names = list(result["scorers"])
    srcc = [result["scorers"][n]["srcc_psnr"] for n in names]
    acc = [result["scorers"][n]["acc@0.25"] for n in names]
    x = np.arange(len(names))
    fig, ax = plt.subplots(figsize=(1.6 * len(names) + 2, 3.6))
    ax.bar(x - 0.2, srcc, 0.4, label="SRCC with fast-model PSNR")
    ax.bar(x + 0.2, acc, 0.4, label="acc@0.25 (labels)")
    ax.set_xticks(x, names, rotation=15)
    ax.set_ylim(min(0.0, *np.nan_to_num(srcc)), 1.0)
    ax.set_title(f"scorers on split '{result['split']}' (n={result['n']})")
    ax.legend(loc="lower right", fontsize=8)
    fig.tight_layout()
    p = Path(path)
    fig.savefig(p, dpi=120)
    plt.close(fig)
    return p


def write(result: dict, out: Path) -> list[Path]:
    """``compare.json``, ``compare.md`` and ``compare.png`` in ``out``."""
    out.mkdir(parents=True, exist_ok=True)
    (out / "compare.json").write_text(json.dumps(result, indent=1))
    (out / "compare.md").write_text(to_markdown(result))
    return [out / "compare.json", out / "compare.md", plot(result, out / "compare.png")]
