"""Training configuration: one dataclass tree, read from YAML, overridable from the CLI.

A YAML file has the sections ``model`` (:class:`dynvfi_core.dpa.ModelConfig`), ``data``
(:class:`DataConfig`) and the optimisation settings of :class:`TrainConfig` at top level.
Unknown keys are errors, so a typo never silently trains the wrong model.
"""

from __future__ import annotations

import dataclasses
from dataclasses import field
from pathlib import Path
from typing import Annotated, Any, Literal, get_args

import yaml
from pydantic import Field

from dynvfi_core.dpa.config import ModelConfig
from dynvfi_core.dpa.loss import AuxKind
from dynvfi_core.errors import ConfigError
from dynvfi_core.settings import build, replace, settings

CONFIG_DIR = Path(__file__).resolve().parent / "configs"
Target = Literal["difficulty", "gain", "fast-psnr"]
SelectBy = Literal["acc@0.125", "acc@0.25", "srcc", "plcc"]
Count = Annotated[int, Field(ge=1)]
Positive = Annotated[float, Field(gt=0)]
NonNegative = Annotated[float, Field(ge=0)]
Fraction = Annotated[float, Field(ge=0, lt=1)]
#: training targets (TrainConfig.target)
TARGETS = get_args(Target)
#: validation metrics that may choose the best checkpoint (TrainConfig.select_by)
SELECT_BY = get_args(SelectBy)


@settings("data")
class DataConfig:
    """Where the labelled triplets come from (a table file, or the database export)."""

    #: CSV/parquet written by the annotation export; wins over ``db`` when both are set
    table: str | None = None
    #: SQLAlchemy URL, or "default" for DynVFI's default database; exported on the fly
    db: str | None = None
    #: root under which the DB's relative frame paths live (default: dynvfi_core.paths.data_root())
    data_root: str | None = None
    #: which labels to train on: passed to annotate.export.training_table
    label_source: str = "human-over-auto"
    #: keep only these tiers (e.g. ["256p"]): the paper trains one DPA per resolution subset
    tiers: tuple[str, ...] | None = None


@settings()
class TrainConfig:
    """Everything one training run needs; saved next to its checkpoints."""

    model: ModelConfig = field(default_factory=ModelConfig)
    data: DataConfig = field(default_factory=DataConfig)
    out_dir: str = "runs/dpa"
    seed: int = 0
    epochs: Count = 30
    #: stop after this many optimiser steps (tests, smoke runs); None = run all epochs
    max_steps: int | None = None
    batch_size: Count = 16
    lr: Positive = 2e-4
    min_lr_ratio: float = 0.01
    weight_decay: float = 0.05
    warmup_steps: int = 200
    grad_clip: float = 1.0
    aux_weight: NonNegative = 0.1
    aux_kind: AuxKind = "l1"
    #: pair-consistent augmentation: crop (fraction of each side kept >= 1 - scale_jitter), h-flip, swap
    augment: bool = True
    scale_jitter: Fraction = 0.15
    vflip: bool = False
    num_workers: int = 2
    #: mixed precision, used only on CUDA
    amp: bool = True
    device: str | None = None
    log_every: Count = 10
    eval_batch_size: Count = 32
    #: what the score predicts: "difficulty" (the paper: the annotated 1..4 quality of the fast
    #: model's frame) or "gain" (opt-in: 1 - sigmoid(heavy_gain / gain_scale) from the table's
    #: heavy_gain column; like difficulty, higher = keep the fast model) or "fast-psnr" (the
    #: quartile label with its position inside the quartile, from the table's rife_psnr: see
    #: train.data.fast_psnr_target)
    target: Target = "difficulty"
    #: dB per logit of the gain target: gains of +-gain_scale map to 0.27 / 0.73
    gain_scale: Positive = 0.5
    #: validation metric that picks best.safetensors: the paper's acc@0.125, or srcc (the order the
    #: router uses; better when labels are coarse quartiles)
    select_by: SelectBy = "acc@0.125"
    #: CPU threads (fixed so a run is reproducible across machines of one kind); None = torch's default
    threads: Count | None = 2

    def to_dict(self) -> dict[str, Any]:
        """Plain data for YAML: sequences as lists."""
        def plain(v: Any) -> Any:
            if isinstance(v, dict):
                return {k: plain(x) for k, x in v.items()}
            return [plain(x) for x in v] if isinstance(v, (tuple, list)) else v

        return plain(dataclasses.asdict(self))

    def save(self, path: str | Path) -> Path:
        p = Path(path)
        p.parent.mkdir(parents=True, exist_ok=True)
        p.write_text(yaml.safe_dump(self.to_dict(), sort_keys=False))
        return p

    def replace(self, **changes: Any) -> TrainConfig:
        return replace(self, **changes)


def _parse_value(text: str) -> Any:
    """A CLI override value: YAML syntax, so ``3``, ``1e-4``, ``[128, 128]``, ``null`` all work."""
    return yaml.safe_load(text)


def apply_overrides(raw: dict[str, Any], overrides: list[str]) -> dict[str, Any]:
    """Apply ``section.key=value`` strings (``--set``) to a raw config dict."""
    for item in overrides:
        if "=" not in item:
            raise ConfigError(f"override must look like key=value, got {item!r}")
        key, value = item.split("=", 1)
        node = raw
        parts = key.strip().split(".")
        for part in parts[:-1]:
            node = node.setdefault(part, {})
            if not isinstance(node, dict):
                raise ConfigError(f"cannot set {key}: {part} is not a section")
        node[parts[-1]] = _parse_value(value)
    return raw


def from_dict(raw: dict[str, Any]) -> TrainConfig:
    """Build a :class:`TrainConfig` from nested plain data (YAML); see :mod:`dynvfi_core.settings`."""
    raw = dict(raw or {})
    model = ModelConfig.from_dict(raw.pop("model", None) or {})
    data = build(DataConfig, raw.pop("data", None), "data")
    return build(TrainConfig, raw, "", model=model, data=data)


def load_config(path: str | Path, overrides: list[str] | None = None) -> TrainConfig:
    """Read a YAML config (a path, or the name of a bundled one such as ``demo``)."""
    p = Path(path)
    if not p.exists() and (CONFIG_DIR / f"{path}.yaml").exists():
        p = CONFIG_DIR / f"{path}.yaml"
    if not p.is_file():
        raise ConfigError(f"config file not found: {path}")
    try:
        raw = yaml.safe_load(p.read_text()) or {}
    except yaml.YAMLError as exc:
        raise ConfigError(f"invalid YAML in {p}: {exc}") from exc
    if not isinstance(raw, dict):
        raise ConfigError(f"{p} must contain a mapping of settings")
    return from_dict(apply_overrides(raw, overrides or []))
