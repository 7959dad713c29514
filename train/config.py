"""Training configuration: one dataclass tree, read from YAML, overridable from the CLI.

A YAML file has the sections ``model`` (:class:`dynvfi_core.dpa.ModelConfig`), ``data``
(:class:`DataConfig`) and the optimisation settings of :class:`TrainConfig` at top level.
Unknown keys are errors, so a typo never silently trains the wrong model.
"""

from __future__ import annotations

import dataclasses
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import yaml

from dynvfi_core.dpa.config import ModelConfig
from dynvfi_core.dpa.loss import AUX_KINDS
from dynvfi_core.errors import ConfigError

CONFIG_DIR = Path(__file__).resolve().parent / "configs"
#: training targets (TrainConfig.target)
TARGETS = ("difficulty", "gain", "fast-psnr")
#: validation metrics that may choose the best checkpoint (TrainConfig.select_by)
SELECT_BY = ("acc@0.125", "acc@0.25", "srcc", "plcc")


@dataclass
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
    tiers: list[str] | None = None


@dataclass
class TrainConfig:
    """Everything one training run needs; saved next to its checkpoints."""

    model: ModelConfig = field(default_factory=ModelConfig)
    data: DataConfig = field(default_factory=DataConfig)
    out_dir: str = "runs/dpa"
    seed: int = 0
    epochs: int = 30
    #: stop after this many optimiser steps (tests, smoke runs); None = run all epochs
    max_steps: int | None = None
    batch_size: int = 16
    lr: float = 2e-4
    min_lr_ratio: float = 0.01
    weight_decay: float = 0.05
    warmup_steps: int = 200
    grad_clip: float = 1.0
    aux_weight: float = 0.1
    aux_kind: str = "l1"
    #: pair-consistent augmentation: crop (fraction of each side kept >= 1 - scale_jitter), h-flip, swap
    augment: bool = True
    scale_jitter: float = 0.15
    vflip: bool = False
    num_workers: int = 2
    #: mixed precision, used only on CUDA
    amp: bool = True
    device: str | None = None
    log_every: int = 10
    eval_batch_size: int = 32
    #: what the score predicts: "difficulty" (the paper: the annotated 1..4 quality of the fast
    #: model's frame) or "gain" (opt-in: 1 - sigmoid(heavy_gain / gain_scale) from the table's
    #: heavy_gain column; like difficulty, higher = keep the fast model) or "fast-psnr" (the
    #: quartile label with its position inside the quartile, from the table's rife_psnr: see
    #: train.data.fast_psnr_target)
    target: str = "difficulty"
    #: dB per logit of the gain target: gains of +-gain_scale map to 0.27 / 0.73
    gain_scale: float = 0.5
    #: validation metric that picks best.safetensors: the paper's acc@0.125, or srcc (the order the
    #: router uses; better when labels are coarse quartiles)
    select_by: str = "acc@0.125"
    #: CPU threads (fixed so a run is reproducible across machines of one kind); None = torch's default
    threads: int | None = 2

    def __post_init__(self) -> None:
        if self.select_by not in SELECT_BY:
            raise ConfigError(f"select_by must be one of {SELECT_BY}, got {self.select_by!r}")
        if self.threads is not None and self.threads < 1:
            raise ConfigError(f"threads must be >= 1 or null, got {self.threads}")
        if self.target not in TARGETS:
            raise ConfigError(f"target must be one of {TARGETS}, got {self.target!r}")
        if self.gain_scale <= 0:
            raise ConfigError(f"gain_scale must be > 0, got {self.gain_scale}")
        if self.aux_kind not in AUX_KINDS:
            raise ConfigError(f"aux_kind must be one of {AUX_KINDS}, got {self.aux_kind!r}")
        for name in ("epochs", "batch_size", "eval_batch_size", "log_every"):
            if getattr(self, name) < 1:
                raise ConfigError(f"{name} must be >= 1, got {getattr(self, name)}")
        if not 0 <= self.scale_jitter < 1:
            raise ConfigError(f"scale_jitter must be in [0, 1), got {self.scale_jitter}")
        if self.lr <= 0 or self.aux_weight < 0:
            raise ConfigError("lr must be > 0 and aux_weight >= 0")

    def to_dict(self) -> dict[str, Any]:
        d = dataclasses.asdict(self)
        d["model"] = {k: list(v) if isinstance(v, tuple) else v for k, v in self.model.to_dict().items()}
        return d

    def save(self, path: str | Path) -> Path:
        p = Path(path)
        p.parent.mkdir(parents=True, exist_ok=True)
        p.write_text(yaml.safe_dump(self.to_dict(), sort_keys=False))
        return p

    def replace(self, **changes: Any) -> TrainConfig:
        return dataclasses.replace(self, **changes)


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


def _check_types(cls: type, values: dict[str, Any], prefix: str) -> None:
    """Scalar settings have their default's type (``--set epochs=abc`` names the setting, not a '<' failure)."""
    for f in dataclasses.fields(cls):
        value, default = values.get(f.name), f.default
        if value is None or f.name not in values or type(default) not in (int, float, bool, str):
            continue
        if type(default) is float:
            ok = isinstance(value, (int, float)) and not isinstance(value, bool)
        elif type(default) is int:
            ok = isinstance(value, int) and not isinstance(value, bool)
        else:
            ok = isinstance(value, type(default))
        if not ok:
            raise ConfigError(f"{prefix}{f.name} must be {type(default).__name__}, got {value!r}")


def from_dict(raw: dict[str, Any]) -> TrainConfig:
    """Build a :class:`TrainConfig` from nested plain data (YAML)."""
    raw = dict(raw or {})
    names = {f.name for f in dataclasses.fields(TrainConfig)}
    unknown = sorted(set(raw) - names)
    if unknown:
        raise ConfigError(f"unknown training setting(s): {', '.join(unknown)}")
    model = ModelConfig.from_dict(raw.pop("model", None) or {})
    data_raw = raw.pop("data", None) or {}
    data_names = {f.name for f in dataclasses.fields(DataConfig)}
    bad = sorted(set(data_raw) - data_names)
    if bad:
        raise ConfigError(f"unknown data setting(s): {', '.join(bad)}")
    _check_types(DataConfig, data_raw, "data.")
    _check_types(TrainConfig, raw, "")
    try:
        return TrainConfig(model=model, data=DataConfig(**data_raw), **raw)
    except TypeError as exc:
        raise ConfigError(f"bad training config: {exc}") from exc


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
