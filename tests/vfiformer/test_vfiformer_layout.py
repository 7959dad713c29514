"""The network's state dict is the official one, and official checkpoints load strictly."""

from __future__ import annotations

import math
from pathlib import Path

import pytest
import torch

from dynvfi_core.errors import DynVFIError, MissingWeightsError
from dynvfi_core.models import vfiformer


def _layout(state: dict[str, torch.Tensor]) -> list[tuple[str, list[int], str]]:
    return [(k, list(v.shape), str(v.dtype).removeprefix("torch.")) for k, v in state.items()]


def test_state_dict_matches_the_official_manifest(random_net, manifest):
    expected = [(k, e["shape"], e["dtype"]) for k, e in manifest["tensors"].items()]
    ours = _layout(random_net.state_dict())
    assert len(ours) == manifest["num_tensors"]
    assert {k: (s, d) for k, s, d in ours} == {k: (s, d) for k, s, d in expected}
    assert [k for k, _, _ in ours] == [k for k, _, _ in expected]  # same order as torch.save'd


def test_parameter_count_is_the_published_24_1m(random_net, manifest):
    n = sum(p.numel() for p in random_net.parameters())
    assert n == manifest["num_parameters"]
    assert abs(n - 24.1e6) <= 0.01 * 24.1e6
    buffer_names = ("attn_mask", "attn_mask_x", "attn_mask_y", "relative_position_index")
    tensors = manifest["tensors"]
    params_in_manifest = sum(math.prod(e["shape"]) for k, e in tensors.items() if not k.endswith(buffer_names))
    assert params_in_manifest == n


def test_strict_load_of_a_wrapped_module_prefixed_state_dict(tmp_path: Path, manifest_state):
    # DataParallel-style "module." keys nested under "state_dict", as some training scripts save
    payload = {"state_dict": {"module." + k: v for k, v in manifest_state.items()}, "epoch": 220}
    path = tmp_path / "net_220.pth"
    torch.save(payload, path)
    net = vfiformer.build_vfiformer_net(seed=0)
    vfiformer.load_checkpoint(net, path)
    loaded = net.state_dict()
    assert loaded.keys() == manifest_state.keys()
    assert all(torch.equal(loaded[k], v) for k, v in manifest_state.items())


def test_registry_spec_loads_a_plain_checkpoint(tmp_path: Path, manifest_state):
    from dynvfi_core.models import create

    path = tmp_path / "net_220.pth"
    torch.save(manifest_state, path)
    model = create(f"vfiformer:checkpoint={path},flow_scale=0.5", device="cpu")
    assert isinstance(model, vfiformer.VFIformerModel)
    assert model.flow_scale == 0.5
    loaded = model.net.state_dict()
    assert all(torch.equal(loaded[k], v) for k, v in manifest_state.items())


def test_incompatible_checkpoint_is_refused_in_one_line(tmp_path: Path, random_net, manifest):
    state = {
        "flownet.block0.conv0.0.0.bias": torch.zeros(120),
        "fuse_block.0.weight": torch.zeros(8, 12, 3, 3),
        "extra.weight": torch.zeros(1),
    }
    path = tmp_path / "other.pth"
    torch.save(state, path)
    with pytest.raises(DynVFIError) as err:
        vfiformer.load_checkpoint(random_net, path)
    message = str(err.value)
    assert "\n" not in message
    missing = manifest["num_tensors"] - 2
    assert f"{missing} missing" in message
    assert "1 unexpected: extra.weight" in message
    assert "fuse_block.0.weight (8, 12, 3, 3) != (48, 12, 3, 3)" in message
    assert str(path) in message


def test_unreadable_checkpoint_is_a_user_error(tmp_path: Path, random_net):
    path = tmp_path / "net_220.pth"
    path.write_bytes(b"not a torch file")
    with pytest.raises(DynVFIError, match="cannot read VFIformer checkpoint"):
        vfiformer.load_checkpoint(random_net, path)


def test_missing_default_checkpoint_names_the_expected_path(empty_home: Path):
    expected = empty_home / "weights" / "vfiformer" / "net_220.pth"
    with pytest.raises(MissingWeightsError) as err:
        vfiformer.VFIformerModel(device="cpu")
    assert str(expected) in str(err.value)
    assert "\n" not in str(err.value)


def test_missing_explicit_checkpoint_names_both_paths(empty_home: Path, tmp_path: Path):
    given = tmp_path / "nowhere" / "net_220.pth"
    with pytest.raises(MissingWeightsError) as err:
        vfiformer.VFIformerModel(device="cpu", checkpoint=str(given))
    message = str(err.value)
    assert str(given) in message
    assert str(empty_home / "weights" / "vfiformer" / "net_220.pth") in message
    assert "\n" not in message


def test_weight_spec_is_registered_for_weights_list(empty_home: Path):
    from dynvfi_core import weights

    spec = weights.SPECS["vfiformer"]
    assert spec.filename == "net_220.pth" and spec.sha256 is None and spec.package is None
    assert spec.path == empty_home / "weights" / "vfiformer" / "net_220.pth"
    assert weights.status(spec) == "missing"
    assert "VFIformer" in spec.source
