"""Model names to models.

Specification grammar (documented in the README)::

    spec    := name [":" option ("," option)*]  |  "tta(" spec ")"  |  "ensemble(" spec ("," spec)+ ")"
    option  := key "=" value

Examples: ``rife-v4.25``, ``rife-v4.25:scale=0.5``, ``ema-vfi:variant=small``, ``tta(rife-v4.25)``,
``ensemble(rife-v4.25,rife-hdv3)``, ``ensemble(tta(rife-v4.25),rife-hdv3)``.
"""

from __future__ import annotations

import importlib
from collections.abc import Callable

import torch

from dynvfi_core.errors import ConfigError
from dynvfi_core.models.base import VFIModel
from dynvfi_core.models.wrappers import Blend, Ensemble, FlipTTA

#: name -> "module:attribute" of a factory ``(device=..., **options) -> VFIModel``; imported lazily
#: so that listing models never loads torch networks or weights.
_FACTORIES: dict[str, str | Callable[..., VFIModel]] = {
    "blend": Blend,
    "rife-v4.25": "dynvfi_core.models.rife_v4:RIFEv425",
    "rife-hdv3": "dynvfi_core.models.rife_hdv3:RIFEHDv3",
    "vfiformer": "dynvfi_core.models.vfiformer:VFIformerModel",
    "ema-vfi": "dynvfi_core.models.ema_vfi:EMAVFIModel",
}

WRAPPERS = ("tta", "ensemble")


def register(name: str, factory: str | Callable[..., VFIModel]) -> None:
    """Register a model factory under ``name`` (a callable or a lazy ``module:attr`` string)."""
    _FACTORIES[name] = factory


def available() -> list[str]:
    """Registered base model names (wrappers compose these)."""
    return sorted(_FACTORIES)


def model_factory(name: str) -> Callable[..., VFIModel]:
    """The constructor registered under ``name``, importing its module on first use (which also
    registers that model's weight specs, as ``dynvfi weights list`` relies on)."""
    target = _FACTORIES.get(name)
    if target is None:
        raise ConfigError(f"unknown model '{name}'; available: {', '.join(available())}, "
                          f"and wrappers tta(SPEC), ensemble(SPEC,SPEC,...)")
    if isinstance(target, str):
        module, attr = target.split(":")
        try:
            target = getattr(importlib.import_module(module), attr)
        except (ImportError, AttributeError) as exc:
            raise ConfigError(f"model '{name}' is registered but its code is not available ({exc})") from exc
    return target


def _split_top(s: str) -> list[str]:
    """Split on commas that are not inside parentheses."""
    parts, depth, cur = [], 0, ""
    for ch in s:
        if ch == "(":
            depth += 1
        elif ch == ")":
            depth -= 1
            if depth < 0:
                raise ConfigError(f"unbalanced parentheses in model spec '{s}'")
        if ch == "," and depth == 0:
            parts.append(cur)
            cur = ""
        else:
            cur += ch
    if depth != 0:
        raise ConfigError(f"unbalanced parentheses in model spec '{s}'")
    parts.append(cur)
    return [p.strip() for p in parts]


def _parse_value(v: str) -> object:
    for cast in (int, float):
        try:
            return cast(v)
        except ValueError:
            pass
    return {"true": True, "false": False}.get(v.lower(), v)


def create(spec: str, device: str | torch.device | None = None) -> VFIModel:
    """Build the model a specification string names (see the module docstring)."""
    spec = spec.strip()
    if not spec:
        raise ConfigError("empty model spec")
    for wrapper in WRAPPERS:
        if spec.startswith(wrapper + "(") and spec.endswith(")"):
            args = _split_top(spec[len(wrapper) + 1 : -1])
            if wrapper == "tta":
                if len(args) != 1:
                    raise ConfigError(f"tta() takes exactly one model, got {len(args)} in '{spec}'")
                return FlipTTA(create(args[0], device), device)
            if len(args) < 2:
                raise ConfigError(f"ensemble() needs at least two models, got '{spec}'")
            return Ensemble([create(a, device) for a in args], device)
    name, _, opts = spec.partition(":")
    options: dict[str, object] = {}
    if opts:
        for item in opts.split(","):
            key, eq, value = item.partition("=")
            if not eq or not key.strip():
                raise ConfigError(f"bad option '{item}' in model spec '{spec}' (expected key=value)")
            options[key.strip()] = _parse_value(value.strip())
    factory = model_factory(name.strip())
    try:
        model = factory(device=device, **options)
    except TypeError as exc:
        raise ConfigError(f"bad options for model '{name}': {exc}") from exc
    model.name = spec
    return model
