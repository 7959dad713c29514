"""Scoring VFI models on ground-truth triplets (``dynvfi eval-triplets``)."""

from __future__ import annotations

import json
import time
from collections import defaultdict
from pathlib import Path
from statistics import fmean

import torch
from rich.console import Console
from rich.table import Table
from tqdm import tqdm

from dynvfi_core.batching import shape_batches
from dynvfi_core.errors import InputError
from dynvfi_core.imageio import read_image, to_tensor
from dynvfi_core.metrics import all_metrics
from dynvfi_core.models import create
from dynvfi_core.models.base import VFIModel
from dynvfi_core.triplets import TripletRef

METRICS = ("psnr", "ssim", "ie")


def load_triplet(t: TripletRef) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor]:
    """The three frames of a triplet as ``(1, 3, H, W)`` tensors; sizes must agree."""
    frames = [read_image(p) for p in (t.frame0, t.gt, t.frame1)]
    shapes = {f.shape for f in frames}
    if len(shapes) != 1:
        sizes = ", ".join(f"{f.shape[1]}x{f.shape[0]}" for f in frames)
        raise InputError(f"triplet {t.id}: frames have different sizes ({sizes})")
    return tuple(to_tensor(f) for f in frames)  # type: ignore[return-value]


def evaluate_model(model: VFIModel, triplets: list[TripletRef], batch_size: int = 1) -> dict:
    """Per-triplet PSNR/SSIM/IE and mean ms/pair (model time only, not image loading)."""
    rows, seconds = [], 0.0
    with tqdm(total=len(triplets), desc=model.name, unit="pair", leave=False) as bar:
        loaded = ((t, load_triplet(t)) for t in triplets)  # read lazily, one triplet ahead
        for batch in shape_batches(loaded, lambda item: item[1][0].shape, batch_size):
            f0 = torch.cat([b[1][0] for b in batch])
            gt = torch.cat([b[1][1] for b in batch])
            f1 = torch.cat([b[1][2] for b in batch])
            if model.device.type == "cuda":
                torch.cuda.synchronize()
            start = time.perf_counter()
            pred = model.interpolate(f0, f1, 0.5)
            if model.device.type == "cuda":
                torch.cuda.synchronize()
            seconds += time.perf_counter() - start
            scores = all_metrics(pred, gt)
            for k, (t, _) in enumerate(batch):
                rows.append({"id": t.id, "subset": t.subset, **{m: float(scores[m][k]) for m in METRICS}})
            bar.update(len(batch))
    mean = {m: fmean(r[m] for r in rows) for m in METRICS}
    mean["ms_per_pair"] = 1000.0 * seconds / len(rows)
    by_subset: dict[str, list[dict]] = defaultdict(list)
    for r in rows:
        by_subset[r["subset"]].append(r)
    subsets = {s: {m: fmean(r[m] for r in rs) for m in METRICS} | {"n": len(rs)} for s, rs in by_subset.items()}
    return {"mean": mean, "n": len(rows), "subsets": subsets, "triplets": rows}


def evaluate_models(triplets: list[TripletRef], specs: list[str], device: str | None = None,
                    batch_size: int = 1) -> dict:
    """Evaluate several model specs on the same triplets: ``{"models": {spec: result}}``."""
    torch.manual_seed(0)
    models = {}
    for spec in specs:
        model = create(spec, device)
        models[model.name] = evaluate_model(model, triplets, batch_size)
        del model
    return {"models": models, "num_triplets": len(triplets)}


def print_summary(results: dict, console: Console | None = None) -> None:
    """One table: a row per model (and per subset when there are several)."""
    console = console or Console()
    table = Table(title=f"{results['num_triplets']} triplets")
    for col in ("model", "subset", "n", "PSNR", "SSIM", "IE", "ms/pair"):
        table.add_column(col, justify="left" if col in ("model", "subset") else "right")
    for name, r in results["models"].items():
        m = r["mean"]
        table.add_row(name, "(total)", str(r["n"]), f"{m['psnr']:.3f}", f"{m['ssim']:.4f}", f"{m['ie']:.3f}",
                      f"{m['ms_per_pair']:.1f}")
        if len(r["subsets"]) > 1:
            for s, sm in sorted(r["subsets"].items()):
                table.add_row("", s, str(sm["n"]), f"{sm['psnr']:.3f}", f"{sm['ssim']:.4f}", f"{sm['ie']:.3f}", "")
    console.print(table)


def write_json(results: dict, path: Path) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(json.dumps(results, indent=1))
