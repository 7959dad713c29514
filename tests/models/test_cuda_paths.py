"""CUDA / fp16-autocast paths of RIFE, the DPA and VFIformer; they run where a GPU is present.

On CUDA every model runs under fp16 autocast (see dynvfi_core.models.base). These tests check
that this path gives the fp32 CPU result up to half-precision error: RIFE against the committed
fp32 goldens of its reference code, the DPA and random-weight VFIformer against the same
network on the CPU. Skipped on machines without CUDA.
"""

from __future__ import annotations

import copy
import json
from pathlib import Path

import numpy as np
import pytest
import torch

pytestmark = pytest.mark.skipif(not torch.cuda.is_available(), reason="needs a CUDA GPU")

CASES = json.loads((Path(__file__).resolve().parents[1] / "data" / "fidelity" / "cases.json").read_text())["cases"]
#: fp16 flow and synthesis error, in dB of PSNR between the CUDA and the fp32 output; a wrong
#: channel order, timestep or padding on the GPU path costs far more (below 25 dB)
MIN_AGREEMENT_DB = 35.0


def _agreement_db(a: torch.Tensor, b: torch.Tensor) -> float:
    mse = float((a.float().cpu() - b.float().cpu()).pow(2).mean())
    return float("inf") if mse == 0 else -10 * np.log10(mse)


@pytest.mark.parametrize("case", [c for c in CASES if c["scale"] == 1.0], ids=lambda c: c["id"])
def test_rife_on_cuda_matches_the_fp32_golden(case: dict, require_weights, fidelity) -> None:
    from dynvfi_core.models import create

    require_weights(case["model"])
    model = create(case["model"], "cuda")
    img0, img1 = fidelity.pair(case["pair"])
    out = model.interpolate(img0, img1, case["t"])
    assert out.device.type == "cpu" and out.dtype == torch.float32 and out.shape == img0.shape
    assert torch.isfinite(out).all()
    assert _agreement_db(out, fidelity.golden(case)) > MIN_AGREEMENT_DB


def test_dpa_on_cuda_scores_like_the_cpu() -> None:
    from dynvfi_core.dpa import DPA

    cpu = DPA.untrained(seed=0, device="cpu")
    gpu = DPA(copy.deepcopy(cpu.model), cpu.cfg, device="cuda")
    rng = np.random.default_rng(0)
    frames = rng.integers(0, 256, size=(5, 120, 200, 3), dtype=np.uint8)
    a, b = cpu.score_batch(frames, frames[::-1]), gpu.score_batch(frames, frames[::-1])
    assert a.dtype == b.dtype == np.float32 and np.isfinite(b).all()
    assert np.abs(a - b).max() < 2e-2


def test_vfiformer_on_cuda_matches_the_cpu() -> None:
    from dynvfi_core.models.vfiformer import VFIformerModel, build_vfiformer_net

    net = build_vfiformer_net(seed=0)
    cpu = VFIformerModel(device="cpu", net=copy.deepcopy(net))
    gpu = VFIformerModel(device="cuda", net=net)
    rng = np.random.default_rng(1)
    base = torch.from_numpy(rng.random((1, 3, 80, 96), dtype=np.float32))
    a, b = base, torch.roll(base, shifts=(2, 3), dims=(2, 3))
    ref, out = cpu.interpolate(a, b), gpu.interpolate(a, b)
    assert out.device.type == "cpu" and torch.isfinite(out).all()
    assert _agreement_db(out, ref) > MIN_AGREEMENT_DB
