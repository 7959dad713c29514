"""The training table: one row per labelled triplet, exactly what the DPA trainer reads.

``label`` is the final 1-4 score (4 = best quality / easiest): the mean of the human votes, the
automatic pre-score, or the human mean where a triplet has votes and the pre-score elsewhere.
Triplets without a label under the chosen source are left out (the trainer cannot use them).
Frame paths are absolute so the table works from any working directory.

With ``heavy_model`` the table gains a column ``heavy_gain``: that model's PSNR minus the
reference model's, per triplet (NaN where either is missing). It is the training target of the
opt-in gain-predicting DPA (``target: gain``), which routes by *which model will do better*
rather than by how hard the pair is.
"""

from __future__ import annotations

import logging
from pathlib import Path

import numpy as np
import pandas as pd
from sqlalchemy import select

from annotate.interpolate import DEFAULT_MODEL
from annotate.safepath import inside
from annotate.stats import bt500_screening, load_votes, per_item
from annotate.store import AUTO_PREFIX, ensure_schema
from db.annotation import Annotator, Interpolation, Vote
from db.engine import session_scope
from db.models import Triplet
from dynvfi_core.errors import ConfigError, InputError

log = logging.getLogger(__name__)

LABEL_SOURCES = ("human", "auto", "human-over-auto")
COLUMNS = ["triplet_id", "clip_id", "path0", "path_gt", "path1", "tier", "stride", "split", "width",
           "height", "motion_mean", "motion_p95", "label", "label_source", "n_votes", "mean", "ci95",
           "prescore", "input_perceptual", "perceptual_metric", "rife_psnr", "rife_ssim"]


def _auto_scores(s, auto: str | None) -> tuple[str | None, dict[int, int]]:
    """Pre-scores of ``auto`` (e.g. ``auto:perceptual``); default: that one, else any ``auto:*``."""
    names = s.scalars(select(Annotator.name).where(Annotator.is_auto.is_(True))).all()
    if auto is None:
        preferred = f"{AUTO_PREFIX}perceptual"
        auto = preferred if preferred in names else (min(names) if names else None)
    elif auto not in names:
        raise InputError(f"no pseudo-annotator '{auto}' (have: {', '.join(sorted(names)) or 'none'}); "
                         "run `dynvfi annotate auto` first")
    if auto is None:
        return None, {}
    rows = s.execute(select(Vote.triplet_id, Vote.score).join(Annotator, Annotator.id == Vote.annotator_id)
                     .where(Annotator.name == auto, Vote.score.is_not(None)))
    return auto, {tid: score for tid, score in rows}


def _psnr_by_triplet(s, model: str) -> dict[int, float]:
    """PSNR of every stored interpolation by ``model``, keyed by triplet id."""
    rows = s.execute(select(Interpolation.triplet_id, Interpolation.psnr).where(Interpolation.model == model))
    return {tid: float(v) for tid, v in rows if v is not None}


def training_table(db_url: str, data_root: str | Path, label_source: str = "human-over-auto",
                   model: str = DEFAULT_MODEL, auto: str | None = None,
                   exclude_rejected: bool = False, heavy_model: str | None = None) -> pd.DataFrame:
    """The table described in the module docstring, with the columns in :data:`COLUMNS`.

    ``exclude_rejected`` drops the votes of annotators that the BT.500 screening rejects.
    ``heavy_model`` appends ``heavy_gain`` (dB of ``heavy_model`` over ``model``).
    """
    if heavy_model is not None and heavy_model == model:
        raise ConfigError(f"--heavy-model must differ from the reference model '{model}'")
    if label_source not in LABEL_SOURCES:
        raise ConfigError(f"label source must be one of {', '.join(LABEL_SOURCES)}, got '{label_source}'")
    ensure_schema(db_url)
    root = Path(data_root).resolve()
    votes = load_votes(db_url)
    if exclude_rejected:
        rejected = [name for name, scr in bt500_screening(votes).items() if scr.rejected]
        if rejected:
            log.info("leaving out the votes of BT.500-rejected annotators: %s", ", ".join(rejected))
        votes = votes[~votes["annotator"].isin(rejected)]
    items = per_item(votes)
    with session_scope(db_url) as s:
        auto_name, prescores = _auto_scores(s, auto)
        if label_source != "human" and auto_name is None:
            raise InputError(f"label source '{label_source}' needs automatic pre-scores: "
                             "run `dynvfi annotate auto` first")
        rows = s.execute(select(Triplet, Interpolation).outerjoin(
            Interpolation, (Interpolation.triplet_id == Triplet.id) & (Interpolation.model == model))
            .order_by(Triplet.id)).all()
        heavy_psnr = _psnr_by_triplet(s, heavy_model) if heavy_model is not None else {}
        if heavy_model is not None and not heavy_psnr:
            raise InputError(f"no interpolations by '{heavy_model}' in the database: run "
                             f"`dynvfi annotate interpolate --model \"{heavy_model}\"` first")
        records = []
        for t, interp in rows:
            human = items.loc[t.id] if t.id in items.index else None
            pre = prescores.get(t.id)
            if label_source == "auto" or (label_source == "human-over-auto" and human is None):
                label, source = (float(pre), auto_name) if pre is not None else (np.nan, None)
            else:
                label, source = (float(human["mean"]), "human") if human is not None else (np.nan, None)
            records.append({
                "triplet_id": t.id, "clip_id": t.clip_id,
                "path0": str(inside(root, t.path0)), "path_gt": str(inside(root, t.path_gt)),
                "path1": str(inside(root, t.path1)),
                "tier": t.tier, "stride": t.stride, "split": t.split, "width": t.width, "height": t.height,
                "motion_mean": t.motion_mean, "motion_p95": t.motion_p95,
                "label": label, "label_source": source,
                "n_votes": int(human["n_votes"]) if human is not None else 0,
                "mean": float(human["mean"]) if human is not None else np.nan,
                "ci95": float(human["ci95"]) if human is not None else np.nan,
                "prescore": float(pre) if pre is not None else np.nan,
                "input_perceptual": interp.input_perceptual if interp else np.nan,
                "perceptual_metric": interp.perceptual_metric if interp else None,
                "rife_psnr": interp.psnr if interp else np.nan,
                "rife_ssim": interp.ssim if interp else np.nan,
            })
    df = pd.DataFrame.from_records(records, columns=COLUMNS)
    if heavy_model is not None:
        heavy = df["triplet_id"].map(heavy_psnr).astype("float64")
        df["heavy_gain"] = heavy - df["rife_psnr"].astype("float64")
    unlabeled = int(df["label"].isna().sum())
    if unlabeled:
        log.info("%d of %d triplets have no %s label and are left out", unlabeled, len(df), label_source)
    df = df[df["label"].notna()].reset_index(drop=True)
    return df.astype({"triplet_id": "int64", "clip_id": "int64", "n_votes": "int64", "label": "float64",
                      "mean": "float64", "ci95": "float64", "prescore": "float64",
                      "input_perceptual": "float64", "rife_psnr": "float64", "rife_ssim": "float64"})


def write(df: pd.DataFrame, path: str | Path, fmt: str | None = None) -> Path:
    """Write as CSV or Parquet (format from ``fmt`` or the file suffix)."""
    p = Path(path)
    fmt = fmt or p.suffix.lstrip(".").lower()
    if fmt not in ("csv", "parquet"):
        raise ConfigError(f"export format must be csv or parquet, got '{fmt}'")
    p.parent.mkdir(parents=True, exist_ok=True)
    if fmt == "csv":
        df.to_csv(p, index=False)
    else:
        df.to_parquet(p, index=False)
    return p


def write_split_lists(df: pd.DataFrame, split: str, folder: str | Path) -> list[Path]:
    """SNU-FILM-style list files (``frame0 gt frame1``) of one split of a table, one per stride.

    route-eval reads a folder of ``test-*.txt`` lists as subsets, so held-out triplets are
    reported per frame stride (larger stride = larger motion = harder). Old lists in the folder
    are replaced, so the folder always describes this table.
    """
    rows = df[df["split"].astype(str) == split]
    if rows.empty:
        raise InputError(f"the table has no '{split}' triplets; nothing to write lists of")
    out = Path(folder)
    out.mkdir(parents=True, exist_ok=True)
    for old in out.glob("test-*.txt"):
        old.unlink()
    written = []
    for stride, group in rows.groupby("stride"):
        path = out / f"test-stride{int(stride)}.txt"
        path.write_text("".join(f"{a} {g} {b}\n" for a, g, b in
                                group[["path0", "path_gt", "path1"]].itertuples(index=False)))
        written.append(path)
    return written
