"""Cost of the DPA on CPU (2 threads, like ``make bench``), next to rife-v4.25.

The machine running the benchmark is often shared, so one slow run says little. Every number
here is the *median* of alternating repetitions, and the DPA-vs-RIFE ratio is measured with
both models interleaved in one process, so background load hits both equally. Because heavy
contention still distorts wall time (many small Swin ops suffer more than RIFE's large convs),
:func:`compare_with_rife` also reports the ratio of *process CPU time* on one thread, which
other processes cannot inflate.
"""

from __future__ import annotations

import statistics
import time
from collections.abc import Callable

import numpy as np
import torch

from dynvfi_core.dpa.config import ModelConfig
from dynvfi_core.dpa.inference import DPA
from dynvfi_core.errors import DynVFIError

RESOLUTIONS = ((256, 256), (256, 448), (720, 1280))
#: the DPA variants of the bench: the paper's network and the motion-prior one, without and with
#: the full-resolution pair statistics (train/configs/corpus.yaml)
VARIANTS = {"dpa": ModelConfig(), "rife-prior": ModelConfig(arch="rife-prior", view=(128, 128)),
            "rife-prior+stats": ModelConfig(arch="rife-prior", view=(128, 128), prior_stats=True)}


def _frames(resolution: tuple[int, int]) -> tuple[np.ndarray, np.ndarray]:
    rng = np.random.default_rng(0)
    a = rng.integers(0, 256, size=(*resolution, 3), dtype=np.uint8)
    return a, np.roll(a, shift=(3, 5), axis=(0, 1))


def _median_ms(fns: dict[str, Callable[[], object]], reps: int,
               clock: Callable[[], float] = time.perf_counter) -> dict[str, float]:
    """Median time of each callable on ``clock``, repetitions interleaved across callables."""
    for fn in fns.values():  # warm-up: allocator, kernels, attention masks
        fn()
    times: dict[str, list[float]] = {k: [] for k in fns}
    for _ in range(reps):
        for name, fn in fns.items():
            t = clock()
            fn()
            times[name].append(1000 * (clock() - t))
    return {k: statistics.median(v) for k, v in times.items()}


class _Threads:
    """Temporarily pin torch to ``n`` CPU threads (the benchmark's fixed budget)."""

    def __init__(self, n: int) -> None:
        self.n, self.old = n, torch.get_num_threads()

    def __enter__(self) -> None:
        torch.set_num_threads(self.n)

    def __exit__(self, *exc: object) -> None:
        torch.set_num_threads(self.old)


def ms_per_pair(resolution: tuple[int, int] = (256, 448), reps: int = 10, cfg: ModelConfig | None = None) -> float:
    """DPA milliseconds per pair on CPU with 2 threads, for frames of ``resolution`` (H, W).

    Includes the resize to the view and normalisation: the full cost the router pays.
    """
    a, b = _frames(resolution)
    dpa = DPA.untrained(cfg, device="cpu")
    with _Threads(2):
        return _median_ms({"dpa": lambda: dpa.score(a, b)}, reps)["dpa"]


def compare_with_rife(resolution: tuple[int, int] = (256, 448), reps: int = 10,
                      cfg: ModelConfig | None = None) -> dict[str, float]:
    """DPA and rife-v4.25 per pair, interleaved: wall ms on 2 threads and CPU ms on 1 thread.

    The target is ``ratio`` (2-thread wall time) <= 0.25; ``ratio_cpu_1thread`` is the same
    comparison immune to other processes on the machine. Both run on their default backend
    (:mod:`dynvfi_core.backends`: OpenVINO where installed), as a user's router would; the
    result names the backends, since the ratio depends on them.
    """
    from dynvfi_core.models import create

    a, b = _frames(resolution)
    dpa = DPA.untrained(cfg, device="cpu")
    rife = create("rife-v4.25", device="cpu")
    fns = {"dpa": lambda: dpa.score(a, b), "rife": lambda: rife.interpolate_frames(a, b, 0.5)}
    with _Threads(2):
        wall = _median_ms(fns, reps)
    with _Threads(1):
        cpu = _median_ms(fns, reps, clock=time.process_time)
    return {"dpa_backend": dpa.backend, "rife_backend": rife.backend,
            "dpa_ms": wall["dpa"], "rife_ms": wall["rife"], "ratio": wall["dpa"] / wall["rife"],
            "dpa_cpu_ms_1thread": cpu["dpa"], "rife_cpu_ms_1thread": cpu["rife"],
            "ratio_cpu_1thread": cpu["dpa"] / cpu["rife"]}


def compare_deform(shape: tuple[int, int, int, int] = (2, 80, 20, 20), out_channels: int = 64,
                   reps: int = 20) -> dict[str, float]:
    """Both deformable-conv kernels at the DPA's stage-2 shape (a pair at the 160x160 view).

    Reports forward-only (inference) and forward+backward (training) times: wall ms on 2 threads
    and CPU ms on 1 thread, plus the largest output difference between the two kernels.
    """
    from dynvfi_core.dpa.deform import DeformConv3x3

    torch.manual_seed(0)
    x = torch.randn(shape, requires_grad=True)
    guide = torch.randn(shape[0], out_channels, *shape[2:])
    mods = {impl: DeformConv3x3(shape[1], out_channels, out_channels, impl=impl) for impl in ("native", "torchvision")}
    torch.nn.init.normal_(mods["native"].offset.weight, std=0.1)
    mods["torchvision"].load_state_dict(mods["native"].state_dict())

    def forward(mod: torch.nn.Module) -> Callable[[], None]:
        def run() -> None:
            with torch.no_grad():
                mod(x, guide)
        return run

    def train_step(mod: torch.nn.Module) -> Callable[[], None]:
        return lambda: mod(x, guide).square().mean().backward()

    result: dict[str, float] = {}
    for label, make in (("fwd", forward), ("fwd_bwd", train_step)):
        fns = {k: make(m) for k, m in mods.items()}
        with _Threads(2):
            wall = _median_ms(fns, reps)
        with _Threads(1):
            cpu = _median_ms(fns, reps, clock=time.process_time)
        for impl in mods:
            result[f"{impl}_{label}_ms"] = wall[impl]
            result[f"{impl}_{label}_cpu_ms_1thread"] = cpu[impl]
    with torch.no_grad():
        result["max_abs_diff"] = (mods["native"](x, guide) - mods["torchvision"](x, guide)).abs().max().item()
    return result


def ms_per_pair_row(quick: bool = False) -> dict:
    """Rows for ``make bench`` (``dynvfi_core.bench``): each DPA variant next to rife-v4.25 at each size."""
    rows = []
    for arch, cfg in VARIANTS.items():
        try:
            dpa = DPA.untrained(cfg, device="cpu")
        except DynVFIError as exc:  # the motion prior needs RIFE's weights
            rows.append({"name": arch, "error": str(exc).splitlines()[0]})
            continue
        for res in RESOLUTIONS[:1] if quick else RESOLUTIONS:
            try:
                r = compare_with_rife(res, reps=3 if quick else 10, cfg=cfg)
            except DynVFIError as exc:  # RIFE weights missing: still report the DPA alone
                r = {"dpa_ms": ms_per_pair(res, reps=3 if quick else 10, cfg=cfg),
                     "rife_error": str(exc).splitlines()[0]}
            rows.append({
                "name": f"{arch} (view {cfg.view[1]}x{cfg.view[0]})",
                "resolution": f"{res[1]}x{res[0]}",
                "ms_per_pair": r.pop("dpa_ms"),
                "params_M": dpa.params / 1e6,
                "params_total_M": sum(p.numel() for p in dpa.model.parameters()) / 1e6,
                **{("rife_v4.25_ms_same_run" if k == "rife_ms" else
                    "dpa_over_rife" if k == "ratio" else k): v for k, v in r.items()},
            })
    return {"rows": rows}
