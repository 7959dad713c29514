"""The VFI model interface and the shared padding / batching / precision logic.

Subclasses implement :meth:`VFIModel._run` on tensors already padded to ``pad_multiple``; the
base class handles any H x W (pad then crop), float or uint8 input, per-sample timesteps, the
device and fp16 autocast on CUDA, so every model (and every wrapper) behaves the same way.
"""

from __future__ import annotations

import abc
import logging
import math

import numpy as np
import torch
import torch.nn.functional as F

from dynvfi_core.backends import OpenVINOGraph, build_graph
from dynvfi_core.device import pick_device
from dynvfi_core.errors import InputError
from dynvfi_core.imageio import check_same_size, to_tensor, to_uint8

log = logging.getLogger(__name__)


def timestep_tensor(t: float | torch.Tensor, batch: int, device: torch.device) -> torch.Tensor:
    """Timesteps as a ``(B,)`` float tensor, validated to lie strictly inside (0, 1)."""
    tt = torch.as_tensor(t, dtype=torch.float32, device=device).flatten()
    if tt.numel() == 1:
        tt = tt.expand(batch).clone()
    if tt.numel() != batch:
        raise InputError(f"got {tt.numel()} timesteps for a batch of {batch}")
    if bool(((tt <= 0) | (tt >= 1)).any()):
        raise InputError(f"timestep must lie strictly between 0 and 1, got {tt.tolist()}")
    return tt


class VFIModel(abc.ABC):
    """A frame interpolator: ``interpolate(img0, img1, t) -> frame at time t``.

    Frames are ``(B, 3, H, W)`` float tensors in [0, 1] (uint8 arrays are accepted by
    :meth:`interpolate_frames`). ``t`` is a float or a ``(B,)`` tensor in (0, 1).
    """

    #: registry name, e.g. ``rife-v4.25`` or ``tta(rife-v4.25)``
    name: str = "model"
    #: H and W are padded up to a multiple of this before :meth:`_run`
    pad_multiple: int = 1
    #: False for midpoint-only networks: other timesteps go through recursive halving
    arbitrary_t: bool = True
    #: smallest side the network accepts after padding (its coarsest level must be >= 1 px)
    min_side: int = 1
    #: pad equally on all sides (as e.g. VFIformer's official test loader does) instead of only
    #: at the bottom/right: networks are not translation-invariant, so this changes the output
    pad_centred: bool = False
    #: ``F.pad`` mode of that padding: zeros, or ``"replicate"`` (EMA-VFI's official padder)
    pad_mode: str = "constant"

    def __init__(self, device: str | torch.device | None = None) -> None:
        self.device = pick_device(device)

    # -- to implement -------------------------------------------------------------------------
    @abc.abstractmethod
    def _run(self, img0: torch.Tensor, img1: torch.Tensor, t: torch.Tensor) -> torch.Tensor:
        """Interpolate padded inputs on ``self.device``; ``t`` is ``(B,)``."""

    # -- shared behaviour ---------------------------------------------------------------------
    def to(self, device: str | torch.device) -> "VFIModel":
        self.device = torch.device(device)
        return self

    def pad_size(self, h: int, w: int) -> tuple[int, int]:
        m = self.pad_multiple
        ph = max(math.ceil(h / m) * m, self.min_side)
        pw = max(math.ceil(w / m) * m, self.min_side)
        return ph, pw

    @torch.inference_mode()
    def interpolate(self, img0: torch.Tensor, img1: torch.Tensor, t: float | torch.Tensor = 0.5) -> torch.Tensor:
        """Frame(s) at time ``t`` between ``img0`` (t=0) and ``img1`` (t=1), same size as the inputs."""
        a, b = to_tensor(img0), to_tensor(img1)
        if a.shape != b.shape:
            raise InputError(f"frames have different shapes: {tuple(a.shape)} vs {tuple(b.shape)}")
        n, _, h, w = a.shape
        out_device = a.device
        a = a.to(self.device, torch.float32)
        b = b.to(self.device, torch.float32)
        tt = timestep_tensor(t, n, self.device)
        ph, pw = self.pad_size(h, w)
        top, left = ((ph - h) // 2, (pw - w) // 2) if self.pad_centred else (0, 0)
        if (ph, pw) != (h, w):
            a = F.pad(a, (left, pw - w - left, top, ph - h - top), mode=self.pad_mode)
            b = F.pad(b, (left, pw - w - left, top, ph - h - top), mode=self.pad_mode)
        with torch.autocast("cuda", dtype=torch.float16, enabled=self.device.type == "cuda"):
            if self.arbitrary_t or bool((tt == 0.5).all()):
                out = self._run(a, b, tt)
            else:
                out = self._recursive(a, b, tt)
        return out[:, :, top:top + h, left:left + w].float().clamp_(0, 1).to(out_device)

    def _recursive(self, a: torch.Tensor, b: torch.Tensor, t: torch.Tensor, depth: int = 6) -> torch.Tensor:
        """Any t from a midpoint-only network by bisection (as RIFE's own inference does).

        Each sample walks towards its own t; after ``depth`` halvings the nearest computed frame
        is within 1/2**depth of t (1/64 by default), and exact for dyadic t such as 0.25.
        """
        lo_img, hi_img = a, b
        lo = torch.zeros_like(t)
        hi = torch.ones_like(t)
        result = torch.zeros_like(a)
        finished = torch.zeros_like(t, dtype=torch.bool)
        for _ in range(depth):
            mid_img = self._run(lo_img, hi_img, torch.full_like(t, 0.5))
            mid = (lo + hi) / 2
            # a sample takes this frame when it hits t exactly, or when this is the last halving
            take = ~finished & ((mid - t).abs() < 1e-6)
            result = torch.where(take.view(-1, 1, 1, 1), mid_img, result)
            finished |= take
            if bool(finished.all()):
                return result
            right = t > mid
            lo_img = torch.where(right.view(-1, 1, 1, 1), mid_img, lo_img)
            hi_img = torch.where(right.view(-1, 1, 1, 1), hi_img, mid_img)
            lo = torch.where(right, mid, lo)
            hi = torch.where(right, hi, mid)
        return torch.where(finished.view(-1, 1, 1, 1), result, mid_img)

    def interpolate_frames(self, frame0: np.ndarray, frame1: np.ndarray, t: float = 0.5) -> np.ndarray:
        """uint8 RGB ``(H, W, 3)`` in, uint8 RGB ``(H, W, 3)`` out."""
        check_same_size(frame0, frame1)
        return to_uint8(self.interpolate(to_tensor(frame0), to_tensor(frame1), t))[0]

    def __repr__(self) -> str:
        return f"<{type(self).__name__} {self.name} on {self.device}>"


class NetworkModel(VFIModel):
    """A VFI model backed by one ``torch.nn.Module`` (RIFE variants, VFIformer)."""

    def __init__(self, net: torch.nn.Module, device: str | torch.device | None = None) -> None:
        super().__init__(device)
        self.net = net.eval().to(self.device)
        for p in self.net.parameters():
            p.requires_grad_(False)
        #: the network as an accelerated graph (:mod:`dynvfi_core.backends`), None on the torch path
        self.graph: OpenVINOGraph | None = None

    @property
    def backend(self) -> str:
        """``"openvino"`` when :meth:`_run` uses the converted graph, else ``"torch"``."""
        return "torch" if self.graph is None else "openvino"

    def use_backend(self, backend: str | None, module: torch.nn.Module, graph_name: str,
                    example: tuple[torch.Tensor, ...]) -> None:
        """Run ``module`` (the network's forward with its options fixed) on ``backend``
        (None: the default, see :func:`dynvfi_core.backends.build_graph`)."""
        self.graph = build_graph(backend, self.device, module, graph_name, example)

    def run_graph(self, *inputs: torch.Tensor) -> torch.Tensor:
        """The converted graph on each sample of a batch (CPU: batching saves nothing, and one
        compiled shape serves every batch size)."""
        assert self.graph is not None
        outs = [self.graph(*(x[i:i + 1] for x in inputs)) for i in range(inputs[0].shape[0])]
        return torch.cat(outs, 0).to(inputs[0].device)

    def to(self, device: str | torch.device) -> "NetworkModel":
        super().to(device)
        self.net.to(self.device)
        if self.device.type != "cpu" and self.graph is not None:
            log.info("%s moved to %s: using the PyTorch backend there", self.name, self.device)
            self.graph = None
        return self

    def num_parameters(self) -> int:
        return sum(p.numel() for p in self.net.parameters())
