"""``dynvfi train`` and ``dynvfi dpa {eval,ablate,compare,score}``.

``python -m train.cli train --config ...`` is the same entry point, for ``torchrun``.
"""

from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path

from dynvfi_core.errors import InputError
from dynvfi_core.preflight import output_dir


def _data_args(p: argparse.ArgumentParser) -> None:
    p.add_argument("--table", help="training table (.csv/.parquet) from `dynvfi annotate export`")
    p.add_argument("--db", help="database URL to export the table from ('default' = DynVFI's DB)")
    p.add_argument("--label-source", choices=("human", "auto", "human-over-auto"),
                   help="labels to use with --db (default from the config)")
    p.add_argument("--set", dest="overrides", action="append", default=[], metavar="KEY=VALUE",
                   help="override a config value, e.g. --set epochs=5 --set model.view=[224,224]")


def _config(args: argparse.Namespace):
    from train.config import load_config

    # paths and URLs are quoted: an override value is YAML, where a folder named 2026 or "on"
    # would otherwise become a number or a boolean
    overrides = list(args.overrides)
    if args.table:
        overrides.append(f"data.table={json.dumps(str(args.table))}")
    if args.db:
        overrides += ["data.table=null", f"data.db={json.dumps(str(args.db))}"]
    if args.label_source:
        overrides.append(f"data.label_source={json.dumps(str(args.label_source))}")
    if getattr(args, "out", None):
        overrides.append(f"out_dir={json.dumps(str(args.out))}")
    return load_config(args.config, overrides)


def cmd_train(args: argparse.Namespace) -> int:
    from train.trainer import train

    cfg = _config(args)
    summary = train(cfg, resume=args.resume, stop_at=args.stop_at)
    print(json.dumps({k: v for k, v in summary.items() if k != "test"}, indent=1, default=str))
    if "test" in summary:
        from train.evaluate import format_table

        print(f"test split, best checkpoint ({cfg.out_dir}/test):")
        print(format_table(summary["test"]))
    return 0


def cmd_eval(args: argparse.Namespace) -> int:
    from dynvfi_core.dpa.factory import load_model, read_metadata
    from dynvfi_core.device import pick_device
    from train.config import DataConfig
    from train.data import apply_target, load_table, split
    from train.evaluate import evaluate, format_table

    out = Path(args.out) if args.out else Path(args.checkpoint).with_suffix("").parent / f"eval_{args.split}"
    output_dir(out, "--out")  # before the model and the table are loaded
    device = pick_device(args.device)
    model, cfg, _ = load_model(args.checkpoint, device)
    meta = read_metadata(args.checkpoint)
    data = DataConfig(table=args.table, db=args.db, label_source=args.label_source or "human-over-auto")
    # a gain checkpoint is scored against the same target it was trained on
    table = apply_target(load_table(data), meta.get("target", "difficulty"), float(meta.get("gain_scale", 0.5)))
    df = split(table, args.split) if args.split != "all" else table
    if df.empty:
        raise InputError(f"no rows in split '{args.split}'")
    result = evaluate(model, cfg, df, out, device, args.batch_size, timing=not args.no_timing,
                      name=Path(args.checkpoint).name)
    print(format_table(result))
    print(f"written: {out / 'eval.json'}, {out / 'confusion.png'}")
    return 0


def cmd_ablate(args: argparse.Namespace) -> int:
    from train.ablate import VARIANTS, run_ablation

    cfg = _config(args)
    names = None
    if args.variants:
        keys = {k.lower(): k for k in VARIANTS}
        names = [keys.get(v.strip().lower(), v.strip()) for v in args.variants.split(",")]
    out = output_dir(args.out or Path(cfg.out_dir) / "ablation", "--out")
    run_ablation(cfg, out, names)
    print((out / "table2.md").read_text())
    return 0


def cmd_compare(args: argparse.Namespace) -> int:
    from train.compare import compare, to_markdown, write
    from train.config import DataConfig
    from train.data import load_table

    out = output_dir(args.out, "--out")
    dpas = {}
    for item in args.dpa:
        name, _, path = item.rpartition("=")
        path = Path(path)
        if not path.is_file():
            raise InputError(f"--dpa {item}: no checkpoint at {path}")
        dpas[name or path.parent.name] = path
    labels = args.label_source or "human-over-auto"
    table = load_table(DataConfig(table=args.table, db=args.db, label_source=labels))
    fit_table = load_table(DataConfig(table=args.calibrate_table, label_source=labels)) if args.calibrate_table else None
    result = compare(table, dpas, args.heuristic, args.split, args.calibrate_on, args.device, fit_table)
    print(to_markdown(result))
    print("written: " + ", ".join(str(p) for p in write(result, out)))
    return 0


def cmd_score(args: argparse.Namespace) -> int:
    from dynvfi_core.dpa import DPA
    from dynvfi_core.imageio import read_image

    dpa = DPA.load(args.checkpoint, args.device)
    if len(args.frames) % 2:
        raise InputError("give frames in pairs: FRAME0 FRAME1 [FRAME0 FRAME1 ...]")
    pairs = list(zip(args.frames[::2], args.frames[1::2]))
    scores = dpa.score_batch([read_image(a) for a, _ in pairs], [read_image(b) for _, b in pairs])
    for (a, b), s in zip(pairs, scores):
        print(f"{s:.4f}\tlevel {DPA.to_level(float(s))}\t{a}\t{b}")
    return 0


def add_commands(subparsers: argparse._SubParsersAction) -> None:
    """Register ``train`` and ``dpa`` on the ``dynvfi`` parser."""
    p = subparsers.add_parser("train", help="train the VFI-DPA difficulty model")
    p.add_argument("--config", default="demo", help="YAML file, or a bundled name: demo (CPU, minutes), default (full)")
    p.add_argument("--out", help="run directory (overrides out_dir)")
    p.add_argument("--resume", action="store_true", help="continue the run in the output directory")
    p.add_argument("--stop-at", type=int, help="stop (resumably) after this global step")
    _data_args(p)
    p.set_defaults(func=cmd_train)

    dpa = subparsers.add_parser("dpa", help="evaluate, ablate and run the DPA")
    sub = dpa.add_subparsers(dest="dpa_command", metavar="ACTION", required=True)
    e = sub.add_parser("eval", help="accuracy@0.125/0.25, MAE, SRCC, PLCC, confusion, params, speed")
    e.add_argument("--checkpoint", required=True, help="a .safetensors file written by `dynvfi train`")
    e.add_argument("--table")
    e.add_argument("--db")
    e.add_argument("--label-source", choices=("human", "auto", "human-over-auto"))
    e.add_argument("--split", default="test", choices=("train", "val", "test", "all"))
    e.add_argument("--out", help="folder for eval.json, confusion.png, predictions.csv")
    e.add_argument("--batch-size", type=int, default=32)
    e.add_argument("--device")
    e.add_argument("--no-timing", action="store_true", help="skip the ms/pair measurement")
    e.set_defaults(func=cmd_eval)

    a = sub.add_parser("ablate", help="train + evaluate the Table II variants, write a Markdown table")
    a.add_argument("--config", default="demo")
    a.add_argument("--out", help="output folder (default: <out_dir>/ablation)")
    a.add_argument("--variants", help="comma-separated subset of the Table II rows: AHIQ, "
                   "lightweight Swin backbone only, + PixelShuffle, + image difference, "
                   "+ image difference + aux loss, full VFI-DPA")
    _data_args(a)
    a.set_defaults(func=cmd_ablate)

    c = sub.add_parser("compare", help="DPAs beside the free heuristics on one split: acc@tol, MAE, SRCC/PLCC "
                       "with the labels and with the fast model's PSNR (table, JSON, plot)")
    c.add_argument("--dpa", action="append", default=[], metavar="[NAME=]CHECKPOINT",
                   help="a trained DPA (repeatable); NAME defaults to the checkpoint's folder")
    c.add_argument("--heuristic", action="append", default=[], choices=("motion", "flip", "absdiff"),
                   help="a built-in heuristic scorer (repeatable)")
    c.add_argument("--table")
    c.add_argument("--db")
    c.add_argument("--label-source", choices=("human", "auto", "human-over-auto"))
    c.add_argument("--split", default="test", choices=("train", "val", "test"))
    c.add_argument("--calibrate-on", default="val", choices=("train", "val", "test"),
                   help="split on which the heuristics are mapped onto the label scale (default val)")
    c.add_argument("--calibrate-table", help="take that split from this table instead (e.g. the corpus's val "
                   "split for a held-out set from another source)")
    c.add_argument("--out", required=True, help="folder for compare.json, compare.md, compare.png")
    c.add_argument("--device")
    c.set_defaults(func=cmd_compare)

    s = sub.add_parser("score", help="difficulty score of frame pairs (1 = easy, 0 = hard)")
    s.add_argument("--checkpoint", required=True)
    s.add_argument("--device")
    s.add_argument("frames", nargs="+", metavar="FRAME", help="FRAME0 FRAME1 [FRAME0 FRAME1 ...]")
    s.set_defaults(func=cmd_score)


def main(argv: list[str] | None = None) -> int:
    """Stand-alone entry (``python -m train.cli``), used under torchrun."""
    import logging
    import os

    os.environ.setdefault("HF_HUB_OFFLINE", "1")
    logging.basicConfig(level=logging.INFO, format="%(message)s")
    parser = argparse.ArgumentParser(prog="train.cli")
    add_commands(parser.add_subparsers(dest="command", required=True))
    args = parser.parse_args(argv)
    from dynvfi_core.cli import run

    return run(args)  # the same error path (one-line errors, exit codes) as `dynvfi train`


if __name__ == "__main__":
    sys.exit(main())
