"""VFI models behind one interface: two frames and a timestep in, the intermediate frame out."""

from dynvfi_core.models.base import VFIModel
from dynvfi_core.models.registry import available, create

__all__ = ["VFIModel", "available", "create"]
