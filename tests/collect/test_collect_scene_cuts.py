"""Samples that span a hard cut are rejected and counted; the others are kept."""

from __future__ import annotations

from pathlib import Path

import pytest
from sqlalchemy import select

from collect.config import load_config
from collect.pipeline import collect
from db.engine import session_scope
from db.models import Clip, Triplet

BIKES_CUTS = (30, 76, 137, 187, 242)  # SOURCES.md: hard cuts near these frames


def _spans(f0: int, stride: int, cuts: tuple[int, ...]) -> bool:
    return any(f0 < c <= f0 + 2 * stride for c in cuts)


def _stored(url: str) -> set[tuple[int, int]]:
    with session_scope(url) as s:
        return {tuple(r) for r in s.execute(select(Triplet.frame0, Triplet.stride))}


def test_synthetic_cut_rejected_everywhere(tmp_home: Path, tmp_path: Path, synth, video_writer, make_config) -> None:
    cuts = (17,)
    n = 40
    video_writer(tmp_path / "clips" / "cut.avi", synth(n, cuts=cuts))
    # step 1 and a cap above the number of positions: every candidate is evaluated
    cfg = make_config([{"kind": "local", "path": str(tmp_path / "clips")}],
                      sampling={"strides": [1, 2, 3], "step": 1, "max_per_clip": 1000})
    url = f"sqlite:///{tmp_home / 'db.sqlite'}"
    report = collect(load_config(cfg), db_url=url, progress=False, plot=False)
    stored = _stored(url)
    spanning = {(f0, s) for s in (1, 2, 3) for f0 in range(n - 2 * s) if _spans(f0, s, cuts)}
    assert spanning and not stored & spanning
    assert report.rejected["scene_cut"] == len(spanning)
    # everything else moved and was decodable, so it was kept
    assert len(stored) == sum(n - 2 * s for s in (1, 2, 3)) - len(spanning)
    assert not report.errors


def test_bikes_hard_cuts_rejected(tmp_home: Path, bikes_clip: Path, make_config) -> None:
    cfg = make_config([{"kind": "local", "path": str(bikes_clip)}],
                      sampling={"strides": [1, 2], "step": 1, "max_per_clip": 1000, "tiers": ["256p"]},
                      filters={"min_short_side": 256, "min_motion": 0.0})
    url = f"sqlite:///{tmp_home / 'db.sqlite'}"
    report = collect(load_config(cfg), db_url=url, progress=False, plot=False)
    stored = _stored(url)
    spanning = {(f0, s) for s in (1, 2) for f0 in range(250 - 2 * s) if _spans(f0, s, BIKES_CUTS)}
    assert not stored & spanning, "a stored triplet spans one of the known hard cuts"
    assert report.rejected["scene_cut"] == len(spanning)
    assert len(stored) == sum(250 - 2 * s for s in (1, 2)) - len(spanning)
    with session_scope(url) as s:
        clip = s.scalars(select(Clip)).one()
        assert (clip.width, clip.height, clip.num_frames) == (640, 272, 250)
        t = s.scalars(select(Triplet).where(Triplet.stride == 2)).first()
        assert (t.width, t.height) == (602, 256) and t.effective_fps == pytest.approx(12.5)
