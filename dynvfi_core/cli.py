"""The ``dynvfi`` command line.

Each area (core, collect, annotate, train) contributes its sub-commands through an
``add_commands(subparsers)`` function in its own ``cli`` module, so areas stay independent.
Every handler returns an exit code; :class:`DynVFIError` becomes a one-line ``error:`` message.
"""

from __future__ import annotations

import argparse
import importlib
import logging
import os
import sys

from dynvfi_core.errors import DynVFIError

#: modules that provide ``add_commands(subparsers)``; an area whose module is absent is skipped
AREAS = (
    "dynvfi_core.commands",
    "collect.cli",
    "annotate.cli",
    "train.cli",
    "dynvfi_core.route_cli",
    "dynvfi_core.demo",
)


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="dynvfi",
        description="Difficulty-aware dynamic video frame interpolation toolkit.",
    )
    parser.add_argument("-v", "--verbose", action="store_true", help="log debug messages")
    sub = parser.add_subparsers(dest="command", metavar="COMMAND")
    for name in AREAS:
        try:
            module = importlib.import_module(name)
        except ModuleNotFoundError as exc:
            if exc.name == name:
                continue
            raise
        module.add_commands(sub)
    return parser


def main(argv: list[str] | None = None) -> int:
    # timm and friends must fail fast instead of retrying a hub that cannot be reached
    os.environ.setdefault("HF_HUB_OFFLINE", "1")
    parser = build_parser()
    args = parser.parse_args(argv)
    logging.basicConfig(level=logging.DEBUG if args.verbose else logging.INFO, format="%(message)s")
    if not getattr(args, "func", None):
        parser.print_help()
        return 2
    try:
        return int(args.func(args) or 0)
    except DynVFIError as exc:
        print(f"error: {exc}", file=sys.stderr)
        return exc.exit_code
    except KeyboardInterrupt:
        print("interrupted", file=sys.stderr)
        return 130


if __name__ == "__main__":
    sys.exit(main())
