"""The ``dynvfi`` command line.

Each area (core, collect, annotate, train) contributes its sub-commands through an
``add_commands(subparsers)`` function in its own ``cli`` module, so areas stay independent.
Every handler returns an exit code; :func:`run` is the one error path: a
:class:`~dynvfi_core.errors.DynVFIError` (or an environment error it stands for) becomes a
one-line ``error:`` message and its exit code.
"""

from __future__ import annotations

import argparse
import importlib
import logging
import os
import sys

from dynvfi_core.errors import as_user_error
from dynvfi_core.progress import LineProgress

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
    if not getattr(args, "func", None):
        parser.print_help()
        return 2
    stderr = sys.stderr
    if not stderr.isatty():  # a log file or pipe: periodic progress lines instead of \r-redraws
        sys.stderr = LineProgress(stderr)
        # tqdm skips redraws closer than 0.1 s, so a fast bar erased on close (leave=False) would
        # never show its final state; LineProgress does the throttling instead. tqdm reads this
        # default when it is first imported, which the CLI has not done yet.
        os.environ.setdefault("TQDM_MININTERVAL", "0")
    logging.basicConfig(level=logging.DEBUG if args.verbose else logging.INFO, format="%(message)s")
    try:
        return run(args)
    finally:
        sys.stderr = stderr


def run(args: argparse.Namespace) -> int:
    """Run a parsed command: the one error path (exit codes in :mod:`dynvfi_core.errors`)."""
    try:
        if getattr(args, "device", None) is not None:  # before any model or data is loaded
            from dynvfi_core.device import check_device

            check_device(args.device)
        return int(args.func(args) or 0)
    except KeyboardInterrupt:
        print("interrupted", file=sys.stderr)
        return 130
    except Exception as exc:
        error = as_user_error(exc)
        if error is None:
            raise
        print(f"error: {error}", file=sys.stderr)
        return error.exit_code


if __name__ == "__main__":
    sys.exit(main())
