"""Routed frame-rate up-conversion of a whole video (``dynvfi interpolate-video``).

Two decoding passes, so memory stays flat however long the video is:

1. scan: decode every frame once, detect scene cuts and score every pair (the threshold for a
   heavy share or a compute budget depends on the scores of the whole video);
2. render: decode again, route each pair through :class:`DynamicVFI` in chunks, and write
   ``factor`` output frames per input frame at ``fps * factor``; audio packets are copied
   through as they are demuxed.

Across a cut nothing is interpolated: the in-between slots repeat the frame nearest in time, so
the cut stays sharp and the duration stays exactly that of the input.

Within each pass the stages overlap (:mod:`dynvfi_core.pipelining`): decoding runs in its own
thread ahead of the scorer (scan) or the models (render), and encoding runs behind the models,
so the wall time approaches the models' own time. The summary gives each stage's own seconds
(overlapping, so they add up to more than the total) and ``model_busy``, the share of the wall
time the models were working. The output file appears only when complete (written under a
temporary name, renamed at the end).
"""

from __future__ import annotations

import logging
import time
from collections.abc import Iterable, Iterator, Sequence
from dataclasses import dataclass
from fractions import Fraction
from pathlib import Path

import numpy as np
from tqdm import tqdm

from dynvfi_core.errors import ConfigError, IncompleteInputError, InputError
from dynvfi_core.models import VFIModel, create
from dynvfi_core.pipelining import BackgroundIterator, BackgroundSink
from dynvfi_core.routing.calibrate import calibrate_budget, threshold_for_share
from dynvfi_core.routing.pipeline import SCORE_STAGE, DynamicVFI, score_pairs
from dynvfi_core.routing.scorers import Scorer, scorer_name
from dynvfi_core.video import DEFAULT_CUT_THRESHOLD, CutDetector, VideoInfo, VideoWriter, decode_frames, demux, probe

log = logging.getLogger(__name__)

#: heavy share used when no routing rule is given
DEFAULT_HEAVY_SHARE = 1 / 3
#: pairs kept from the scan to measure each model's cost for --budget
COST_SAMPLES = 2
#: how many batches (scan) or chunks (render) of frames a stage may run ahead of the next one
QUEUE_FRAMES = 2


def timesteps_for(factor: int) -> list[float]:
    """The in-between times of one input interval: 1/f, 2/f, ..., (f-1)/f."""
    if factor < 2:
        raise ConfigError(f"factor must be at least 2, got {factor}")
    return [k / factor for k in range(1, factor)]


def _with_cuts(frames: Iterable[np.ndarray], det: CutDetector) -> Iterator[np.ndarray]:
    """Feed each frame to the cut detector on its way through (in the decoding thread)."""
    for frame in frames:
        det.push(frame)
        yield frame


@dataclass
class _Scan:
    """What the first pass learns: frame count, cuts, one score per pair, a few sample pairs."""

    n: int
    cuts: list[int]
    scores: np.ndarray
    samples: list[tuple[np.ndarray, np.ndarray]]
    score_s: float  # the scorer's own time
    decode_s: float  # decoding + cut detection (overlapping the scoring)
    wall_s: float


def _scan(path: Path, scorer: Scorer, fps: Fraction, cut_threshold: float, batch_size: int,
          progress: bool) -> _Scan:
    """Decode every frame once (cut detection rides along in the decoding thread) and score
    every pair in this thread, so the scorer works while the next frames are decoded."""
    start = time.perf_counter()
    det = CutDetector(fps, cut_threshold)
    scores: list[np.ndarray] = []
    score_s = 0.0
    buf0: list[np.ndarray] = []
    buf1: list[np.ndarray] = []
    samples: list[tuple[np.ndarray, np.ndarray]] = []
    prev = None

    def flush() -> None:
        nonlocal score_s
        if buf0:
            s, sec = score_pairs(scorer, buf0, buf1, batch_size)
            scores.append(s)
            score_s += sec
            buf0.clear()
            buf1.clear()

    with BackgroundIterator(_with_cuts(decode_frames(path, stop_at_damage=True), det), QUEUE_FRAMES * batch_size,
                            "scan-decode") as decoded:
        for frame in tqdm(decoded, desc="scan (cuts + scores)", unit="frame", disable=not progress):
            if prev is not None:
                buf0.append(prev)
                buf1.append(frame)
                if len(samples) < COST_SAMPLES:
                    samples.append((prev, frame))
                if len(buf0) == batch_size:
                    flush()
            prev = frame
        flush()
    n = det.n
    if n < 2:
        raise InputError(f"{path} has {n} decodable frame(s); interpolation needs at least 2")
    return _Scan(n, det.finish(), np.concatenate(scores), samples, score_s, decoded.busy_s,
                 time.perf_counter() - start)


def measure_cost(model: VFIModel, pairs: Sequence[tuple[np.ndarray, np.ndarray]], timesteps: Sequence[float]) -> float:
    """Seconds per pair (all timesteps) after one untimed warm-up run."""
    a, b = pairs[0]
    for t in timesteps:
        model.interpolate_frames(a, b, t)
    start = time.perf_counter()
    for a, b in pairs:
        for t in timesteps:
            model.interpolate_frames(a, b, t)
    return (time.perf_counter() - start) / len(pairs)


@dataclass
class _Render:
    """Stage times of the render pass: each stage's own work, overlapping the others."""

    model_s: dict[str, float]  # per routed model
    decode_s: float
    encode_s: float
    wall_s: float


def _render(src: Path, has_audio: bool, n: int, chunk: int, ts: Sequence[float], pipe: DynamicVFI,
            scores: np.ndarray, valid: np.ndarray, routes: dict[str, int], writer: VideoWriter,
            progress: bool) -> _Render:
    """Second pass: decode (thread) -> route and interpolate chunks (this thread) -> encode (thread).

    Frames and audio packets reach the writer in exactly the order a one-after-another loop
    would write them (an audio packet before the frames of the chunk it was demuxed in), so the
    output does not depend on how the stages' timing interleaves.
    """
    start = time.perf_counter()
    model_s = {name: 0.0 for name in pipe.stage_names}

    def write(item: tuple[str, object]) -> None:
        kind, payload = item
        if kind == "audio":
            writer.write_audio(payload)
        else:
            writer.write(payload)

    frames: list[np.ndarray] = []
    first = 0  # index of frames[0] in the video
    with BackgroundIterator(demux(src, with_audio=has_audio, stop_at_damage=True), chunk + 1,
                            "render-decode") as decoded, \
            BackgroundSink(write, QUEUE_FRAMES * chunk * (len(ts) + 1), "encode") as encoder, \
            tqdm(total=n - 1, desc=f"interpolate x{len(ts) + 1}", unit="pair", disable=not progress) as bar:

        def render(count: int) -> None:
            """Interpolate pairs first..first+count-1 and queue their frames (not the last one)."""
            idx = [k for k in range(count) if valid[first + k]]
            res = pipe.run([(frames[k], frames[k + 1]) for k in idx], ts, scores=scores[[first + k for k in idx]])
            for stage in pipe.stage_names:
                model_s[stage] += res.timings[stage]
            for name, c in res.route_counts().items():
                routes[name] += c
            inter = dict(zip(idx, res.frames))
            for k in range(count):
                encoder.put(("video", frames[k]))
                for j, t in enumerate(ts):
                    encoder.put(("video", inter[k][j] if k in inter else frames[k] if t < 0.5 else frames[k + 1]))
            bar.update(count)

        for kind, item in decoded:
            if kind == "audio":
                encoder.put(("audio", item))
                continue
            frames.append(item)
            if len(frames) == chunk + 1:
                render(chunk)
                first += chunk
                frames = frames[-1:]
        if first + len(frames) != n:
            raise InputError(f"{src} decoded to {first + len(frames)} frames on the second pass but {n} on the "
                             "first: the file is not stable to decode")
        render(len(frames) - 1)
        for _ in range(len(ts) + 1):  # the last frame holds for a whole input interval, as it did
            encoder.put(("video", frames[-1]))
        encoder.finish()
    return _Render(model_s, decoded.busy_s, encoder.busy_s, time.perf_counter() - start)


def _check_complete(src: Path, info: VideoInfo, n: int, strict: bool) -> list[str]:
    """The warning for a video that decodes to fewer frames than its header declares (logged),
    or :class:`IncompleteInputError` under ``strict``, before any model runs."""
    if info.frames_hint <= n:
        return []
    warning = (f"{src} decoded to {n} of {info.frames_hint} declared frames (truncated or damaged?): "
               f"the output is {float((info.frames_hint - n) / info.fps):.1f} s shorter than declared")
    if strict:
        raise IncompleteInputError(f"{warning}; --strict refuses incomplete inputs")
    log.warning("warning: %s", warning)
    return [warning]


def _routing_rule(scan: _Scan, valid: np.ndarray, fast: VFIModel, heavy: VFIModel, ts: Sequence[float],
                  heavy_share: float | None, threshold: float | None, budget: float | None) -> tuple[float, dict]:
    """The score threshold below which a pair goes to the heavy model, and how it was chosen.

    A budget is calibrated on this video's own scores, with each model's cost measured on the
    first pairs of the scan (pairs across a cut are not interpolated, so they are left out).
    """
    if threshold is not None:
        return threshold, {"rule": "threshold"}
    scores = scan.scores[valid]
    if not valid.any():
        return 0.0, {"rule": "none (every pair spans a cut)"}
    if heavy_share is not None:
        return threshold_for_share(scores, heavy_share), {"rule": "heavy_share", "heavy_share": heavy_share}
    good = [p for p, ok in zip(scan.samples, valid[:len(scan.samples)], strict=False) if ok] or scan.samples
    calib_start = time.perf_counter()
    costs = {"fast": measure_cost(fast, good, ts), "heavy": measure_cost(heavy, good, ts),
             SCORE_STAGE: scan.score_s / (scan.n - 1)}
    cal = calibrate_budget(scores, costs["fast"], costs["heavy"], costs[SCORE_STAGE], budget)
    return cal.threshold, {"rule": "budget", "budget": budget, "expected_time_fraction": cal.time_fraction,
                           "budget_reachable": cal.reachable, "measured_s_per_pair": costs,
                           "calibration_s": time.perf_counter() - calib_start}


def interpolate_video(
    src: str | Path,
    dst: str | Path,
    factor: int,
    scorer: Scorer,
    fast_spec: str,
    heavy_spec: str,
    heavy_share: float | None = None,
    threshold: float | None = None,
    budget: float | None = None,
    device: str | None = None,
    batch_size: int = 4,
    chunk: int = 16,
    cut_threshold: float = DEFAULT_CUT_THRESHOLD,
    progress: bool = True,
    strict: bool = False,
) -> dict:
    """Interpolate ``src`` to ``factor`` x its frame rate into ``dst``; returns a summary dict.

    A video that decodes to fewer frames than its header declares (truncated, damaged) is
    interpolated as far as it decodes, with a warning in the log and in the summary's
    ``warnings``; with ``strict`` it raises :class:`IncompleteInputError` before any model runs.

    Routing rule: exactly one of ``heavy_share``, ``threshold``, ``budget`` (default: heavy
    share 1/3 of the pairs, by score quantile). The budget is calibrated on this video's own
    scores with model costs measured on its first pairs.
    """
    src, dst = Path(src), Path(dst)
    if dst.resolve() == src.resolve():
        raise InputError("output must not overwrite the input video")
    if sum(x is not None for x in (heavy_share, threshold, budget)) > 1:
        raise ConfigError("give at most one of --heavy-share, --threshold, --budget")
    if heavy_share is None and threshold is None and budget is None:
        heavy_share = DEFAULT_HEAVY_SHARE
    ts = timesteps_for(factor)
    info = probe(src)
    wall = time.perf_counter()
    scan = _scan(src, scorer, info.fps, cut_threshold, batch_size, progress)
    n, cuts, scores, score_s = scan.n, scan.cuts, scan.scores, scan.score_s
    warnings = _check_complete(src, info, n, strict)
    crosses = np.zeros(n - 1, dtype=bool)
    crosses[[c - 1 for c in cuts]] = True
    valid = ~crosses
    fast, heavy = create(fast_spec, device), create(heavy_spec, device)
    threshold, rule = _routing_rule(scan, valid, fast, heavy, ts, heavy_share, threshold, budget)
    pipe = DynamicVFI(scorer, [fast, heavy], [threshold], batch_size=batch_size)
    routes = {name: 0 for name in pipe.stage_names} | {"cut (duplicated)": int(crosses.sum())}
    out_fps = info.fps * factor
    writer = VideoWriter(dst, info.width, info.height, out_fps, audio_from=src if info.has_audio else None)
    with writer:
        render = _render(src, info.has_audio, n, chunk, ts, pipe, scores, valid, routes, writer, progress)
    if writer.padded != writer.size:
        warnings.append(f"{info.width}x{info.height} has an odd side: padded to {writer.padded[0]}x"
                        f"{writer.padded[1]} (one repeated edge row/column) for yuv420p, which every player decodes")
    total_s = time.perf_counter() - wall
    model_s = score_s + sum(render.model_s.values())
    calibration = {"cost measurement (--budget)": rule["calibration_s"]} if "calibration_s" in rule else {}
    timings = {"decode + cut detection (scan)": scan.decode_s, SCORE_STAGE: score_s, **calibration,
               **render.model_s, "decode (render)": render.decode_s, "encode": render.encode_s}
    return {
        "input": str(src), "output": str(dst), "factor": factor,
        "fps_in": float(info.fps), "fps_out": float(out_fps),
        "frames_in": n, "frames_declared": info.frames_hint, "frames_out": writer.n, "cuts": cuts,
        "warnings": warnings,
        "interpolated_frames": int(valid.sum()) * (factor - 1),
        "audio": info.has_audio, "scorer": scorer_name(scorer),
        "threshold": float(threshold), **rule,
        "routes": routes, "seconds": timings, "total_s": total_s,
        "pass_s": {"scan": scan.wall_s, "render": render.wall_s},
        # the share of the wall time the models (scorer included) were working: the rest is
        # decoding/encoding they waited for, and set-up (model loading, calibration)
        "model_busy": model_s / total_s,
    }
