"""The whole EMA-VFI network: backbone, two flow heads, and a refinement U-Net.

For two frames ``(B, 3, H, W)`` (H, W multiples of :data:`PAD_MULTIPLE`) and a timestep ``t``:

1. :class:`~dynvfi_core.models.ema_vfi_backbone.MotionFormer` runs once per pair (it does not
   depend on ``t``: one backbone pass could serve any number of timesteps);
2. a head at H/16 then one at H/8 estimate bilateral flow (t -> 0, t -> 1) and a blend-mask logit.
   Motion features enter scaled by ``t`` (frame 0) and ``1 - t`` (frame 1); that scaling is how
   the network reaches arbitrary timesteps. Each head works at 4x its input resolution
   (pixel shuffle) and its output is resized to full resolution; the second head refines the
   first with the frames warped by the current flow;
3. the appearance pyramid is warped to time ``t`` and a U-Net predicts a residual added to the
   mask-blended warped frames; the result is clamped to [0, 1].

Variants (official ``config.py`` ``init_model_config``): ``base`` F=32, depths 2/2/2/4/4
(``ours.pkl``, 65,662,359 parameters) and ``small`` F=16, depths 2/2/2/2/2 (``ours_small.pkl``,
14,489,815 parameters); window 7 in both.
"""

from __future__ import annotations

from dataclasses import dataclass

import torch
import torch.nn.functional as F
from torch import nn

from dynvfi_core.models.ema_vfi_backbone import MotionFormer
from dynvfi_core.models.warp import backward_warp

#: the official demos pad frames to multiples of 32 (five stages down to H/16, even sizes)
PAD_MULTIPLE = 32


@dataclass(frozen=True)
class Variant:
    """One official configuration: base width ``f``, blocks per stage, attention window."""

    f: int
    depths: tuple[int, int, int, int, int]
    window: int = 7

    @property
    def dims(self) -> list[int]:
        return [self.f * 2**i for i in range(5)]

    @property
    def motion_dims(self) -> list[int]:
        return [0, 0, 0, 8 * self.f // self.depths[3], 16 * self.f // self.depths[4]]

    @property
    def heads(self) -> list[int]:
        return [8 * self.f // 32, 16 * self.f // 32]


VARIANTS = {"base": Variant(32, (2, 2, 2, 4, 4)), "small": Variant(16, (2, 2, 2, 2, 2))}


def _conv_prelu(cin: int, cout: int, stride: int = 1) -> nn.Sequential:
    return nn.Sequential(nn.Conv2d(cin, cout, 3, stride, 1), nn.PReLU(cout))


class FlowHead(nn.Module):
    """Flow (4 ch) and mask logit (1 ch) from features at ``1/scale``, computed at ``4/scale``.

    ``extra`` is the number of image-like channels that come with the features: 6 (both frames)
    for the first head, 17 (frames, warped frames, mask, current flow) for the refining one.
    """

    def __init__(self, feat_ch: int, scale: int, width: int, extra: int) -> None:
        super().__init__()
        self.scale = scale
        self.conv = nn.Sequential(_conv_prelu(feat_ch // 16 + extra, width), _conv_prelu(width, width), _conv_prelu(width, 5))

    def forward(self, feats: torch.Tensor, images: torch.Tensor, flow: torch.Tensor | None) -> tuple[torch.Tensor, torch.Tensor]:
        feats = F.pixel_shuffle(F.pixel_shuffle(feats, 2), 2)
        up = self.scale // 4  # how far the head's resolution is below full resolution
        if up != 1:
            images = F.interpolate(images, scale_factor=1.0 / up, mode="bilinear", align_corners=False)
        if flow is not None:
            if up != 1:
                flow = F.interpolate(flow, scale_factor=1.0 / up, mode="bilinear", align_corners=False) / up
            images = torch.cat((images, flow), 1)
        out = self.conv(torch.cat((feats, images), 1))
        if up != 1:
            out = F.interpolate(out, scale_factor=up, mode="bilinear", align_corners=False)
        return out[:, :4] * up, out[:, 4:5]


class _ConvPair(nn.Module):
    """Strided conv+PReLU then conv+PReLU: one U-Net encoder level (``conv1``/``conv2``)."""

    def __init__(self, cin: int, cout: int) -> None:
        super().__init__()
        self.conv1 = _conv_prelu(cin, cout, 2)
        self.conv2 = _conv_prelu(cout, cout)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.conv2(self.conv1(x))


def _up(cin: int, cout: int) -> nn.Sequential:
    return nn.Sequential(nn.ConvTranspose2d(cin, cout, 4, 2, 1), nn.PReLU(cout))


class RefineUNet(nn.Module):
    """Four strided levels fed with the warped appearance pyramid, four transposed-conv levels
    with skips; a sigmoid output in [0, 1] (the caller maps it to a residual in [-1, 1])."""

    def __init__(self, c: int) -> None:
        super().__init__()
        self.down0 = _ConvPair(17 + c, 2 * c)
        self.down1 = _ConvPair(4 * c, 4 * c)
        self.down2 = _ConvPair(8 * c, 8 * c)
        self.down3 = _ConvPair(16 * c, 16 * c)
        self.up0 = _up(32 * c, 8 * c)
        self.up1 = _up(16 * c, 4 * c)
        self.up2 = _up(8 * c, 2 * c)
        self.up3 = _up(4 * c, c)
        self.conv = nn.Conv2d(c, 3, 3, 1, 1)

    def forward(self, guide: torch.Tensor, warped: list[torch.Tensor]) -> torch.Tensor:
        """``guide``: frames, warped frames, mask logit and flow (17 ch); ``warped``: both frames'
        appearance features warped to time t, per level ``(B, 2*C_l, ...)``."""
        s0 = self.down0(torch.cat((guide, warped[0]), 1))
        s1 = self.down1(torch.cat((s0, warped[1]), 1))
        s2 = self.down2(torch.cat((s1, warped[2]), 1))
        s3 = self.down3(torch.cat((s2, warped[3]), 1))
        x = self.up0(torch.cat((s3, warped[4]), 1))
        x = self.up1(torch.cat((x, s2), 1))
        x = self.up2(torch.cat((x, s1), 1))
        x = self.up3(torch.cat((x, s0), 1))
        return torch.sigmoid(self.conv(x))


def _warp_both(x: torch.Tensor, flow: torch.Tensor) -> torch.Tensor:
    """``x`` holds frame 0 then frame 1 (``(2B, ...)``): each warped by its half of ``flow``,
    returned side by side in channels (frame 0 first)."""
    b = flow.shape[0]
    warped = backward_warp(x, torch.cat((flow[:, :2], flow[:, 2:4]), 0))
    return torch.cat((warped[:b], warped[b:]), 1)


class EMAVFINet(nn.Module):
    """EMA-VFI; state-dict keys match the official checkpoints (``feature_bone``, ``block``, ``unet``)."""

    def __init__(self, variant: Variant) -> None:
        super().__init__()
        self.feature_bone = MotionFormer(variant.dims, variant.motion_dims, list(variant.depths), variant.heads, variant.window)
        heads = []
        for i, scale in enumerate((16, 8)):
            stage = 4 - i
            feat_ch = 2 * (variant.motion_dims[stage] * variant.depths[stage] + variant.dims[stage])
            heads.append(FlowHead(feat_ch, scale, 4 * variant.f, 6 if i == 0 else 17))
        self.block = nn.ModuleList(heads)
        self.unet = RefineUNet(2 * variant.f)

    def features(self, img0: torch.Tensor, img1: torch.Tensor) -> tuple[list[torch.Tensor], list[torch.Tensor]]:
        """The timestep-independent backbone pass: appearance features of all five stages and
        motion features of stages 4-5, both frames stacked in the batch."""
        return self.feature_bone(img0, img1)

    def estimate(self, img0: torch.Tensor, img1: torch.Tensor, t: torch.Tensor,
                 appearance: list[torch.Tensor], motion: list[torch.Tensor]) -> tuple[torch.Tensor, torch.Tensor]:
        """Full-resolution bilateral flow ``(B, 4, H, W)`` and blend-mask logit ``(B, 1, H, W)`` at ``t``."""
        b = img0.shape[0]
        tt = t.view(b, 1, 1, 1).to(motion[0].dtype)
        flow = mask = None
        for head, stage in zip(self.block, (4, 3)):
            mf, af = motion[stage - 3], appearance[stage]
            feats = torch.cat((tt * mf[:b], (1 - tt) * mf[b:], af[:b], af[b:]), 1)
            if flow is None:
                flow, mask = head(feats, torch.cat((img0, img1), 1), None)
            else:
                warped = _warp_both(torch.cat((img0, img1), 0), flow)
                d_flow, d_mask = head(feats, torch.cat((img0, img1, warped, mask), 1), flow)
                flow, mask = flow + d_flow, mask + d_mask
        return flow, mask

    def refine(self, img0: torch.Tensor, img1: torch.Tensor, appearance: list[torch.Tensor],
               flow: torch.Tensor, mask: torch.Tensor) -> torch.Tensor:
        """Warp frames and appearance pyramid by ``flow``, blend by ``mask``, add the U-Net's residual."""
        warped = _warp_both(torch.cat((img0, img1), 0), flow)
        pyramid = []
        level_flow = flow
        for feat in appearance:
            pyramid.append(_warp_both(feat, level_flow))
            level_flow = F.interpolate(level_flow, scale_factor=0.5, mode="bilinear", align_corners=False) * 0.5
        residual = self.unet(torch.cat((img0, img1, warped, mask, flow), 1), pyramid)[:, :3] * 2 - 1
        blend = torch.sigmoid(mask)
        return (warped[:, :3] * blend + warped[:, 3:6] * (1 - blend) + residual).clamp(0, 1)

    def forward(self, img0: torch.Tensor, img1: torch.Tensor, t: torch.Tensor) -> torch.Tensor:
        """The frame at ``t`` (``(B,)``)."""
        appearance, motion = self.features(img0, img1)
        flow, mask = self.estimate(img0, img1, t, appearance, motion)
        return self.refine(img0, img1, appearance, flow, mask)
