"""Default models of the router (the heavy one was chosen by measurement: see HEAVY_MODEL.md)."""

#: fast model: RIFE v4.25, the paper's fast model family
FAST_DEFAULT = "rife-v4.25"
#: heavy model: the best quality-for-cost registry option on hard UCF101 / Vimeo triplets
HEAVY_DEFAULT = "ensemble(rife-v4.25,rife-hdv3)"
