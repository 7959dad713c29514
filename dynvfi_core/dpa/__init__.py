"""VFI-DPA: difficulty pre-assessment of a frame pair (Chen et al., ICASSP 2024).

``DPA.load(path).score(frame0, frame1)`` returns a difficulty score on [0, 1] (1 = easy; unclipped, see :mod:`.inference`), the
router's input. Network: :mod:`.network` (Swin-based DPA) and :mod:`.ahiq` (baseline);
settings: :class:`ModelConfig`; cost: :mod:`.bench`.
"""

from dynvfi_core.dpa.config import ModelConfig
from dynvfi_core.dpa.factory import build_model, count_params, load_model, save_model
from dynvfi_core.dpa.inference import DPA

__all__ = ["DPA", "ModelConfig", "build_model", "count_params", "load_model", "save_model"]
