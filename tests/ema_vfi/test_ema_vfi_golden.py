"""Number-for-number fidelity to the official EMA-VFI network (goldens made by the official code).

``tests/data/ema_vfi_golden/README.md`` says how: the official network with
:func:`~dynvfi_core.models.seeded_weights.seeded_state` weights, run through ``demo_Nx.py``'s
pipeline (BGR, centred replicate padding to 32, ``multi_inference`` at several timesteps, the
official fast flip TTA for the base variant). Our implementation loads the same state dict
strictly and must reproduce every output through the public ``interpolate`` to 1e-4.
"""

from __future__ import annotations

import numpy as np
import pytest
import torch

from dynvfi_core.models import checkpoints
from dynvfi_core.models.ema_vfi import EMAVFIModel, manifest
from dynvfi_core.models.ema_vfi_net import VARIANTS, EMAVFINet
from dynvfi_core.models.seeded_weights import seeded_state

TOLERANCE = 1e-4
CASES = [(v, c) for v in ("base", "small") for c in ("h41w73", "h67w99")]


def _model(variant: str, seed: int, **options: object) -> EMAVFIModel:
    net = EMAVFINet(VARIANTS[variant])
    checkpoints.apply_checkpoint(net, seeded_state(manifest(variant)["tensors"], seed), "seeded golden state", "EMA-VFI")
    return EMAVFIModel(device="cpu", variant=variant, net=net, **options)  # type: ignore[arg-type]


@pytest.mark.parametrize(("variant", "case"), CASES)
def test_reproduces_the_official_network(golden, variant: str, case: str):
    data = golden[variant]
    model = _model(variant, int(data["seed"]))
    assert model.tta == bool(data["tta"])  # official default: TTA for base, none for small
    times = torch.from_numpy(data[f"{case}_t"]).float()
    n = len(times)
    img0 = torch.from_numpy(data[f"{case}_img0"]).permute(2, 0, 1)[None].float().div(255).expand(n, -1, -1, -1)
    img1 = torch.from_numpy(data[f"{case}_img1"]).permute(2, 0, 1)[None].float().div(255).expand(n, -1, -1, -1)
    out = model.interpolate(img0, img1, times)  # all timesteps in one batch, one t per sample
    expected = torch.from_numpy(data[f"{case}_output"])
    assert out.shape == expected.shape
    err = (out - expected).abs().max().item()
    assert err <= TOLERANCE, f"{variant} {case}: max abs difference {err:.2e} from the official output"


def test_reproduces_the_official_high_resolution_inference(golden):
    # Model.hr_inference(down_scale=0.5) as the official 2K benchmark runs it: flow and mask on
    # half-size frames, upsampled, appearance and refinement at full size
    data = golden["small"]
    model = _model("small", int(data["seed"]), scale=float(data["hr_h67w99_scale"]))
    img0, img1 = (torch.from_numpy(data[f"h67w99_img{i}"]).permute(2, 0, 1)[None].float().div(255) for i in (0, 1))
    out = model.interpolate(img0, img1, float(data["hr_h67w99_t"][0]))
    err = (out - torch.from_numpy(data["hr_h67w99_output"])).abs().max().item()
    assert err <= TOLERANCE, f"scale=0.5: max abs difference {err:.2e} from the official output"


def test_goldens_are_not_trivial(golden):
    # far from the input blend, rarely saturated, and different timesteps give different frames
    for variant, case in CASES:
        data = golden[variant]
        out = data[f"{case}_output"]
        blend = (data[f"{case}_img0"].astype(np.float32) + data[f"{case}_img1"]).transpose(2, 0, 1) / 510.0
        assert np.abs(out - blend).mean() > 0.03
        assert ((out > 0) & (out < 1)).mean() > 0.9
        assert np.abs(out[0] - out[-1]).max() > 1e-2


@pytest.mark.skipif(not torch.cuda.is_available(), reason="needs CUDA")
def test_cuda_fp16_autocast_stays_close_to_the_fp32_golden(golden):
    # fp16 autocast on CUDA (what the router uses on a GPU) against the fp32 CPU golden; a loose
    # bound, since half precision moves pixels by a few 1e-3 (not checked on a GPU by its author)
    data = golden["small"]
    model = _model("small", int(data["seed"])).to("cuda")
    times = torch.from_numpy(data["h67w99_t"]).float()
    n = len(times)
    img0 = torch.from_numpy(data["h67w99_img0"]).permute(2, 0, 1)[None].float().div(255).expand(n, -1, -1, -1)
    img1 = torch.from_numpy(data["h67w99_img1"]).permute(2, 0, 1)[None].float().div(255).expand(n, -1, -1, -1)
    diff = (model.interpolate(img0, img1, times).cpu() - torch.from_numpy(data["h67w99_output"])).abs()
    assert diff.mean() < 1e-2 and diff.max() < 0.1
