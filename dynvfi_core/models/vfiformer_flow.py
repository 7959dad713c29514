"""VFIformer's motion half: a RIFE-style flow estimator and a multi-scale flow refiner.

Both predict *bilateral* flow, 4 channels: ``[:2]`` from the middle frame to frame 0 and ``[2:]``
to frame 1, in pixels of the resolution they live at. Module and attribute names mirror the
official checkpoint's state-dict keys (``flownet.block0.conv0.0.0.weight``, ...), which is why
some are not descriptive (``conv1``, ``gru``): renaming them would break strict loading.

Flow resolution along the pipeline (input H x W):

- ``IFNet`` coarse to fine in three blocks, output at H/2 (each block predicts at H/2);
- ``MultiScaleRefiner`` takes it to H/8 and refines it at H/8, H/4, H/2 and H with one
  correlation-guided update per level, then warps a 4-level feature pyramid of each frame with
  the final flow; those warped features condition the transformer's encoder levels.
"""

from __future__ import annotations

import torch
import torch.nn.functional as F
from torch import nn

from dynvfi_core.models.warp import backward_warp


def resize_flow(flow: torch.Tensor, factor: float) -> torch.Tensor:
    """Bilinearly resample a flow field by ``factor`` and rescale its pixel values to match."""
    return F.interpolate(flow, scale_factor=factor, mode="bilinear", align_corners=False) * factor


def _conv_prelu(cin: int, cout: int, kernel: int = 3, stride: int = 1) -> nn.Sequential:
    return nn.Sequential(nn.Conv2d(cin, cout, kernel, stride, kernel // 2), nn.PReLU(cout))


class _FlowBlock(nn.Module):
    """One coarse-to-fine level: downsample by ``scale``, 1/4 more by two strided convs, predict
    4-channel flow at 2x that (transposed conv), and resample it back to H/2 of the input."""

    def __init__(self, in_ch: int, scale: int, width: int) -> None:
        super().__init__()
        self.scale = scale
        self.conv0 = nn.Sequential(_conv_prelu(in_ch, width // 2, stride=2), _conv_prelu(width // 2, width, stride=2))
        self.convblock = nn.Sequential(*[_conv_prelu(width, width) for _ in range(8)])
        self.conv1 = nn.ConvTranspose2d(width, 4, 4, 2, 1)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        if self.scale != 1:
            x = F.interpolate(x, scale_factor=1.0 / self.scale, mode="bilinear", align_corners=False)
        feat = self.conv0(x)
        flow = self.conv1(self.convblock(feat) + feat)
        if self.scale != 1:
            # the official net resamples the flow without rescaling its values here: the
            # network learned that convention, so it is kept
            flow = F.interpolate(flow, scale_factor=self.scale, mode="bilinear", align_corners=False)
        return flow


class IFNet(nn.Module):
    """Three-level flow estimator (widths 240/150/90 at scales 4/2/1), flow at H/2.

    Level 0 sees both frames; levels 1-2 see both frames warped by the current estimate plus
    that estimate, and add a residual.
    """

    def __init__(self) -> None:
        super().__init__()
        self.block0 = _FlowBlock(6, scale=4, width=240)
        self.block1 = _FlowBlock(10, scale=2, width=150)
        self.block2 = _FlowBlock(10, scale=1, width=90)

    def forward(self, img0: torch.Tensor, img1: torch.Tensor) -> torch.Tensor:
        flow = self.block0(torch.cat((img0, img1), 1))
        for block in (self.block1, self.block2):
            full = resize_flow(flow, 2.0)
            warped0 = backward_warp(img0, full[:, :2])
            warped1 = backward_warp(img1, full[:, 2:4])
            flow = flow + block(torch.cat((warped0, warped1, full), 1))
        return flow


def _unit(x: torch.Tensor, dim: int) -> torch.Tensor:
    """L2-normalise along ``dim`` with the official epsilon placement (inside the square root)."""
    return x / (x.pow(2).sum(dim=dim, keepdim=True) + 1e-12).sqrt()


class _RefineLevel(nn.Module):
    """One refinement step at one pyramid level (``ch`` feature channels).

    Each frame's features are gathered in a 3x3 neighbourhood around where the flow points
    (unfold, then warp). An occlusion-weighted blend of the two centre samples is the context;
    its cosine similarity with the 9 neighbours of each frame is a local cost volume, which
    together with the current flow predicts a flow residual per direction. Both directions share
    the weights, so they run as one doubled batch.
    """

    def __init__(self, ch: int) -> None:
        super().__init__()
        self.occl_convs = nn.Sequential(
            nn.Conv2d(2 * ch, ch, 1), nn.PReLU(ch), nn.Conv2d(ch, ch, 1), nn.PReLU(ch),
            nn.Conv2d(ch, 1, 1), nn.Sigmoid(),
        )
        self.corr_convs = nn.Sequential(nn.Conv2d(9, ch, 1), nn.PReLU(ch), nn.Conv2d(ch, ch, 1), nn.PReLU(ch))
        self.flow_convs = nn.Sequential(*_conv_prelu(2, ch), *_conv_prelu(ch, ch))
        self.motion_convs = _conv_prelu(2 * ch, ch)
        # named "gru" in the official code although it is a plain two-conv update head
        self.gru = nn.Sequential(*_conv_prelu(3 * ch + 2, ch), *_conv_prelu(ch, ch))
        self.flow_head = nn.Sequential(*_conv_prelu(ch, ch), nn.Conv2d(ch, 2, 3, 1, 1))

    def forward(self, feat: torch.Tensor, flow: torch.Tensor) -> torch.Tensor:
        """``feat``: ``(2B, C, h, w)`` frame-0 then frame-1 features; ``flow``: ``(B, 4, h, w)``."""
        b2, c, h, w = feat.shape
        b = b2 // 2
        flows = torch.cat((flow[:, :2], flow[:, 2:4]), 0)
        patches = F.unfold(feat, kernel_size=3, padding=1).view(b2, c * 9, h, w)
        samples = backward_warp(patches, flows).view(b2, c, 9, h, w)
        centre = samples[:, :, 4]
        occl = self.occl_convs(torch.cat((centre[:b], centre[b:]), 1))
        context = centre[:b] * occl + centre[b:] * (1 - occl)
        context2 = torch.cat((context, context), 0)
        corr = torch.einsum("nchw,nckhw->nkhw", _unit(context2, 1), _unit(samples, 1))
        motion = self.motion_convs(torch.cat((self.corr_convs(corr), self.flow_convs(flows)), 1))
        delta = self.flow_head(self.gru(torch.cat((context2, centre, motion, flows), 1)))
        flows = flows + delta
        return torch.cat((flows[:b], flows[b:]), 1)


class _ConvPair(nn.Module):
    """Two 3x3 conv+PReLU layers, the first with a stride: one level of the feature pyramid."""

    def __init__(self, cin: int, cout: int, stride: int = 2) -> None:
        super().__init__()
        self.conv1 = _conv_prelu(cin, cout, stride=stride)
        self.conv2 = _conv_prelu(cout, cout)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.conv2(self.conv1(x))


class MultiScaleRefiner(nn.Module):
    """Feature pyramid (24/48/96/192 channels at H, H/2, H/4, H/8) and coarse-to-fine refinement."""

    def __init__(self, c: int = 24) -> None:
        super().__init__()
        self.conv1 = _ConvPair(3, c, stride=1)
        self.conv2 = _ConvPair(c, 2 * c)
        self.conv3 = _ConvPair(2 * c, 4 * c)
        self.conv4 = _ConvPair(4 * c, 8 * c)
        self.rf_block1 = _RefineLevel(c)
        self.rf_block2 = _RefineLevel(2 * c)
        self.rf_block3 = _RefineLevel(4 * c)
        self.rf_block4 = _RefineLevel(8 * c)

    def pyramid(self, img0: torch.Tensor, img1: torch.Tensor) -> list[torch.Tensor]:
        """Features of both frames, fine to coarse, each ``(2B, C_l, H/2**l, W/2**l)``."""
        feats = [self.conv1(torch.cat((img0, img1), 0))]
        for enc in (self.conv2, self.conv3, self.conv4):
            feats.append(enc(feats[-1]))
        return feats

    def refine(self, feats: list[torch.Tensor], flow_half: torch.Tensor) -> torch.Tensor:
        """Refine an H/2 flow at H/8, H/4, H/2 and H; returns the full-resolution flow."""
        flow = resize_flow(flow_half, 0.25)
        blocks = (self.rf_block1, self.rf_block2, self.rf_block3, self.rf_block4)
        for level in (3, 2, 1, 0):
            if level != 3:
                flow = resize_flow(flow, 2.0)
            flow = blocks[level](feats[level], flow)
        return flow

    @staticmethod
    def warp_pyramid(feats: list[torch.Tensor], flow: torch.Tensor) -> list[torch.Tensor]:
        """Each level's features of both frames warped to the middle frame, ``(B, 2*C_l, ...)``
        with frame 0's channels first (the order the synthesis network was trained on)."""
        b = flow.shape[0]
        flows = torch.cat((flow[:, :2], flow[:, 2:4]), 0)
        out = []
        for feat in feats:
            warped = backward_warp(feat, flows)
            out.append(torch.cat((warped[:b], warped[b:]), 1))
            flows = resize_flow(flows, 0.5)
        return out
