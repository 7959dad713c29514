"""Training loss of the DPA: difficulty L1 plus the attention auxiliary term.

The auxiliary term ties the *mean* of the spatial-attention map to the perceptual distance of
the two input frames (precomputed per triplet, column ``input_perceptual``): inputs that differ
a lot perceptually tend to move or change a lot, so the attention should spread over more of
the frame. The paper names the ablation "MSE" but writes a norm; both are offered.
"""

from __future__ import annotations

from typing import Literal, TypeVar, get_args

import numpy as np
import torch
import torch.nn.functional as F

from dynvfi_core.errors import ConfigError

AuxKind = Literal["l1", "mse"]
AUX_KINDS = get_args(AuxKind)


Label = TypeVar("Label", torch.Tensor, np.ndarray, float)


def normalise_label(label: Label) -> Label:
    """1..4 opinion score -> [0, 1] (higher = easier), the scale the network predicts.

    The one place this mapping is written: training targets, validation and evaluation all
    call it, so the scale the loss sees and the scale metrics compare cannot drift apart.
    """
    return (label - 1.0) / 3.0


def dpa_loss(
    out: dict[str, torch.Tensor],
    target: torch.Tensor,
    perceptual: torch.Tensor | None = None,
    aux_weight: float = 0.0,
    aux_kind: str = "l1",
) -> tuple[torch.Tensor, dict[str, float]]:
    """Total loss and its parts. ``target`` is already normalised to [0, 1]."""
    if aux_kind not in AUX_KINDS:
        raise ConfigError(f"aux_kind must be one of {AUX_KINDS}, got {aux_kind!r}")
    main = F.l1_loss(out["score"].float(), target.float())
    parts = {"l1": float(main.detach())}
    total = main
    if aux_weight > 0:
        if perceptual is None:
            raise ConfigError("the auxiliary loss needs the input_perceptual column")
        attn_mean = out["attn"].float().mean(dim=(1, 2, 3))
        known = torch.isfinite(perceptual)  # triplets without a perceptual distance add nothing
        err = attn_mean - torch.nan_to_num(perceptual.float())
        err = err.abs() if aux_kind == "l1" else err.square()
        aux = (err * known).sum() / known.sum().clamp_min(1)
        parts["aux"] = float(aux.detach())
        total = total + aux_weight * aux
    parts["total"] = float(total.detach())
    return total, parts
