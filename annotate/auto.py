"""Automatic pre-scores: a metric of the reference model's frame mapped to the 1-4 scale.

Score 4 means best quality (an easy triplet), 1 the worst. The scores are stored as votes of a
pseudo-annotator ``auto:<metric>`` so that the export can use human labels, automatic ones, or
human labels where they exist and automatic ones elsewhere — the demo needs no people at all.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass

import numpy as np
from sqlalchemy import select

from annotate.store import auto_annotator, ensure_schema, upsert_vote
from db.annotation import Interpolation
from db.engine import session_scope
from dynvfi_core.errors import ConfigError, InputError

log = logging.getLogger(__name__)

#: metric -> True when a larger value means a better frame
HIGHER_IS_BETTER = {"perceptual": False, "psnr": True, "ssim": True}


def parse_thresholds(text: str) -> tuple[float, float, float]:
    """``"a,b,c"`` -> three strictly increasing cut points."""
    try:
        values = tuple(float(v) for v in text.split(","))
    except ValueError as exc:
        raise ConfigError(f"thresholds must be three numbers like 0.05,0.1,0.2, got '{text}'") from exc
    if len(values) != 3 or not (values[0] < values[1] < values[2]):
        raise ConfigError(f"thresholds must be three strictly increasing numbers, got '{text}'")
    return values  # type: ignore[return-value]


def scores(values: np.ndarray, thresholds: tuple[float, float, float], higher_is_better: bool) -> np.ndarray:
    """Map metric values to 1..4 with cut points ``a < b < c``.

    Higher-is-better metrics: below a -> 1, [a, b) -> 2, [b, c) -> 3, >= c -> 4.
    Lower-is-better (distances): below a -> 4, [a, b) -> 3, [b, c) -> 2, >= c -> 1.
    """
    bins = np.searchsorted(np.asarray(thresholds), values, side="right")  # 0..3
    return (bins + 1) if higher_is_better else (4 - bins)


@dataclass
class AutoReport:
    annotator: str
    metric: str
    thresholds: tuple[float, float, float]
    counts: dict[int, int]


def run(db_url: str, metric: str = "perceptual", thresholds: tuple[float, float, float] | None = None,
        model: str = "rife-v4.25") -> AutoReport:
    """Score every interpolated triplet of ``model``; cut points default to the quartiles."""
    if metric not in HIGHER_IS_BETTER:
        raise ConfigError(f"unknown metric '{metric}'; choose one of {', '.join(HIGHER_IS_BETTER)}")
    ensure_schema(db_url)
    column = getattr(Interpolation, metric)
    with session_scope(db_url) as s:
        rows = s.execute(select(Interpolation.triplet_id, column, Interpolation.perceptual_metric)
                         .where(Interpolation.model == model)).all()
        if not rows:
            raise InputError(f"no interpolations of model '{model}': "
                             f"run `dynvfi annotate interpolate --model {model}` first")
        missing = sum(r[1] is None for r in rows)
        if missing:  # labelling only the rest would silently drop triplets from the dataset
            raise InputError(f"{missing} of {len(rows)} interpolations of model '{model}' have no {metric} value "
                             f"(stored with --no-perceptual?): re-run `dynvfi annotate interpolate --model {model}` "
                             "without --no-perceptual to add it")
        if metric == "perceptual" and len({r[2] for r in rows}) > 1:
            raise InputError("perceptual values come from different metrics "
                             f"({', '.join(sorted({str(r[2]) for r in rows}))}); re-run interpolate for one")
        values = np.array([r[1] for r in rows], dtype=np.float64)
        if thresholds is None:
            q = np.quantile(values, [0.25, 0.5, 0.75])
            if not (q[0] < q[1] < q[2]):
                raise InputError(f"the {metric} values have too few distinct values for quartiles; "
                                 "give --thresholds a,b,c")
            thresholds = (float(q[0]), float(q[1]), float(q[2]))
        result = scores(values, thresholds, HIGHER_IS_BETTER[metric])
        annotator = auto_annotator(s, metric)
        for (tid, _v, _m), score in zip(rows, result.tolist()):
            upsert_vote(s, annotator.id, tid, int(score))
        counts = {k: int((result == k).sum()) for k in (1, 2, 3, 4)}
        log.debug("auto:%s scored %d triplets (cut points %s): %s", metric, len(rows), thresholds, counts)
        return AutoReport(annotator.name, metric, thresholds, counts)
