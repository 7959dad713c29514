"""Batch interpolation of every collected triplet by the dataset's reference model.

The difficulty label of a triplet is the quality of *this* model's middle frame, so the frame is
stored once (``interp/<model>/<triplet_id>.png`` under the data root) and scored against the
ground truth with PSNR, SSIM and the LPIPS-family distance. The distance between the two *input*
frames (the DPA's auxiliary target) is computed here too, once per triplet and metric.

Work is committed per batch, so an interrupted run resumes where it stopped, and several runs of
the same model (on one machine or many, SQLite or PostgreSQL) merge instead of failing:

- batches are visited in a random order, so concurrent runs mostly pick different triplets;
- before a batch runs, the triplets another run has finished meanwhile are dropped from it, so
  little model time is wasted;
- rows are written with ``INSERT ... ON CONFLICT DO NOTHING``: when two runs still race for a
  triplet, the first commit wins, the other inserts nothing, and only the winner writes the PNG
  (inside its insert transaction), so the stored frame is always the one the row's metrics
  describe.

``perceptual=False`` (``--no-perceptual``) stores PSNR and SSIM only and never loads the
perceptual metric, the slow step on CPU; routing by the heavy model's PSNR gain needs nothing
more. A later run with the metric fills in the missing distances from the stored frames,
without running the model again.
"""

from __future__ import annotations

import logging
import random
import re
import time
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np
import torch
from sqlalchemy import delete, select, update
from sqlalchemy.orm import Session
from tqdm import tqdm

from annotate.safepath import inside
from annotate.store import ensure_schema
from db.annotation import Interpolation, InterpolationFailure
from db.engine import dialect_insert, session_scope
from db.models import Triplet, utcnow
from dynvfi_core import metrics
from dynvfi_core.batching import shape_batches
from dynvfi_core.device import pick_device
from dynvfi_core.errors import ConfigError, InputError
from dynvfi_core.imageio import read_image, to_tensor, to_uint8, write_image
from dynvfi_core.models.base import VFIModel
from dynvfi_core.models.registry import create
from dynvfi_core.perceptual import PerceptualMetric, get_metric
from dynvfi_core.routing.defaults import FAST_DEFAULT

log = logging.getLogger(__name__)

DEFAULT_MODEL = FAST_DEFAULT


def model_dirname(spec: str) -> str:
    """A folder name for a model spec such as ``tta(rife-v4.25)`` (no slashes or parentheses)."""
    return re.sub(r"[^A-Za-z0-9._-]+", "_", spec).strip("_") or "model"


@dataclass
class InterpolationReport:
    model: str
    done: int  # rows this run inserted
    skipped_before: int  # rows of the model that existed when the run started
    seconds: float
    perceptual_metric: str | None
    by_others: int = 0  # triplets a concurrent run finished while this one was running
    backfilled: int = 0  # existing rows (written with perceptual=False) given their perceptual distance
    set_aside: dict[int, str] = field(default_factory=dict)  # triplet id -> why it was skipped (also in the DB)


@dataclass
class _Row:
    id: int
    path0: str
    path_gt: str
    path1: str
    height: int
    width: int
    stored: str | None = None  # the interpolated frame of an existing row (backfill only)


def _pending(session: Session, model: str, limit: int | None) -> tuple[list[_Row], int]:
    done_ids = set(session.scalars(select(Interpolation.triplet_id).where(Interpolation.model == model)))
    rows = [_Row(t.id, t.path0, t.path_gt, t.path1, t.height, t.width)
            for t in session.scalars(select(Triplet).order_by(Triplet.id)) if t.id not in done_ids]
    rows.sort(key=lambda r: (r.height, r.width, r.id))  # equal sizes batch together
    return (rows[:limit] if limit else rows), len(done_ids)


def _without_perceptual(session: Session, model: str, limit: int | None) -> list[_Row]:
    """Rows of ``model`` stored without a perceptual distance, with their triplets' frames."""
    rows = session.execute(
        select(Triplet.id, Triplet.path0, Triplet.path_gt, Triplet.path1, Triplet.height, Triplet.width,
               Interpolation.path).join(Interpolation, Interpolation.triplet_id == Triplet.id)
        .where(Interpolation.model == model, Interpolation.perceptual.is_(None))
        .order_by(Triplet.height, Triplet.width, Triplet.id)).all()
    out = [_Row(*r) for r in rows]
    return out[:limit] if limit else out


def _still_pending(session: Session, model: str, batch: list[_Row], backfill: bool = False) -> list[_Row]:
    """The part of ``batch`` that no concurrent run has finished since the pending list was read."""
    query = select(Interpolation.triplet_id).where(Interpolation.model == model,
                                                   Interpolation.triplet_id.in_([r.id for r in batch]))
    if backfill:
        query = query.where(Interpolation.perceptual.is_not(None))
    finished = set(session.scalars(query))
    return [r for r in batch if r.id not in finished]


def _cached_input_distances(session: Session, ids: list[int], metric_name: str) -> dict[int, float]:
    """Input-pair distances already computed for these triplets (by any model's run)."""
    rows = session.execute(select(Interpolation.triplet_id, Interpolation.input_perceptual).where(
        Interpolation.triplet_id.in_(ids), Interpolation.perceptual_metric == metric_name,
        Interpolation.input_perceptual.is_not(None)))
    return {tid: value for tid, value in rows}


def _input_distances(db_url: str, root: Path, metric: PerceptualMetric, batch: list[_Row],
                     inputs: tuple[torch.Tensor, torch.Tensor] | None, device: torch.device) -> dict[int, float]:
    """Distance between each triplet's two inputs: from the DB where known, else computed.

    ``inputs`` are the batch's frames when already loaded; without them only the triplets that
    miss a cached value are read from disk.
    """
    with session_scope(db_url) as s:
        known = _cached_input_distances(s, [r.id for r in batch], metric.name)
    missing = [i for i, r in enumerate(batch) if r.id not in known]
    if missing:
        if inputs is not None:
            f0, f1 = inputs[0][missing], inputs[1][missing]
        else:
            f0, f1 = (_load(root, [getattr(batch[i], k) for i in missing]).to(device) for k in ("path0", "path1"))
        d_in, _ = metric(f0, f1)
        known.update({batch[i].id: float(v) for i, v in zip(missing, d_in.tolist())})
    return known


def _insert_new(session: Session, values: list[dict]) -> set[int]:
    """Insert the rows whose (triplet, model) is still free; return the triplet ids inserted.

    One dialect-aware ``INSERT ... ON CONFLICT DO NOTHING ... RETURNING``: a row that a concurrent
    run committed first is left alone, and the caller learns which rows are its own.
    """
    insert = dialect_insert(session)
    stmt = (insert(Interpolation).values(values)
            .on_conflict_do_nothing(index_elements=[Interpolation.triplet_id, Interpolation.model])
            .returning(Interpolation.triplet_id))
    return set(session.scalars(stmt))


def run(db_url: str, data_root: Path, model_spec: str = DEFAULT_MODEL, batch_size: int = 4,
        limit: int | None = None, device: str | None = None, progress: bool = True,
        perceptual: bool = True) -> InterpolationReport:
    """Interpolate every triplet that has no row for ``model_spec`` yet; return what was done.

    With ``perceptual`` (the default) the rows of ``model_spec`` stored without a perceptual
    distance get it too; ``limit`` bounds both the new rows and those filled in.
    """
    if batch_size < 1 or (limit is not None and limit < 1):
        raise ConfigError(f"batch size and limit must be positive, got {batch_size} and {limit}")
    ensure_schema(db_url)
    dev = pick_device(device)
    root = Path(data_root)
    with session_scope(db_url) as s:
        todo, before = _pending(s, model_spec, limit)
        stale = _without_perceptual(s, model_spec, limit) if perceptual else []
    if not todo and not stale:
        log.debug("nothing to interpolate with %s (%d triplets already done)", model_spec, before)
        return InterpolationReport(model_spec, 0, before, 0.0, None)
    metric = get_metric(dev) if perceptual else None
    start = time.perf_counter()
    set_aside: dict[int, str] = {}
    done, by_others = (_interpolate(db_url, root, model_spec, todo, batch_size, dev, metric, progress, set_aside)
                       if todo else (0, 0))
    filled = _backfill(db_url, root, model_spec, stale, batch_size, dev, metric, progress, set_aside) if stale else 0
    return InterpolationReport(model_spec, done, before, time.perf_counter() - start,
                               metric.name if metric else None, by_others, filled, set_aside)


def _interpolate(db_url: str, root: Path, model_spec: str, todo: list[_Row], batch_size: int,
                 dev: torch.device, metric: PerceptualMetric | None, progress: bool,
                 set_aside: dict[int, str]) -> tuple[int, int]:
    """Run the model over ``todo``; return (rows inserted, triplets a concurrent run took).

    A triplet whose frames cannot be used is added to ``set_aside`` (and the DB) and the run
    goes on with the others.
    """
    model = create(model_spec, dev)
    batches = _group(todo, batch_size)
    random.Random().shuffle(batches)  # own entropy: concurrent runs then mostly work on different triplets
    done = by_others = 0
    with tqdm(total=len(todo), desc=f"interpolate {model_spec}", unit="triplet", disable=not progress) as bar:
        for planned in batches:
            with session_scope(db_url) as s:
                batch = _still_pending(s, model_spec, planned)
            bad: dict[int, str] = {}
            if batch:
                values, frames, bad = _predict(db_url, root, model, model_spec, batch, dev, metric)
                _set_aside(db_url, model_spec, bad, set_aside)
                batch = [r for r in batch if r.id not in bad]
            if batch:
                with session_scope(db_url) as s:
                    won = _insert_new(s, values)
                    _clear_failures(s, model_spec, won)
                    # only rows this run owns get a frame, written before they become visible
                    for row, frame in zip(values, frames):
                        if row["triplet_id"] in won:
                            write_image(inside(root, row["path"]), frame)
                done += len(won)
                by_others += len(batch) - len(won)
            by_others += len(planned) - len(batch) - len(bad)
            bar.update(len(planned))
    if by_others:
        log.info("%d triplets were interpolated by a concurrent run of %s", by_others, model_spec)
    return done, by_others


def _predict(db_url: str, root: Path, model: VFIModel, model_spec: str, batch: list[_Row], dev: torch.device,
             metric: PerceptualMetric | None) -> tuple[list[dict], np.ndarray, dict[int, str]]:
    """The batch's middle frames (uint8), their would-be interpolation rows, and the rows set aside."""
    batch, (f0, gt, f1), bad = _read_rows(root, batch, ("path0", "path_gt", "path1"), dev)
    if not batch:
        return [], np.empty((0, 0, 0, 3), np.uint8), bad
    pred = metrics.quantize(model.interpolate(f0, f1, 0.5))  # as stored in the PNG
    psnr = metrics.psnr(pred, gt).tolist()
    ssim = metrics.ssim(pred, gt).tolist()
    dist: list[float | None] = [None] * len(batch)
    inputs: dict[int, float] = {}
    if metric is not None:
        dist = metric(pred, gt)[0].tolist()
        inputs = _input_distances(db_url, root, metric, batch, (f0, f1), dev)
    out_dir = Path("interp") / model_dirname(model_spec)
    now = utcnow()
    values = [{"triplet_id": r.id, "model": model_spec, "path": (out_dir / f"{r.id}.png").as_posix(),
               "psnr": psnr[i], "ssim": ssim[i], "perceptual": dist[i],
               "perceptual_metric": metric.name if metric else None, "input_perceptual": inputs.get(r.id),
               "created_at": now} for i, r in enumerate(batch)]
    return values, to_uint8(pred), bad


def _backfill(db_url: str, root: Path, model_spec: str, stale: list[_Row], batch_size: int,
              dev: torch.device, metric: PerceptualMetric, progress: bool, set_aside: dict[int, str]) -> int:
    """Give rows stored without a perceptual distance their distances, from the stored frames."""
    filled = 0
    with tqdm(total=len(stale), desc=f"perceptual {model_spec}", unit="triplet", disable=not progress) as bar:
        for planned in _group(stale, batch_size):
            with session_scope(db_url) as s:
                batch = _still_pending(s, model_spec, planned, backfill=True)
            if batch:
                batch, (pred, gt), bad = _read_rows(root, batch, ("stored", "path_gt"), dev)
                _set_aside(db_url, model_spec, bad, set_aside)
            if batch:
                dist = metric(pred, gt)[0].tolist()
                inputs = _input_distances(db_url, root, metric, batch, None, dev)
                with session_scope(db_url) as s:
                    for r, d in zip(batch, dist):
                        # `perceptual IS NULL`: a concurrent backfill of the same row counts once
                        filled += s.execute(
                            update(Interpolation).where(Interpolation.triplet_id == r.id,
                                                        Interpolation.model == model_spec,
                                                        Interpolation.perceptual.is_(None))
                            .values(perceptual=d, perceptual_metric=metric.name,
                                    input_perceptual=inputs[r.id])
                            .execution_options(synchronize_session=False)).rowcount
            bar.update(len(planned))
    return filled


def _read_rows(root: Path, batch: list[_Row], keys: tuple[str, ...], dev: torch.device
               ) -> tuple[list[_Row], list[torch.Tensor], dict[int, str]]:
    """The rows whose frames ``keys`` all read at the size the DB records, their frames per key, and the rest.

    An unreadable, missing or wrongly sized frame sets its triplet aside (id -> reason) instead
    of stopping the batch job; a path outside the data root still stops it (a corrupt database).
    """
    good, frames, bad = [], [], {}
    for r in batch:
        paths = [inside(root, getattr(r, k)) for k in keys]
        try:
            imgs = [read_image(p) for p in paths]
        except InputError as exc:
            bad[r.id] = str(exc)
            continue
        wrong = [(p, im) for p, im in zip(paths, imgs) if im.shape[:2] != (r.height, r.width)]
        if wrong:
            p, im = wrong[0]
            bad[r.id] = f"{p} is {im.shape[1]}x{im.shape[0]}, the database says {r.width}x{r.height}"
            continue
        good.append(r)
        frames.append(imgs)
    tensors = [to_tensor(np.stack([f[k] for f in frames])).to(dev) if good else torch.empty(0)
               for k in range(len(keys))]
    return good, tensors, bad


def _set_aside(db_url: str, model_spec: str, bad: dict[int, str], set_aside: dict[int, str]) -> None:
    """Record the rows set aside (reason, attempt count) for the summary and in the DB."""
    if not bad:
        return
    for tid, reason in bad.items():
        log.warning("warning: triplet %d set aside: %s", tid, reason)
    set_aside.update(bad)
    with session_scope(db_url) as s:
        insert = dialect_insert(s)
        stmt = insert(InterpolationFailure).values(
            [{"triplet_id": tid, "model": model_spec, "reason": reason, "attempts": 1, "updated_at": utcnow()}
             for tid, reason in bad.items()])
        s.execute(stmt.on_conflict_do_update(
            index_elements=[InterpolationFailure.triplet_id, InterpolationFailure.model],
            set_={"reason": stmt.excluded.reason, "attempts": InterpolationFailure.attempts + 1,
                  "updated_at": stmt.excluded.updated_at}))


def _clear_failures(session: Session, model_spec: str, done: set[int]) -> None:
    """A retried triplet that succeeded is no longer set aside."""
    if done:
        session.execute(delete(InterpolationFailure).where(InterpolationFailure.model == model_spec,
                                                           InterpolationFailure.triplet_id.in_(done)))


def _load(root: Path, paths: list[str]) -> torch.Tensor:
    """Frames of one batch as a tensor; they must all have the size recorded in the DB."""
    frames = [read_image(inside(root, p)) for p in paths]
    if len({f.shape for f in frames}) > 1:
        raise InputError(f"frames of different sizes in one batch ({', '.join(paths)}): "
                         "the triplet table's width/height disagree with the files")
    return to_tensor(np.stack(frames))


def _group(rows: list[_Row], size: int) -> list[list[_Row]]:
    """Consecutive rows of equal frame size, at most ``size`` per batch (the router's batching rule)."""
    return list(shape_batches(rows, lambda r: (r.height, r.width), size))
