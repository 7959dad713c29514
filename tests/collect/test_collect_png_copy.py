"""Frames that already are 8-bit RGB PNGs at the stored size are copied byte for byte.

The source PNGs are written at zlib level 9, so a collector that re-encoded them (at its own
level 1) would store other bytes. PNGs in another format (RGBA, 16-bit) must not be copied: the
stored frames are always 8-bit RGB, with the pixels the collector itself decoded. A smaller tier
is a resize, never a copy.
"""

from __future__ import annotations

from pathlib import Path

import cv2
import numpy as np
from sqlalchemy import select

from collect.config import load_config
from collect.pipeline import collect
from db.engine import session_scope
from db.models import Triplet
from dynvfi_core.imageio import read_image
from dynvfi_core.paths import data_root

RGBA_FRAME, DEEP_FRAME = 3, 6


def _write_sources(folder: Path, frames: list[np.ndarray]) -> list[Path]:
    folder.mkdir(parents=True)
    paths = []
    for i, bgr in enumerate(frames):
        path = folder / f"{i:04d}.png"
        if i == RGBA_FRAME:
            img = cv2.cvtColor(bgr, cv2.COLOR_BGR2BGRA)  # opaque alpha: same pixels, other format
        elif i == DEEP_FRAME:
            img = bgr.astype(np.uint16) * 257  # 16-bit with the same 8-bit values
        else:
            img = bgr
        assert cv2.imwrite(str(path), img, [cv2.IMWRITE_PNG_COMPRESSION, 9])
        paths.append(path)
    return paths


def test_rgb8_png_sources_are_copied_and_others_reencoded(tmp_home: Path, tmp_path: Path, synth,
                                                          make_config) -> None:
    sources = _write_sources(tmp_path / "src" / "shot", synth(16, size=(320, 272), shift=3))
    cfg = make_config([{"kind": "local", "path": str(tmp_path / "src")}],
                      sampling={"strides": [1], "max_per_clip": 30, "tiers": ["native", "256p"]},
                      filters={"min_motion": 0.0})
    report = collect(load_config(cfg), progress=False, plot=False)
    assert not report.errors
    with session_scope() as s:
        rows = [(t.tier, t.frame0, t.stride, (t.path0, t.path_gt, t.path1)) for t in s.scalars(select(Triplet))]
    stored: dict[tuple[str, int], Path] = {}
    for tier, frame0, stride, paths in rows:
        for k, rel in enumerate(paths):
            stored[(tier, frame0 + k * stride)] = data_root() / rel
    native = {i for tier, i in stored if tier == "native"}
    assert {RGBA_FRAME, DEEP_FRAME} <= native and len(native) >= 8
    for (tier, i), path in stored.items():
        img = cv2.imread(str(path), cv2.IMREAD_UNCHANGED)
        assert img.dtype == np.uint8 and img.shape[2] == 3, (tier, i)  # always 8-bit RGB
        if tier == "256p":
            assert img.shape[:2] == (256, 301)
            continue
        assert np.array_equal(img[:, :, ::-1], read_image(sources[i])), i
        copied = path.read_bytes() == sources[i].read_bytes()
        assert copied == (i not in (RGBA_FRAME, DEEP_FRAME)), i
