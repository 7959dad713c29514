"""RIFE v4.25 (Practical-RIFE): a five-level intermediate-flow network for any timestep.

Architecture (matches the released ``flownet.pkl`` key for key): a small feature head turns each
frame into 4 feature channels at full resolution; five IFBlocks, widths 192/128/96/64/32, run
coarse to fine at scales 16/8/4/2/1 (each divided by the user ``scale``). Each block sees both
frames and their features backward-warped by the current flow, a constant timestep plane, the
previous mask logit and 8 carried feature channels, and predicts a flow *residual* (4 channels:
t->0 and t->1), a fresh mask logit and 8 new feature channels. The output is the mask-weighted
mix of the two warped frames. There is no refinement network.

Inputs are RGB in [0, 1] (the order the v4.25 reference pipeline feeds the network).
"""

from __future__ import annotations

import torch
import torch.nn.functional as F
from torch import nn

from dynvfi_core import weights
from dynvfi_core.errors import ConfigError
from dynvfi_core.models.base import NetworkModel
from dynvfi_core.models.warp import backward_warp

#: user scales the network supports: the level sizes only stay integral for powers of two
SCALES = (0.25, 0.5, 1.0, 2.0, 4.0)


def load_state(model: str, drop_prefixes: tuple[str, ...] = (), strip_prefix: str = "") -> dict[str, torch.Tensor]:
    """A model's verified checkpoint as a state dict, minus training-only tensors.

    Raises :class:`~dynvfi_core.errors.MissingWeightsError` (via :func:`weights.require`) naming
    the exact path when the file is absent, so users learn where to put it.
    """
    raw = torch.load(weights.require(model), map_location="cpu", weights_only=True)
    state = {}
    for key, value in raw.items():
        if strip_prefix and key.startswith(strip_prefix):
            key = key[len(strip_prefix):]
        if not key.startswith(drop_prefixes):
            state[key] = value
    return state


def check_scale(scale: float) -> float:
    """Validate a user ``scale`` option (0.5 halves the flow resolution, e.g. for 4K input)."""
    try:
        value = float(scale)
    except (TypeError, ValueError) as exc:
        raise ConfigError(f"scale must be a number, got {scale!r}") from exc
    if value not in SCALES:
        raise ConfigError(f"scale must be one of {', '.join(str(s) for s in SCALES)}, got {scale}")
    return value


def _conv_lrelu(cin: int, cout: int, stride: int = 1) -> nn.Sequential:
    return nn.Sequential(nn.Conv2d(cin, cout, 3, stride, 1), nn.LeakyReLU(0.2, inplace=True))


class _FeatureHead(nn.Module):
    """Frame -> 4 full-resolution feature channels (stride-2 convs, then a transposed conv back up)."""

    def __init__(self) -> None:
        super().__init__()
        self.cnn0 = nn.Conv2d(3, 16, 3, 2, 1)
        self.cnn1 = nn.Conv2d(16, 16, 3, 1, 1)
        self.cnn2 = nn.Conv2d(16, 16, 3, 1, 1)
        self.cnn3 = nn.ConvTranspose2d(16, 4, 4, 2, 1)
        self.act = nn.LeakyReLU(0.2, inplace=True)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        x = self.act(self.cnn0(x))
        x = self.act(self.cnn1(x))
        x = self.act(self.cnn2(x))
        return self.cnn3(x)


class _ScaledResidual(nn.Module):
    """``lrelu(conv(x) * beta + x)``: a residual conv whose branch has a learned per-channel gain."""

    def __init__(self, c: int) -> None:
        super().__init__()
        self.conv = nn.Conv2d(c, c, 3, 1, 1)
        self.beta = nn.Parameter(torch.ones(1, c, 1, 1))
        self.act = nn.LeakyReLU(0.2, inplace=True)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.act(self.conv(x) * self.beta + x)


def _resample(x: torch.Tensor, factor: float) -> torch.Tensor:
    """``x`` resized by ``factor`` (bilinear, half-pixel centres), or ``x`` itself when ``factor`` is 1.

    At factor 1 every output pixel sits exactly on an input pixel (weight 1, neighbour weight 0),
    so the resize would only copy: skipping it gives the same values without a full-resolution
    temporary, which at 1080p is hundreds of megabytes of fresh pages per call.
    """
    if factor == 1.0:
        return x
    return F.interpolate(x, scale_factor=factor, mode="bilinear", align_corners=False)


class _ConcatBuffer:
    """One allocation that every level of a call concatenates its full-resolution input into.

    That concatenation (24-28 channels) is each level's largest temporary, 200-230 MB at 1080p.
    Allocated afresh per level, it is mapped from the kernel and zero-filled again every time
    (glibc serves blocks over 32 MiB with mmap and unmaps them when freed), and those page faults
    cost about as much as the level's convolutions; filling one buffer per call faults it once.
    A buffer slice viewed at the level's shape is contiguous and starts where the buffer does,
    so the kernels that read it see exactly what a fresh tensor would give them.

    Plain ``torch.cat`` is kept where writing into a buffer would break something: under
    ``torch.jit.trace`` (the OpenVINO conversion: the buffer's size would be frozen into the
    graph) and when a part requires grad (``out=`` is not differentiable).
    """

    def __init__(self, numel: int) -> None:
        self.numel = numel
        self.storage: torch.Tensor | None = None

    def cat(self, parts: tuple[torch.Tensor, ...]) -> torch.Tensor:
        """``torch.cat(parts, 1)``, written into the buffer when it can be."""
        if torch.jit.is_tracing() or any(p.requires_grad for p in parts):
            return torch.cat(parts, 1)
        n, _, h, w = parts[0].shape
        shape = (n, sum(p.shape[1] for p in parts), h, w)
        size = shape[0] * shape[1] * h * w
        dtype = parts[0].dtype
        for p in parts[1:]:
            dtype = torch.promote_types(dtype, p.dtype)
        if self.storage is None or self.storage.dtype != dtype:
            self.storage = torch.empty(self.numel, dtype=dtype, device=parts[0].device)
        return torch.cat(parts, 1, out=self.storage[:size].view(shape))


class _IFBlock(nn.Module):
    """One level: resample the inputs to 1/scale, predict flow/mask/features, resample back."""

    def __init__(self, cin: int, c: int) -> None:
        super().__init__()
        self.conv0 = nn.Sequential(_conv_lrelu(cin, c // 2, 2), _conv_lrelu(c // 2, c, 2))
        self.convblock = nn.Sequential(*(_ScaledResidual(c) for _ in range(8)))
        # 52 = 4 x 13 channels; PixelShuffle(2) turns them into 13 channels at twice the size
        self.lastconv = nn.Sequential(nn.ConvTranspose2d(c, 4 * 13, 4, 2, 1), nn.PixelShuffle(2))

    def forward(
        self, parts: tuple[torch.Tensor, ...], flow: torch.Tensor | None, scale: float, buffer: _ConcatBuffer
    ) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor]:
        """``parts`` are the input's channel groups at full resolution, in channel order,
        concatenated in ``buffer`` (which the next level overwrites: nothing returned refers to it).

        They are resized as one concatenated tensor, not group by group: the resize kernel's
        vectorised and scalar code paths round differently and which elements take which depends
        on the tensor's shape, so per-group resizing changes output bits. At scale 1 (no resize)
        the flow joins the same concatenation, saving a second full-size copy.
        """
        if scale == 1.0:
            x = buffer.cat(parts if flow is None else (*parts, flow))
        else:
            x = _resample(buffer.cat(parts), 1.0 / scale)
            if flow is not None:
                # flow is in pixels, so it shrinks with the image
                x = torch.cat((x, _resample(flow, 1.0 / scale) / scale), 1)
        out = self.lastconv(self.convblock(self.conv0(x)))
        out = _resample(out, scale)
        flow_out = out[:, :4] if scale == 1.0 else out[:, :4] * scale
        return flow_out, out[:, 4:5], out[:, 5:]


class IFNetV4(nn.Module):
    """The v4.25 flow network on inputs whose sides are multiples of ``64 / min(scale, 1)``."""

    def __init__(self) -> None:
        super().__init__()
        self.encode = _FeatureHead()
        # block0: 2 frames (6) + 2 x 4 features + timestep = 15 channels;
        # later blocks add mask (1) + carried features (8) + the current flow (4) = 28
        self.block0 = _IFBlock(15, 192)
        self.block1 = _IFBlock(28, 128)
        self.block2 = _IFBlock(28, 96)
        self.block3 = _IFBlock(28, 64)
        self.block4 = _IFBlock(28, 32)

    #: the coarse-to-fine levels of the five blocks (before dividing by the user scale)
    LEVELS = (16.0, 8.0, 4.0, 2.0, 1.0)

    def flow_levels(self, img0: torch.Tensor, img1: torch.Tensor, t: torch.Tensor, scale: float = 1.0,
                    n_blocks: int = 5) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor]:
        """Flow (t->0, t->1, pixels), mask logit and carried features after the first ``n_blocks``.

        The full network is ``n_blocks=5``; the motion-prior DPA (:mod:`dynvfi_core.dpa.rife_prior`)
        stops after the coarse levels, which hold most of what makes a pair hard (how far things
        move, where the flow cannot explain the change) at a fraction of the cost.
        """
        if not 1 <= n_blocks <= 5:
            raise ConfigError(f"n_blocks must be 1..5, got {n_blocks}")
        n, _, h, w = img0.shape
        tplane = t.to(img0.dtype).view(n, 1, 1, 1).expand(n, 1, h, w)
        # each side on its own, never the two stacked in one batch: stacking doubles every
        # full-resolution temporary, which pushes them past the allocator's size for reusing
        # freed memory (32 MiB in glibc: a 16-channel half-size 1080p map is just under it),
        # so every call would fault in gigabytes of fresh pages
        f0 = self.encode(img0).to(img0.dtype)
        f1 = self.encode(img1).to(img0.dtype)
        blocks = (self.block0, self.block1, self.block2, self.block3, self.block4)[:n_blocks]
        # room for the widest level input (the flow included, as at scale 1); pages never touched
        # are never faulted in, so levels that fill less cost nothing extra
        buffer = _ConcatBuffer(n * max(b.conv0[0][0].in_channels for b in blocks) * h * w)

        flow, mask, carried = blocks[0]((img0, img1, f0, f1, tplane), None, self.LEVELS[0] / scale, buffer)
        for block, level in zip(blocks[1:], self.LEVELS[1:]):
            parts = (backward_warp(img0, flow[:, :2]), backward_warp(img1, flow[:, 2:4]),
                     backward_warp(f0, flow[:, :2]), backward_warp(f1, flow[:, 2:4]), tplane, mask, carried)
            dflow, mask, carried = block(parts, flow, level / scale, buffer)
            flow = flow + dflow
        return flow, mask, carried

    def forward(self, img0: torch.Tensor, img1: torch.Tensor, t: torch.Tensor, scale: float = 1.0) -> torch.Tensor:
        """Frame at per-sample time ``t`` (``(B,)``) between ``img0`` and ``img1``."""
        flow, mask, _ = self.flow_levels(img0, img1, t, scale)
        m = torch.sigmoid(mask)
        return backward_warp(img0, flow[:, :2]) * m + backward_warp(img1, flow[:, 2:4]) * (1 - m)


class _FixedScale(nn.Module):
    """``net(img0, img1, t)`` with the user scale fixed: the forward an inference backend converts
    (the timestep stays an input, so one graph serves every t)."""

    def __init__(self, net: nn.Module, scale: float) -> None:
        super().__init__()
        self.net, self.scale = net, scale

    def forward(self, img0: torch.Tensor, img1: torch.Tensor, t: torch.Tensor) -> torch.Tensor:
        return self.net(img0, img1, t, self.scale)


class RIFEv425(NetworkModel):
    """Practical-RIFE v4.25 with the released weights: arbitrary t, optional ``scale`` for big frames,
    ``backend`` (``torch`` / ``openvino``, default: see :mod:`dynvfi_core.backends`)."""

    name = "rife-v4.25"
    arbitrary_t = True

    def __init__(self, device: str | torch.device | None = None, scale: float = 1.0,
                 backend: str | None = None) -> None:
        self.scale = check_scale(scale)
        net = IFNetV4()
        net.load_state_dict(load_state("rife-v4.25", drop_prefixes=("teacher.", "caltime.")), strict=True)
        super().__init__(net, device)
        # the coarsest level sees the frame at 1/(64/scale): sides must divide evenly
        self.pad_multiple = max(64, int(64 / self.scale))
        side = self.pad_multiple
        example = (torch.rand(1, 3, side, side), torch.rand(1, 3, side, side), torch.full((1,), 0.5))
        self.use_backend(backend, _FixedScale(self.net, self.scale), f"rife-v4.25-scale{self.scale}", example)

    def _run(self, img0: torch.Tensor, img1: torch.Tensor, t: torch.Tensor) -> torch.Tensor:
        if self.graph is not None:
            return self.run_graph(img0, img1, t)
        return self.net(img0, img1, t, self.scale)
