"""DPA evaluation: the paper's accuracy under tolerance plus correlation and error metrics.

Scores are compared on the normalised scale ((s - 1) / 3). A prediction is correct at
tolerance ``t`` when ``|pred - gt| < t`` (strictly: an error exactly at ``t`` is a miss, so a
prediction must be closer than the tolerance, and two implementations agree on the boundary);
0.125 and 0.25 are the paper's Table II columns, counted independently.
The 4-class confusion matrix rounds both sides to the nearest annotation level.
"""

from __future__ import annotations

import json
import math
import time
from pathlib import Path

import numpy as np
import pandas as pd
import torch
from scipy import stats
from torch.utils.data import DataLoader
from tqdm import tqdm

from dynvfi_core.dpa.config import ModelConfig
from dynvfi_core.dpa.factory import count_params, run_dpa
from dynvfi_core.dpa.inference import score_to_level
from dynvfi_core.dpa.loss import normalise_label
from dynvfi_core.dpa.preprocess import N_STATS, normalise
from train.data import PairDataset

TOLERANCES = (0.125, 0.25)
LEVELS = (1, 2, 3, 4)


def compute_metrics(pred: np.ndarray, gt: np.ndarray) -> dict[str, float]:
    """Accuracy@tolerances, MAE, SRCC and PLCC (NaN correlations when either side is constant).

    ``pred`` are raw scores: accuracy, MAE and PLCC compare them clipped to the label range [0, 1]
    (what a predicted label can be), SRCC ranks the raw values, whose order the router uses.
    """
    raw, gt = np.asarray(pred, dtype=np.float64), np.asarray(gt, dtype=np.float64)
    pred = np.clip(raw, 0.0, 1.0)
    err = np.abs(pred - gt)
    out = {f"acc@{t}": float(np.mean(err < t)) for t in TOLERANCES}
    out["mae"] = float(err.mean())
    no_gt_spread = len(pred) < 2 or np.ptp(gt) == 0
    out["srcc"] = math.nan if no_gt_spread or np.ptp(raw) == 0 else float(stats.spearmanr(raw, gt).statistic)
    out["plcc"] = math.nan if no_gt_spread or np.ptp(pred) == 0 else float(stats.pearsonr(pred, gt).statistic)
    out["n"] = len(pred)
    return out


def confusion(pred: np.ndarray, gt: np.ndarray) -> np.ndarray:
    """4x4 counts, rows = annotated level, columns = predicted level."""
    from sklearn.metrics import confusion_matrix

    return confusion_matrix(score_to_level(gt), score_to_level(pred), labels=list(LEVELS))


def plot_confusion(matrix: np.ndarray, path: str | Path, title: str = "DPA levels") -> Path:
    """Confusion matrix as a PNG (counts and row-normalised shading)."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    rows = matrix.sum(axis=1, keepdims=True).clip(min=1)
    fig, ax = plt.subplots(figsize=(4.2, 3.8), dpi=120)
    ax.imshow(matrix / rows, cmap="Blues", vmin=0, vmax=1)
    for i in range(4):
        for j in range(4):
            ax.text(j, i, str(matrix[i, j]), ha="center", va="center",
                    color="white" if matrix[i, j] / rows[i, 0] > 0.5 else "black")
    ax.set_xticks(range(4), [str(v) for v in LEVELS])
    ax.set_yticks(range(4), [str(v) for v in LEVELS])
    ax.set_xlabel("predicted level (4 = easy)")
    ax.set_ylabel("annotated level")
    ax.set_title(title)
    fig.tight_layout()
    p = Path(path)
    p.parent.mkdir(parents=True, exist_ok=True)
    fig.savefig(p)
    plt.close(fig)
    return p


@torch.inference_mode()
def predict(model: torch.nn.Module, df: pd.DataFrame, view: tuple[int, int], device: torch.device,
            batch_size: int = 32, num_workers: int = 0, progress: bool = True) -> tuple[np.ndarray, np.ndarray]:
    """Raw scores (as :meth:`DPA.score_batch` returns them) and attention-map means per row, no augmentation."""
    model.eval()
    ds = PairDataset(df, view, train=False, stats=getattr(model, "uses_stats", False))
    loader = DataLoader(ds, batch_size=batch_size, shuffle=False, num_workers=num_workers)
    scores, attn = [], []
    cuda = device.type == "cuda"
    for batch in tqdm(loader, desc="eval", unit="batch", disable=not progress, leave=False):
        x0 = normalise(batch["frame0"].to(device))
        x1 = normalise(batch["frame1"].to(device))
        with torch.autocast("cuda", dtype=torch.float16, enabled=cuda):
            out = run_dpa(model, x0, x1, batch["stats"].to(device) if "stats" in batch else None)
        scores.append(out["score"].float().cpu())
        attn.append(out["attn"].float().mean(dim=(1, 2, 3)).cpu())
    if not scores:
        return np.zeros(0, np.float32), np.zeros(0, np.float32)
    return torch.cat(scores).numpy(), torch.cat(attn).numpy()


def time_model(model: torch.nn.Module, cfg: ModelConfig, device: torch.device, reps: int = 10,
               threads: int = 2, clock=time.perf_counter) -> float:
    """Median ms per pair at the model's view (network only; CPU runs pin ``threads`` threads).

    ``clock=time.process_time`` with one thread measures CPU time, which other processes on a
    shared machine cannot inflate.
    """
    model.eval()
    x = torch.randn(1, 3, *cfg.view, device=device)
    old = torch.get_num_threads()
    if device.type == "cpu":
        torch.set_num_threads(threads)
    times = []
    try:
        with torch.inference_mode(), torch.autocast("cuda", dtype=torch.float16, enabled=device.type == "cuda"):
            for i in range(reps + 2):
                if device.type == "cuda":
                    torch.cuda.synchronize()
                t = clock()
                run_dpa(model, x, x, torch.zeros(1, N_STATS, device=device))
                if device.type == "cuda":
                    torch.cuda.synchronize()
                if i >= 2:
                    times.append(1000 * (clock() - t))
    finally:
        torch.set_num_threads(old)
    return float(np.median(times))


def evaluate(model: torch.nn.Module, cfg: ModelConfig, df: pd.DataFrame, out_dir: str | Path | None,
             device: torch.device, batch_size: int = 32, timing: bool = True, name: str = "DPA") -> dict:
    """Full evaluation of one split: metrics, confusion (PNG when ``out_dir``), params, speed."""
    pred, attn = predict(model, df, cfg.view, device, batch_size)
    gt = normalise_label(df["label"].to_numpy(np.float64))
    result = compute_metrics(pred, gt)
    result["attn_mean"] = float(attn.mean()) if len(attn) else math.nan
    result["params"] = count_params(model)
    matrix = confusion(pred, gt)
    result["confusion"] = matrix.tolist()
    if timing:
        cpu_model = model.to("cpu")
        result["ms_per_pair_cpu"] = time_model(cpu_model, cfg, torch.device("cpu"))
        result["cpu_ms_1thread"] = time_model(cpu_model, cfg, torch.device("cpu"), threads=1, clock=time.process_time)
        model.to(device)
        if torch.cuda.is_available():
            result["ms_per_pair_gpu"] = time_model(model.to("cuda"), cfg, torch.device("cuda"))
            model.to(device)
    if out_dir is not None:
        out = Path(out_dir)
        out.mkdir(parents=True, exist_ok=True)
        plot_confusion(matrix, out / "confusion.png", title=f"{name} (n={len(pred)})")
        pd.DataFrame({"triplet_id": df["triplet_id"], "label": df["label"], "gt_norm": gt, "pred": pred,
                      "attn_mean": attn}).to_csv(out / "predictions.csv", index=False)
        (out / "eval.json").write_text(json.dumps(result, indent=1))
    return result


def format_table(result: dict) -> str:
    """The headline numbers as a small aligned text table (printed by ``dynvfi dpa eval``)."""
    keys = ["n", "acc@0.125", "acc@0.25", "mae", "srcc", "plcc", "params", "ms_per_pair_cpu", "cpu_ms_1thread",
            "ms_per_pair_gpu"]
    lines = []
    for k in keys:
        if k in result:
            v = result[k]
            lines.append(f"{k:>16}  {v:.4f}" if isinstance(v, float) else f"{k:>16}  {v}")
    return "\n".join(lines)
