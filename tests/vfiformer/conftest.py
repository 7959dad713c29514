"""Fixtures for the VFIformer tests: one random-weight network per module (building it takes ~1 s)."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
import torch


@pytest.fixture(scope="module")
def random_net():
    from dynvfi_core.models.vfiformer import build_vfiformer_net

    return build_vfiformer_net(seed=0)


@pytest.fixture(scope="session")
def manifest() -> dict:
    from dynvfi_core.models.vfiformer import MANIFEST_PATH

    return json.loads(MANIFEST_PATH.read_text())


@pytest.fixture
def empty_home(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    """A DYNVFI_HOME with no weights at all, so the 'missing checkpoint' path is deterministic even
    on machines where the user installed the real VFIformer checkpoint."""
    home = tmp_path / "home"
    home.mkdir()
    monkeypatch.setenv("DYNVFI_HOME", str(home))
    return home


@pytest.fixture(scope="module")
def manifest_state(manifest: dict) -> dict[str, torch.Tensor]:
    """Random tensors with the official keys, shapes and dtypes (int64 buffers get valid indices):
    what a checkpoint built from the manifest alone looks like."""
    gen = torch.Generator().manual_seed(1)
    state = {}
    for key, entry in manifest["tensors"].items():
        shape = tuple(entry["shape"])
        if entry["dtype"] == "int64":
            state[key] = torch.randint(0, 225, shape, generator=gen)
        else:
            state[key] = torch.randn(shape, generator=gen)
    return state
