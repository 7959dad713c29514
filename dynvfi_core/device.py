"""Device choice shared by every model, the DPA, the perceptual metric and training.

It lives on its own so that code which only needs a device (training, metrics) does not import
the VFI model interface.
"""

from __future__ import annotations

import torch


def pick_device(device: str | torch.device | None = None) -> torch.device:
    """The requested device, or CUDA when present, else CPU."""
    if device is not None:
        return torch.device(device)
    return torch.device("cuda" if torch.cuda.is_available() else "cpu")
