"""``dynvfi annotate ...``: interpolate, auto, serve, add-user, stats, export."""

from __future__ import annotations

import argparse
import getpass
import json
import sys
from pathlib import Path

from dynvfi_core.errors import InputError, NothingDoneError
from dynvfi_core.paths import data_root, default_db_url
from dynvfi_core.preflight import output_file


def _common(p: argparse.ArgumentParser, data: bool = True) -> None:
    p.add_argument("--db", default=None, help="SQLAlchemy database URL (default: $DYNVFI_DB or the SQLite "
                   "file under $DYNVFI_HOME)")
    if data:
        p.add_argument("--data-root", type=Path, default=None,
                       help="root of the stored frames (default: $DYNVFI_DATA or $DYNVFI_HOME/data)")


def _db(args: argparse.Namespace) -> str:
    """The database URL, refused unless the database exists: no annotate command creates one."""
    from db.engine import require_database

    return require_database(args.db or default_db_url())


def _root(args: argparse.Namespace) -> Path:
    return args.data_root or data_root()


def cmd_interpolate(args: argparse.Namespace) -> int:
    from annotate import interpolate

    rep = interpolate.run(_db(args), _root(args), args.model, args.batch_size, args.limit, args.device,
                          perceptual=args.perceptual)
    extra = f", {rep.by_others} by a concurrent run" if rep.by_others else ""
    filled = f"; perceptual distance added to {rep.backfilled} stored frames" if rep.backfilled else ""
    aside = f"; {len(rep.set_aside)} set aside (retried by the next run)" if rep.set_aside else ""
    print(f"{rep.model}: interpolated {rep.done} triplets in {rep.seconds:.1f} s "
          f"({rep.skipped_before} already done{extra}){filled}{aside}; perceptual metric: {rep.perceptual_metric or '-'}")
    for tid, reason in sorted(rep.set_aside.items())[:10]:
        print(f"  set aside: triplet {tid}: {reason}")
    if not (rep.done or rep.skipped_before or rep.by_others or rep.backfilled or rep.set_aside):
        raise NothingDoneError("nothing to interpolate: the database holds no triplets (run `dynvfi collect` first)")
    if rep.set_aside and not rep.done and not rep.backfilled and not rep.by_others:
        raise NothingDoneError(f"nothing interpolated: all {len(rep.set_aside)} pending triplet(s) were set aside "
                               f"(e.g. triplet {min(rep.set_aside)}: {rep.set_aside[min(rep.set_aside)]})")
    return 0


def cmd_auto(args: argparse.Namespace) -> int:
    from annotate import auto

    if args.thresholds and args.quantiles:
        raise InputError("give either --thresholds or --quantiles, not both")
    thresholds = auto.parse_thresholds(args.thresholds) if args.thresholds else None
    rep = auto.run(_db(args), args.metric, thresholds, args.model)
    counts = ", ".join(f"{k}: {v}" for k, v in rep.counts.items())
    print(f"{rep.annotator}: cut points {', '.join(f'{t:.4g}' for t in rep.thresholds)}; scores {counts}")
    return 0


def cmd_serve(args: argparse.Namespace) -> int:
    from annotate.app import PageSettings, launch
    from annotate.service import AnnotationService
    from dynvfi_core.preflight import listen_address

    listen_address(args.host, args.port)  # before the service opens the DB and loads anything
    service = AnnotationService(_db(args), _root(args), args.model, args.ratings, args.control_every,
                                min_view_s=args.min_view)
    service.require_files()  # a wrong --data-root must not look like "all done" to the raters
    scheme = "https" if args.ssl_certfile else "http"
    print(f"annotation app on {scheme}://{args.host}:{args.port} (Ctrl-C stops it)", flush=True)
    launch(service, args.host, args.port, block=True, settings=PageSettings(break_after_min=args.break_after),
           certfile=args.ssl_certfile, keyfile=args.ssl_keyfile)
    return 0


def cmd_add_user(args: argparse.Namespace) -> int:
    from annotate.store import add_user, ensure_schema
    from db.engine import session_scope

    if args.password_stdin:
        password = sys.stdin.readline().rstrip("\r\n")
    else:
        password = getpass.getpass(f"password for {args.name}: ")
        if getpass.getpass("repeat: ") != password:
            raise InputError("the two passwords differ")
    ensure_schema(_db(args))
    with session_scope(_db(args)) as s:
        add_user(s, args.name, password, update=args.update)
    print(f"annotator '{args.name}' {'updated' if args.update else 'created'}")
    return 0


def cmd_stats(args: argparse.Namespace) -> int:
    from annotate import stats
    from annotate.report import print_report

    if args.json and args.json != "-":
        output_file(args.json, "--json")
    if args.plot:
        output_file(args.plot, "--plot")
    result = stats.compute(_db(args))
    if args.json:
        text = json.dumps(result, indent=2)
        if args.json == "-":
            print(text)
            return 0
        Path(args.json).write_text(text)
    print_report(result, items=args.items)
    if args.plot:
        from annotate.report import plot

        print(f"plot written to {plot(result, args.plot)}")
    return 0


def cmd_export(args: argparse.Namespace) -> int:
    from annotate import export

    output_file(args.output, "--output")
    df = export.training_table(_db(args), _root(args), args.labels, args.model, args.auto,
                               exclude_rejected=args.exclude_rejected, heavy_model=args.heavy_model)
    path = export.write(df, args.output, args.format)
    print(f"{len(df)} labelled triplets written to {path}")
    if args.lists is not None:
        lists = export.write_split_lists(df, args.lists_split, args.lists)
        print(f"{args.lists_split} split as route-eval lists (one per stride): {args.lists} ({len(lists)} files)")
    return 0


def cmd_controls(args: argparse.Namespace) -> int:
    from annotate import controls

    if args.clear:
        controls.clear_controls(_db(args))
        print("all control marks removed")
    answers: dict[int, int] = {}
    for item in args.set or []:
        tid, eq, score = item.partition("=")
        if not eq or not tid.strip().isdigit() or not score.strip().isdigit():
            raise InputError(f"--set takes TRIPLET_ID=SCORE, got '{item}'")
        answers[int(tid)] = int(score)
    if args.auto:
        answers.update(controls.pick_auto(_db(args), args.auto))
    if answers:
        controls.set_controls(_db(args), answers)
        print(f"{len(answers)} control items: " + ", ".join(f"#{t}={a}" for t, a in sorted(answers.items())))
    return 0


def add_commands(subparsers: argparse._SubParsersAction) -> None:
    from dynvfi_core.routing.defaults import FAST_DEFAULT as DEFAULT_MODEL

    top = subparsers.add_parser("annotate", help="interpolate, pre-score, label (web app), statistics, export")
    sub = top.add_subparsers(dest="annotate_command", metavar="ACTION", required=True)

    p = sub.add_parser("interpolate", help="run the reference model over every triplet not yet done")
    _common(p)
    p.add_argument("--model", default=DEFAULT_MODEL, help="model spec (default %(default)s)")
    p.add_argument("--batch-size", type=int, default=4)
    p.add_argument("--limit", type=int, default=None, help="at most this many triplets")
    p.add_argument("--device", default=None, help="cpu / cuda (default: CUDA when present)")
    p.add_argument("--no-perceptual", dest="perceptual", action="store_false",
                   help="store PSNR/SSIM only and skip the slow perceptual metric (enough for "
                   "`export --heavy-model`; `auto --metric perceptual` then needs a run without this flag)")
    p.set_defaults(func=cmd_interpolate)

    p = sub.add_parser("auto", help="store metric-based 1-4 pre-scores as pseudo-annotator auto:<metric>")
    _common(p, data=False)
    p.add_argument("--metric", choices=["perceptual", "psnr", "ssim"], default="perceptual")
    p.add_argument("--thresholds", default=None, help="three increasing cut points a,b,c")
    p.add_argument("--quantiles", action="store_true", help="cut at the quartiles of the collected set (default)")
    p.add_argument("--model", default=DEFAULT_MODEL)
    p.set_defaults(func=cmd_auto)

    p = sub.add_parser("serve", help="the labelling web app")
    _common(p)
    p.add_argument("--host", default="127.0.0.1")
    p.add_argument("--port", type=int, default=7860)
    p.add_argument("--model", default=DEFAULT_MODEL, help="whose interpolated frames are rated")
    p.add_argument("--ratings", type=int, default=3, help="ratings wanted per item (default %(default)s)")
    p.add_argument("--control-every", type=int, default=10, help="every N-th item is a control item")
    p.add_argument("--min-view", type=float, default=1.0, metavar="SECONDS",
                   help="a score counts only after the item's images have loaded and were visible this long "
                   "(default %(default)s)")
    p.add_argument("--break-after", type=float, default=25.0, metavar="MINUTES",
                   help="remind raters to take a break after this long (0: never; default %(default)s)")
    p.add_argument("--ssl-certfile", type=Path, default=None, help="serve HTTPS with this certificate (PEM)")
    p.add_argument("--ssl-keyfile", type=Path, default=None, help="... and this private key (PEM)")
    p.set_defaults(func=cmd_serve)

    p = sub.add_parser("add-user", help="create an annotator account (bcrypt-hashed password)")
    _common(p, data=False)
    p.add_argument("name")
    p.add_argument("--password-stdin", action="store_true", help="read the password from standard input")
    p.add_argument("--update", action="store_true", help="change the password of an existing account")
    p.set_defaults(func=cmd_add_user)

    p = sub.add_parser("controls", help="mark control items (known answers) mixed into every queue")
    _common(p, data=False)
    p.add_argument("--set", nargs="+", metavar="ID=SCORE", help="these triplets with these answers")
    p.add_argument("--auto", type=int, default=0, metavar="N",
                   help="N triplets on which auto:perceptual/psnr/ssim agree on 1 or 4")
    p.add_argument("--clear", action="store_true", help="remove every control mark first")
    p.set_defaults(func=cmd_controls)

    p = sub.add_parser("stats", help="per-item CI, annotator quality, agreement, BT.500 screening")
    _common(p, data=False)
    p.add_argument("--json", default=None, metavar="PATH", help="also write the numbers as JSON ('-': stdout only)")
    p.add_argument("--items", type=int, default=20, help="rows of the per-item table (default %(default)s)")
    p.add_argument("--plot", default=None, metavar="PNG", help="write score distributions to this image")
    p.set_defaults(func=cmd_stats)

    p = sub.add_parser("export", help="write the training table (CSV or Parquet)")
    _common(p)
    p.add_argument("--format", choices=["csv", "parquet"], default=None, help="default: from the suffix")
    p.add_argument("-o", "--output", required=True)
    p.add_argument("--labels", choices=["human", "auto", "human-over-auto"], default="human-over-auto")
    p.add_argument("--model", default=DEFAULT_MODEL)
    p.add_argument("--auto", default=None, help="pseudo-annotator of the pre-score (default auto:perceptual)")
    p.add_argument("--exclude-rejected", action="store_true",
                   help="leave out the votes of annotators rejected by the BT.500 screening")
    p.add_argument("--heavy-model", default=None, metavar="SPEC",
                   help="add heavy_gain = PSNR of SPEC minus PSNR of --model (target of `train --set target=gain`)")
    p.add_argument("--lists", type=Path, metavar="DIR",
                   help="also write one split as `frame0 gt frame1` list files per stride (route-eval --data DIR)")
    p.add_argument("--lists-split", default="test", choices=["train", "val", "test"],
                   help="the split --lists writes (default %(default)s)")
    p.set_defaults(func=cmd_export)
