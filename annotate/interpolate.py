"""Batch interpolation of every collected triplet by the dataset's reference model.

The difficulty label of a triplet is the quality of *this* model's middle frame, so the frame is
stored once (``interp/<model>/<triplet_id>.png`` under the data root) and scored against the
ground truth with PSNR, SSIM and the LPIPS-family distance. The distance between the two *input*
frames (the DPA's auxiliary target) is computed here too, once per triplet and metric.
Work is committed per batch, so an interrupted run resumes where it stopped.
"""

from __future__ import annotations

import logging
import re
import time
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import torch
from sqlalchemy import select
from tqdm import tqdm

from annotate.safepath import inside
from annotate.store import ensure_schema
from db.annotation import Interpolation
from db.engine import session_scope
from db.models import Triplet
from dynvfi_core import metrics
from dynvfi_core.errors import ConfigError, InputError
from dynvfi_core.imageio import read_image, to_tensor, to_uint8, write_image
from dynvfi_core.models.base import pick_device
from dynvfi_core.models.registry import create
from dynvfi_core.perceptual import get_metric
from dynvfi_core.routing.defaults import FAST_DEFAULT

log = logging.getLogger(__name__)

DEFAULT_MODEL = FAST_DEFAULT


def model_dirname(spec: str) -> str:
    """A folder name for a model spec such as ``tta(rife-v4.25)`` (no slashes or parentheses)."""
    return re.sub(r"[^A-Za-z0-9._-]+", "_", spec).strip("_") or "model"


@dataclass
class InterpolationReport:
    model: str
    done: int
    skipped_before: int
    seconds: float
    perceptual_metric: str | None


def _pending(session, model: str, limit: int | None) -> tuple[list[Triplet], int]:
    done_ids = set(session.scalars(select(Interpolation.triplet_id).where(Interpolation.model == model)))
    triplets = [t for t in session.scalars(select(Triplet).order_by(Triplet.id)) if t.id not in done_ids]
    triplets.sort(key=lambda t: (t.height, t.width, t.id))  # equal sizes batch together
    return (triplets[:limit] if limit else triplets), len(done_ids)


def _cached_input_distances(session, ids: list[int], metric_name: str) -> dict[int, float]:
    """Input-pair distances already computed for these triplets (by any model's run)."""
    rows = session.execute(select(Interpolation.triplet_id, Interpolation.input_perceptual).where(
        Interpolation.triplet_id.in_(ids), Interpolation.perceptual_metric == metric_name,
        Interpolation.input_perceptual.is_not(None)))
    return {tid: value for tid, value in rows}


def run(db_url: str, data_root: Path, model_spec: str = DEFAULT_MODEL, batch_size: int = 4,
        limit: int | None = None, device: str | None = None, progress: bool = True) -> InterpolationReport:
    """Interpolate every triplet that has no row for ``model_spec`` yet; return what was done."""
    if batch_size < 1 or (limit is not None and limit < 1):
        raise ConfigError(f"batch size and limit must be positive, got {batch_size} and {limit}")
    ensure_schema(db_url)
    dev = pick_device(device)
    root = Path(data_root)
    with session_scope(db_url) as s:
        pending, before = _pending(s, model_spec, limit)
        todo = [(t.id, t.path0, t.path_gt, t.path1, t.height, t.width) for t in pending]
    if not todo:
        log.debug("nothing to interpolate with %s (%d triplets already done)", model_spec, before)
        return InterpolationReport(model_spec, 0, before, 0.0, None)
    model = create(model_spec, dev)
    perceptual = get_metric(dev)
    out_dir = Path("interp") / model_dirname(model_spec)
    start = time.perf_counter()
    done = 0
    rows = [_Row(*r) for r in todo]
    with tqdm(total=len(rows), desc=f"interpolate {model_spec}", unit="triplet", disable=not progress) as bar:
        for batch in _group(rows, batch_size):
            t0 = time.perf_counter()
            f0, gt, f1 = (_load(root, [getattr(r, k) for r in batch]).to(dev) for k in ("path0", "path_gt", "path1"))
            pred = metrics.quantize(model.interpolate(f0, f1, 0.5))  # as stored in the PNG
            psnr = metrics.psnr(pred, gt).tolist()
            ssim = metrics.ssim(pred, gt).tolist()
            dist, metric_name = perceptual(pred, gt)
            with session_scope(db_url) as s:
                cached = _cached_input_distances(s, [r.id for r in batch], metric_name)
            missing = [i for i, r in enumerate(batch) if r.id not in cached]
            if missing:
                d_in, _ = perceptual(f0[missing], f1[missing])
                cached.update({batch[i].id: float(v) for i, v in zip(missing, d_in.tolist())})
            frames = to_uint8(pred)
            seconds = (time.perf_counter() - t0) / len(batch)
            with session_scope(db_url) as s:
                for i, r in enumerate(batch):
                    rel = out_dir / f"{r.id}.png"
                    write_image(inside(root, rel), frames[i])
                    s.add(Interpolation(triplet_id=r.id, model=model_spec, path=rel.as_posix(), psnr=psnr[i],
                                        ssim=ssim[i], perceptual=float(dist[i]), perceptual_metric=metric_name,
                                        input_perceptual=cached[r.id], seconds=seconds))
            done += len(batch)
            bar.update(len(batch))
    return InterpolationReport(model_spec, done, before, time.perf_counter() - start, perceptual.name)


@dataclass
class _Row:
    id: int
    path0: str
    path_gt: str
    path1: str
    height: int
    width: int


def _load(root: Path, paths: list[str]) -> torch.Tensor:
    """Frames of one batch as a tensor; they must all have the size recorded in the DB."""
    frames = [read_image(inside(root, p)) for p in paths]
    if len({f.shape for f in frames}) > 1:
        raise InputError(f"frames of different sizes in one batch ({', '.join(paths)}): "
                         "the triplet table's width/height disagree with the files")
    return to_tensor(np.stack(frames))


def _group(rows: list[_Row], size: int) -> list[list[_Row]]:
    """Consecutive rows of equal frame size, at most ``size`` per batch."""
    out: list[list[_Row]] = []
    for r in rows:
        if out and len(out[-1]) < size and (out[-1][0].height, out[-1][0].width) == (r.height, r.width):
            out[-1].append(r)
        else:
            out.append([r])
    return out

