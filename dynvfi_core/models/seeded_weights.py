"""Deterministic random weights for a network, defined by its key/shape manifest and a seed.

The fidelity goldens of the heavy models (``tests/data/vfiformer_golden``,
``tests/data/ema_vfi_golden``) were made by running the *official* network on this state dict;
the tests rebuild the very same tensors here and load them into our implementation. So the
generator is part of the goldens' definition and must never change (a change shows up as every
golden test failing). It does not depend on any module's construction order or on the global RNG:

- one ``torch.Generator`` seeded with ``seed``, advanced through the manifest's keys in order;
- float tensors with 2+ dimensions (conv, linear, position-bias tables):
  ``randn * prod(shape[1:]) ** -0.5`` (unit-variance outputs, so that deep stacks neither
  vanish nor saturate and every layer leaves a trace in the output);
- 1-D float tensors whose key contains ``norm`` and ends in ``.weight`` (LayerNorm/BatchNorm
  scales): ``1 + 0.1 * randn``;
- other 1-D float tensors (biases, PReLU slopes, BatchNorm shifts): ``0.1 * randn``;
- keys listed in ``keep`` (computed buffers such as attention masks, position indices,
  BatchNorm running statistics) are not drawn: the caller's own values are used and no
  random numbers are consumed for them.
"""

from __future__ import annotations

import math
from collections.abc import Iterable, Mapping

import torch


def seeded_state(
    layout: Mapping[str, Mapping[str, object]],
    seed: int,
    keep: Mapping[str, torch.Tensor] | None = None,
) -> dict[str, torch.Tensor]:
    """A state dict with the manifest's keys (in order) and shapes, drawn as the module docstring says.

    ``layout`` maps each key to ``{"shape": [...], "dtype": "float32" | ...}`` (the ``tensors``
    entry of a committed manifest); ``keep`` supplies the tensors that are not drawn.
    """
    keep = keep or {}
    gen = torch.Generator().manual_seed(seed)
    state: dict[str, torch.Tensor] = {}
    for key, entry in layout.items():
        if key in keep:
            state[key] = keep[key]
            continue
        shape = tuple(int(s) for s in entry["shape"])  # type: ignore[union-attr]
        if entry.get("dtype", "float32") != "float32":
            raise ValueError(f"{key}: only float32 tensors can be drawn, got {entry.get('dtype')}; pass it in keep")
        noise = torch.randn(shape, generator=gen)
        if len(shape) >= 2:
            state[key] = noise * math.prod(shape[1:]) ** -0.5
        elif "norm" in key and key.endswith(".weight"):
            state[key] = 1.0 + 0.1 * noise
        else:
            state[key] = 0.1 * noise
    return state


def buffers_of(module: torch.nn.Module, names: Iterable[str]) -> dict[str, torch.Tensor]:
    """The module's own state-dict entries whose last name component is in ``names``."""
    wanted = set(names)
    return {k: v for k, v in module.state_dict().items() if k.rsplit(".", 1)[-1] in wanted}
