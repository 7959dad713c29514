"""Fixtures of the collection tests: tiny synthetic clips (moving textures, hard cuts) and configs.

Synthetic footage keeps the tests fast and independent of ../shared/data: a smooth random
texture slides by a few pixels per frame (well-defined motion for DIS flow), and a hard cut
switches to a differently coloured texture (a jump ContentDetector must see).
"""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path

import cv2
import numpy as np
import pytest
import yaml


def _canvas(h: int, w: int, seed: int, tint: tuple[int, int, int]) -> np.ndarray:
    rng = np.random.default_rng(seed)
    small = rng.integers(0, 256, (h // 6 + 2, w // 6 + 2, 3), dtype=np.uint8)
    big = cv2.resize(small, (w, h), interpolation=cv2.INTER_CUBIC).astype(np.float32)
    return np.clip(big * 0.5 + np.array(tint, np.float32) * 0.5, 0, 255).astype(np.uint8)


def synthetic_frames(n: int, size: tuple[int, int] = (96, 64), cuts: tuple[int, ...] = (), shift: int = 2,
                     seed: int = 0, static: bool = False) -> list[np.ndarray]:
    """BGR frames of a texture panning ``shift`` px/frame; a new scene starts at each cut index."""
    w, h = size
    tints = [(200, 40, 40), (40, 200, 40), (40, 40, 200), (220, 220, 40)]
    frames, scene, start = [], 0, 0
    canvas = _canvas(h, w + n * shift + 1, seed, tints[0])
    for i in range(n):
        if i in cuts:
            scene += 1
            start = i
            canvas = _canvas(h, w + n * shift + 1, seed + 101 * scene, tints[scene % len(tints)])
        x = 0 if static else (i - start) * shift
        frames.append(np.ascontiguousarray(canvas[:, x : x + w]))
    return frames


def write_video(path: Path, frames: list[np.ndarray], fps: float = 25.0) -> Path:
    path.parent.mkdir(parents=True, exist_ok=True)
    h, w = frames[0].shape[:2]
    writer = cv2.VideoWriter(str(path), cv2.VideoWriter_fourcc(*"MJPG"), fps, (w, h))
    assert writer.isOpened(), "OpenCV cannot write MJPG AVI here"
    for f in frames:
        writer.write(f)
    writer.release()
    return path


def write_folder(path: Path, frames: list[np.ndarray], pattern: str = "{:04d}.png") -> Path:
    path.mkdir(parents=True, exist_ok=True)
    for i, f in enumerate(frames):
        cv2.imwrite(str(path / pattern.format(i)), f)
    return path


@pytest.fixture
def make_config(tmp_path: Path) -> Callable[..., Path]:
    """Write a collect YAML; small-footage defaults (native tier, min_short_side 32)."""

    def _make(sources: list[dict], name: str = "collect.yaml", **top: object) -> Path:
        data: dict = {
            "sampling": {"strides": [1, 2], "max_per_clip": 8, "tiers": ["native"]},
            "filters": {"min_short_side": 32},
            "sources": sources,
        }
        for key, value in top.items():
            if isinstance(value, dict) and isinstance(data.get(key), dict):
                data[key] = {**data[key], **value}
            else:
                data[key] = value
        path = tmp_path / name
        path.write_text(yaml.safe_dump(data))
        return path

    return _make


@pytest.fixture
def synth() -> Callable[..., list[np.ndarray]]:
    return synthetic_frames


@pytest.fixture
def video_writer() -> Callable[..., Path]:
    return write_video


@pytest.fixture
def folder_writer() -> Callable[..., Path]:
    return write_folder
