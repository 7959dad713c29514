"""``make bench``: speed and memory of every model and pipeline stage, as JSON + Markdown.

Each model row runs in a fresh spawned process so that its peak resident memory is its own
(CPU) and one model's caches do not speed up the next. The heavy models whose official weights
users download by hand (VFIformer, EMA-VFI) are timed with their real weights when installed
and otherwise with seeded random weights (same network, hence the same cost; the row's name
says "random weights"). Rows from other areas (DPA, collection, annotation app) are added when
those modules are installed; a row that fails is recorded with its error instead of aborting
the whole benchmark.
"""

from __future__ import annotations

import importlib
import json
import multiprocessing as mp
import os
import platform
import resource
import time
import traceback
from collections.abc import Callable
from pathlib import Path

import torch

RESOLUTIONS = ((256, 448), (720, 1280))
MODELS = ("blend", "rife-v4.25", "rife-hdv3", "tta(rife-v4.25)", "ensemble(rife-v4.25,rife-hdv3)")
#: hand-supplied heavy models: (spec, weight-file key, random-weight factory, its options)
HAND_SUPPLIED = (
    ("vfiformer", "vfiformer", "dynvfi_core.models.vfiformer:random_weight_model", {}),
    ("ema-vfi", "ema-vfi", "dynvfi_core.models.ema_vfi:random_weight_model", {}),
    ("ema-vfi:variant=small", "ema-vfi-small", "dynvfi_core.models.ema_vfi:random_weight_model", {"variant": "small"}),
)


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


def run_bench(out: Path, quick: bool = False) -> dict:
    """Measure everything, write ``out/results.json`` and ``out/results.md``, return the dict."""
    from tqdm import tqdm

    # children read this at OpenMP start-up: with the default active spin-waiting, 2 threads on
    # a 2-core machine that is doing anything else slow down by an order of magnitude
    os.environ.setdefault("OMP_WAIT_POLICY", "PASSIVE")
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
    result = {
        "machine": {"platform": platform.platform(), "cpu_threads": 2, "torch": torch.__version__,
                    "cuda": torch.cuda.get_device_name(0) if torch.cuda.is_available() else None},
        "rows": rows,
    }
    out.mkdir(parents=True, exist_ok=True)
    (out / "results.json").write_text(json.dumps(result, indent=1))
    (out / "results.md").write_text(to_markdown(result))
    print((out / "results.md").read_text())
    return result


def to_markdown(result: dict) -> str:
    lines = ["# DynVFI benchmark", "", f"Machine: {result['machine']}", "",
             "| name | resolution | ms/pair | peak MB | other |", "|---|---|---|---|---|"]
    for r in result["rows"]:
        other = {k: v for k, v in r.items() if k not in ("name", "resolution", "ms_per_pair", "peak_mb")}
        ms = f"{r['ms_per_pair']:.1f}" if isinstance(r.get("ms_per_pair"), float) else ""
        peak = f"{r['peak_mb']:.0f}" if isinstance(r.get("peak_mb"), float) else ""
        extras = ", ".join(f"{k}={v:.3g}" if isinstance(v, float) else f"{k}={v}" for k, v in other.items())
        lines.append(f"| {r['name']} | {r.get('resolution', '')} | {ms} | {peak} | {extras} |")
    return "\n".join(lines) + "\n"
