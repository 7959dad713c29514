"""The routing sub-commands: ``dynvfi route-eval``, ``dynvfi heavy-compare`` and ``dynvfi interpolate-video``."""

from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path

from rich.console import Console
from rich.table import Table

from dynvfi_core import preflight
from dynvfi_core.errors import ConfigError
from dynvfi_core.routing.defaults import BUILTIN_SCORER_NAMES, FAST_DEFAULT, HEAVY_DEFAULT

# the routing modules (torch, cv2, pandas, matplotlib) are imported inside the commands, so
# that `dynvfi -h` stays fast

FALLBACK_NOTE = ("note: no --dpa given; routing by the motion fallback scorer (mean DIS optical-flow "
                 "magnitude), not by the trained difficulty model")


def _add_rule(p: argparse.ArgumentParser) -> None:
    g = p.add_mutually_exclusive_group()
    g.add_argument("--heavy-share", type=float, metavar="F",
                   help="send this share of pairs (lowest scores) to the heavy model (default 1/3)")
    g.add_argument("--threshold", type=float, metavar="T", help="pairs scoring below T go to the heavy model")
    g.add_argument("--budget", type=float, metavar="B",
                   help="target time as a fraction of heavy-only time (threshold calibrated on measured costs)")


def _add_models(p: argparse.ArgumentParser) -> None:
    p.add_argument("--dpa", type=Path, metavar="CKPT", help="trained VFI-DPA checkpoint (default: motion fallback)")
    p.add_argument("--fast", default=FAST_DEFAULT, metavar="SPEC", help=f"fast model spec (default {FAST_DEFAULT})")
    p.add_argument("--heavy", default=HEAVY_DEFAULT, metavar="SPEC",
                   help=f"heavy model spec (default {HEAVY_DEFAULT}, chosen by measurement, see README)")
    p.add_argument("--device", help="cpu, cuda, cuda:1 ... (default: cuda when available)")


def add_commands(sub: argparse._SubParsersAction) -> None:
    e = sub.add_parser("route-eval", help="fast vs heavy vs routed vs random vs oracle routing on triplets")
    src = e.add_mutually_exclusive_group(required=True)
    src.add_argument("--data", type=Path, metavar="PATH", help="triplet folder or list file (any eval-triplets layout)")
    src.add_argument("--snu-film", type=Path, metavar="ROOT", help="SNU-FILM root (frames), evaluated per difficulty")
    e.add_argument("--snu-film-lists", type=Path, metavar="DIR",
                   help="folder with test-{easy,medium,hard,extreme}.txt (default: searched under ROOT)")
    e.add_argument("--subsets", help="comma-separated SNU-FILM subsets (default: all four)")
    e.add_argument("--root", type=Path, help="root that relative paths in a --data list file are resolved against")
    e.add_argument("--group-by", choices=("subset", "motion"), default="subset",
                   help="group results by the layout's subset key or by motion terciles")
    e.add_argument("--limit", type=int, metavar="N", help="evaluate only the first N triplets")
    e.add_argument("--out", type=Path, default=Path("route-eval"), help="output folder (default: route-eval/)")
    e.add_argument("--seed", type=int, default=0, help="seed of the random-routing draws")
    e.add_argument("--calibrate-on", type=Path, metavar="PATH",
                   help="place the --heavy-share / --budget threshold on this validation triplet set "
                        "(any eval-triplets layout) instead of on the evaluated pairs")
    e.add_argument("--compare", action="append", default=[], metavar="NAME|CKPT",
                   help="also route by this scorer at the same heavy share, on the same model outputs: "
                        f"a built-in ({', '.join(BUILTIN_SCORER_NAMES)}) or a second DPA checkpoint, "
                        "e.g. a gain-trained one (repeatable)")
    e.add_argument("--perceptual", action="store_true",
                   help="also rank the scorers against the fast model's perceptual error (LPIPS family; "
                        "about 0.2 s per 256p pair on CPU)")
    e.add_argument("--cost-repeats", type=int, default=5, metavar="N",
                   help="runs per frame size of the calm cost pass that the time-aim verdict uses "
                        "(median; default %(default)s; 0 = judge on the live timings)")
    _add_models(e)
    _add_rule(e)
    _add_strict(e)
    e.set_defaults(func=cmd_route_eval)

    h = sub.add_parser("heavy-compare", help="which heavy model should the router use for this footage?")
    h.add_argument("--data", type=Path, required=True, metavar="PATH",
                   help="triplet folder or list file (any eval-triplets layout)")
    h.add_argument("--root", type=Path, help="root that relative paths in a --data list file are resolved against")
    h.add_argument("--limit", type=int, metavar="N", help="evaluate only the first N triplets")
    h.add_argument("--fast", default=FAST_DEFAULT, metavar="SPEC", help=f"fast model spec (default {FAST_DEFAULT})")
    h.add_argument("--candidate", action="append", metavar="SPEC",
                   help="heavy candidate spec (repeatable; default: the real-weight options of HEAVY_MODEL.md, "
                        "plus vfiformer, ema-vfi and ema-vfi:variant=small where their weight files are installed)")
    h.add_argument("--dpa", type=Path, metavar="CKPT", help="also route by this trained VFI-DPA checkpoint")
    h.add_argument("--heavy-share", type=float, default=1 / 3, metavar="F",
                   help="share of pairs the routers send to the heavy model (default 1/3)")
    h.add_argument("--seed", type=int, default=0, help="seed of the random-routing draws")
    h.add_argument("--device", help="cpu, cuda, cuda:1 ... (default: cuda when available)")
    h.add_argument("--out", type=Path, default=Path("heavy-compare"), help="output folder (default: heavy-compare/)")
    _add_strict(h)
    h.set_defaults(func=cmd_heavy_compare, snu_film=None, snu_film_lists=None, subsets=None)

    v = sub.add_parser("interpolate-video", help="routed frame-rate up-conversion of a video (cuts kept sharp)")
    v.add_argument("input", type=Path)
    v.add_argument("-o", "--output", type=Path, required=True, help="output video (.mp4, .mkv, .mov, .webm, .avi)")
    v.add_argument("--factor", type=int, choices=(2, 4), default=2, help="frame-rate multiplier (default 2)")
    v.add_argument("--batch-size", type=int, default=4)
    v.add_argument("--cut-threshold", type=float, default=27.0, help="PySceneDetect content threshold (default 27)")
    v.add_argument("--json", type=Path, help="also write the summary to this JSON file")
    _add_models(v)
    _add_rule(v)
    _add_strict(v, "a video that decodes to fewer frames than it declares")
    v.set_defaults(func=cmd_interpolate_video)


def _add_strict(p: argparse.ArgumentParser, what: str = "incomplete triplets") -> None:
    p.add_argument("--strict", action="store_true",
                   help=f"refuse (exit 5, before any model runs) {what} instead of skipping with a warning")


def _console() -> Console:
    """A console that does not squeeze the wide tables to 80 columns when output goes to a file/pipe."""
    return Console() if sys.stdout.isatty() else Console(width=140)


def _scorer(args: argparse.Namespace, console: Console) -> object:
    from dynvfi_core.routing.scorers import MotionScorer, load_scorer

    scorer = load_scorer(args.dpa, args.device)
    if isinstance(scorer, MotionScorer):
        console.print(FALLBACK_NOTE, style="yellow")
    return scorer


def compare_scorers(values: list[str], device: str | None = None) -> dict[str, object]:
    """``--compare`` values as named scorers: built-in names, or DPA checkpoints (``*.safetensors``).

    A checkpoint is named by its scorer (``dpa(FILE)`` or ``dpa-gain(FILE)``) plus its folder, so
    two ``best.safetensors`` from different runs stay apart in the table.
    """
    from dynvfi_core.routing.scorers import BUILTIN_SCORERS, load_scorer, scorer_name

    out: dict[str, object] = {}
    for value in values:
        if value in BUILTIN_SCORERS:
            out[value] = BUILTIN_SCORERS[value]()
        elif value.endswith(".safetensors"):
            scorer = load_scorer(Path(value), device)
            out[f"{scorer_name(scorer)}@{Path(value).parent.name}"] = scorer
        else:
            raise ConfigError(f"--compare takes {', '.join(sorted(BUILTIN_SCORERS))} or a DPA checkpoint "
                              f"(.safetensors), got {value!r}")
    return out


def _triplets(args: argparse.Namespace) -> tuple[list, list]:
    """The triplets to evaluate and what discovery skipped (incomplete folders, dangling entries)."""
    from dynvfi_core.triplets import discover_all

    skipped: list = []
    if args.snu_film:
        from dynvfi_core.routing.snufilm import SUBSETS, load_snu_film

        subsets = tuple(s.strip().lower() for s in args.subsets.split(",")) if args.subsets else SUBSETS
        found = load_snu_film(args.snu_film, args.snu_film_lists, subsets)
    else:
        if args.subsets or args.snu_film_lists:
            raise ConfigError("--subsets and --snu-film-lists apply to --snu-film only")
        found, skipped = discover_all(args.data, args.root, strict=args.strict)
    if args.limit is not None:
        if args.limit < 1:
            raise ConfigError(f"--limit must be at least 1, got {args.limit}")
        found = found[: args.limit]
    return found, skipped


def _calibration_triplets(args: argparse.Namespace) -> list | None:
    """The ``--calibrate-on`` triplets (None without it); only a share or budget rule uses them."""
    if args.calibrate_on is None:
        return None
    if args.threshold is not None:
        raise ConfigError("--calibrate-on places a --heavy-share or --budget threshold; a fixed --threshold needs none")
    from dynvfi_core.triplets import discover

    return discover(args.calibrate_on, args.root, strict=args.strict)


def cmd_route_eval(args: argparse.Namespace) -> int:
    from dynvfi_core.routing.evaluate import route_eval
    from dynvfi_core.routing.report import print_route_table

    preflight.output_dir(args.out, "--out")
    console = _console()
    triplets, skipped = _triplets(args)
    scorer = _scorer(args, console)
    share = args.heavy_share if args.heavy_share is not None else (
        1 / 3 if args.threshold is None and args.budget is None else None)
    result = route_eval(triplets, scorer, args.fast, args.heavy, heavy_share=share, out_dir=args.out,
                        seed=args.seed, threshold=args.threshold, budget=args.budget, group_by=args.group_by,
                        device=args.device, compare=compare_scorers(args.compare, args.device),
                        calibrate_on=_calibration_triplets(args), perceptual=args.perceptual,
                        cost_repeats=args.cost_repeats, skipped=skipped)
    print_route_table(result, console)
    console.print(f"PSNR in dB; time/heavy includes scoring. Wrote {result['files']['markdown']}, "
                  f"{result['files']['json']} and the quality-cost curve {result['files']['plot']}")
    return 0


def cmd_heavy_compare(args: argparse.Namespace) -> int:
    from dynvfi_core.routing.heavy_study import candidate_list, default_candidates, heavy_compare, print_tables

    from dynvfi_core.routing.scorers import load_scorer

    preflight.output_dir(args.out, "--out")
    console = _console()
    candidates = candidate_list(args.fast, args.candidate or default_candidates())  # fails before any model loads
    triplets, _ = _triplets(args)
    dpa = load_scorer(args.dpa, args.device) if args.dpa is not None else None
    result = heavy_compare(triplets, args.fast, candidates, args.out, dpa=dpa, heavy_share=args.heavy_share,
                           device=args.device, seed=args.seed)
    print_tables(result, console)
    console.print(f"Wrote {result['files']['markdown']}, {result['files']['json']}, {result['files']['pairs']} "
                  f"and the per-pair gain plot {result['files']['plot']}")
    return 0


def cmd_interpolate_video(args: argparse.Namespace) -> int:
    from dynvfi_core.routing.scorers import scorer_name
    from dynvfi_core.routing.video_job import interpolate_video
    from dynvfi_core.video import check_video_suffix, probe

    check_video_suffix(preflight.output_file(args.output, "--output"))
    if args.json:
        preflight.output_file(args.json, "--json")
    console = _console()
    probe(args.input)  # a bad input fails here, before any model or DPA is loaded
    scorer = _scorer(args, console)
    s = interpolate_video(args.input, args.output, args.factor, scorer, args.fast, args.heavy,
                          heavy_share=args.heavy_share, threshold=args.threshold, budget=args.budget,
                          device=args.device, batch_size=args.batch_size, cut_threshold=args.cut_threshold,
                          strict=args.strict)
    console.print(f"{s['input']} ({s['frames_in']} frames, {s['fps_in']:.3f} fps) -> {s['output']} "
                  f"({s['frames_out']} frames, {s['fps_out']:.3f} fps{', audio kept' if s['audio'] else ''})")
    console.print(f"scene cuts: {len(s['cuts'])} (frames {s['cuts'][:10]}{' ...' if len(s['cuts']) > 10 else ''}); "
                  f"scorer {scorer_name(scorer)}, rule {s['rule']}, threshold {s['threshold']:.4f}")
    routes = Table(title="routes")
    routes.add_column("route")
    routes.add_column("pairs", justify="right")
    for name, n in s["routes"].items():
        routes.add_row(name, str(n))
    stages = Table(title="time per stage")
    stages.add_column("stage")
    stages.add_column("seconds", justify="right")
    for name, sec in s["seconds"].items():
        stages.add_row(f"{name} ({s['scorer']})" if name == "dpa" else name, f"{sec:.2f}")
    stages.add_row("total (wall; the stages overlap)", f"{s['total_s']:.2f}")
    console.print(routes, stages)
    console.print(f"models busy {100 * s['model_busy']:.0f}% of the wall time")
    for warning in s["warnings"]:
        console.print(f"warning: {warning}", style="yellow")
    if args.json:
        args.json.parent.mkdir(parents=True, exist_ok=True)
        args.json.write_text(json.dumps(s, indent=1))
    return 0
