"""Device choice shared by every model, the DPA, the perceptual metric and training.

It lives on its own so that code which only needs a device (training, metrics) does not import
the VFI model interface.
"""

from __future__ import annotations

import torch

from dynvfi_core.errors import ConfigError


def pick_device(device: str | torch.device | None = None) -> torch.device:
    """The requested device (checked: it must exist here), or CUDA when present, else CPU."""
    if device is not None:
        check_device(device)
        return torch.device(device)
    return torch.device("cuda" if torch.cuda.is_available() else "cpu")


def check_device(spec: str | torch.device | None) -> None:
    """A ``--device`` value names a device this machine has (None: automatic, always fine)."""
    if spec is None:
        return
    try:
        dev = torch.device(spec)
    except (RuntimeError, ValueError):
        raise ConfigError(f"--device {spec!r} is not a device; use cpu, cuda, cuda:N or mps") from None
    if dev.type == "cuda":
        count = torch.cuda.device_count() if torch.cuda.is_available() else 0
        if count == 0:
            raise ConfigError(f"--device {spec}: no CUDA GPU is available on this machine (use --device cpu)")
        if dev.index is not None and dev.index >= count:
            raise ConfigError(f"--device {spec}: this machine has {count} CUDA device(s), "
                              f"cuda:0 to cuda:{count - 1}")
    elif dev.type == "mps" and not (getattr(torch.backends, "mps", None) and torch.backends.mps.is_available()):
        raise ConfigError(f"--device {spec}: Apple MPS is not available on this machine (use --device cpu)")
    elif dev.type not in ("cpu", "cuda", "mps"):
        raise ConfigError(f"--device {spec}: unsupported device type '{dev.type}'; use cpu, cuda, cuda:N or mps")
