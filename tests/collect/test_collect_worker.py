"""One clip through the collector's worker (``collect.worker.process_clip``), counts planned by hand.

The pipeline tests check which triplets end up in the database; these check the worker's own
bookkeeping on clips built to make every number predictable: how many candidates each rejection
reason claims (a broken frame, a truncated clip, an irregular timestamp), when decoding stops,
which frames are written and how, what a tier share stores, and what a failing clip leaves behind.
Clips come from an in-memory reader (exact frames and timestamps) or a real frame folder.
"""

from __future__ import annotations

import hashlib
import threading
import time
import zlib
from collections.abc import Callable, Iterator
from dataclasses import replace
from pathlib import Path

import cv2
import numpy as np
import pytest

import collect.worker as worker
from collect.config import Download, Filters, Sampling
from collect.frames import Frame, FrameReader, Meta
from collect.sources import ClipSpec
from collect.worker import ClipTask, clip_dir, process_clip
from dynvfi_core.analysis import phash

FPS = 25.0


class ListReader(FrameReader):
    """Frames from memory: ``None`` is an undecodable frame; the clip may end before ``declared``."""

    def __init__(self, frames: list[np.ndarray | None], times: list[float] | None = None,
                 declared: int | None = None, problem: str | None = None, fail_at: int | None = None,
                 failure: Exception | None = None) -> None:
        first = next(f for f in frames if f is not None)
        self.frames, self.times, self.fail_at = frames, times, fail_at
        self.failure = failure or OSError(f"disk gone\nretrying\nread failed at frame {fail_at}  ")
        self.meta = Meta(first.shape[1], first.shape[0], FPS, declared, "memory")
        self._problem = problem
        self.closed = False

    def __iter__(self) -> Iterator[Frame]:
        for i, bgr in enumerate(self.frames):
            if i == self.fail_at:
                raise self.failure
            yield Frame(i, bgr, self.times[i] if self.times else None)
        self.problem = self._problem

    def close(self) -> None:
        self.closed = True


def _task(tmp_path: Path, *, media: str = "video", uri: str = "memory", strides: tuple[int, ...] = (1,),
          max_per_clip: int = 9, tiers: tuple[str, ...] = ("native",), tier_share: tuple = (),
          threads: int = 1, compression: int = 1, fps: float | None = None, download: Download = Download(),
          **filters: object) -> ClipTask:
    sampling = Sampling(strides=strides, max_per_clip=max_per_clip, tiers=tiers, tier_share=tier_share)
    clip = ClipSpec(key="local:clip", group="clip", kind="local", uri=uri, media=media, fps=fps, sampling=sampling)
    return ClipTask(clip, "sig", Filters(**{"min_short_side": 32, "min_motion": 0.0, **filters}),
                    str(tmp_path / "data"), compression, download, threads)


def _run(monkeypatch: pytest.MonkeyPatch, task: ClipTask, reader: ListReader) -> worker.ClipResult:
    monkeypatch.setattr(worker, "open_reader", lambda path, media, fps: reader)
    return process_clip(task)


def _before_each_write(monkeypatch: pytest.MonkeyPatch, hook: Callable[[Path], object]) -> None:
    """Call ``hook(path)`` in the writing thread just before each frame file is written."""
    real = worker.write_bytes

    def write(path: Path, data: bytes, **kw: object) -> Path:
        hook(path)
        return real(path, data, **kw)

    monkeypatch.setattr(worker, "write_bytes", write)


def _frames_dir(tmp_path: Path) -> Path:
    """Where the test clip's native-tier frames are stored."""
    return tmp_path / "data" / "frames" / "native" / clip_dir("local:clip")


def test_broken_and_missing_frames_count_one_decode_failure_per_slot(tmp_path: Path, monkeypatch, synth) -> None:
    """Stride 1, nine one-candidate slots (frame0 = 0, 2, ..., 16) of a clip declared 20 frames long.

    Frames 5 and 6 do not decode: frame0 = 4 (frames 4-6) and 6 (6-8) fail. The clip ends after
    frame 11: frame0 = 10, 12, 14 and 16 never get their last frame. 2 + 4 = 6 failures, 3 kept.
    """
    frames: list = synth(12)
    frames[5] = frames[6] = None
    reader = ListReader(frames, declared=20, problem="2 frames unreadable")
    result = _run(monkeypatch, _task(tmp_path), reader)
    assert result.error is None and reader.closed
    assert [s[:2] for s in result.samples] == [[0, 1], [2, 1], [8, 1]]
    assert result.stats == {
        "rejected": {"decode_failure": 6},
        "tiers_skipped": [],
        "strides_skipped": {},
        "decoded_frames": 12,
        "declared_frames": 20,
        "backend": "memory",
        "warnings": ["2 frames unreadable", "decoded 12 of 20 declared frames"],
        "cuts": [],
        "jumps_explained": [],
    }
    # the clip ran out: its length is what decoded, not what the container promised
    assert result.num_frames == 12
    assert (result.fps, result.width, result.height) == (FPS, 96, 64)


def test_decoding_stops_once_every_slot_is_filled(tmp_path: Path, monkeypatch, synth) -> None:
    """Three slots of three candidates (frame0 0-4, 6-10, 12-16, step 2) in a 20-frame clip: the
    first of each is kept, so the clip is done when frame0 = 12 is judged, at frame 14."""
    result = _run(monkeypatch, _task(tmp_path, max_per_clip=3), ListReader(synth(20), declared=20))
    assert [s[:2] for s in result.samples] == [[0, 1], [6, 1], [12, 1]]
    assert result.stats["decoded_frames"] == 15 and result.stats["warnings"] == []
    assert result.num_frames == 20  # not exhausted: the declared length stands
    assert result.stats["rejected"] == {}


def test_unknown_length_stops_after_the_last_planned_candidate(tmp_path: Path, monkeypatch, synth) -> None:
    """Without a declared length the plan is one candidate every 2 frames (frame0 0, 2, 4): the
    worker needs frames up to 6 and no more, and the clip's length is unknown, not 7."""
    result = _run(monkeypatch, _task(tmp_path, max_per_clip=3), ListReader(synth(30)))
    assert result.stats["decoded_frames"] == 7 and result.num_frames is None
    assert len(result.triplets) == 3


def test_irregular_timestamps_are_rejected_and_counted_once(tmp_path: Path, monkeypatch, synth) -> None:
    """Frames 0.04 s apart; frames 9 and 13 are 0.02 s late, frame 5 is 0.004 s late.

    frame0 = 8 (gaps 0.06/0.02) and 12 are irregular; frame0 = 4 (0.044/0.036) is within the
    25% tolerance (0.008 < 0.25 x 0.044). With a tolerance of 0.1 it is rejected too.
    """
    times = [i / FPS for i in range(20)]
    times[9] += 0.02
    times[13] += 0.02
    times[5] += 0.004
    result = _run(monkeypatch, _task(tmp_path), ListReader(synth(20), times, declared=20))
    assert result.stats["rejected"] == {"irregular_timing": 2}
    assert [s[0] for s in result.samples] == [0, 2, 4, 6, 10, 14, 16]
    strict = _run(monkeypatch, _task(tmp_path, timing_tolerance=0.1), ListReader(synth(20), times, declared=20))
    assert strict.stats["rejected"] == {"irregular_timing": 3}


def test_near_static_threshold_is_in_256p_pixels(tmp_path: Path, monkeypatch, synth) -> None:
    """A 2 px/frame pan at native 96x64 moves 4 px over a stride-1 triplet, 16 px in 256p units.

    A threshold just below that keeps every candidate; just above, all nine are near-static.
    """
    ok = _run(monkeypatch, _task(tmp_path, min_motion=15.0), ListReader(synth(20), declared=20))
    assert len(ok.samples) == 9 and ok.stats["rejected"] == {}
    # stored at the native tier, in native pixels again: 4 px
    assert all(r.motion_mean == pytest.approx(4.0, rel=0.04) and r.motion_p95 == pytest.approx(4.0, rel=0.04)
               for r in ok.triplets)
    static = _run(monkeypatch, _task(tmp_path, min_motion=17.0), ListReader(synth(20), declared=20))
    assert static.samples == [] and static.stats["rejected"] == {"near_static": 9}


def test_a_ready_made_triplet_skips_the_motion_filter(tmp_path: Path, synth, folder_writer) -> None:
    """A fixed triplet is imported whole even when it does not move (its frames are what they are)."""
    folder = tmp_path / "triplet"
    still = synth(1)[0]
    for name in ("frame_00.png", "frame_01_gt.png", "frame_02.png"):
        folder_writer(folder, [still], pattern=name)
    task = _task(tmp_path, media="triplet", uri=str(folder), min_motion=1.0)
    result = process_clip(task)
    assert result.error is None and [s[:2] for s in result.samples] == [[0, 1]]
    assert result.triplets[0].motion_mean == 0.0


def _expected_share(key: str, frame0: int, stride: int, tier: str) -> float:
    """in_tier's draw, recomputed from its definition: sha256 of the sample's name as [0, 1)."""
    digest = hashlib.sha256(f"tier:{key}#{frame0}#{stride}#{tier}".encode()).hexdigest()
    return int(digest[:15], 16) / 16**15


def test_tier_share_stores_a_fixed_subset_at_its_tier_and_every_sample_at_the_others(tmp_path: Path,
                                                                                  monkeypatch, synth) -> None:
    """A 456x288 clip at native and 256p (405x256), native keeping half of the samples."""
    frames = synth(20, size=(456, 288), shift=3)
    task = _task(tmp_path, tiers=("native", "256p"), tier_share=(("native", 0.5),))
    result = _run(monkeypatch, task, ListReader(frames, declared=20))
    samples = [(f0, s) for f0, s, _ in result.samples]
    assert len(samples) == 9
    by_tier = {t: [(r.frame0, r.stride) for r in result.triplets if r.tier == t] for t in ("native", "256p")}
    assert by_tier["256p"] == samples
    native = [(f0, s) for f0, s in samples if _expected_share("local:clip", f0, s, "native") < 0.5]
    assert 0 < len(native) < len(samples)  # the case below only means something if some are left out
    assert by_tier["native"] == native
    sizes = {r.tier: (r.width, r.height) for r in result.triplets}
    assert sizes == {"native": (456, 288), "256p": (405, 256)}
    # a 3 px/frame pan moves 6 px over a stride-1 triplet at 288p, 6 x 256/288 px at 256p: the
    # flow is measured once, on the 256p analysis copy (DIS reads 2-4% high there), and rescaled
    # per tier, so the two tiers' values are in the ratio of their sizes (to the stored rounding)
    for r in result.triplets:
        expected = 6.0 * (1.0 if r.tier == "native" else 256 / 288)
        assert r.motion_mean == pytest.approx(expected, rel=0.05) and r.motion_p95 == pytest.approx(expected, rel=0.05)
        assert r.effective_fps == FPS
    assert all(round(v, 4) == v for r in result.triplets for v in (r.motion_mean, r.motion_p95))  # 4 decimals
    at = {(r.tier, r.frame0): r for r in result.triplets}
    for (tier, f0), r in at.items():
        if tier == "native":
            low = at["256p", f0]
            assert r.motion_mean / low.motion_mean == pytest.approx(288 / 256, abs=1e-4)
            assert r.motion_p95 / low.motion_p95 == pytest.approx(288 / 256, abs=1e-4)
    # the near-duplicate hash is the ground truth's, taken on the 256p analysis copy
    for f0, stride, digest in result.samples:
        small = cv2.resize(frames[f0 + stride], (405, 256), interpolation=cv2.INTER_AREA)
        assert digest == phash(cv2.cvtColor(small, cv2.COLOR_BGR2GRAY))
    assert all(r.phash == dict(((f0, s), d) for f0, s, d in result.samples)[r.frame0, r.stride]
               for r in result.triplets)
    # stored at the 256p tier: the INTER_AREA resize of the decoded frame, read back from its PNG
    first = next(r for r in result.triplets if r.tier == "256p")
    stored = cv2.imread(str(tmp_path / "data" / first.path_gt))
    assert np.array_equal(stored, cv2.resize(frames[first.frame0 + 1], (405, 256), interpolation=cv2.INTER_AREA))


def test_each_frame_is_written_once_and_shared_by_its_samples(tmp_path: Path, monkeypatch, synth) -> None:
    """Stride 1 and 2 samples from frame 0 share frames 0 and 2; nothing is encoded twice, and a
    partial file left by a killed earlier attempt is removed."""
    folder = _frames_dir(tmp_path)
    folder.mkdir(parents=True)
    (folder / "000099.png.part").write_bytes(b"half")
    writes: list[Path] = []
    _before_each_write(monkeypatch, writes.append)
    frames = synth(12)
    result = _run(monkeypatch, _task(tmp_path, strides=(1, 2), max_per_clip=4), ListReader(frames, declared=12))
    assert result.stats["rejected"] == {}
    assert {(r.stride, r.effective_fps) for r in result.triplets} == {(1, FPS), (2, FPS / 2)}
    used = sorted({i for r in result.triplets for i in (r.frame0, r.frame0 + r.stride, r.frame0 + 2 * r.stride)})
    assert sorted(writes) == [folder / f"{i:06d}.png" for i in used]
    assert sorted(p.name for p in folder.iterdir()) == [f"{i:06d}.png" for i in used]
    for r in result.triplets:
        assert r.path_gt == f"frames/native/{clip_dir('local:clip')}/{r.frame0 + r.stride:06d}.png"
        assert np.array_equal(cv2.imread(str(tmp_path / "data" / r.path_gt)), frames[r.frame0 + r.stride])


@pytest.mark.parametrize("compression, row_filter", [(1, 2), (0, 0)])
def test_png_rows_use_the_up_filter_unless_uncompressed(tmp_path: Path, monkeypatch, compression: int,
                                                       row_filter: int, synth) -> None:
    """Every row of a written PNG starts with its filter byte: 2 ("up") when compressing, 0 (none)
    without compression, where filtering costs time and saves nothing."""
    result = _run(monkeypatch, _task(tmp_path, compression=compression, max_per_clip=1),
                  ListReader(synth(4), declared=4))
    data = (tmp_path / "data" / result.triplets[0].path0).read_bytes()
    idat, pos = b"", 8
    while pos < len(data):
        length = int.from_bytes(data[pos:pos + 4], "big")
        if data[pos + 4:pos + 8] == b"IDAT":
            idat += data[pos + 8:pos + 8 + length]
        pos += 12 + length
    raw = zlib.decompress(idat)
    rows = [raw[r * (1 + 96 * 3)] for r in range(64)]
    assert set(rows[1:]) == {row_filter}  # row 0 has nothing above it: libpng may pick another there
    assert (len(data) > 64 * 96 * 3) == (compression == 0)


def test_png_frames_of_a_folder_are_copied_byte_for_byte(tmp_path: Path, synth) -> None:
    """An 8-bit RGB PNG stored at its own size is the source file itself, not a re-encoding."""
    src = tmp_path / "shot"
    src.mkdir()
    for i, f in enumerate(synth(8)):  # compression 9: a re-encoding (level 1, "up" filter) would differ
        cv2.imwrite(str(src / f"{i:04d}.png"), f, [cv2.IMWRITE_PNG_COMPRESSION, 9])
    result = process_clip(_task(tmp_path, media="frames", uri=str(src), max_per_clip=2))
    assert result.error is None
    for r in result.triplets:
        for rel, i in zip((r.path0, r.path_gt, r.path1), (r.frame0, r.frame0 + 1, r.frame0 + 2)):
            assert (tmp_path / "data" / rel).read_bytes() == (src / f"{i:04d}.png").read_bytes()


@pytest.mark.parametrize("threads", [1, 3])
def test_a_failing_clip_leaves_no_frames_and_says_why(tmp_path: Path, monkeypatch, threads: int, synth) -> None:
    """The decoder fails at frame 9, after frames 0-6 were written: the clip is an error, its
    written frames and stale partial files are removed, and the reader is closed."""
    folder = _frames_dir(tmp_path)
    folder.mkdir(parents=True)
    (folder / "000003.png.part").write_bytes(b"half")  # left by a killed earlier attempt
    _before_each_write(monkeypatch, lambda path: time.sleep(0.05))  # writes still queued or running at the failure
    reader = ListReader(synth(20), declared=20, fail_at=9)
    result = _run(monkeypatch, _task(tmp_path, threads=threads), reader)
    assert result.error == "OSError: read failed at frame 9" and result.key == "local:clip"
    assert (result.triplets, result.samples, result.stats) == ([], [], {})
    time.sleep(0.3)  # a write still running when the clip was undone would land now
    assert reader.closed and list(folder.iterdir()) == []


@pytest.mark.parametrize("threads", [1, 3])
def test_parallel_png_writing_stores_the_same_files(tmp_path: Path, monkeypatch, threads: int, synth) -> None:
    result = _run(monkeypatch, _task(tmp_path, threads=threads, max_per_clip=20),
                  ListReader(synth(40), declared=40))
    folder = _frames_dir(tmp_path)
    names = sorted(p.name for p in folder.iterdir())
    assert names == [f"{i:06d}.png" for i in range(39)]
    frames = synth(40)
    assert all(np.array_equal(cv2.imread(str(folder / n)), frames[i]) for i, n in enumerate(names))
    assert len(result.triplets) == 19


def test_clip_size_checks_name_the_setting(tmp_path: Path, monkeypatch, synth) -> None:
    """A 96x64 clip: 64p is enough for min_short_side 64 (not below it), 65 is not; a tier that
    would upscale every time is an error, and one skipped tier is reported next to a kept one."""
    ok = _run(monkeypatch, _task(tmp_path, min_short_side=64), ListReader(synth(6), declared=6))
    assert ok.error is None
    small = _run(monkeypatch, _task(tmp_path, min_short_side=65), ListReader(synth(6), declared=6))
    assert small.error == "96x64 is smaller than 65p (min_short_side)"
    upscale = _run(monkeypatch, _task(tmp_path, tiers=("720p", "256p")), ListReader(synth(6), declared=6))
    assert upscale.error == "96x64: every configured tier (720p, 256p) would upscale it"
    mixed = _run(monkeypatch, _task(tmp_path, tiers=("720p", "native")), ListReader(synth(6), declared=6))
    assert mixed.stats["tiers_skipped"] == ["720p"]


def test_clip_dir_is_readable_and_collision_free() -> None:
    assert clip_dir("local:a b/c.mp4") == "local_a_b_c.mp4-" + hashlib.sha256(b"local:a b/c.mp4").hexdigest()[:10]
    assert clip_dir("XY Clip.MOV").startswith("XY_Clip.MOV-")  # letters of either case are kept
    assert clip_dir("local:a b") != clip_dir("local:a_b")  # same slug, different clips
    assert clip_dir("..") == "-" + hashlib.sha256(b"..").hexdigest()[:10]
    assert len(clip_dir("x" * 500)) == 80 + 1 + 10


@pytest.mark.parametrize("failure, error", [
    (ValueError(), "ValueError: "),
    (MemoryError("cannot allocate 3 GiB"), "MemoryError: cannot allocate 3 GiB"),
])
def test_a_decoder_failure_without_a_message_is_still_one_line(tmp_path: Path, monkeypatch, synth,
                                                               failure: Exception, error: str) -> None:
    result = _run(monkeypatch, _task(tmp_path), ListReader(synth(20), declared=20, fail_at=3, failure=failure))
    assert result.error == error and result.key == "local:clip"


def test_an_encoder_failure_names_the_frame(tmp_path: Path, monkeypatch, synth) -> None:
    monkeypatch.setattr(cv2, "imencode", lambda ext, img, params: (False, None))
    result = _run(monkeypatch, _task(tmp_path), ListReader(synth(20), declared=20))
    assert result.error == f"cannot encode PNG for frames/native/{clip_dir('local:clip')}/000000.png"


def test_fast_motion_is_not_a_cut_unless_the_residual_check_is_off(tmp_path: Path, monkeypatch, synth) -> None:
    """A 9 px/frame pan with a hard cut at frame 12: ContentDetector alone flags every frame, the
    motion-compensated check keeps only the cut. Stride 1, candidates at frame0 = 0, 2, ..., 20
    (decoding ends at frame 22): the jump into frame 12 lies inside frame0 = 10 (frames 10-12) only."""
    frames = synth(24, size=(160, 120), shift=9, cuts=(12,))
    checked = _run(monkeypatch, _task(tmp_path, max_per_clip=11), ListReader(frames, declared=24))
    assert checked.stats["cuts"] == [12] and checked.stats["jumps_explained"] == [i for i in range(1, 23) if i != 12]
    assert checked.stats["rejected"] == {"scene_cut": 1} and len(checked.samples) == 10
    plain = _run(monkeypatch, _task(tmp_path, max_per_clip=11, cut_residual=0.0), ListReader(frames, declared=24))
    assert plain.stats["cuts"] == list(range(1, 23)) and plain.stats["rejected"] == {"scene_cut": 11}


def test_a_static_clip_is_kept_when_min_motion_is_zero(tmp_path: Path, monkeypatch, synth) -> None:
    """min_motion 0 turns the filter off: zero motion is not below zero."""
    result = _run(monkeypatch, _task(tmp_path, min_motion=0.0), ListReader(synth(20, static=True), declared=20))
    assert len(result.samples) == 9 and result.stats["rejected"] == {}
    assert {r.motion_mean for r in result.triplets} == {0.0}


def test_a_clip_too_short_for_any_triplet_stops_at_its_first_frame(tmp_path: Path, monkeypatch, synth) -> None:
    result = _run(monkeypatch, _task(tmp_path, strides=(4,)), ListReader(synth(8), declared=8))
    assert result.error is None and result.samples == [] and result.stats["decoded_frames"] == 1
    assert result.num_frames == 8 and result.stats["rejected"] == {}


def test_frames_held_are_those_of_the_longest_triplet(tmp_path: Path, monkeypatch, synth) -> None:
    """Memory stays bounded on a long clip: while a stride-2 triplet (5 frames) is judged the
    buffer holds exactly those 5 frames, never more."""
    held: list[int] = []

    class Recording(worker._ClipScan):
        def evaluate(self, c) -> None:  # noqa: ANN001 - a Candidate
            held.append(sum(f is not None for f in self.buffer.values()))
            super().evaluate(c)

    monkeypatch.setattr(worker, "_ClipScan", Recording)
    result = _run(monkeypatch, _task(tmp_path, strides=(1, 2), max_per_clip=200), ListReader(synth(120), declared=120))
    assert len(result.samples) > 50 and max(held) == 5


def test_a_tier_below_the_source_is_an_area_resize(tmp_path: Path, monkeypatch, synth) -> None:
    """720p of a 1000x800 source is 900x720: neither the decoded frame nor the 256p analysis copy."""
    frames = synth(4, size=(1000, 800), shift=4)
    result = _run(monkeypatch, _task(tmp_path, tiers=("720p",), max_per_clip=1), ListReader(frames, declared=4))
    (t,) = result.triplets
    assert (t.tier, t.width, t.height) == ("720p", 900, 720)
    stored = cv2.imread(str(tmp_path / "data" / t.path_gt))
    assert np.array_equal(stored, cv2.resize(frames[1], (900, 720), interpolation=cv2.INTER_AREA))


def test_the_reader_gets_the_configured_fps_and_urls_are_downloaded_first(tmp_path: Path, monkeypatch,
                                                                          synth) -> None:
    opened: list[tuple] = []
    fetched: list[tuple] = []

    def fake_open(path: Path, media: str, fps: float | None) -> ListReader:
        opened.append((path, media, fps))
        return ListReader(synth(6), declared=6)

    def fake_download(uri: str, folder: Path, max_bytes: int, timeout_s: float) -> Path:
        fetched.append((uri, folder, max_bytes, timeout_s))
        return folder / "clip.mp4"

    monkeypatch.setattr(worker, "open_reader", fake_open)
    monkeypatch.setattr(worker, "download", fake_download)
    process_clip(_task(tmp_path, media="frames", uri="/footage/shot", fps=50.0))
    assert opened == [(Path("/footage/shot"), "frames", 50.0)] and fetched == []
    limits = Download(max_bytes=1000, timeout_s=5.0)
    process_clip(_task(tmp_path, media="url", uri="https://example.org/c.mp4", download=limits))
    process_clip(_task(tmp_path, media="url", uri="https://example.org/c.mp4",
                       download=Download(dir=str(tmp_path / "dl"))))
    assert fetched == [("https://example.org/c.mp4", tmp_path / "data" / "downloads", 1000, 5.0),
                       ("https://example.org/c.mp4", tmp_path / "dl", Download().max_bytes, Download().timeout_s)]
    assert opened[1:] == [(tmp_path / "data" / "downloads" / "clip.mp4", "url", None),
                          (tmp_path / "dl" / "clip.mp4", "url", None)]


@pytest.mark.parametrize("threads", [1, 2])
def test_png_encoding_runs_in_worker_threads_when_asked(tmp_path: Path, monkeypatch, synth, threads: int) -> None:
    """One writer thread encodes in the decoding thread; more move every encode off it."""
    on_main: list[bool] = []
    _before_each_write(monkeypatch, lambda path: on_main.append(threading.current_thread() is threading.main_thread()))
    _run(monkeypatch, _task(tmp_path, threads=threads), ListReader(synth(20), declared=20))
    assert len(on_main) == 19 and set(on_main) == {threads == 1}


@pytest.mark.parametrize("threads", [2, 3])
def test_queued_png_writes_are_bounded(tmp_path: Path, monkeypatch, synth, threads: int) -> None:
    """Encoding slower than decoding: at most 4 frames per writer thread wait in the queue."""
    queued: list[int] = []

    class Recording(worker._FrameWriter):
        def write(self, tier: str, index: int, frame) -> str:  # noqa: ANN001 - a buffered frame
            rel = super().write(tier, index, frame)
            queued.append(len(self.pending))
            return rel

    _before_each_write(monkeypatch, lambda path: time.sleep(0.05))
    monkeypatch.setattr(worker, "_FrameWriter", Recording)
    _run(monkeypatch, _task(tmp_path, threads=threads, max_per_clip=15), ListReader(synth(32), declared=32))
    assert max(queued) == 4 * threads


def test_a_clip_without_usable_strides_keeps_nothing_and_says_why(tmp_path: Path, monkeypatch, synth) -> None:
    """Only a target frame rate, and the source's rate is unknown: no stride, no triplet, no error."""
    sampling = Sampling(strides=(), target_fps=(50.0,), max_per_clip=9, tiers=("native",))
    task = _task(tmp_path)
    task = replace(task, clip=replace(task.clip, sampling=sampling))
    reader = ListReader(synth(6), declared=6)
    reader.meta.fps = None
    result = _run(monkeypatch, task, reader)
    assert result.error is None and result.samples == []
    assert result.stats["strides_skipped"] == {"target_fps_unknown_source_fps": 1}
