"""Reading hand-supplied official checkpoints (VFIformer, EMA-VFI) and loading them strictly.

Such files come from training frameworks, not package registries: they may nest the state dict
under a key (``state_dict``, ``params``, ...), prefix every key with DataParallel's ``module.``
and carry computed buffers that are not weights. This module unwraps them, reads tensors only
(``weights_only``: no pickled code runs) and turns every problem into a one-line error that
names the file, before any network is built.
"""

from __future__ import annotations

from collections.abc import Collection, Mapping
from pathlib import Path

import torch
from torch import nn

from dynvfi_core.errors import DynVFIError, MissingWeightsError
from dynvfi_core.weights import WeightSpec

#: keys under which training frameworks nest a state dict
_WRAPPER_KEYS = ("state_dict", "params_ema", "params", "model", "net", "generator")


def unwrap(raw: object, path: Path, drop: Collection[str] = ()) -> dict[str, torch.Tensor]:
    """The tensor dict inside a checkpoint, ``module.`` prefixes removed and keys whose last
    component is in ``drop`` (computed buffers) left out."""
    state = raw
    while isinstance(state, Mapping) and not any(isinstance(v, torch.Tensor) for v in state.values()):
        inner = next((state[k] for k in _WRAPPER_KEYS if isinstance(state.get(k), Mapping)), None)
        if inner is None:
            break
        state = inner
    if not isinstance(state, Mapping) or not state:
        raise DynVFIError(f"{path} does not contain a state dict (got {type(raw).__name__})")
    clean: dict[str, torch.Tensor] = {}
    for key, value in state.items():
        while key.startswith("module."):
            key = key[len("module."):]
        if key.rsplit(".", 1)[-1] not in drop:
            clean[key] = value
    return clean


def describe_mismatch(expected: Mapping[str, torch.Tensor], got: Mapping[str, torch.Tensor]) -> str:
    """One line listing missing / unexpected / wrongly shaped tensors (first few of each)."""
    missing = [k for k in expected if k not in got]
    unexpected = [k for k in got if k not in expected]

    def shape(x: object) -> object:
        return tuple(x.shape) if isinstance(x, torch.Tensor) else type(x).__name__

    shapes = [f"{k} {shape(got[k])} != {shape(v)}" for k, v in expected.items() if k in got and shape(got[k]) != shape(v)]
    parts = []
    for label, items in (("missing", missing), ("unexpected", unexpected), ("wrong shape", shapes)):
        if items:
            more = f" (+{len(items) - 3} more)" if len(items) > 3 else ""
            parts.append(f"{len(items)} {label}: {', '.join(items[:3])}{more}")
    return "; ".join(parts)


def read_checkpoint(path: str | Path, label: str, spec: WeightSpec, drop: Collection[str] = ()) -> dict[str, torch.Tensor]:
    """The state dict of a ``label`` checkpoint file (see :func:`unwrap`).

    Raises :class:`MissingWeightsError` naming ``spec``'s download note and default place when
    the file is absent, and :class:`DynVFIError` when it cannot be read.
    """
    path = Path(path).expanduser()
    if not path.is_file():
        raise MissingWeightsError(
            f"{label} checkpoint not found at {path}: download {spec.filename} ({spec.note}) "
            f"and pass its path, or put it at {spec.path}"
        )
    try:
        raw = torch.load(path, map_location="cpu", weights_only=True)
    except Exception as exc:  # unpickling errors come in many types; all mean "not a checkpoint"
        reason = str(exc).strip().splitlines()[0] if str(exc).strip() else type(exc).__name__
        raise DynVFIError(f"cannot read {label} checkpoint {path}: {reason}") from exc
    return unwrap(raw, path, drop)


def apply_checkpoint(net: nn.Module, state: Mapping[str, torch.Tensor], path: str | Path, label: str) -> None:
    """Load ``state`` into ``net`` strictly; a mismatch is a one-line :class:`DynVFIError`."""
    problem = describe_mismatch(net.state_dict(), state)
    if problem:
        raise DynVFIError(f"{path} is not an official {label} checkpoint: {problem}")
    net.load_state_dict(state, strict=True)
