"""The LPIPS-family metric: which one is used, that its weights are real, and that it measures."""

from __future__ import annotations

import hashlib
from pathlib import Path

import pytest
import torch

from dynvfi_core import perceptual
from dynvfi_core.errors import ConfigError


@pytest.fixture
def empty_torch_home(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    monkeypatch.setenv("TORCH_HOME", str(tmp_path / "torch"))
    monkeypatch.setattr(perceptual, "_cache", {})
    return tmp_path / "torch"


def test_offline_fallback_is_stlpips_with_its_shipped_weights(empty_torch_home: Path) -> None:
    import stlpips_pytorch

    metric = perceptual.PerceptualMetric("cpu")
    assert metric.name == perceptual.STLPIPS_ALEX
    shipped = torch.load(Path(stlpips_pytorch.__path__[0]) / "weights/vST0.0/alex_shift_tolerant.pth",
                         map_location="cpu", weights_only=True)
    state = metric.net.state_dict()
    for key, value in shipped.items():  # backbone and calibration layers are the file's, not random
        assert torch.equal(state[key], value), key
    assert torch.equal(state["lins.2.model.1.weight"], shipped["lin2.model.1.weight"])


def test_distance_orders_degradations_and_returns_the_metric_name(empty_torch_home: Path) -> None:
    g = torch.Generator().manual_seed(0)
    base = torch.nn.functional.interpolate(torch.rand(1, 3, 16, 16, generator=g), size=64, mode="bilinear")
    slight = (base + 0.02 * torch.randn(base.shape, generator=g)).clamp(0, 1)
    strong = (base + 0.3 * torch.randn(base.shape, generator=g)).clamp(0, 1)
    d, name = perceptual.perceptual_distance(torch.cat([base, base, base]), torch.cat([base, slight, strong]), "cpu")
    assert name == perceptual.STLPIPS_ALEX
    assert d.shape == (3,)
    assert d[0].abs() < 1e-6 < d[1] < d[2]


def test_lpips_alex_is_used_when_the_torchvision_file_is_present(empty_torch_home: Path,
                                                                 monkeypatch: pytest.MonkeyPatch) -> None:
    import torchvision

    ckpt = empty_torch_home / "hub" / "checkpoints" / perceptual.ALEXNET_FILE
    ckpt.parent.mkdir(parents=True)
    torch.save(torchvision.models.alexnet(weights=None).state_dict(), ckpt)
    # a stand-in file: accept its own hash so that the strict loading path itself is exercised
    monkeypatch.setattr(perceptual, "ALEXNET_SHA256_PREFIX", hashlib.sha256(ckpt.read_bytes()).hexdigest()[:8])
    metric = perceptual.PerceptualMetric("cpu")
    assert metric.name == perceptual.LPIPS_ALEX
    saved = torch.load(ckpt, weights_only=True)
    assert torch.equal(metric.net.net.slice1[0].weight, saved["features.0.weight"])
    assert torch.equal(dict(metric.net.net.slice5.named_children())["10"].bias, saved["features.10.bias"])


def test_a_wrong_alexnet_file_is_refused_not_used(empty_torch_home: Path) -> None:
    ckpt = empty_torch_home / "hub" / "checkpoints" / perceptual.ALEXNET_FILE
    ckpt.parent.mkdir(parents=True)
    ckpt.write_bytes(b"not the real file")
    with pytest.raises(ConfigError, match="hash"):
        perceptual.PerceptualMetric("cpu")


def test_mismatched_shapes_are_a_clear_error(empty_torch_home: Path) -> None:
    with pytest.raises(ConfigError, match="equal shape"):
        perceptual.perceptual_distance(torch.rand(1, 3, 32, 32), torch.rand(1, 3, 32, 16), "cpu")
