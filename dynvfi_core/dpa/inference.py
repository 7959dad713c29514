"""The DPA inference API used by the router: ``DPA.load(path).score(frame0, frame1)``.

Scores are on the normalised scale ``(s - 1) / 3`` of the 1..4 annotation: 1.0 = easy (the
fast VFI model will do), 0.0 = hard. They are the network's regression output, not clipped: on
pairs unlike its training data a model may extrapolate a little beyond [0, 1], and the router
needs that order. Clipping had tied 38 of the demo's 45 validation pairs at exactly 0, so no
share or budget threshold could tell them apart. :meth:`DPA.to_level` clips to the 1..4 levels. Frames of any size are accepted; each
pair is resized to the model's view (see :mod:`dynvfi_core.dpa.preprocess`).
"""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path

import numpy as np
import torch
from torch import nn

from dynvfi_core.backends import OpenVINOGraph, build_graph, resolve
from dynvfi_core.device import pick_device
from dynvfi_core.dpa.config import ModelConfig
from dynvfi_core.dpa.factory import build_model, count_params, load_model, run_dpa
from dynvfi_core.dpa.preprocess import N_STATS, normalise, pair_stats, pair_views
from dynvfi_core.errors import ConfigError, InputError


def score_to_level(scores: np.ndarray) -> np.ndarray:
    """Normalised scores -> nearest 1..4 level; exact halves round up (to the easier level)."""
    return np.clip(np.floor(np.asarray(scores, dtype=np.float64) * 3.0 + 1.5), 1, 4).astype(int)


#: architectures whose OpenVINO graph is checked against PyTorch (tests/dpa/test_dpa_backend.py);
#: the AHIQ baseline stays on PyTorch
GRAPH_ARCHS = ("dpa", "rife-prior")


class _ScoreOnly(nn.Module):
    """A DPA network's score of one pair of views, normalisation included: the forward an
    inference backend converts. It takes the ``(1, H, W, 3)`` views (0-255) as they come from
    the resize, so the per-pair PyTorch work before the graph is gone (it cost a quarter of the
    converted DPA's time per pair); the maps the network also returns are for training."""

    def __init__(self, model: nn.Module) -> None:
        super().__init__()
        self.model = model

    def forward(self, view0: torch.Tensor, view1: torch.Tensor, *stats: torch.Tensor) -> torch.Tensor:
        return run_dpa(self.model, normalise(view0), normalise(view1), stats[0] if stats else None)["score"]


class DPA:
    """A difficulty pre-assessment model ready to score frame pairs."""

    def __init__(self, model: nn.Module, cfg: ModelConfig, device: str | torch.device | None = None,
                 batch_size: int = 16, backend: str | None = None) -> None:
        """``backend``: ``torch`` or ``openvino`` (None: ``$DYNVFI_BACKEND`` or the default, see
        :mod:`dynvfi_core.backends`). The OpenVINO graph is converted from ``model`` as it is
        now: a network trained further afterwards needs a new ``DPA``."""
        self.device = pick_device(device)
        self.model = model.to(self.device).eval()
        self.cfg = cfg
        self.batch_size = batch_size
        self.meta: dict[str, str] = {}
        self.graph: OpenVINOGraph | None = None
        if cfg.arch not in GRAPH_ARCHS:
            if backend is not None and resolve(backend, self.device) != "torch":
                raise ConfigError(f"backend={backend} supports the DPA archs {', '.join(GRAPH_ARCHS)}, "
                                  f"not {cfg.arch!r}; use backend=torch")
            return
        h, w = cfg.view
        example = [torch.full((1, h, w, 3), 128.0), torch.full((1, h, w, 3), 128.0)]
        if getattr(self.model, "uses_stats", False):
            example.append(torch.zeros(1, N_STATS))
        # the Swin's trace keeps its view-sized masks as constants: one pair at the view only
        self.graph = build_graph(backend, self.device, _ScoreOnly(self.model), f"dpa-{cfg.arch}",
                                 tuple(example), fixed_shape=True)

    @property
    def backend(self) -> str:
        """``"openvino"`` when pairs are scored by the converted graph, else ``"torch"``."""
        return "torch" if self.graph is None else "openvino"

    @classmethod
    def load(cls, path: str | Path, device: str | torch.device | None = None, backend: str | None = None) -> DPA:
        """Load a ``.safetensors`` checkpoint written by ``dynvfi train`` (``backend`` as in ``__init__``)."""
        dev = pick_device(device)
        model, cfg, meta = load_model(path, dev)
        dpa = cls(model, cfg, dev, backend=backend)
        dpa.meta = meta
        if dpa.target == "gain":  # reports must not mistake a gain predictor for the paper's DPA
            dpa.name = f"dpa-gain({Path(path).name})"
        return dpa

    @classmethod
    def untrained(cls, cfg: ModelConfig | None = None, device: str | torch.device | None = None,
                  seed: int = 0, backend: str | None = None) -> DPA:
        """A randomly initialised DPA (benchmarks and tests: same cost, meaningless scores)."""
        cfg = cfg or ModelConfig()
        with torch.random.fork_rng(devices=[]):  # leave the caller's RNG stream untouched
            torch.manual_seed(seed)
            model = build_model(cfg)
        return cls(model, cfg, device, backend=backend)

    @property
    def target(self) -> str:
        """What the score predicts: "difficulty" (the paper; also checkpoints without the key) or
        "gain" (1 - sigmoid(heavy-over-fast PSNR gain / gain_scale)); both: higher = fast model."""
        return self.meta.get("target", "difficulty")

    @property
    def params(self) -> int:
        return count_params(self.model)

    def score(self, frame0: np.ndarray, frame1: np.ndarray) -> float:
        """Normalised difficulty score of one pair (uint8 RGB ``(H, W, 3)``): 1 easy, 0 hard."""
        return float(self.score_batch([frame0], [frame1])[0])

    @torch.inference_mode()
    def score_batch(self, frames0: Sequence[np.ndarray] | np.ndarray,
                    frames1: Sequence[np.ndarray] | np.ndarray) -> np.ndarray:
        """Scores of many pairs (each pair may have its own size), as a float32 array (about [0, 1])."""
        if len(frames0) != len(frames1):
            raise InputError(f"got {len(frames0)} first frames but {len(frames1)} second frames")
        scores = np.empty(len(frames0), dtype=np.float32)
        cuda = self.device.type == "cuda"
        for start in range(0, len(frames0), self.batch_size):
            pairs = list(zip(frames0[start:start + self.batch_size], frames1[start:start + self.batch_size]))
            views = [pair_views(a, b, self.cfg.view) for a, b in pairs]
            stats = None
            if self.cfg.prior_stats:  # validated by pair_views above
                stats = np.stack([pair_stats(a, b) for a, b in pairs])
            if self.graph is not None:  # one pair per call: the converted graph has batch size 1
                out = torch.cat([self.graph(v0[None], v1[None], *(() if stats is None else (stats[i:i + 1],)))
                                 for i, (v0, v1) in enumerate(views)])
            else:
                x0 = normalise(torch.from_numpy(np.stack([v[0] for v in views])).to(self.device))
                x1 = normalise(torch.from_numpy(np.stack([v[1] for v in views])).to(self.device))
                st = None if stats is None else torch.from_numpy(stats).to(self.device)
                with torch.autocast("cuda", dtype=torch.float16, enabled=cuda):
                    out = run_dpa(self.model, x0, x1, st)["score"]
            scores[start:start + len(views)] = out.float().cpu().numpy()
        return scores

    @staticmethod
    def to_level(score: float) -> int:
        """Normalised score -> nearest 1..4 annotation level (4 = easiest)."""
        return int(score_to_level(np.asarray([score]))[0])
