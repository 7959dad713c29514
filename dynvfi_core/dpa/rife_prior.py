"""Motion-prior DPA: difficulty from the fast model's own coarse flow, a small head on top.

Why: the paper's DPA learns a Swin backbone from the difficulty labels alone, and with a few
thousand labelled pairs (and no ImageNet Swin weights available offline) it mostly learns
"how much changes". The fast model itself already knows where it struggles: its first
IFBlocks estimate the intermediate flow from coarse to fine, trained on real video. This
variant runs the first ``prior_blocks`` levels of the released RIFE v4.25 network (frozen, its
weights verified by sha256) on the pair's view and derives maps that describe the pair's
difficulty for *that* model:

- the flow itself (t->0 and t->1, in percent of the view's size, sign-preserving log scale);
- its non-linearity ``|f_t0 + f_t1|`` (linear motion has ``f_t0 = -f_t1``) and its spatial
  gradient (motion boundaries, where occlusions are);
- the photometric residual after warping both frames to t with that flow: where the flow
  cannot explain the change (occlusion, blur, lighting, large motion) the fast model's frame
  will be wrong;
- the plain frame difference and the image gradient (texture, which costs PSNR when misplaced);
- RIFE's fusion mask and the eight feature channels it carries to the next level;
- with ``prior_stats``, two full-resolution statistics of the pair (mean absolute difference and
  mean gradient, :func:`~dynvfi_core.dpa.preprocess.pair_stats`) as constant channels: the view
  averages away the fine texture and change that cost the fast model PSNR at the frame's size.

A small trainable CNN turns these maps (at 1/4 of the view) into AHIQ's patch-wise score and
attention (:class:`~dynvfi_core.dpa.network.PatchHead`), so the output, the loss and the
auxiliary attention target are exactly those of the paper's DPA. Only the head trains
(about 0.1M parameters), which is what a few thousand auto-labelled pairs can support.
"""

from __future__ import annotations

import torch
import torch.nn.functional as F
from torch import nn

from dynvfi_core.dpa.config import ModelConfig
from dynvfi_core.dpa.network import PatchHead
from dynvfi_core.dpa.preprocess import MEAN, N_STATS, STD
from dynvfi_core.errors import ConfigError, InputError
from dynvfi_core.models.rife_v4 import IFNetV4, load_state
from dynvfi_core.models.warp import backward_warp

#: channels of the derived maps: flow (4), non-linearity (1), flow gradient (1), mask (1),
#: carried features (8), warp residual (1), frame difference (1), image gradient (1)
MAP_CHANNELS = 18
#: the derived maps are average-pooled by this factor before the head
POOL = 4
#: the prior's coarsest level samples the view at 1/64 (RIFE's block0 at level 16, two stride-2 convs)
VIEW_MULTIPLE = 64


def _frozen_prior(blocks: int, pretrained: bool) -> IFNetV4:
    """RIFE v4.25's feature head and first ``blocks`` IFBlocks, frozen; later blocks dropped."""
    net = IFNetV4()
    if pretrained:
        net.load_state_dict(load_state("rife-v4.25", drop_prefixes=("teacher.", "caltime.")), strict=True)
    for i in range(blocks, 5):  # unused levels: no weights in the checkpoint, no cost
        setattr(net, f"block{i}", nn.Identity())
    for p in net.parameters():
        p.requires_grad_(False)
    return net.eval()


def _signed_log(x: torch.Tensor) -> torch.Tensor:
    """``sign(x) log(1 + |x|)``: keeps direction, compresses the heavy tail of large motion."""
    return torch.sign(x) * torch.log1p(x.abs())


def _gradient_magnitude(x: torch.Tensor) -> torch.Tensor:
    """Mean absolute forward difference over x and y, per channel averaged: ``(B, 1, H, W)``."""
    dx = F.pad((x[..., :, 1:] - x[..., :, :-1]).abs(), (0, 1, 0, 0))
    dy = F.pad((x[..., 1:, :] - x[..., :-1, :]).abs(), (0, 0, 0, 1))
    return (dx + dy).mean(dim=1, keepdim=True)


class RifePriorDPA(nn.Module):
    """Difficulty score of a frame pair from RIFE's coarse flow; see the module docstring."""

    def __init__(self, cfg: ModelConfig) -> None:
        super().__init__()
        if cfg.arch != "rife-prior":
            raise ConfigError(f"RifePriorDPA needs arch='rife-prior', got {cfg.arch!r}")
        self.cfg = cfg
        #: forward() needs the pair's full-resolution statistics (see dpa.factory.run_dpa)
        self.uses_stats = cfg.prior_stats
        self.prior = _frozen_prior(cfg.prior_blocks, cfg.prior_pretrained)
        w = cfg.prior_width
        self.body = nn.Sequential(
            nn.Conv2d(MAP_CHANNELS + (N_STATS if cfg.prior_stats else 0), w, 3, padding=1), nn.ReLU(inplace=True),
            nn.Conv2d(w, w, 3, stride=2, padding=1), nn.ReLU(inplace=True),
            nn.Conv2d(w, w, 3, padding=1), nn.ReLU(inplace=True),
        )
        self.head = PatchHead(w, w // 2)

    def train(self, mode: bool = True) -> RifePriorDPA:
        """The prior stays in eval mode: it is a fixed feature extractor."""
        super().train(mode)
        self.prior.eval()
        return self

    @torch.no_grad()
    def maps(self, frame0: torch.Tensor, frame1: torch.Tensor) -> torch.Tensor:
        """The derived difficulty maps ``(B, 18, H/4, W/4)`` of ImageNet-normalised view tensors."""
        h, w = frame0.shape[-2:]
        if h % VIEW_MULTIPLE or w % VIEW_MULTIPLE:
            raise InputError(f"the motion-prior DPA needs a view whose sides are multiples of {VIEW_MULTIPLE}, "
                             f"got {w}x{h}")
        mean, std = MEAN.to(frame0.device), STD.to(frame0.device)
        x0 = (frame0.float() * std + mean).clamp(0, 1)
        x1 = (frame1.float() * std + mean).clamp(0, 1)
        t = torch.full((x0.shape[0],), 0.5, device=x0.device)
        flow, mask, carried = self.prior.flow_levels(x0, x1, t, n_blocks=self.cfg.prior_blocks)
        w0, w1 = backward_warp(torch.cat((x0, x1)), torch.cat((flow[:, :2], flow[:, 2:4]))).chunk(2)
        # per-pixel photometric maps at full view resolution (fine texture and misalignment
        # would vanish if pooled first), everything derived from the flow after pooling (cheap)
        fine = F.avg_pool2d(torch.cat((
            (w0 - w1).abs().mean(dim=1, keepdim=True),
            (x0 - x1).abs().mean(dim=1, keepdim=True),
            (_gradient_magnitude(x0) + _gradient_magnitude(x1)) / 2,
        ), dim=1), POOL)
        size = torch.tensor([w, h, w, h], dtype=flow.dtype, device=flow.device).view(1, 4, 1, 1)
        pct = F.avg_pool2d(flow, POOL) / size * 100.0
        nonlinear = (pct[:, :2] + pct[:, 2:]).square().sum(dim=1, keepdim=True).sqrt()
        return torch.cat((
            _signed_log(pct),
            torch.log1p(nonlinear),
            torch.log1p(_gradient_magnitude(pct) * 10.0),
            torch.sigmoid(F.avg_pool2d(mask, POOL)),
            F.avg_pool2d(carried, POOL),
            torch.log1p(10.0 * fine),
        ), dim=1)

    def forward(self, frame0: torch.Tensor, frame1: torch.Tensor,
                stats: torch.Tensor | None = None) -> dict[str, torch.Tensor]:
        """``frame0``/``frame1``: normalised ``(B, 3, H, W)`` views; ``stats``: ``(B, 2)`` pair
        statistics, required with ``prior_stats`` (else ignored); score ``(B,)`` and maps."""
        if frame0.shape != frame1.shape or frame0.dim() != 4:
            raise InputError(f"frame tensors must both be (B, 3, H, W); got {tuple(frame0.shape)}, {tuple(frame1.shape)}")
        maps = self.maps(frame0, frame1)
        if self.uses_stats:
            if stats is None or tuple(stats.shape) != (frame0.shape[0], N_STATS):
                raise InputError(f"this DPA needs the pair statistics (B, {N_STATS}) "
                                 f"(dynvfi_core.dpa.preprocess.pair_stats); got {None if stats is None else tuple(stats.shape)}")
            side = stats.to(maps.dtype)[:, :, None, None].expand(-1, -1, *maps.shape[-2:])
            maps = torch.cat((maps, side), dim=1)
        return self.head(self.body(maps))
