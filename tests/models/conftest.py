"""Fixtures for the RIFE model tests: the committed fidelity data and a per-session model cache.

Building a model hashes and loads its checkpoint (about a second), so each spec is built once per
test session; tests that need weights still go through the shared ``require_weights`` fixture so
they skip cleanly where the weights are not installed.
"""

from __future__ import annotations

import json
from collections.abc import Callable
from pathlib import Path

import numpy as np
import pytest
import torch

from dynvfi_core.imageio import read_image, to_tensor
from dynvfi_core.models import VFIModel, create

FIDELITY = Path(__file__).resolve().parents[1] / "data" / "fidelity"
MODEL_NAMES = ("rife-v4.25", "rife-hdv3")
_models: dict[str, VFIModel] = {}


class FidelityData:
    """The committed real image pairs and reference outputs (see tests/data/fidelity/README.md)."""

    def __init__(self, root: Path) -> None:
        self.root = root
        self.manifest = json.loads((root / "cases.json").read_text())

    @property
    def cases(self) -> list[dict]:
        return self.manifest["cases"]

    def pair(self, name: str) -> tuple[torch.Tensor, torch.Tensor]:
        """A real image pair as two ``(1, 3, H, W)`` float tensors in [0, 1]."""
        f0, f1 = self.manifest["pairs"][name]["frames"]
        return to_tensor(read_image(self.root / f0)), to_tensor(read_image(self.root / f1))

    def golden(self, case: dict) -> torch.Tensor:
        """A reference output as a ``(1, 3, H, W)`` float32 tensor."""
        return torch.from_numpy(np.load(self.root / case["golden"])["output"])[None]


@pytest.fixture(scope="session")
def fidelity() -> FidelityData:
    return FidelityData(FIDELITY)


@pytest.fixture
def rife(require_weights: Callable[[str], Path]) -> Callable[[str], VFIModel]:
    """``rife(spec)`` -> a CPU model for the spec, built once per session; skips without weights."""

    def _get(spec: str) -> VFIModel:
        for name in MODEL_NAMES:
            if name in spec:
                require_weights(name)
        if spec not in _models:
            _models[spec] = create(spec, "cpu")
        return _models[spec]

    return _get
