"""LPIPS-family perceptual distance with an honest offline fallback.

The original LPIPS (``lpips`` package) ships only its linear calibration layers; its AlexNet
backbone is torchvision's ``alexnet-owt-7be5be79.pth``, normally downloaded on first use. Offline
that download fails, and building the network without it would give a *random* backbone whose
numbers look plausible but mean nothing. So:

1. if ``$TORCH_HOME/hub/checkpoints/alexnet-owt-7be5be79.pth`` exists (and matches its published
   hash prefix), LPIPS v0.1 with AlexNet is used (metric name ``lpips-alex``);
2. otherwise Shift-tolerant LPIPS (Ghildyal & Liu, ECCV 2022) from the ``stlpips-pytorch`` wheel,
   whose shipped file holds the complete network, is used (``stlpips-alex``).

Both weight files are loaded strictly (every parameter and buffer must be in the file), and the
metric's name travels with every value, because distances of the two metrics are not comparable.
"""

from __future__ import annotations

import hashlib
import importlib.util
import re
import warnings
from pathlib import Path

import torch

from dynvfi_core.device import pick_device
from dynvfi_core.errors import ConfigError, MissingWeightsError

ALEXNET_FILE = "alexnet-owt-7be5be79.pth"
#: torchvision names checkpoints after the first 8 hex digits of their sha256
ALEXNET_SHA256_PREFIX = "7be5be79"

LPIPS_ALEX = "lpips-alex"
STLPIPS_ALEX = "stlpips-alex"
METRICS = (LPIPS_ALEX, STLPIPS_ALEX)


def alexnet_checkpoint() -> Path | None:
    """torchvision's AlexNet file in the hub cache (``$TORCH_HOME/hub/checkpoints``), if present."""
    path = Path(torch.hub.get_dir()) / "checkpoints" / ALEXNET_FILE
    return path if path.is_file() else None


def _sha256(path: Path) -> str:
    h = hashlib.sha256()
    with path.open("rb") as f:
        for chunk in iter(lambda: f.read(1 << 20), b""):
            h.update(chunk)
    return h.hexdigest()


def _build_lpips_alex(checkpoint: Path) -> torch.nn.Module:
    """LPIPS v0.1 (AlexNet) with the backbone read from ``checkpoint`` instead of the network."""
    import lpips

    if not _sha256(checkpoint).startswith(ALEXNET_SHA256_PREFIX):
        raise ConfigError(f"{checkpoint} does not match torchvision's AlexNet hash {ALEXNET_SHA256_PREFIX}; "
                          "delete it or replace it with the real file")
    # pnet_rand=True only skips torchvision's download; the backbone is filled strictly below
    with warnings.catch_warnings():  # torchvision's deprecation notice about `pretrained=`
        warnings.simplefilter("ignore", UserWarning)
        net = lpips.LPIPS(net="alex", version="0.1", pretrained=True, pnet_rand=True, verbose=False)
    state = torch.load(checkpoint, map_location="cpu", weights_only=True)
    features = {k.removeprefix("features."): v for k, v in state.items() if k.startswith("features.")}
    slices = {}
    for name, module in net.net.named_children():  # slice1..slice5 keep the original layer indices
        for idx, _layer in module.named_children():
            for key in ("weight", "bias"):
                if f"{idx}.{key}" in features:
                    slices[f"{name}.{idx}.{key}"] = features[f"{idx}.{key}"]
    net.net.load_state_dict(slices, strict=True)
    return net


def _build_stlpips_alex() -> torch.nn.Module:
    """Shift-tolerant LPIPS (AlexNet), every tensor loaded strictly from the wheel's own file."""
    spec = importlib.util.find_spec("stlpips_pytorch")
    if spec is None or not spec.submodule_search_locations:
        raise MissingWeightsError(
            "no perceptual metric available: torchvision's AlexNet weights are not in "
            f"{Path(torch.hub.get_dir()) / 'checkpoints' / ALEXNET_FILE} and the stlpips-pytorch "
            "package is not installed (pip install stlpips-pytorch)")
    from stlpips_pytorch.stlpips import LPIPS as STLPIPS

    weights = Path(spec.submodule_search_locations[0]) / "weights" / "vST0.0" / "alex_shift_tolerant.pth"
    if not weights.is_file():
        raise MissingWeightsError(f"stlpips-pytorch is installed without its weight file {weights}")
    # pretrained=False: the package itself loads non-strictly; we load strictly ourselves
    net = STLPIPS(pretrained=False, net="alex", variant="shift_tolerant", verbose=False)
    state = torch.load(weights, map_location="cpu", weights_only=True)
    # the module registers its calibration layers twice (lin0..4 and the list lins.0..4); the file
    # stores them once, so the aliases are filled from the same tensors before the strict load
    state.update({re.sub(r"^lin(\d+)\.", r"lins.\1.", k): v for k, v in state.items() if re.match(r"^lin\d+\.", k)})
    net.load_state_dict(state, strict=True)
    return net


class PerceptualMetric:
    """Batched LPIPS-family distance: ``metric(a, b) -> (distances (B,), metric_name)``.

    Inputs are ``(B, 3, H, W)`` float tensors in [0, 1]. Parameters are frozen; gradients flow to
    the inputs only when ``grad=True`` (a trainer may use the distance as a loss).
    """

    def __init__(self, device: str | torch.device | None = None, prefer: str = "auto") -> None:
        if prefer not in ("auto", *METRICS):
            raise ConfigError(f"unknown perceptual metric '{prefer}'; choose auto, {', '.join(METRICS)}")
        self.device = pick_device(device)
        checkpoint = alexnet_checkpoint()
        if prefer == LPIPS_ALEX and checkpoint is None:
            raise MissingWeightsError(f"lpips-alex needs torchvision's {ALEXNET_FILE} in "
                                      f"{Path(torch.hub.get_dir()) / 'checkpoints'}")
        if checkpoint is not None and prefer != STLPIPS_ALEX:
            self.name, net = LPIPS_ALEX, _build_lpips_alex(checkpoint)
        else:
            self.name, net = STLPIPS_ALEX, _build_stlpips_alex()
        self.net = net.eval().to(self.device)
        for p in self.net.parameters():
            p.requires_grad_(False)

    def __call__(self, a: torch.Tensor, b: torch.Tensor, grad: bool = False) -> tuple[torch.Tensor, str]:
        if a.shape != b.shape or a.dim() != 4 or a.shape[1] != 3:
            raise ConfigError(f"perceptual distance needs two (B, 3, H, W) batches of equal shape, "
                              f"got {tuple(a.shape)} and {tuple(b.shape)}")
        out_device = a.device
        a = a.to(self.device, torch.float32)
        b = b.to(self.device, torch.float32)
        with torch.set_grad_enabled(grad):
            d = self.net(a, b, normalize=True)  # [0, 1] -> [-1, 1] inside
        return d.flatten().to(out_device), self.name


_cache: dict[tuple[str, str], PerceptualMetric] = {}


def get_metric(device: str | torch.device | None = None, prefer: str = "auto") -> PerceptualMetric:
    """A shared :class:`PerceptualMetric` per (device, preference): loading costs ~1 s each time."""
    key = (str(pick_device(device)), prefer)
    if key not in _cache:
        _cache[key] = PerceptualMetric(device, prefer)
    return _cache[key]


def perceptual_distance(a: torch.Tensor, b: torch.Tensor, device: str | torch.device | None = None
                        ) -> tuple[torch.Tensor, str]:
    """Distance per pair of ``(B, 3, H, W)`` [0, 1] images, and the name of the metric used."""
    return get_metric(device)(a, b)
