"""Fixtures of the DPA tests: a tiny network config and a synthetic labelled table on disk."""

from __future__ import annotations

from pathlib import Path

import pytest

from dynvfi_core.dpa.config import ModelConfig

#: a network small enough to train for a few steps in seconds on one CPU core
TINY = {"view": (64, 64), "swin_embed": 16, "swin_depths": (1, 1, 1, 1), "swin_heads": (1, 1, 2, 2),
        "swin_window": 4, "feat_dim": 16, "fusion_dim": 32, "ahiq_vit_embed": 32, "ahiq_vit_depth": 2,
        "ahiq_vit_heads": 2, "ahiq_dims": (32, 16, 32)}


@pytest.fixture
def tiny_cfg() -> ModelConfig:
    return ModelConfig(**TINY)


@pytest.fixture(scope="session")
def synthetic_table(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """40 shifted-texture pairs (train/val/test by clip) with labels falling with the shift."""
    from train.synthetic import make_table

    return make_table(tmp_path_factory.mktemp("synthetic"), n=40, size=(48, 64), max_shift=12.0)


def _tiny_train_dict(table: Path, out: Path, **extra: object) -> dict:
    """A raw training config (as YAML would give) for the tiny network."""
    model = {k: list(v) if isinstance(v, tuple) else v for k, v in TINY.items()}
    base = {"model": model, "data": {"table": str(table)}, "out_dir": str(out), "epochs": 2, "batch_size": 8,
            "num_workers": 0, "warmup_steps": 2, "lr": 1e-3, "log_every": 1, "eval_batch_size": 16}
    base.update(extra)
    return base


@pytest.fixture
def tiny_train_dict():
    """Factory of raw tiny training configs: ``tiny_train_dict(table, out_dir, **overrides)``."""
    return _tiny_train_dict
