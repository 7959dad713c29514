"""Routed video interpolation: frame count x factor, duration, cuts kept sharp, audio carried along."""

from __future__ import annotations

from pathlib import Path

import av
import numpy as np
import pytest

from dynvfi_core.cli import main
from dynvfi_core.errors import InputError
from dynvfi_core.routing import MotionScorer
from dynvfi_core.routing.video_job import interpolate_video
from dynvfi_core.video import decode_frames, detect_cuts, probe


def _audio_packets(path: Path) -> list[tuple[int, int]]:
    with av.open(str(path)) as c:
        if not c.streams.audio:
            return []
        return [(p.size, p.duration) for p in c.demux(c.streams.audio[0]) if p.size]


@pytest.mark.parametrize("factor,audio", [(2, False), (4, True)])
def test_round_trip_keeps_count_times_factor_and_duration(tmp_path: Path, factor: int, audio: bool, diff_scorer,
                                                          video_factory) -> None:
    src = video_factory(tmp_path / "in.mp4", n=16, cut=8, fps=12, audio=audio)
    dst = tmp_path / "out.mp4"
    s = interpolate_video(src, dst, factor, diff_scorer, "blend", "blend", progress=False)
    assert s["cuts"] == [8]
    out = list(decode_frames(dst))
    info = probe(dst)
    assert len(out) == s["frames_out"] == 16 * factor
    assert s["interpolated_frames"] == (16 - 1 - 1) * (factor - 1)  # every pair but the cut
    assert info.fps == 12 * factor
    assert len(out) / info.fps == pytest.approx(16 / 12)
    assert info.duration_s == pytest.approx(probe(src).duration_s, abs=1 / (12 * factor) + 0.05)
    assert sum(s["routes"].values()) == 15 and s["routes"]["cut (duplicated)"] == 1
    # across the cut the in-between slots repeat the nearest frame: no cross-fade ghost
    last_a, first_b = out[7 * factor], out[8 * factor]
    for j in range(1, factor):
        slot = out[7 * factor + j].astype(int)
        nearest = last_a if j / factor < 0.5 else first_b
        assert np.abs(slot - nearest).mean() < 3
    # inside a scene the in-between frame is new (the blend of its neighbours)
    mid = out[2 * factor + factor // 2].astype(int)
    assert np.abs(mid - out[2 * factor]).mean() > 1 and np.abs(mid - out[3 * factor]).mean() > 1
    assert s["audio"] is audio
    if audio:
        assert _audio_packets(dst) == _audio_packets(src)  # copied packet for packet
        with av.open(str(dst)) as c:
            assert c.streams.audio[0].codec_context.name == "aac"
    else:
        assert _audio_packets(dst) == []


def test_budget_and_threshold_rules(tmp_path: Path, diff_scorer, video_factory) -> None:
    src = video_factory(tmp_path / "in.mp4", n=10, cut=None)
    s = interpolate_video(src, tmp_path / "a.mp4", 2, diff_scorer, "blend", "blend", threshold=2.0, progress=False)
    assert s["routes"]["blend#1"] == 9  # every score is below 2: all heavy
    s = interpolate_video(src, tmp_path / "b.mp4", 2, diff_scorer, "blend", "blend", budget=0.5, progress=False)
    assert s["rule"] == "budget" and set(s["measured_s_per_pair"]) == {"fast", "heavy", "dpa"}


def test_motion_fallback_scorer_runs_on_video(tmp_path: Path, video_factory) -> None:
    src = video_factory(tmp_path / "in.mp4", n=8, cut=None)
    s = interpolate_video(src, tmp_path / "o.mkv", 2, MotionScorer(), "blend", "blend", heavy_share=0.5,
                          progress=False)
    assert s["scorer"] == "motion-fallback" and s["frames_out"] == 16


def test_cut_detector_finds_the_synthetic_cut(tmp_path: Path, video_factory) -> None:
    assert detect_cuts(video_factory(tmp_path / "v.mp4", n=20, cut=11)) == [11]
    assert detect_cuts(video_factory(tmp_path / "w.mp4", n=20, cut=None)) == []


def test_real_footage_cuts(bikes_clip: Path) -> None:
    assert detect_cuts(bikes_clip) == [30, 76, 137, 187, 242]


@pytest.mark.parametrize("kind", ["missing", "empty", "truncated", "text"])
def test_bad_input_is_a_one_line_input_error(tmp_path: Path, kind: str, diff_scorer, video_factory) -> None:
    bad = tmp_path / "bad.mp4"
    if kind == "empty":
        bad.write_bytes(b"")
    elif kind == "truncated":
        good = video_factory(tmp_path / "good.mp4", n=12)
        bad.write_bytes(good.read_bytes()[: good.stat().st_size // 3])
    elif kind == "text":
        bad.write_text("this is not a video\n" * 50)
    with pytest.raises(InputError) as err:
        interpolate_video(bad, tmp_path / "out.mp4", 2, diff_scorer, "blend", "blend", progress=False)
    assert "\n" not in str(err.value)


def test_cli_interpolate_video(tmp_path: Path, capsys: pytest.CaptureFixture, video_factory) -> None:
    src = video_factory(tmp_path / "in.mp4", n=10, cut=5)
    out = tmp_path / "out.mp4"
    rc = main(["interpolate-video", str(src), "-o", str(out), "--factor", "2", "--fast", "blend",
               "--heavy", "blend", "--json", str(tmp_path / "s.json")])
    text = capsys.readouterr().out
    assert rc == 0 and len(list(decode_frames(out))) == 20
    assert "motion fallback" in text and "time per stage" in text
    rc = main(["interpolate-video", str(tmp_path / "nope.mp4"), "-o", str(out)])
    err = capsys.readouterr().err
    assert rc != 0 and err.startswith("error: video not found")
