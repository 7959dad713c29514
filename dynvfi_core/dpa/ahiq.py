"""AHIQ-style baseline (Lao et al., CVPRW 2022) adapted to frame pairs, for Table II.

AHIQ compares a distorted image with its reference using a ViT (global) and a ResNet (local)
feature extractor; ViT features predict the offsets of a deformable conv over the CNN
features, and a patch-wise head turns ``cat(f1 - f0, f1, f0)`` into a score map and a weight
map. Here frame 0 plays the reference and frame 1 the distorted image. Both extractors come
from timm with random init (no downloads); their sizes are configurable so the baseline can
be trained on a CPU as well as at AHIQ's original widths (ViT-B/8 + ResNet-50).
"""

from __future__ import annotations

import os

import timm
import torch
import torch.nn.functional as F
from torch import nn

from dynvfi_core.dpa.config import ModelConfig
from dynvfi_core.dpa.deform import DeformConv3x3
from dynvfi_core.dpa.network import PatchHead
from dynvfi_core.errors import ConfigError, InputError


class AHIQFusionHead(nn.Module):
    """AHIQ's deformable fusion + pixel-prediction head, independent of the extractors.

    ``dims = (fusion_out, down, smooth_hidden)``; AHIQ's own values are (768, 256, 1024), with
    ViT features of 768*5 channels (patch 8) and ResNet-50 layer-1 features of 256*3 channels.
    """

    def __init__(
        self, vit_channels: int, cnn_channels: int, dims: tuple[int, int, int], vit_patch: int, deform_impl: str
    ) -> None:
        super().__init__()
        out, down, hidden = dims
        self.deform = DeformConv3x3(cnn_channels, out, guide_channels=vit_channels, impl=deform_impl)
        # CNN features live at 1/4 resolution: one stride-2 conv reaches 1/8 (patch 8), two reach 1/16
        self.reduce = nn.Sequential(
            nn.Conv2d(out, 2 * down, 3, padding=1, stride=2),
            nn.ReLU(inplace=True),
            nn.Conv2d(2 * down, out, 3, padding=1, stride=1 if vit_patch == 8 else 2),
        )
        self.down = nn.Conv2d(vit_channels + out, down, 1)
        self.smooth = nn.Sequential(
            nn.Conv2d(3 * down, hidden, 3, padding=1),
            nn.ReLU(inplace=True),
            nn.Conv2d(hidden, 2 * down, 3, padding=1),
        )
        self.head = PatchHead(2 * down, down)

    def fuse_cnn(self, cnn: torch.Tensor, vit_ref: torch.Tensor) -> torch.Tensor:
        guide = F.interpolate(vit_ref, size=cnn.shape[-2:], mode="nearest")
        out = self.reduce(self.deform(cnn, guide))
        return out[..., : vit_ref.shape[-2], : vit_ref.shape[-1]]

    def forward(
        self, vit0: torch.Tensor, vit1: torch.Tensor, cnn0: torch.Tensor, cnn1: torch.Tensor
    ) -> dict[str, torch.Tensor]:
        f0 = self.down(torch.cat((vit0, self.fuse_cnn(cnn0, vit0)), dim=1))
        f1 = self.down(torch.cat((vit1, self.fuse_cnn(cnn1, vit0)), dim=1))
        return self.head(self.smooth(torch.cat((f1 - f0, f1, f0), dim=1)))


class AHIQNet(nn.Module):
    """ViT + ResNet features (timm, random init) feeding :class:`AHIQFusionHead`."""

    def __init__(self, cfg: ModelConfig) -> None:
        super().__init__()
        if cfg.arch != "ahiq":
            raise ConfigError(f"AHIQNet needs arch='ahiq', got {cfg.arch!r}")
        if cfg.ahiq_vit_patch not in (8, 16):
            raise ConfigError("model.ahiq_vit_patch must be 8 or 16 (AHIQ's two settings)")
        os.environ.setdefault("HF_HUB_OFFLINE", "1")
        self.cfg = cfg
        self.vit = timm.models.vision_transformer.VisionTransformer(
            img_size=cfg.view,
            patch_size=cfg.ahiq_vit_patch,
            embed_dim=cfg.ahiq_vit_embed,
            depth=cfg.ahiq_vit_depth,
            num_heads=cfg.ahiq_vit_heads,
            num_classes=0,
            dynamic_img_size=True,
        )
        self.vit.norm = nn.Identity()  # AHIQ reads raw block outputs; an unused norm would break DDP
        try:
            cnn = timm.create_model(cfg.ahiq_cnn, pretrained=False)
        except RuntimeError as exc:
            raise ConfigError(f"unknown timm CNN {cfg.ahiq_cnn!r}: {exc}") from exc
        if not hasattr(cnn, "layer1"):
            raise ConfigError(f"model.ahiq_cnn must be a timm ResNet, got {cfg.ahiq_cnn!r}")
        # AHIQ only reads the first residual stage: keep the stem and layer1, drop the rest
        self.stem = nn.Sequential(cnn.conv1, cnn.bn1, cnn.act1, cnn.maxpool)
        self.layer1 = cnn.layer1
        cnn_channels = sum(self._block_channels(b) for b in self.layer1)
        vit_channels = cfg.ahiq_vit_embed * cfg.ahiq_vit_depth
        self.fusion = AHIQFusionHead(vit_channels, cnn_channels, cfg.ahiq_dims, cfg.ahiq_vit_patch, cfg.deform_impl)

    @staticmethod
    def _block_channels(block: nn.Module) -> int:
        """Output channels of a residual block: those of its last conv (BasicBlock or Bottleneck)."""
        return int([m for m in block.modules() if isinstance(m, nn.Conv2d)][-1].out_channels)

    def features(self, x: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        """All ViT block outputs (concatenated) and all layer-1 block outputs (concatenated)."""
        vit = torch.cat(self.vit.forward_intermediates(x, indices=self.cfg.ahiq_vit_depth, intermediates_only=True), 1)
        h = self.stem(x)
        outs = []
        for block in self.layer1:
            h = block(h)
            outs.append(h)
        return vit, torch.cat(outs, dim=1)

    def forward(self, frame0: torch.Tensor, frame1: torch.Tensor) -> dict[str, torch.Tensor]:
        if frame0.shape != frame1.shape or frame0.dim() != 4:
            raise InputError(f"frame tensors must both be (B, 3, H, W); got {tuple(frame0.shape)}, {tuple(frame1.shape)}")
        b = frame0.shape[0]
        vit, cnn = self.features(torch.cat((frame0, frame1), dim=0))
        vit0, vit1 = vit.split(b)
        cnn0, cnn1 = cnn.split(b)
        return self.fusion(vit0, vit1, cnn0, cnn1)
