"""Dynamic VFI: route each frame pair to a fast or a heavy model by its difficulty score.

- :class:`DynamicVFI` (pipeline): score -> level -> model, batched per route;
- :mod:`~dynvfi_core.routing.calibrate`: thresholds from a heavy share or a compute budget;
- :func:`~dynvfi_core.routing.evaluate.route_eval`: fast/heavy/routed/random/oracle comparison.
"""

import importlib

#: public name -> defining module; imported on first use (PEP 562) so that building the CLI
#: parser, which only needs the defaults, does not import torch
_EXPORTS = {
    "assign_levels": "calibrate", "calibrate_budget": "calibrate", "threshold_for_share": "calibrate",
    "DynamicVFI": "pipeline", "RoutedResult": "pipeline",
    "MotionScorer": "scorers", "Scorer": "scorers", "load_scorer": "scorers",
}

__all__ = sorted(_EXPORTS)


def __getattr__(name: str) -> object:
    if name in _EXPORTS:
        return getattr(importlib.import_module(f"dynvfi_core.routing.{_EXPORTS[name]}"), name)
    raise AttributeError(f"module 'dynvfi_core.routing' has no attribute {name!r}")
