"""EMA-VFI's state dict is the official one; official checkpoint layouts load strictly; missing
or wrong files fail in one line naming the place the file belongs."""

from __future__ import annotations

from pathlib import Path

import pytest
import torch

from dynvfi_core.errors import ConfigError, DynVFIError, MissingWeightsError
from dynvfi_core.models import create
from dynvfi_core.models import ema_vfi
from dynvfi_core.models.ema_vfi_net import VARIANTS, EMAVFINet

#: counted on the official network (MCG-NJU/EMA-VFI config.py, both configurations) built in a
#: scratch folder; the paper reports 65.66M and 14.49M
OFFICIAL_PARAMETERS = {"base": 65_662_359, "small": 14_489_815}
#: official key counts of the network itself (without the masks cached while running)
OFFICIAL_TENSORS = {"base": 266, "small": 186}


def _manifest_state(variant: str, seed: int = 1) -> dict[str, torch.Tensor]:
    gen = torch.Generator().manual_seed(seed)
    return {k: torch.randn(tuple(e["shape"]), generator=gen) for k, e in ema_vfi.manifest(variant)["tensors"].items()}


def _as_released(state: dict[str, torch.Tensor]) -> dict[str, torch.Tensor]:
    """What the official training saves: DistributedDataParallel's ``module.`` on every key, and
    the shift-mask cache (``attn_mask``, ``HW``) of shifted blocks that have run."""
    out = {"module." + k: v for k, v in state.items()}
    for key in state:
        if key.endswith("block4.1.norm1.weight"):
            block = "module." + key.removesuffix("norm1.weight")
            out[block + "attn_mask"] = torch.zeros(4, 49, 49)
            out[block + "HW"] = torch.tensor([196.0])
    return out


@pytest.mark.parametrize("variant", ["base", "small"])
def test_state_dict_matches_the_official_manifest(variant: str):
    net = EMAVFINet(VARIANTS[variant])
    ours = {k: list(v.shape) for k, v in net.state_dict().items()}
    layout = ema_vfi.manifest(variant)["tensors"]
    assert list(ours) == list(layout)  # same order as the official state_dict()
    assert ours == {k: e["shape"] for k, e in layout.items()}
    assert len(ours) == OFFICIAL_TENSORS[variant]


@pytest.mark.parametrize("variant", ["base", "small"])
def test_parameter_count_is_the_official_one(variant: str):
    net = EMAVFINet(VARIANTS[variant])
    assert sum(p.numel() for p in net.parameters()) == OFFICIAL_PARAMETERS[variant]
    assert ema_vfi.manifest(variant)["num_parameters"] == OFFICIAL_PARAMETERS[variant]


@pytest.mark.parametrize(("variant", "filename"), [("base", "ours.pkl"), ("small", "ours_small.pkl")])
def test_released_layout_loads_strictly(tmp_path: Path, variant: str, filename: str):
    state = _manifest_state(variant)
    path = tmp_path / filename
    torch.save(_as_released(state), path)
    net = EMAVFINet(VARIANTS[variant])
    ema_vfi.load_checkpoint(net, path, variant)
    loaded = net.state_dict()
    assert all(torch.equal(loaded[k], v) for k, v in state.items())


def test_registry_spec_with_checkpoint_and_options(tmp_path: Path):
    state = _manifest_state("small", seed=2)
    path = tmp_path / "ours_small_t.pkl"
    torch.save(_as_released(state), path)
    model = create(f"ema-vfi:variant=small,checkpoint={path}", device="cpu")
    assert isinstance(model, ema_vfi.EMAVFIModel)
    assert model.name == f"ema-vfi:variant=small,checkpoint={path}"
    assert model.variant == "small" and model.tta is False and model.arbitrary_t
    assert torch.equal(model.net.state_dict()["unet.conv.weight"], state["unet.conv.weight"])
    assert create(f"ema-vfi:variant=small,checkpoint={path},tta=true", device="cpu").tta is True


def test_small_checkpoint_into_base_is_refused_in_one_line(tmp_path: Path):
    path = tmp_path / "ours_small.pkl"
    torch.save(_as_released(_manifest_state("small")), path)
    with pytest.raises(DynVFIError) as err:
        ema_vfi.EMAVFIModel(device="cpu", checkpoint=str(path))
    message = str(err.value)
    assert "\n" not in message and str(path) in message
    assert "is not an official EMA-VFI checkpoint" in message
    assert "feature_bone.block1.conv.0.weight (16, 3, 3, 3) != (32, 3, 3, 3)" in message
    # the small network has fewer blocks per stage: the base network's extra keys are missing
    assert "80 missing: feature_bone.block4.2.norm1.weight" in message


def test_unreadable_checkpoint_is_a_user_error(tmp_path: Path):
    path = tmp_path / "ours.pkl"
    path.write_bytes(b"not a torch file")
    with pytest.raises(DynVFIError, match="cannot read EMA-VFI checkpoint"):
        ema_vfi.EMAVFIModel(device="cpu", checkpoint=str(path))


@pytest.mark.parametrize(("spec", "folder", "filename"),
                         [("ema-vfi", "ema-vfi", "ours.pkl"), ("ema-vfi:variant=small", "ema-vfi-small", "ours_small.pkl")])
def test_missing_default_checkpoint_names_the_expected_path(empty_home: Path, spec: str, folder: str, filename: str):
    with pytest.raises(MissingWeightsError) as err:
        create(spec, device="cpu")
    message = str(err.value)
    assert str(empty_home / "weights" / folder / filename) in message
    assert "MCG-NJU/EMA-VFI" in message and "\n" not in message


def test_weight_specs_are_listed(empty_home: Path):
    from dynvfi_core import weights

    for model, filename in (("ema-vfi", "ours.pkl"), ("ema-vfi-small", "ours_small.pkl")):
        spec = weights.SPECS[model]
        assert spec.filename == filename and spec.package is None
        assert spec.path == empty_home / "weights" / model / filename
        assert weights.status(spec) == "missing"


@pytest.mark.parametrize("spec", ["ema-vfi:variant=large", "ema-vfi:variant=small,tta=maybe", "ema-vfi:scale=0.3"])
def test_bad_options_are_config_errors(spec: str):
    with pytest.raises(ConfigError):
        create(spec, device="cpu")
