"""Table II of the paper: train every DPA variant on the same data and compare them.

Each variant is a set of model-setting overrides plus its auxiliary-loss weight, trained with
the same base config (seed, schedule, data) into ``out/<variant>/`` and evaluated on the test
split (the validation split when there is no test split). The result is a Markdown table
(``out/table2.md``) and the same rows as JSON (``out/table2.json``).
"""

from __future__ import annotations

import json
import logging
from pathlib import Path
from typing import Any

import numpy as np

from dynvfi_core.device import pick_device
from dynvfi_core.dpa.factory import load_model
from dynvfi_core.errors import ConfigError
from train.config import TrainConfig
from train.data import load_table, split
from train.evaluate import evaluate
from train.trainer import train

log = logging.getLogger(__name__)

#: variant name -> (model overrides, use the auxiliary loss); order = the paper's rows
VARIANTS: dict[str, tuple[dict[str, Any], bool]] = {
    "AHIQ": ({"arch": "ahiq"}, False),
    "lightweight Swin backbone only": ({"align": "interp", "image_diff": False}, False),
    "+ PixelShuffle": ({"align": "pixelshuffle", "image_diff": False}, False),
    "+ image difference": ({"align": "interp", "image_diff": True}, False),
    "+ image difference + aux loss": ({"align": "interp", "image_diff": True}, True),
    "full VFI-DPA": ({"align": "pixelshuffle", "image_diff": True}, True),
}

PAPER = {  # the paper's Table II (its dataset), printed alongside for orientation
    "AHIQ": (0.5507, 0.8080, "11.22M"),
    "lightweight Swin backbone only": (0.4843, 0.7305, "4.490M"),
    "+ PixelShuffle": (0.5117, 0.8164, "4.735M"),
    "+ image difference": (0.5039, 0.7500, "4.233M"),
    "+ image difference + aux loss": (0.5468, 0.7539, "4.469M"),
    "full VFI-DPA": (0.5546, 0.7821, "4.469M"),
}


def slug(name: str) -> str:
    return "".join(c if c.isalnum() else "_" for c in name.lower()).strip("_").replace("__", "_")


def variant_config(base: TrainConfig, name: str, out: Path) -> TrainConfig:
    overrides, aux = VARIANTS[name]
    aux_weight = (base.aux_weight or 0.1) if aux else 0.0
    return base.replace(model=base.model.replace(**overrides), aux_weight=aux_weight, out_dir=str(out / slug(name)))


def run_ablation(base: TrainConfig, out_dir: str | Path, variants: list[str] | None = None,
                 progress: bool = True) -> list[dict]:
    """Train + evaluate each variant; write table2.md / table2.json; return the rows."""
    names = variants or list(VARIANTS)
    unknown = [n for n in names if n not in VARIANTS]
    if unknown:
        raise ConfigError(f"unknown variant(s) {unknown}; known: {list(VARIANTS)}")
    out = Path(out_dir)
    out.mkdir(parents=True, exist_ok=True)
    df = load_table(base.data)
    test = split(df, "test")
    eval_split = "test" if not test.empty else "val"
    eval_df = test if not test.empty else split(df, "val")
    rows = []
    for name in names:
        cfg = variant_config(base, name, out)
        log.info("== variant %s -> %s", name, cfg.out_dir)
        train(cfg, progress=progress)
        device = pick_device(base.device)
        model, mcfg, _ = load_model(Path(cfg.out_dir) / "best.safetensors", device)
        res = evaluate(model, mcfg, eval_df, Path(cfg.out_dir) / f"eval_{eval_split}", device,
                       base.eval_batch_size, timing=True, name=name)
        rows.append({"variant": name, "split": eval_split, **{k: v for k, v in res.items() if k != "confusion"}})
        (out / "table2.json").write_text(json.dumps(rows, indent=1))
    (out / "table2.md").write_text(to_markdown(rows))
    return rows


def _f(v: float) -> str:
    return "n/a" if v is None or (isinstance(v, float) and np.isnan(v)) else f"{v:.4f}"


def to_markdown(rows: list[dict]) -> str:
    """Table-II-style Markdown: ours (this data) next to the paper's accuracies (its data)."""
    lines = [
        "| variant | acc@0.125 | acc@0.25 | MAE | SRCC | params | CPU ms/pair | paper acc@0.125 / @0.25 / params |",
        "|---|---|---|---|---|---|---|---|",
    ]
    for r in rows:
        p = PAPER.get(r["variant"])
        paper = f"{p[0]:.4f} / {p[1]:.4f} / {p[2]}" if p else ""
        lines.append(f"| {r['variant']} | {_f(r['acc@0.125'])} | {_f(r['acc@0.25'])} | {_f(r['mae'])} | "
                     f"{_f(r['srcc'])} | {r['params'] / 1e6:.3f}M | {r.get('ms_per_pair_cpu', float('nan')):.1f} | {paper} |")
    n = rows[0]["n"] if rows else 0
    split_name = rows[0]["split"] if rows else "test"
    lines += ["", (f"Ours: {n} {split_name} pairs; CPU time = network at its view, 2 threads, median. "
                   "Paper columns are from its own (unpublished) dataset, for orientation only.")]
    return "\n".join(lines) + "\n"
