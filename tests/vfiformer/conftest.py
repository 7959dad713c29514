"""Fixtures for the VFIformer tests: one random-weight network per module (building it takes ~1 s)."""

from __future__ import annotations

import json

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
