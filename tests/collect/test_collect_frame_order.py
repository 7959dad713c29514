"""Collected triplets hold frames i, i + s, i + 2s in that order: each frame carries its index.

The index is written into the pixels as a 6-bit bar code (8x8 blocks, black or white) over a
panning texture, so a collector that stored another frame as the ground-truth middle, or swapped
the first and the middle, is caught by reading the stored PNGs back.
"""

from __future__ import annotations

from pathlib import Path

import cv2
import numpy as np
import pytest
import torch
from sqlalchemy import select

from collect.config import load_config
from collect.pipeline import collect
from db.engine import session_scope
from db.models import Triplet
from dynvfi_core.imageio import write_image
from dynvfi_core.paths import data_root

BITS, BLOCK = 6, 8


def _stamp(frames: list[np.ndarray]) -> list[np.ndarray]:
    out = []
    for i, f in enumerate(frames):
        f = f.copy()
        for b in range(BITS):
            f[:BLOCK, b * BLOCK:(b + 1) * BLOCK] = 255 if (i >> b) & 1 else 0
        out.append(f)
    return out


def _index(img: np.ndarray) -> int:
    """The stamped index (block means are thresholded, so lossy video codecs keep it)."""
    return sum(1 << b for b in range(BITS) if img[:BLOCK, b * BLOCK:(b + 1) * BLOCK].mean() > 127)


@pytest.mark.parametrize("media", ["folder", "video"])
def test_stored_triplets_are_frames_i_middle_and_last(media: str, tmp_home: Path, tmp_path: Path, synth,
                                                      folder_writer, video_writer, make_config) -> None:
    frames = _stamp(synth(40, size=(96, 64), shift=2))
    assert [_index(f) for f in frames] == list(range(40))
    if media == "folder":
        folder_writer(tmp_path / "src" / "shot", frames)
    else:
        video_writer(tmp_path / "src" / "clip.avi", frames)
    cfg = make_config([{"kind": "local", "path": str(tmp_path / "src")}],
                      sampling={"strides": [1, 2, 3], "max_per_clip": 30}, filters={"min_motion": 0.0})
    report = collect(load_config(cfg), progress=False, plot=False)
    assert not report.errors
    with session_scope() as s:
        rows = [(t.frame0, t.stride, t.path0, t.path_gt, t.path1) for t in s.scalars(select(Triplet))]
    assert {stride for _, stride, *_ in rows} == {1, 2, 3}
    for frame0, stride, *paths in rows:
        got = [_index(cv2.imread(str(data_root() / rel))) for rel in paths]
        assert got == [frame0, frame0 + stride, frame0 + 2 * stride], (frame0, stride, paths)


def test_load_triplet_returns_first_middle_last(tmp_path: Path) -> None:
    """Three frames of different content (a symmetric model at t = 0.5 would hide a 0/1 swap)."""
    from dynvfi_core.evaluation import load_triplet
    from dynvfi_core.triplets import discover

    folder = tmp_path / "ucf" / "1"
    for name, value in (("frame_00.png", 10), ("frame_01_gt.png", 120), ("frame_02.png", 240)):
        img = np.full((8, 12, 3), value, np.uint8)
        img[0, 0] = (value, value // 2, 0)  # asymmetric in colour too: RGB order must survive
        write_image(folder / name, img)
    (ref,) = discover(tmp_path)
    f0, gt, f1 = load_triplet(ref)
    for t, value in ((f0, 10), (gt, 120), (f1, 240)):
        assert t.shape == (1, 3, 8, 12)
        assert torch.allclose(t[0, :, 1, 1], torch.full((3,), value / 255))
        assert torch.allclose(t[0, :, 0, 0], torch.tensor([value, value // 2, 0]) / 255)


def test_evaluation_interpolates_from_frame0_at_an_asymmetric_time(tmp_path: Path) -> None:
    """``blend`` at t = 0.25 is 3/4 frame0 + 1/4 frame1: with frames 0 and 1 swapped it is not."""
    from dynvfi_core.evaluation import load_triplet
    from dynvfi_core.models import create
    from dynvfi_core.triplets import discover

    folder = tmp_path / "ucf" / "1"
    for name, value in (("frame_00.png", 40), ("frame_01_gt.png", 80), ("frame_02.png", 200)):
        write_image(folder / name, np.full((16, 16, 3), value, np.uint8))
    f0, _, f1 = load_triplet(discover(tmp_path)[0])
    out = create("blend", device="cpu").interpolate(f0, f1, 0.25)
    assert torch.allclose(out, torch.full_like(out, (0.75 * 40 + 0.25 * 200) / 255), atol=1e-6)
