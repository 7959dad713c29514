"""The whole VFIformer network (Lu et al., "Video Frame Interpolation with Transformer", CVPR 2022).

Pipeline for two frames (B, 3, H, W), H and W multiples of :data:`PAD_MULTIPLE`:

1. :class:`~dynvfi_core.models.vfiformer_flow.IFNet` estimates bilateral flow at H/2;
2. :class:`~dynvfi_core.models.vfiformer_flow.MultiScaleRefiner` refines it up to full resolution
   and warps a 4-level feature pyramid of each frame to the middle frame;
3. both frames, warped by the flow, are fused with the originals by two convs;
4. :class:`~dynvfi_core.models.vfiformer_transformer.SynthesisTransformer` predicts a residual and
   a blend mask; the output is ``mask * warped0 + (1 - mask) * warped1 + residual``, clamped.

The released network was trained on BGR frames (OpenCV loading): callers flip channels.
"""

from __future__ import annotations

import torch
from torch import nn

from dynvfi_core.models.vfiformer_flow import IFNet, MultiScaleRefiner
from dynvfi_core.models.vfiformer_transformer import SynthesisTransformer
from dynvfi_core.models.warp import backward_warp

#: H and W must be multiples of 64: the bottleneck runs at H/8 in 8x8 windows
PAD_MULTIPLE = 64
#: channels of the finest context level (the pyramid has c, 2c, 4c, 8c)
CONTEXT_CH = 24


class VFIformerNet(nn.Module):
    """Midpoint interpolation network; parameter names match the official ``net_220.pth``."""

    def __init__(self) -> None:
        super().__init__()
        c = CONTEXT_CH
        self.flownet = IFNet()
        self.refinenet = MultiScaleRefiner(c)
        self.fuse_block = nn.Sequential(
            nn.Conv2d(12, 2 * c, 3, 1, 1), nn.LeakyReLU(0.2, inplace=True),
            nn.Conv2d(2 * c, 2 * c, 3, 1, 1), nn.LeakyReLU(0.2, inplace=True),
        )
        self.transformer = SynthesisTransformer(in_ch=2 * c, out_ch=4, ctx=c)

    def estimate_flow(self, img0: torch.Tensor, img1: torch.Tensor) -> torch.Tensor:
        """Refined full-resolution bilateral flow ``(B, 4, H, W)`` (middle frame -> frame 0, -> frame 1)."""
        feats = self.refinenet.pyramid(img0, img1)
        return self.refinenet.refine(feats, self.flownet(img0, img1))

    def forward(self, img0: torch.Tensor, img1: torch.Tensor, flow: torch.Tensor | None = None) -> torch.Tensor:
        """The middle frame. With ``flow`` given (e.g. estimated at a lower resolution, as the
        official SNU-FILM evaluation does) the flow networks are skipped and only the context
        pyramid is computed and warped."""
        feats = self.refinenet.pyramid(img0, img1)
        if flow is None:
            flow = self.refinenet.refine(feats, self.flownet(img0, img1))
        context = self.refinenet.warp_pyramid(feats, flow)
        b = img0.shape[0]
        warped = backward_warp(torch.cat((img0, img1), 0), torch.cat((flow[:, :2], flow[:, 2:4]), 0))
        warped0, warped1 = warped[:b], warped[b:]
        fused = self.fuse_block(torch.cat((img0, img1, warped0, warped1), 1))
        logits = self.transformer(fused, context)
        residual = torch.sigmoid(logits[:, :3]) * 2 - 1
        mask = torch.sigmoid(logits[:, 3:4])
        return (warped0 * mask + warped1 * (1 - mask) + residual).clamp(0, 1)
