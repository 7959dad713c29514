"""Difficulty scorers: what the router asks before choosing a model.

The router depends only on the :class:`Scorer` protocol (``score_batch(frames0, frames1)``,
higher = EASIER, in 0..1), so the trained VFI-DPA, the motion fallback below and deterministic
test scorers are interchangeable.
"""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path
from typing import Protocol, runtime_checkable

import cv2
import numpy as np

from dynvfi_core.errors import InputError

#: flow is measured on frames downscaled so the long side is at most this (speed, and flow
#: magnitudes comparable across resolutions)
MOTION_LONG_SIDE = 256


@runtime_checkable
class Scorer(Protocol):
    """Anything that rates frame pairs: ``score_batch`` returns one score per pair, higher = easier."""

    def score_batch(self, frames0: Sequence[np.ndarray], frames1: Sequence[np.ndarray]) -> np.ndarray:
        """One score per uint8 RGB ``(H, W, 3)`` pair (an ``(B, H, W, 3)`` array or a list), higher = easier.

        The built-in scorers return values in (0, 1]; a DPA returns its regression output on the
        same scale, which may lie slightly outside it. Routing only uses the order.
        """
        ...


def _gray_small(rgb: np.ndarray) -> np.ndarray:
    h, w = rgb.shape[:2]
    s = min(1.0, MOTION_LONG_SIDE / max(h, w))
    gray = cv2.cvtColor(np.ascontiguousarray(rgb), cv2.COLOR_RGB2GRAY)
    if s < 1.0:
        gray = cv2.resize(gray, (max(1, round(w * s)), max(1, round(h * s))), interpolation=cv2.INTER_AREA)
    return gray


def motion_magnitude(frame0: np.ndarray, frame1: np.ndarray) -> float:
    """Mean optical-flow magnitude between two frames, in percent of the frame width.

    DIS flow (OpenCV) on a downscaled grey copy: cheap (a few ms), and expressed relative to the
    width so that the same motion scores the same at 256p and 1080p.
    """
    if frame0.shape != frame1.shape:
        raise InputError(f"frames have different shapes: {frame0.shape} vs {frame1.shape}")
    a, b = _gray_small(frame0), _gray_small(frame1)
    if min(a.shape) < 8:  # DIS needs a few pixels per pyramid level; tiny frames: intensity change only
        return float(np.abs(a.astype(np.float32) - b.astype(np.float32)).mean() / 255.0 * 100.0)
    dis = cv2.DISOpticalFlow_create(cv2.DISOPTICAL_FLOW_PRESET_FAST)
    flow = dis.calc(a, b, None)
    return float(np.linalg.norm(flow, axis=2).mean() / a.shape[1] * 100.0)


class MotionScorer:
    """Fallback difficulty score from motion alone: ``1 / (1 + m / scale)``.

    ``m`` is :func:`motion_magnitude` (percent of frame width). Large motion is the main cause
    of VFI failure, so this orders pairs sensibly when no trained DPA is available; it knows
    nothing about occlusion or texture, which is what the DPA adds. ``scale`` (percent) is the
    motion that scores 0.5.
    """

    name = "motion-fallback"

    def __init__(self, scale: float = 2.0) -> None:
        self.scale = scale

    def score_batch(self, frames0: Sequence[np.ndarray], frames1: Sequence[np.ndarray]) -> np.ndarray:
        m = np.array([motion_magnitude(a, b) for a, b in zip(frames0, frames1, strict=True)], dtype=np.float64)
        return 1.0 / (1.0 + m / self.scale)


class AbsDiffScorer:
    """The cheapest heuristic: mean absolute difference of the two inputs, ``1 / (1 + d / scale)``.

    ``d`` is on the 0-255 scale, over all pixels and channels at full resolution. Pairs that
    barely change are easy; it cannot tell motion from lighting or texture, which is why a
    learned router has to beat it to be worth training. ``scale`` is the difference scoring 0.5.
    """

    name = "absdiff"

    def __init__(self, scale: float = 10.0) -> None:
        self.scale = scale

    def score_batch(self, frames0: Sequence[np.ndarray], frames1: Sequence[np.ndarray]) -> np.ndarray:
        d = np.array([np.abs(np.asarray(a, np.float32) - np.asarray(b, np.float32)).mean()
                      for a, b in zip(frames0, frames1, strict=True)], dtype=np.float64)
        return 1.0 / (1.0 + d / self.scale)


class FlipConsistencyScorer:
    """Gain-aware heuristic: how much the fast model's answer changes when the pair is mirrored.

    A difficulty score says how hard a pair is; what routing needs is where the heavy model will
    do *better* than the fast one. Ensembles and flip-TTA gain where the fast model's flow is
    ambiguous, and an ambiguous prediction is one that is not stable under a horizontal flip of
    both inputs (the network is not equivariant to it). The pair and its mirror run as one batch
    of two at reduced resolution (long side ``long_side``), so the cost stays a fraction of one
    full-resolution fast run. Score ``1 / (1 + d / scale)`` with ``d`` the mean absolute
    disagreement on the 0-255 scale (higher = easier, like the DPA's).
    """

    name = "flip-consistency"

    def __init__(self, model: str = "rife-v4.25", long_side: int = 128, scale: float = 2.0,
                 device: str | None = None) -> None:
        self.model_spec = model
        self.long_side = long_side
        self.scale = scale
        self.device = device
        self._model = None

    def _resize(self, rgb: np.ndarray) -> np.ndarray:
        h, w = rgb.shape[:2]
        s = min(1.0, self.long_side / max(h, w))
        if s >= 1.0:
            return np.ascontiguousarray(rgb)
        return cv2.resize(np.ascontiguousarray(rgb), (max(1, round(w * s)), max(1, round(h * s))),
                          interpolation=cv2.INTER_AREA)

    def score_batch(self, frames0: Sequence[np.ndarray], frames1: Sequence[np.ndarray]) -> np.ndarray:
        from dynvfi_core.imageio import to_tensor
        from dynvfi_core.models import create

        if self._model is None:
            self._model = create(self.model_spec, self.device)
        out = []
        for a, b in zip(frames0, frames1, strict=True):
            a, b = self._resize(np.asarray(a)), self._resize(np.asarray(b))
            pa = to_tensor(np.stack([a, a[:, ::-1]]))
            pb = to_tensor(np.stack([b, b[:, ::-1]]))
            pred = self._model.interpolate(pa, pb, 0.5)
            d = float((pred[0] - pred[1].flip(-1)).abs().mean()) * 255.0
            out.append(1.0 / (1.0 + d / self.scale))
        return np.asarray(out, dtype=np.float64)


#: scorers that need no checkpoint, by the name ``--compare`` accepts
BUILTIN_SCORERS: dict[str, type] = {"motion": MotionScorer, "flip": FlipConsistencyScorer, "absdiff": AbsDiffScorer}


def scorer_name(scorer: object) -> str:
    """A label for reports: the scorer's ``name`` attribute or its class name."""
    return str(getattr(scorer, "name", type(scorer).__name__))


def load_scorer(dpa_checkpoint: str | Path | None, device: str | None = None) -> object:
    """The trained DPA when a checkpoint is given, else the documented :class:`MotionScorer`.

    The DPA package is imported lazily: it pulls in timm and the Swin backbone, which plain
    motion-routed interpolation does not need.
    """
    if dpa_checkpoint is None:
        return MotionScorer()
    path = Path(dpa_checkpoint)
    if not path.is_file():
        raise InputError(f"DPA checkpoint not found: {path}")
    from dynvfi_core.dpa import DPA

    dpa = DPA.load(path, device=device)
    if not hasattr(dpa, "name"):
        try:
            dpa.name = f"dpa({path.name})"
        except AttributeError:
            pass
    return dpa
