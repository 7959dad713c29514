"""RIFE HDv3 (ECCV2022-RIFE "HD" v3.6): a three-level midpoint interpolator.

Architecture (matches the released ``flownet.pkl`` after stripping ``module.``): three IFBlocks of
width 90 with PReLU activations run at scales 4/2/1. Each block sees the two frames warped by the
current flow plus the current mask logit, and predicts a flow and mask *residual*. Every block is
applied symmetrically — once on (frame0, frame1) and once on the swapped pair with swapped flow
and negated mask — and the two answers are averaged, which is why the network only ever predicts
the midpoint. Other timesteps come from recursive halving in :class:`VFIModel`.
"""

from __future__ import annotations

import torch
import torch.nn.functional as F
from torch import nn

from dynvfi_core.models.base import NetworkModel
from dynvfi_core.models.rife_v4 import check_scale, load_state
from dynvfi_core.models.warp import backward_warp


def _conv_prelu(cin: int, cout: int, stride: int = 1) -> nn.Sequential:
    return nn.Sequential(nn.Conv2d(cin, cout, 3, stride, 1), nn.PReLU(cout))


def _upsample_head(c: int, cout: int) -> nn.Sequential:
    """Two stride-2 transposed convs: back from 1/4 of the level's resolution to the level's."""
    return nn.Sequential(nn.ConvTranspose2d(c, c // 2, 4, 2, 1), nn.PReLU(c // 2), nn.ConvTranspose2d(c // 2, cout, 4, 2, 1))


class _HDBlock(nn.Module):
    """One level: inputs at 1/scale, four residual conv pairs, flow (4) and mask (1) residuals out."""

    def __init__(self, cin: int, c: int = 90) -> None:
        super().__init__()
        self.conv0 = nn.Sequential(_conv_prelu(cin, c // 2, 2), _conv_prelu(c // 2, c, 2))
        self.convblock0 = nn.Sequential(_conv_prelu(c, c), _conv_prelu(c, c))
        self.convblock1 = nn.Sequential(_conv_prelu(c, c), _conv_prelu(c, c))
        self.convblock2 = nn.Sequential(_conv_prelu(c, c), _conv_prelu(c, c))
        self.convblock3 = nn.Sequential(_conv_prelu(c, c), _conv_prelu(c, c))
        self.conv1 = _upsample_head(c, 4)
        self.conv2 = _upsample_head(c, 1)

    def forward(self, x: torch.Tensor, flow: torch.Tensor, scale: float) -> tuple[torch.Tensor, torch.Tensor]:
        x = F.interpolate(x, scale_factor=1.0 / scale, mode="bilinear", align_corners=False)
        flow = F.interpolate(flow, scale_factor=1.0 / scale, mode="bilinear", align_corners=False) / scale
        feat = self.conv0(torch.cat((x, flow), 1))
        for res in (self.convblock0, self.convblock1, self.convblock2, self.convblock3):
            feat = res(feat) + feat
        dflow = F.interpolate(self.conv1(feat), scale_factor=scale, mode="bilinear", align_corners=False) * scale
        dmask = F.interpolate(self.conv2(feat), scale_factor=scale, mode="bilinear", align_corners=False)
        return dflow, dmask


def _swap_flow(flow: torch.Tensor) -> torch.Tensor:
    """(t->0, t->1) flow as seen with the frames swapped: (t->1, t->0)."""
    return torch.cat((flow[:, 2:4], flow[:, :2]), 1)


class IFNetHDv3(nn.Module):
    """The HDv3 flow network on inputs whose sides are multiples of ``32 / min(scale, 1)``."""

    def __init__(self) -> None:
        super().__init__()
        # 2 warped frames (6) + mask (1) + flow (4) = 11 input channels
        self.block0 = _HDBlock(11)
        self.block1 = _HDBlock(11)
        self.block2 = _HDBlock(11)

    def forward(self, img0: torch.Tensor, img1: torch.Tensor, scale: float = 1.0) -> torch.Tensor:
        """The midpoint frame between ``img0`` and ``img1``."""
        n, _, h, w = img0.shape
        flow = img0.new_zeros(n, 4, h, w)
        mask = img0.new_zeros(n, 1, h, w)
        w0, w1 = img0, img1
        for block, level in zip((self.block0, self.block1, self.block2), (4.0, 2.0, 1.0)):
            # the forward and the swapped pass go through the block as one batch
            x = torch.cat((torch.cat((w0, w1, mask), 1), torch.cat((w1, w0, -mask), 1)), 0)
            dflow, dmask = block(x, torch.cat((flow, _swap_flow(flow)), 0), level / scale)
            fwd_flow, bwd_flow = dflow.chunk(2)
            fwd_mask, bwd_mask = dmask.chunk(2)
            flow = flow + (fwd_flow + _swap_flow(bwd_flow)) / 2
            mask = mask + (fwd_mask - bwd_mask) / 2
            warped = backward_warp(torch.cat((img0, img1), 0), torch.cat((flow[:, :2], flow[:, 2:4]), 0))
            w0, w1 = warped.chunk(2)
        m = torch.sigmoid(mask)
        return w0 * m + w1 * (1 - m)


class RIFEHDv3(NetworkModel):
    """ECCV2022-RIFE HDv3 with the released weights: t=0.5 natively, other t by halving;
    ``backend`` as for :class:`~dynvfi_core.models.rife_v4.RIFEv425`."""

    name = "rife-hdv3"
    arbitrary_t = False

    def __init__(self, device: str | torch.device | None = None, scale: float = 1.0,
                 backend: str | None = None) -> None:
        self.scale = check_scale(scale)
        net = IFNetHDv3()
        net.load_state_dict(load_state("rife-hdv3", drop_prefixes=("block_tea.",), strip_prefix="module."), strict=True)
        super().__init__(net, device)
        self.pad_multiple = max(32, int(32 / self.scale))
        side = max(64, self.pad_multiple)
        example = (torch.rand(1, 3, side, side), torch.rand(1, 3, side, side))
        self.use_backend(backend, _Midpoint(self.net, self.scale), f"rife-hdv3-scale{self.scale}", example)

    def _run(self, img0: torch.Tensor, img1: torch.Tensor, t: torch.Tensor) -> torch.Tensor:
        if self.graph is not None:
            return self.run_graph(img0, img1)
        return self.net(img0, img1, self.scale)


class _Midpoint(nn.Module):
    """``net(img0, img1)`` with the user scale fixed: the forward an inference backend converts."""

    def __init__(self, net: nn.Module, scale: float) -> None:
        super().__init__()
        self.net, self.scale = net, scale

    def forward(self, img0: torch.Tensor, img1: torch.Tensor) -> torch.Tensor:
        return self.net(img0, img1, self.scale)
