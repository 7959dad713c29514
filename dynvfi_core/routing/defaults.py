"""Default models of the router (the heavy one was chosen by measurement: see HEAVY_MODEL.md)."""

#: fast model: RIFE v4.25, the paper's fast model family
FAST_DEFAULT = "rife-v4.25"
#: heavy model: the registry option with the most robust gain on hard pairs across the sample sets (HEAVY_MODEL.md)
HEAVY_DEFAULT = "tta(rife-v4.25)"
#: names of the built-in scorers of ``routing.scorers.BUILTIN_SCORERS``, for CLI help without importing them
BUILTIN_SCORER_NAMES = ("absdiff", "flip", "motion")
