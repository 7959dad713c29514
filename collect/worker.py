"""Collect one clip: decode once, filter candidates as their frames stream by, write PNGs.

Runs in a worker process and never touches the database: it returns a :class:`ClipResult` that
the main process stores in one transaction, so a clip is either completely in the database or
not at all. Frames are shared between the samples of a clip (``frames/<tier>/<clip>/<n>.png``),
each written once per tier through a temporary file and an atomic rename; a killed worker leaves
at most a ``.part`` file, which the next attempt removes before it rewrites the same frames.
"""

from __future__ import annotations

import hashlib
import re
from collections import Counter, defaultdict, deque
from concurrent.futures import Future, ThreadPoolExecutor
from dataclasses import dataclass, field
from pathlib import Path

import cv2
import numpy as np

from dynvfi_core.analysis import (
    ANALYSIS_SHORT_SIDE,
    Motion,
    SceneCuts,
    analysis_size,
    irregular_timing,
    phash,
)
from collect.config import Download, Filters
from collect.download import download
from collect.frames import FrameReader, open_reader
from collect.sampling import Candidate, Stride, choose_strides, choose_tiers, in_tier, plan
from collect.sources import ClipSpec
from dynvfi_core.atomic import write_bytes
from dynvfi_core.errors import InputError

REJECT_REASONS = ("scene_cut", "near_static", "near_duplicate", "decode_failure", "irregular_timing")


@dataclass(frozen=True)
class ClipTask:
    clip: ClipSpec
    signature: str
    filters: Filters
    data_root: str
    png_compression: int
    download: Download
    writer_threads: int = 1  # PNG encoding threads of this clip's worker


@dataclass
class TripletRecord:
    frame0: int
    stride: int
    effective_fps: float | None
    tier: str
    width: int
    height: int
    path0: str
    path_gt: str
    path1: str
    motion_mean: float
    motion_p95: float
    phash: str


@dataclass
class ClipResult:
    key: str
    error: str | None = None  # the clip failed as a whole: nothing is stored for it
    fps: float | None = None
    width: int | None = None
    height: int | None = None
    num_frames: int | None = None
    triplets: list[TripletRecord] = field(default_factory=list)
    samples: list[list] = field(default_factory=list)  # [frame0, stride, phash] of kept samples
    stats: dict = field(default_factory=dict)


def clip_dir(key: str) -> str:
    """Readable, collision-free folder name of a clip (its key may hold any characters)."""
    slug = re.sub(r"[^A-Za-z0-9._-]+", "_", key).strip("_.")[:80]
    return f"{slug}-{hashlib.sha256(key.encode()).hexdigest()[:10]}"


@dataclass
class _Buffered:
    bgr: np.ndarray
    small: np.ndarray
    time: float | None
    png: Path | None = None  # the source file when it can be stored by copying (see Frame.png)
    gray: np.ndarray | None = None

    def small_gray(self) -> np.ndarray:
        if self.gray is None:
            self.gray = cv2.cvtColor(self.small, cv2.COLOR_BGR2GRAY)
        return self.gray


class _FrameWriter:
    """Writes each (tier, frame) PNG once; remembers what it wrote so a failure can undo it.

    PNG encoding (zlib) costs far more than decoding, so with ``threads > 1`` it runs in a
    small thread pool (OpenCV releases the GIL) while the clip keeps decoding; ``flush``
    waits for the writes and re-raises the first failure. A frame read from an 8-bit RGB PNG
    and stored at its own size is copied byte for byte: same pixels, no encoding at all.
    """

    def __init__(self, root: Path, key: str, sizes: dict[str, tuple[int, int]], png_compression: int,
                 threads: int = 1) -> None:
        self.root, self.sizes = root, sizes
        self.folder = clip_dir(key)
        # a fixed "up" filter is about twice as fast as libpng's adaptive choice and, on video
        # frames, no larger; without compression no filter is worth its time
        png_filter = cv2.IMWRITE_PNG_FILTER_UP if png_compression else cv2.IMWRITE_PNG_FILTER_NONE
        self.params = [cv2.IMWRITE_PNG_COMPRESSION, png_compression, cv2.IMWRITE_PNG_FILTER, png_filter]
        self.written: dict[tuple[str, int], str] = {}
        self.pool = ThreadPoolExecutor(threads) if threads > 1 else None
        self.pending: deque[Future] = deque()
        self.max_pending = 4 * threads  # bounds the frames held in memory by queued writes
        for tier in sizes:
            for stale in (root / "frames" / tier / self.folder).glob("*.part"):
                stale.unlink(missing_ok=True)

    def write(self, tier: str, index: int, frame: _Buffered) -> str:
        rel = self.written.get((tier, index))
        if rel is not None:
            return rel
        rel = f"frames/{tier}/{self.folder}/{index:06d}.png"
        self.written[(tier, index)] = rel
        if self.pool is None:
            self._store(rel, tier, frame)
            return rel
        while len(self.pending) >= self.max_pending:
            self.pending.popleft().result()
        self.pending.append(self.pool.submit(self._store, rel, tier, frame))
        return rel

    def _store(self, rel: str, tier: str, frame: _Buffered) -> None:
        w, h = self.sizes[tier]
        if frame.bgr.shape[:2] == (h, w) and frame.png is not None:
            write_bytes(self.root / rel, frame.png.read_bytes(), fsync=False)
            return
        if frame.bgr.shape[:2] == (h, w):
            img = frame.bgr
        elif frame.small.shape[:2] == (h, w):  # the 256p tier is the analysis copy: resize once
            img = frame.small
        else:
            img = cv2.resize(frame.bgr, (w, h), interpolation=cv2.INTER_AREA)
        ok, buf = cv2.imencode(".png", img, self.params)
        if not ok:
            raise InputError(f"cannot encode PNG for {rel}")
        write_bytes(self.root / rel, buf.tobytes(), fsync=False)  # atomic, umask-respecting; redone on resume

    def flush(self) -> None:
        while self.pending:
            self.pending.popleft().result()

    def close(self) -> None:
        if self.pool is not None:
            self.pool.shutdown(wait=True, cancel_futures=True)

    def undo(self) -> None:
        """Remove every frame this clip wrote (after waiting for queued writes; an interrupted
        write removes its own temporary file)."""
        self.close()
        for rel in self.written.values():
            (self.root / rel).unlink(missing_ok=True)


def _local_path(task: ClipTask) -> Path:
    clip = task.clip
    if clip.media != "url":
        return Path(clip.uri)
    folder = Path(task.download.dir) if task.download.dir else Path(task.data_root) / "downloads"
    return download(clip.uri, folder, task.download.max_bytes, task.download.timeout_s)


def process_clip(task: ClipTask) -> ClipResult:
    """Collect one clip; every failure becomes ``ClipResult.error`` instead of an exception."""
    writer: list[_FrameWriter] = []
    try:
        return _collect(task, writer)
    except InputError as exc:
        error = str(exc)
    except (cv2.error, OSError, ValueError, MemoryError) as exc:
        error = f"{type(exc).__name__}: {str(exc).strip().splitlines()[-1] if str(exc).strip() else ''}"
    if writer:
        writer[0].undo()
    return ClipResult(key=task.clip.key, error=error)


def _collect(task: ClipTask, writer_out: list[_FrameWriter]) -> ClipResult:
    clip, filters = task.clip, task.filters
    reader = open_reader(_local_path(task), clip.media, clip.fps)
    try:
        meta = reader.meta
        w, h = meta.width, meta.height
        if min(w, h) < filters.min_short_side:
            raise InputError(f"{w}x{h} is smaller than {filters.min_short_side}p (min_short_side)")
        sizes, tiers_skipped = choose_tiers(clip.sampling.tiers, w, h)
        if not sizes:
            raise InputError(f"{w}x{h}: every configured tier ({', '.join(clip.sampling.tiers)}) would upscale it")
        strides, strides_skipped = choose_strides(clip.sampling, meta.fps)
        writer = _FrameWriter(Path(task.data_root), clip.key, sizes, task.png_compression, task.writer_threads)
        writer_out.append(writer)
        scan = _ClipScan(task, meta.width, meta.height, meta.fps, sizes, strides,
                         plan(strides, meta.declared_frames, clip.sampling.max_per_clip, clip.sampling.step), writer)
        decoded, exhausted = scan.run(reader)
        warnings = []
        if reader.problem:
            warnings.append(reader.problem)
        if exhausted and meta.declared_frames and decoded < meta.declared_frames:
            warnings.append(f"decoded {decoded} of {meta.declared_frames} declared frames")
        result = scan.result
        result.num_frames = meta.declared_frames if not exhausted else decoded
        writer.flush()
        result.stats = {
            "rejected": {k: v for k, v in sorted(scan.rejected.items()) if v},
            "tiers_skipped": tiers_skipped,
            "strides_skipped": dict(strides_skipped),
            "decoded_frames": decoded,
            "declared_frames": meta.declared_frames,
            "backend": meta.backend,
            "warnings": warnings,
            # hard cuts of the decoded part: shot boundaries for ``split_unit: shot``
            "cuts": sorted(scan.cuts.cuts),
            # ContentDetector jumps that motion compensation explained (fast motion, not cuts)
            "jumps_explained": sorted(scan.cuts.explained),
        }
        return result
    finally:
        reader.close()
        if writer_out:
            writer_out[0].close()


class _ClipScan:
    """One pass over a clip's frames: each candidate triplet is judged as soon as its last frame
    has been decoded, from a sliding buffer of recent frames, so memory stays bounded by the
    longest stride however long the clip is."""

    def __init__(self, task: ClipTask, w: int, h: int, fps: float | None, sizes: dict[str, tuple[int, int]],
                 strides: list[Stride], candidates: list[Candidate], writer: _FrameWriter) -> None:
        clip, self.filters = task.clip, task.filters
        self.key, self.sizes, self.writer = clip.key, sizes, writer
        self.w, self.h = w, h
        self.result = ClipResult(key=clip.key, fps=fps, width=w, height=h)
        self.rejected: Counter = Counter()
        self.fps_of = {s.frames: s.effective_fps for s in strides}
        self.by_last: dict[int, list[Candidate]] = defaultdict(list)
        for c in candidates:
            self.by_last[c.last].append(c)
        self.slots = {(c.stride, c.slot) for c in candidates}
        self.filled: set[tuple[int, int]] = set()
        self.span = 2 * max((s.frames for s in strides), default=1)
        self.asize = analysis_size(w, h)
        self.to_256 = ANALYSIS_SHORT_SIDE / min(self.asize)  # px at analysis size -> px at 256p
        self.cuts = SceneCuts(self.filters.scene_threshold, fps, self.filters.cut_residual or None)
        self.motion = Motion()
        self.fixed = clip.media == "triplet"  # a ready-made triplet is imported whole: no cut or motion filter
        self.share = dict(clip.sampling.tier_share)
        self.buffer: dict[int, _Buffered | None] = {}

    def run(self, reader: FrameReader) -> tuple[int, bool]:
        """Decode until every slot is filled or no candidate needs more frames; returns the
        number of frames decoded and whether the clip ran out before that."""
        decoded, exhausted = 0, True
        last_needed = max(self.by_last, default=-1)
        for frame in reader:
            i = frame.index
            if frame.bgr is None:
                self.buffer[i] = None
                self.cuts.reset()
            else:
                small = frame.bgr if self.asize == (self.w, self.h) else \
                    cv2.resize(frame.bgr, self.asize, interpolation=cv2.INTER_AREA)
                if not self.fixed:  # no cuts recorded: nothing in a fixed triplet is a cut
                    self.cuts.add(i, small)
                self.buffer[i] = _Buffered(frame.bgr, small, frame.time, frame.png)
            decoded = i + 1
            for c in self.by_last.pop(i, ()):
                self.evaluate(c)
            self.buffer.pop(i - self.span, None)
            if len(self.filled) == len(self.slots) or i >= last_needed:
                exhausted = False
                break
        # candidates whose frames never arrived: count each slot they could have filled once
        lost = {(c.stride, c.slot) for cs in self.by_last.values() for c in cs} - self.filled
        self.rejected["decode_failure"] += len(lost)
        return decoded, exhausted

    def evaluate(self, c: Candidate) -> None:
        """Keep candidate ``c`` (write its frames, record its triplets) or count why not."""
        if (c.stride, c.slot) in self.filled:
            return
        buffer, filters = self.buffer, self.filters
        idx = (c.frame0, c.frame0 + c.stride, c.last)
        if any(buffer.get(i) is None for i in range(c.frame0, c.last + 1)):
            self.rejected["decode_failure"] += 1
            return
        f0, gt, f1 = (buffer[i] for i in idx)
        if self.cuts.spans_cut(c.frame0, c.last):
            self.rejected["scene_cut"] += 1
            return
        if irregular_timing((f0.time, gt.time, f1.time), filters.timing_tolerance):
            self.rejected["irregular_timing"] += 1
            return
        mean, p95 = self.motion.measure(f0.small_gray(), f1.small_gray())
        mean, p95 = mean * self.to_256, p95 * self.to_256
        if mean < filters.min_motion and not self.fixed:
            self.rejected["near_static"] += 1
            return
        self.filled.add((c.stride, c.slot))
        digest = phash(gt.small_gray())
        self.result.samples.append([c.frame0, c.stride, digest])
        for tier, (tw, th) in self.sizes.items():
            if not in_tier(self.share, tier, self.key, c.frame0, c.stride):
                continue
            p0, pg, p1 = (self.writer.write(tier, i, buffer[i]) for i in idx)
            k = min(tw, th) / ANALYSIS_SHORT_SIDE  # px at 256p -> px at the stored size
            self.result.triplets.append(TripletRecord(
                c.frame0, c.stride, self.fps_of[c.stride], tier, tw, th, p0, pg, p1,
                round(mean * k, 4), round(p95 * k, 4), digest))
