"""VFIformer as a registered heavy model (``vfiformer`` in the registry).

The network (:mod:`~dynvfi_core.models.vfiformer_net`) is an independent implementation of the
published architecture whose state dict matches the official release key for key, so the
official checkpoint ``net_220.pth`` loads strictly. That file cannot be installed from a package
registry: users download it themselves (see :data:`WEIGHT_SPEC`) and either put it at
``$DYNVFI_HOME/weights/vfiformer/net_220.pth`` (``dynvfi weights list`` prints the path) or
pass ``vfiformer:checkpoint=/path/to/net_220.pth``.

Options (registry spec ``vfiformer:key=value,...``):

- ``checkpoint``: path of the checkpoint (default: the weights directory);
- ``flow_scale``: 1 (default; the official Vimeo90K / UCF101 / Middlebury test protocol) or 0.5
  (the official SNU-FILM protocol, ``FILM_test.py``: flow estimated on half-size frames,
  upsampled, then the synthesis at full size), or 0.25 for very large frames.

Reproducing the paper's Table I on SNU-FILM (official lists in ``../shared/data/snu_film_lists``)::

    dynvfi route-eval --snu-film /data/SNU-FILM --snu-film-lists ../shared/data/snu_film_lists
        --dpa DPA.ckpt --fast rife-v4.25 --heavy "vfiformer:flow_scale=0.5" --device cuda

(one command line; the official checkpoint at the ``dynvfi weights list`` path).

The network predicts the midpoint only; other timesteps go through the base class's recursive
halving. It was trained on BGR frames, so channels are flipped on the way in and out.
"""

from __future__ import annotations

from collections.abc import Mapping
from pathlib import Path

import torch
import torch.nn.functional as F
from torch import nn

from dynvfi_core import weights
from dynvfi_core.errors import ConfigError
from dynvfi_core.models import checkpoints
from dynvfi_core.models.base import NetworkModel
from dynvfi_core.models.vfiformer_flow import resize_flow
from dynvfi_core.models.vfiformer_net import PAD_MULTIPLE, VFIformerNet

WEIGHT_SPEC = weights.WeightSpec(
    model="vfiformer",
    filename="net_220.pth",
    sha256=None,
    size=None,
    note=(
        "official VFIformer checkpoint pretrained_VFIformer/net_220.pth, downloaded by hand from the "
        "Google Drive folder linked in the dvlab-research/VFIformer README; no hash is published"
    ),
)
weights.register(WEIGHT_SPEC)

#: the official state-dict layout (keys, shapes, dtypes) derived from the published definition
MANIFEST_PATH = Path(__file__).with_name("data") / "vfiformer_manifest.json"
#: ``flow_scale`` values that keep every pyramid level an integral size
FLOW_SCALES = (1.0, 0.5, 0.25)
#: how the checkpoint helpers name this model in their messages
LABEL = "VFIformer"


def read_checkpoint(path: str | Path) -> dict[str, torch.Tensor]:
    """The state dict of a VFIformer checkpoint file (tensors only), ``module.`` stripped;
    absent or unreadable files fail here, before any network is built."""
    return checkpoints.read_checkpoint(path, LABEL, WEIGHT_SPEC)


def apply_checkpoint(net: nn.Module, state: Mapping[str, torch.Tensor], path: str | Path) -> None:
    """Load ``state`` into ``net`` strictly; a mismatch is a one-line :class:`DynVFIError`."""
    checkpoints.apply_checkpoint(net, state, path, LABEL)


def load_checkpoint(net: nn.Module, path: str | Path) -> None:
    """Load an official VFIformer checkpoint file into ``net`` strictly."""
    apply_checkpoint(net, read_checkpoint(path), path)


def build_vfiformer_net(seed: int | None = None) -> VFIformerNet:
    """A VFIformer network with random weights (for tests and benchmarks; touches no weight file).

    ``seed`` makes the initialisation reproducible without disturbing the global RNG.
    """
    if seed is None:
        return VFIformerNet().eval()
    with torch.random.fork_rng(devices=[]):
        torch.manual_seed(seed)
        return VFIformerNet().eval()


def _check_flow_scale(value: object) -> float:
    try:
        scale = float(value)  # type: ignore[arg-type]
    except (TypeError, ValueError) as exc:
        raise ConfigError(f"flow_scale must be a number, got {value!r}") from exc
    if scale not in FLOW_SCALES:
        raise ConfigError(f"flow_scale must be one of {', '.join(str(s) for s in FLOW_SCALES)}, got {value}")
    return scale


class VFIformerModel(NetworkModel):
    """The official VFIformer (24,166,930 parameters; the paper rounds to 24.1M) as a :class:`VFIModel`."""

    name = "vfiformer"
    pad_multiple = PAD_MULTIPLE
    min_side = PAD_MULTIPLE
    arbitrary_t = False
    #: the official test loaders (``dataloader/dataset.py``) zero-pad equally on both sides;
    #: the SNU-FILM script (``FILM_test.py``, ``flow_scale=0.5``) pads at the bottom/right
    pad_centred = True

    def __init__(
        self,
        device: str | torch.device | None = None,
        checkpoint: str | None = None,
        flow_scale: float = 1.0,
        *,
        net: VFIformerNet | None = None,
    ) -> None:
        """Load the official checkpoint (``checkpoint`` or the weights directory).

        ``net`` supplies an already built network instead (e.g. :func:`build_vfiformer_net` for
        random-weight tests and benchmarks); no file is read then.
        """
        self.flow_scale = _check_flow_scale(flow_scale)
        self.pad_centred = self.flow_scale == 1.0
        if net is None:
            path = Path(checkpoint) if checkpoint else weights.require(WEIGHT_SPEC.model)
            state = read_checkpoint(path)  # fails fast, before the network is built
            net = VFIformerNet()
            apply_checkpoint(net, state, path)
        super().__init__(net, device)

    def _flow_from_downscaled(self, img0: torch.Tensor, img1: torch.Tensor) -> torch.Tensor:
        """Full-size flow estimated on frames shrunk by ``flow_scale`` (zero-padded back to the
        network's multiple, as the official SNU-FILM script does), then upsampled."""
        s = self.flow_scale
        small0 = F.interpolate(img0, scale_factor=s, mode="bilinear", align_corners=False)
        small1 = F.interpolate(img1, scale_factor=s, mode="bilinear", align_corners=False)
        h, w = small0.shape[-2:]
        ph, pw = self.pad_size(h, w)
        small0 = F.pad(small0, (0, pw - w, 0, ph - h))
        small1 = F.pad(small1, (0, pw - w, 0, ph - h))
        flow = self.net.estimate_flow(small0, small1)[:, :, :h, :w]
        return resize_flow(flow, 1.0 / s)

    def _run(self, img0: torch.Tensor, img1: torch.Tensor, t: torch.Tensor) -> torch.Tensor:
        # t is always 0.5 here: the base class bisects towards other timesteps
        bgr0, bgr1 = img0.flip(1), img1.flip(1)
        flow = self._flow_from_downscaled(bgr0, bgr1) if self.flow_scale != 1.0 else None
        return self.net(bgr0, bgr1, flow).flip(1)


def random_weight_model(device: str | torch.device | None = None, **options: object) -> VFIformerModel:
    """The model with seeded random weights, for benchmarks where the official file is absent."""
    return VFIformerModel(device=device, net=build_vfiformer_net(seed=0), **options)  # type: ignore[arg-type]
