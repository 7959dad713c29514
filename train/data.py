"""Labelled triplets -> training batches of frame pairs.

The table (CSV/parquet from the annotation export, or the export computed from the DB) has one
row per triplet; the DPA only reads ``path0``/``path1`` (never the ground truth: the router
must decide before interpolating), ``label`` (1..4), ``input_perceptual`` (for the auxiliary
loss, precomputed once by the annotation side) and ``split`` (assigned per clip, so frames of
one clip never leak across train/val/test).

Augmentation keeps the pair consistent: one crop window and one flip for both frames, and the
frames may be swapped (interpolating a->b is as hard as b->a, so the label stays). Randomness is
drawn from ``(seed, epoch, index)``, so a batch is identical whatever the worker count and
after a resume.
"""

from __future__ import annotations

import logging
from pathlib import Path

import numpy as np
import pandas as pd
import torch
from torch.utils.data import Dataset

from dynvfi_core.dpa.loss import normalise_label
from dynvfi_core.dpa.preprocess import pair_stats, resize_to_view
from dynvfi_core.errors import ConfigError, InputError
from dynvfi_core.imageio import read_image
from train.config import DataConfig

log = logging.getLogger(__name__)

REQUIRED = ("triplet_id", "clip_id", "path0", "path1", "label", "split")
SPLITS = ("train", "val", "test")


def read_table(path: str | Path) -> pd.DataFrame:
    """A training table from CSV or parquet; relative frame paths resolve next to the table."""
    p = Path(path)
    if not p.is_file():
        raise InputError(f"training table not found: {p}")
    suffix = p.suffix.lower()
    if suffix not in (".csv", ".parquet", ".pq"):
        raise InputError(f"training table must be .csv or .parquet, got {p.name}")
    try:
        df = pd.read_csv(p) if suffix == ".csv" else pd.read_parquet(p)
    except (pd.errors.EmptyDataError, pd.errors.ParserError, UnicodeDecodeError, ValueError) as exc:
        # an empty or damaged file: say which, in one line (pyarrow's errors are ValueErrors)
        raise InputError(f"cannot read training table {p}: {str(exc).splitlines()[0] or type(exc).__name__}") from None
    for col in ("path0", "path1"):
        if col in df:
            df[col] = [str(q if Path(q).is_absolute() else (p.parent / q).resolve()) for q in df[col].astype(str)]
    return df


def load_table(cfg: DataConfig) -> pd.DataFrame:
    """The table named by ``cfg.table``, else the DB export (imported lazily: optional area)."""
    if cfg.table:
        df = read_table(cfg.table)
    elif cfg.db:
        from dynvfi_core.paths import data_root, default_db_url

        try:
            from annotate.export import training_table
        except ImportError as exc:
            raise ConfigError(f"--db needs the annotation package (annotate.export): {exc}") from exc
        url = default_db_url() if cfg.db == "default" else cfg.db
        df = training_table(url, cfg.data_root or data_root(), cfg.label_source)
    else:
        raise ConfigError("no training data: set data.table (CSV/parquet) or data.db (URL or 'default')")
    return validate(df, cfg.tiers)


def validate(df: pd.DataFrame, tiers: Sequence[str] | None = None) -> pd.DataFrame:
    """Check the columns the trainer needs, drop unlabeled rows, keep the requested tiers."""
    missing = [c for c in REQUIRED if c not in df.columns]
    if missing:
        raise InputError(f"training table lacks column(s): {', '.join(missing)}")
    if "input_perceptual" not in df.columns:
        df = df.assign(input_perceptual=np.nan)
    df = df[df["label"].notna()]
    if tiers:
        if "tier" not in df.columns:
            raise InputError("data.tiers is set but the table has no 'tier' column")
        df = df[df["tier"].astype(str).isin([str(t) for t in tiers])]
    bad = df[(df["label"] < 1) | (df["label"] > 4)]
    if len(bad):
        raise InputError(f"{len(bad)} label(s) outside 1..4 (e.g. triplet {bad['triplet_id'].iloc[0]})")
    unknown = sorted(set(df["split"].astype(str)) - set(SPLITS))
    if unknown:
        raise InputError(f"unknown split name(s) {unknown}; expected {SPLITS}")
    if df.empty:
        raise InputError("no labelled triplets left to train on (check data.tiers and the label source)")
    return df.reset_index(drop=True)


def gain_target(gain: np.ndarray, scale: float = 0.5) -> np.ndarray:
    """Heavy-over-fast PSNR gain (dB) -> normalised score ``1 - sigmoid(gain / scale)``.

    Oriented like the difficulty score (higher = the fast model will do), so the router's
    "heavy below the threshold" rule and its quantile calibration work unchanged.
    """
    return (1.0 - 1.0 / (1.0 + np.exp(-np.asarray(gain, dtype=np.float64) / scale))).astype(np.float64)


def fast_psnr_target(psnr: np.ndarray, reference: np.ndarray) -> np.ndarray:
    """The fast model's PSNR as a continuous label on the normalised scale.

    Auto labels are PSNR quartiles: four steps, so a regressor learns nothing about the order
    inside a step, which is what a router at a given heavy share needs. With ``u`` the empirical
    CDF of ``reference`` (the training split's PSNR) at ``psnr``, the target ``(4u - 0.5) / 3``
    puts the middle of each quartile exactly on that quartile's label (0, 1/3, 2/3, 1) and keeps
    the position inside it; values beyond the outer middles are clipped to [0, 1].
    """
    ref = np.sort(np.asarray(reference, dtype=np.float64))
    ref = ref[np.isfinite(ref)]
    if len(ref) == 0:
        raise InputError("target fast-psnr: no training row has a rife_psnr value")
    x = np.asarray(psnr, dtype=np.float64)
    # mid-rank CDF: ties share the middle of their run
    u = (np.searchsorted(ref, x, "left") + np.searchsorted(ref, x, "right")) / (2.0 * len(ref))
    return np.clip((4.0 * u - 0.5) / 3.0, 0.0, 1.0)


def apply_target(df: pd.DataFrame, target: str = "difficulty", gain_scale: float = 0.5) -> pd.DataFrame:
    """Put the chosen training target in ``label`` (1..4 scale: ``1 + 3 * score``).

    The rest of the trainer and its evaluation read ``label`` only, so with ``target: gain``
    every metric (acc@tolerance, SRCC, ...) is computed against the gain target. The annotated
    label is kept as ``difficulty_label``. Rows without ``heavy_gain`` are dropped (logged).
    """
    if target == "difficulty":
        return df
    if target == "fast-psnr":
        if "rife_psnr" not in df.columns:
            raise InputError("target fast-psnr needs the table's 'rife_psnr' column (`dynvfi annotate export`)")
        df = df[df["rife_psnr"].notna()]
        train_psnr = split(df, "train")["rife_psnr"].to_numpy(np.float64)
        score = fast_psnr_target(df["rife_psnr"].to_numpy(np.float64), train_psnr)
        return df.assign(difficulty_label=df["label"], label=1.0 + 3.0 * score).reset_index(drop=True)
    if target != "gain":
        raise ConfigError(f"unknown training target {target!r}")
    if "heavy_gain" not in df.columns:
        raise InputError("target: gain needs a 'heavy_gain' column: export the table with "
                         "`dynvfi annotate export --heavy-model SPEC`")
    keep = df["heavy_gain"].notna()
    if not keep.all():
        log.info("target gain: %d of %d rows have no heavy_gain and are left out", int((~keep).sum()), len(df))
    df = df[keep]
    if df.empty:
        raise InputError("no row of the table has a heavy_gain value")
    score = gain_target(df["heavy_gain"].to_numpy(np.float64), gain_scale)
    return df.assign(difficulty_label=df["label"], label=1.0 + 3.0 * score).reset_index(drop=True)


def split(df: pd.DataFrame, name: str) -> pd.DataFrame:
    return df[df["split"].astype(str) == name].reset_index(drop=True)


class PairDataset(Dataset):
    """Frame pairs at the model's view size, as uint8 ``(H, W, 3)`` tensors plus targets.

    Normalisation happens on the training device (uint8 batches are 4x cheaper to move). With
    ``stats`` each item also carries the pair's full-resolution statistics (for a DPA with
    ``model.prior_stats``; computed only then: they cost ~17 ms per 720p pair).
    """

    def __init__(self, df: pd.DataFrame, view: tuple[int, int], train: bool, seed: int = 0,
                 scale_jitter: float = 0.15, vflip: bool = False, stats: bool = False) -> None:
        self.paths0 = df["path0"].astype(str).tolist()
        self.paths1 = df["path1"].astype(str).tolist()
        self.targets = normalise_label(df["label"].to_numpy(np.float32)).astype(np.float32)
        self.perceptual = df["input_perceptual"].to_numpy(np.float32)
        self.view = tuple(view)
        self.train = train
        self.seed = seed
        self.scale_jitter = scale_jitter
        self.vflip = vflip
        self.stats = stats
        self.epoch = 0

    def set_epoch(self, epoch: int) -> None:
        self.epoch = epoch

    def __len__(self) -> int:
        return len(self.paths0)

    def _augment(self, a: np.ndarray, b: np.ndarray, idx: int) -> tuple[np.ndarray, np.ndarray]:
        rng = np.random.default_rng([self.seed, self.epoch, idx])
        h, w = a.shape[:2]
        ch = max(8, round(h * float(rng.uniform(1.0 - self.scale_jitter, 1.0))))
        cw = max(8, round(w * float(rng.uniform(1.0 - self.scale_jitter, 1.0))))
        y, x = int(rng.integers(0, h - ch + 1)), int(rng.integers(0, w - cw + 1))
        a, b = a[y:y + ch, x:x + cw], b[y:y + ch, x:x + cw]
        if rng.random() < 0.5:
            a, b = a[:, ::-1], b[:, ::-1]
        if self.vflip and rng.random() < 0.5:
            a, b = a[::-1], b[::-1]
        if rng.random() < 0.5:
            a, b = b, a
        return np.ascontiguousarray(a), np.ascontiguousarray(b)

    def __getitem__(self, idx: int) -> dict[str, torch.Tensor]:
        a, b = read_image(self.paths0[idx]), read_image(self.paths1[idx])
        if a.shape != b.shape:
            raise InputError(f"frames of one pair differ in size: {self.paths0[idx]} vs {self.paths1[idx]}")
        if self.train:
            a, b = self._augment(a, b, idx)
        item = {
            "frame0": torch.from_numpy(resize_to_view(a, self.view)),
            "frame1": torch.from_numpy(resize_to_view(b, self.view)),
            "target": torch.tensor(self.targets[idx]),
            "perceptual": torch.tensor(self.perceptual[idx]),
        }
        if self.stats:
            item["stats"] = torch.from_numpy(pair_stats(a, b))  # full resolution, after the crop
        return item


def epoch_order(n: int, seed: int, epoch: int, rank: int = 0, world: int = 1) -> list[int]:
    """This rank's shuffled sample indices for one epoch (padded so every rank gets as many)."""
    g = torch.Generator().manual_seed(seed * 1_000_003 + epoch)
    order = torch.randperm(n, generator=g).tolist()
    per_rank = -(-n // world)
    order += order[: per_rank * world - n]
    return order[rank::world]
