"""Dynamic VFI: route each frame pair to a fast or a heavy model by its difficulty score.

- :class:`DynamicVFI` (pipeline): score -> level -> model, batched per route;
- :mod:`~dynvfi_core.routing.calibrate`: thresholds from a heavy share or a compute budget;
- :func:`~dynvfi_core.routing.evaluate.route_eval`: fast/heavy/routed/random/oracle comparison.
"""

from dynvfi_core.routing.calibrate import assign_levels, calibrate_budget, threshold_for_share
from dynvfi_core.routing.pipeline import DynamicVFI, RoutedResult
from dynvfi_core.routing.scorers import MotionScorer, Scorer, load_scorer

__all__ = ["DynamicVFI", "MotionScorer", "RoutedResult", "Scorer", "assign_levels", "calibrate_budget",
           "load_scorer", "threshold_for_share"]
