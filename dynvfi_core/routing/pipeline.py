"""The dynamic VFI pipeline: difficulty score -> level -> model.

:class:`DynamicVFI` scores every pair once, assigns levels with :func:`assign_levels`, and then
runs each model only on its own pairs, in batches, so a heavy model never waits behind easy pairs
and every model sees full batches. Results come back in input order together with the route
each pair took and the seconds spent per stage (scoring and each model).
"""

from __future__ import annotations

import time
from collections.abc import Sequence
from dataclasses import dataclass, field

import numpy as np
import torch

from dynvfi_core.batching import shape_batches
from dynvfi_core.errors import InputError
from dynvfi_core.imageio import check_same_size, to_tensor, to_uint8
from dynvfi_core.models import VFIModel, create
from dynvfi_core.routing.calibrate import assign_levels, check_thresholds
from dynvfi_core.routing.scorers import Scorer

#: the stage name under which scoring time is reported
SCORE_STAGE = "dpa"


def sync_device(device: torch.device) -> None:
    """Wait for queued GPU work so wall-clock timings are the work's, not the launch's."""
    if device.type == "cuda":
        torch.cuda.synchronize(device)


def score_pairs(scorer: Scorer, frames0: Sequence[np.ndarray], frames1: Sequence[np.ndarray],
                batch_size: int = 4) -> tuple[np.ndarray, float]:
    """One score per pair, asked in batches of equal-shaped pairs; also the seconds spent."""
    shapes = [f.shape for f in frames0]
    scores = np.empty(len(frames0), dtype=np.float64)
    start = time.perf_counter()
    for idx in shape_batches(range(len(frames0)), lambda i: shapes[i], batch_size):
        a = np.stack([frames0[i] for i in idx])
        b = np.stack([frames1[i] for i in idx])
        out = np.asarray(scorer.score_batch(a, b), dtype=np.float64).reshape(-1)
        if out.size != len(idx):
            raise InputError(f"scorer returned {out.size} scores for {len(idx)} pairs")
        scores[idx] = out
    return scores, time.perf_counter() - start


@dataclass
class RoutedResult:
    """Output of :meth:`DynamicVFI.run`, in input order.

    ``frames[i][j]`` is pair ``i`` interpolated at ``timesteps[j]``; ``levels[i]`` indexes
    ``model_names``; ``timings`` maps a stage (``dpa`` or a model name) to seconds spent.
    """

    frames: list[list[np.ndarray]]
    scores: np.ndarray
    levels: np.ndarray
    model_names: list[str]
    timings: dict[str, float] = field(default_factory=dict)

    def route_counts(self) -> dict[str, int]:
        """How many pairs each model interpolated."""
        return {name: int((self.levels == k).sum()) for k, name in enumerate(self.model_names)}


class DynamicVFI:
    """Route each frame pair to one of several VFI models by its difficulty score.

    ``models`` are ordered from fastest (easiest pairs) to heaviest; ``thresholds`` are
    ``len(models) - 1`` strictly decreasing scores. Two-level mode: ``[fast, heavy]`` with one
    threshold; four-level mode: up to four models, one per difficulty level of the dataset.
    ``dpa`` is anything with ``score_batch`` (:class:`~dynvfi_core.routing.scorers.Scorer`).
    """

    def __init__(
        self,
        dpa: Scorer,
        models: Sequence[VFIModel | str],
        thresholds: Sequence[float],
        device: str | torch.device | None = None,
        batch_size: int = 4,
    ) -> None:
        if not hasattr(dpa, "score_batch"):
            raise InputError(f"the scorer {type(dpa).__name__} has no score_batch(frames0, frames1) method")
        if not 1 <= len(models) <= 4:
            raise InputError(f"dynamic VFI takes 1 to 4 models (fast -> heavy), got {len(models)}")
        if batch_size < 1:
            raise InputError(f"batch size must be at least 1, got {batch_size}")
        self.dpa = dpa
        self.models = [create(m, device) if isinstance(m, str) else m for m in models]
        self.thresholds = check_thresholds(thresholds, len(self.models))
        self.batch_size = batch_size
        names = [m.name for m in self.models]
        # the same model twice (e.g. one per level) must still get its own timing entry
        self.stage_names = [n if names.count(n) == 1 else f"{n}#{k}" for k, n in enumerate(names)]

    def score(self, frames0: Sequence[np.ndarray], frames1: Sequence[np.ndarray]) -> tuple[np.ndarray, float]:
        """Scores of all pairs (batched by frame shape) and the seconds it took."""
        return score_pairs(self.dpa, frames0, frames1, self.batch_size)

    def route(self, scores: np.ndarray) -> np.ndarray:
        """Level (index into the models) of each score."""
        return assign_levels(scores, self.thresholds)

    def run(
        self,
        pairs: Sequence[tuple[np.ndarray, np.ndarray]],
        timesteps: Sequence[float] = (0.5,),
        scores: np.ndarray | None = None,
    ) -> RoutedResult:
        """Interpolate uint8 RGB pairs at ``timesteps``; pass ``scores`` to skip re-scoring."""
        for f0, f1 in pairs:
            check_same_size(f0, f1)
        frames0 = [p[0] for p in pairs]
        frames1 = [p[1] for p in pairs]
        timings = {SCORE_STAGE: 0.0}
        if scores is None:
            scores, timings[SCORE_STAGE] = self.score(frames0, frames1)
        scores = np.asarray(scores, dtype=np.float64).reshape(-1)
        if scores.size != len(pairs):
            raise InputError(f"got {scores.size} scores for {len(pairs)} pairs")
        levels = self.route(scores)
        out: list[list[np.ndarray]] = [[] for _ in pairs]
        shapes = [f.shape for f in frames0]
        for k, model in enumerate(self.models):
            todo = np.flatnonzero(levels == k).tolist()
            stage = self.stage_names[k]
            timings[stage] = 0.0
            for idx in shape_batches(todo, lambda i: shapes[i], self.batch_size):
                a = to_tensor(np.stack([frames0[i] for i in idx]))
                b = to_tensor(np.stack([frames1[i] for i in idx]))
                start = time.perf_counter()
                results = [to_uint8(model.interpolate(a, b, t)) for t in timesteps]
                sync_device(model.device)
                timings[stage] += time.perf_counter() - start
                for j, i in enumerate(idx):
                    out[i] = [r[j] for r in results]
        return RoutedResult(out, scores, levels, list(self.stage_names), timings)
