"""Build a DPA network from its config and save/load it as a self-describing safetensors file.

The checkpoint's metadata holds the :class:`ModelConfig` as JSON, so one ``.safetensors`` file
is all a user needs to score pairs (no pickle: safe to share and fast to load).
"""

from __future__ import annotations

import json
from pathlib import Path

import torch
from safetensors import SafetensorError
from safetensors.torch import load_file, save_file
from torch import nn

from dynvfi_core.atomic import atomic_path
from dynvfi_core.dpa.config import ModelConfig
from dynvfi_core.errors import InputError

FORMAT = "dynvfi-dpa/1"


def build_model(cfg: ModelConfig) -> nn.Module:
    """The network an architecture name stands for (imports are lazy: AHIQ is rarely used)."""
    if cfg.arch == "ahiq":
        from dynvfi_core.dpa.ahiq import AHIQNet

        return AHIQNet(cfg)
    if cfg.arch == "rife-prior":
        from dynvfi_core.dpa.rife_prior import RifePriorDPA

        return RifePriorDPA(cfg)
    from dynvfi_core.dpa.network import DPANet

    return DPANet(cfg)


def run_dpa(model: nn.Module, frame0: torch.Tensor, frame1: torch.Tensor,
            stats: torch.Tensor | None = None) -> dict[str, torch.Tensor]:
    """Call a DPA network (or its DDP wrapper), passing the pair statistics to those that use them."""
    if getattr(getattr(model, "module", model), "uses_stats", False):
        return model(frame0, frame1, stats)
    return model(frame0, frame1)


def count_params(model: nn.Module) -> int:
    """Trainable parameters (what the paper's Table II reports)."""
    return sum(p.numel() for p in model.parameters() if p.requires_grad)


def save_model(path: str | Path, model: nn.Module, cfg: ModelConfig, meta: dict[str, str] | None = None) -> Path:
    """Write weights + config (+ optional string metadata such as the val accuracy) atomically."""
    p = Path(path)
    p.parent.mkdir(parents=True, exist_ok=True)
    module = getattr(model, "module", model)  # unwrap DDP
    state = {k: v.detach().cpu().contiguous() for k, v in module.state_dict().items()}
    metadata = {"format": FORMAT, "model_config": cfg.to_json(), **(meta or {})}
    with atomic_path(p) as tmp:  # fsync + rename; the user's umask (safetensors' own file would be 0600)
        save_file(state, str(tmp), metadata=metadata)
    return p


def read_metadata(path: str | Path) -> dict[str, str]:
    """The string metadata of a DPA checkpoint; :class:`InputError` if it is not one."""
    from safetensors import safe_open

    p = Path(path)
    if not p.is_file():
        raise InputError(f"DPA checkpoint not found: {p}")
    try:
        with safe_open(str(p), framework="pt") as fh:
            meta = fh.metadata() or {}
    except (SafetensorError, OSError) as exc:
        raise InputError(f"not a safetensors file: {p} ({exc})") from exc
    if meta.get("format") != FORMAT:
        raise InputError(f"{p} is not a DynVFI DPA checkpoint (format {meta.get('format')!r})")
    return meta


def load_model(path: str | Path, device: str | torch.device = "cpu") -> tuple[nn.Module, ModelConfig, dict[str, str]]:
    """Rebuild the network stored in ``path`` (strict load) on ``device``, in eval mode.

    The returned config is the one saved (it still says how the net was initialised); the net is
    built from a copy that reads no file, because a stored net never needs the user's backbone
    checkpoint (or RIFE's weight file for the motion prior) again: all its weights are in ``path``.
    """
    meta = read_metadata(path)
    cfg = ModelConfig.from_dict(json.loads(meta["model_config"]))
    model = build_model(cfg.replace(backbone_checkpoint=None, prior_pretrained=False))
    model.load_state_dict(load_file(str(path)), strict=True)
    return model.to(device).eval(), cfg, meta
