"""Broken sources become per-source problems in the report while the other sources are collected."""

from __future__ import annotations

import shutil
from pathlib import Path

import pytest
from sqlalchemy import select

from collect.config import load_config
from collect.pipeline import collect
from db.engine import session_scope
from db.models import Clip


def _problems(report) -> dict[str, str]:
    return {e.source: e.message for e in report.errors}


def _find(problems: dict[str, str], fragment: str) -> str:
    hits = [m for k, m in problems.items() if fragment in k]
    assert hits, f"no problem reported for {fragment}: {problems}"
    return hits[0]


def test_bad_sources_reported_run_continues(tmp_home: Path, tmp_path: Path, synth, video_writer, folder_writer,
                                            make_config) -> None:
    bad = tmp_path / "bad"
    bad.mkdir()
    (bad / "zero.mp4").write_bytes(b"")
    (bad / "garbage.mp4").write_bytes(bytes(range(256)) * 300)
    full = video_writer(tmp_path / "full.avi", synth(40, size=(128, 96), seed=3))
    data = full.read_bytes()
    (bad / "truncated.avi").write_bytes(data[: len(data) * 55 // 100])
    video_writer(bad / "tiny.avi", synth(20, size=(40, 24), seed=4))  # below min_short_side 32
    frames = synth(20, size=(128, 96), seed=5)
    folder = folder_writer(bad / "frames_with_corrupt_file", frames)
    (folder / "0010.png").write_bytes(b"\x89PNG\r\n\x1a\n broken")
    empty = tmp_path / "empty"
    empty.mkdir()
    good = video_writer(tmp_path / "good" / "ok.avi", synth(30, size=(128, 96), seed=6))
    cfg = make_config([
        {"kind": "local", "path": str(bad), "name": "bad"},
        {"kind": "local", "path": str(empty), "name": "empty"},
        {"kind": "local", "path": str(tmp_path / "missing"), "name": "missing"},
        {"kind": "local", "path": str(good.parent), "name": "good"},
    ], sampling={"strides": [1], "step": 1, "max_per_clip": 100})
    report = collect(load_config(cfg), progress=False, plot=False)
    problems = _problems(report)
    assert "zero-byte" in _find(problems, "zero.mp4")
    assert "cannot decode video" in _find(problems, "garbage.mp4")
    assert "smaller than 32p" in _find(problems, "tiny.avi")
    assert "empty folder" in _find(problems, "local:empty")
    assert "does not exist" in _find(problems, "local:missing")
    assert "unreadable" in _find(problems, "frames_with_corrupt_file")
    assert "declared frames" in _find(problems, "truncated.avi")
    # frame 10 is unreadable: the 3 stride-1 samples containing it are decode failures
    assert report.rejected["decode_failure"] >= 3
    by_tier = report.triplets
    assert sum(by_tier.values()) == report.triplets_total > 0
    # the good clip, the readable part of the truncated one and the corrupt-file folder all count
    with session_scope() as s:
        stored = {c.key.split("/", 1)[1]: c.num_frames for c in s.scalars(select(Clip))}
    assert set(stored) == {"ok.avi", "truncated.avi", "frames_with_corrupt_file"}
    assert stored["truncated.avi"] < 40


def test_cinepak_irregular_timestamps(tmp_home: Path, shared_data: Path, make_config) -> None:
    tree = shared_data / "videos" / "opencv_tree.avi"
    if not tree.is_file():
        pytest.skip("opencv_tree.avi not in the sample data")
    # default size rule: 320x240 is below 256p -> a per-source error, nothing stored
    cfg = make_config([{"kind": "local", "path": str(tree)}], filters={"min_short_side": 256})
    report = collect(load_config(cfg), progress=False, plot=False)
    assert "smaller than 256p" in _find(_problems(report), "opencv_tree.avi")
    assert report.triplets_total == 0
    # with the size rule relaxed the decoder copes: 68 of 444 frames, uneven gaps rejected
    cfg = make_config([{"kind": "local", "path": str(tree)}], name="relaxed.yaml",
                      sampling={"strides": [1, 2], "step": 1, "max_per_clip": 1000})
    report = collect(load_config(cfg), progress=False, plot=False)
    assert "decoded 68 of 444 declared frames" in _find(_problems(report), "opencv_tree.avi")
    assert report.rejected["irregular_timing"] > 0


def test_source_below_256p_by_default(tmp_home: Path, tmp_path: Path, synth, video_writer, make_config) -> None:
    video_writer(tmp_path / "v" / "small.avi", synth(12, size=(320, 240)))
    shutil.copy(tmp_path / "v" / "small.avi", tmp_path / "v" / "copy.avi")
    cfg = make_config([{"kind": "local", "path": str(tmp_path / "v")}], filters={"min_short_side": 256})
    report = collect(load_config(cfg), progress=False, plot=False)
    assert [e.message for e in report.errors] == ["320x240 is smaller than 256p (min_short_side)"] * 2
    assert report.clips_processed == 0 and report.triplets_total == 0
