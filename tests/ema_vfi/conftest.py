"""Fixtures for the EMA-VFI tests: the committed goldens and an isolated weights directory."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest
import torch

GOLDEN_DIR = Path(__file__).resolve().parents[1] / "data" / "ema_vfi_golden"


@pytest.fixture(scope="module", autouse=True)
def two_threads():
    """The passes are small; more threads than cores only contend on a shared 2-core machine."""
    before = torch.get_num_threads()
    torch.set_num_threads(2)
    yield
    torch.set_num_threads(before)


@pytest.fixture(scope="session")
def golden() -> dict[str, dict[str, np.ndarray]]:
    """Per variant, the arrays of ``tests/data/ema_vfi_golden/<variant>.npz``."""
    out = {}
    for variant in ("base", "small"):
        with np.load(GOLDEN_DIR / f"{variant}.npz") as data:
            out[variant] = {k: data[k] for k in data.files}
    return out
