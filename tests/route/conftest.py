"""Fixtures for the routing tests: deterministic scorers, a real (if simple) heavy model, tiny data.

Nothing here needs weights: the "heavy" model is a brute-force global-translation interpolator,
which genuinely beats the 50/50 blend on translated content and genuinely costs more.
"""

from __future__ import annotations

from fractions import Fraction
from pathlib import Path

import av
import numpy as np
import pytest
import torch

from dynvfi_core.imageio import write_image
from dynvfi_core.models import VFIModel, registry
from dynvfi_core.triplets import TripletRef


class DiffScorer:
    """Score = 1 - mean absolute difference / 255: identical frames are easiest (1.0)."""

    name = "mean-abs-diff"

    def score_batch(self, frames0, frames1) -> np.ndarray:
        a = np.asarray(frames0, dtype=np.float64)
        b = np.asarray(frames1, dtype=np.float64)
        return 1.0 - np.abs(a - b).reshape(len(a), -1).mean(axis=1) / 255.0


class ShiftModel(VFIModel):
    """Finds the translation between the frames by exhaustive 2-D search and moves frame 0 by t of it.

    The search (every shift in +-16 x +-4 px) makes it about two orders of magnitude slower than
    the blend, like a real heavy model, so timing comparisons are robust to a busy machine.
    """

    name = "test-shift"

    def __init__(self, device=None, max_dx: int = 16, max_dy: int = 4) -> None:
        super().__init__(device)
        self.shifts = [(dy, dx) for dy in range(-max_dy, max_dy + 1) for dx in range(-max_dx, max_dx + 1)]

    def _run(self, img0: torch.Tensor, img1: torch.Tensor, t: torch.Tensor) -> torch.Tensor:
        out = []
        for a, b, tt in zip(img0, img1, t):
            errs = torch.stack([(torch.roll(a, s, dims=(1, 2)) - b).abs().mean() for s in self.shifts])
            dy, dx = self.shifts[int(errs.argmin())]
            out.append(torch.roll(a, (round(float(tt) * dy), round(float(tt) * dx)), dims=(1, 2)))
        return torch.stack(out)


@pytest.fixture
def shift_model_spec(monkeypatch: pytest.MonkeyPatch) -> str:
    """Registers :class:`ShiftModel` as ``test-shift`` for the duration of a test."""
    monkeypatch.setitem(registry._FACTORIES, "test-shift", ShiftModel)
    return "test-shift"


def texture(h: int, w: int, seed: int) -> np.ndarray:
    """A smooth random RGB texture that wraps around horizontally (so rolls are exact)."""
    rng = np.random.default_rng(seed)
    x = np.linspace(0, 2 * np.pi, w, endpoint=False)
    img = np.zeros((h, w, 3))
    for c in range(3):
        for _ in range(4):
            fx, fy = rng.integers(1, 6), rng.integers(1, 4)
            ph = rng.uniform(0, 2 * np.pi)
            img[:, :, c] += np.sin(fx * x[None, :] + fy * np.linspace(0, np.pi, h)[:, None] + ph)
    img = (img - img.min()) / (img.max() - img.min())
    return (img * 255).round().astype(np.uint8)


def make_triplets(root: Path, shifts: list[int], h: int = 32, w: int = 64) -> list[TripletRef]:
    """UCF101-layout triplets whose outer frames are the middle one rolled by -/+ shift pixels."""
    out = []
    for i, s in enumerate(shifts):
        mid = texture(h, w, seed=i)
        d = root / f"{i:03d}"
        write_image(d / "frame_00.png", np.roll(mid, -s, axis=1))
        write_image(d / "frame_01_gt.png", mid)
        write_image(d / "frame_02.png", np.roll(mid, s, axis=1))
        out.append(TripletRef(f"{i:03d}", d / "frame_00.png", d / "frame_01_gt.png", d / "frame_02.png",
                              "all", "ucf101"))
    return out


@pytest.fixture
def tiny_triplets(tmp_path: Path) -> list[TripletRef]:
    """12 triplets, motion 0 to 7 px, so that some gain from the shift model and some do not."""
    return make_triplets(tmp_path / "triplets", [0, 1, 0, 2, 3, 1, 4, 5, 0, 6, 7, 2])


def scene_frame(i: int, scene: int, h: int = 48, w: int = 64) -> np.ndarray:
    """Frame ``i`` of one of two visually unrelated scenes with a moving square."""
    img = np.full((h, w, 3), (200, 190, 170) if scene == 0 else (20, 30, 120), dtype=np.uint8)
    x = (4 + 3 * i) % (w - 12)
    img[16:28, x:x + 12] = (30, 160, 40) if scene == 0 else (250, 240, 60)
    if scene == 1:
        img[::6] = (90, 90, 200)
    return img


def make_video(path: Path, n: int = 16, cut: int | None = 8, fps: int = 12, audio: bool = False) -> Path:
    """A tiny H.264 MP4 (optionally with an AAC tone of the same length) with a hard cut at ``cut``."""
    with av.open(str(path), "w") as c:
        v = c.add_stream("libx264", rate=fps)
        v.width, v.height, v.pix_fmt = 64, 48, "yuv420p"
        a = None
        if audio:
            a = c.add_stream("aac", rate=16000)
            a.layout = "mono"
        for i in range(n):
            frame = av.VideoFrame.from_ndarray(scene_frame(i, int(cut is not None and i >= cut)), format="rgb24")
            c.mux(v.encode(frame))
        c.mux(v.encode())
        if a is not None:
            samples = int(16000 * n / fps)
            tone = (0.3 * np.sin(2 * np.pi * 440 * np.arange(samples) / 16000)).astype(np.float32)
            for k in range(0, samples, 1024):
                chunk = tone[k:k + 1024][None, :]
                af = av.AudioFrame.from_ndarray(chunk, format="flt", layout="mono")
                af.sample_rate = 16000
                af.pts = k
                af.time_base = Fraction(1, 16000)
                c.mux(a.encode(af))
            c.mux(a.encode())
    return path


@pytest.fixture
def diff_scorer() -> DiffScorer:
    return DiffScorer()


@pytest.fixture
def video_factory():
    """:func:`make_video` (test modules cannot import conftest under --import-mode=importlib)."""
    return make_video


@pytest.fixture
def triplet_factory():
    """:func:`make_triplets`."""
    return make_triplets
