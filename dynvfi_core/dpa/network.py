"""The VFI-DPA network (Chen et al., ICASSP 2024), built on a timm Swin Transformer.

Both frames go through one Swin (Siamese, one batched pass). Stage 4 (semantics) is brought to
stage-2 resolution (texture) by PixelShuffle + 1x1 conv; it predicts the offsets of a
deformable conv over stage 2, so texture is sampled where the semantics point. Per frame the
deep and shallow maps are concatenated; across frames they are subtracted. A fusion block and
AHIQ's patch-wise head (score map + sigmoid attention map) give the attention-weighted score.
"""

from __future__ import annotations

import os

import timm
import torch
import torch.nn.functional as F
from torch import nn

from dynvfi_core.dpa.config import ModelConfig
from dynvfi_core.dpa.deform import DeformConv3x3
from dynvfi_core.errors import ConfigError, InputError


class PatchHead(nn.Module):
    """AHIQ's head: a score per location and a sigmoid weight per location.

    The prediction is ``sum(f * w) / sum(w)``: regions the attention deems informative (e.g.
    moving, textured areas) dominate the pair's score.
    """

    def __init__(self, in_channels: int, hidden: int) -> None:
        super().__init__()
        self.body = nn.Sequential(nn.Conv2d(in_channels, hidden, 3, padding=1), nn.ReLU(inplace=True))
        self.score = nn.Conv2d(hidden, 1, 1)
        self.attn = nn.Conv2d(hidden, 1, 1)
        # start at the middle of the [0, 1] label range so early steps do not saturate
        nn.init.constant_(self.score.bias, 0.5)

    def forward(self, feat: torch.Tensor) -> dict[str, torch.Tensor]:
        h = self.body(feat)
        f = self.score(h)
        w = torch.sigmoid(self.attn(h))
        score = (f * w).sum(dim=(2, 3)) / w.sum(dim=(2, 3)).clamp_min(1e-6)
        return {"score": score.squeeze(1), "score_map": f, "attn": w}


def build_swin(cfg: ModelConfig) -> nn.Module:
    """The Swin backbone from timm: random init, or a user's local checkpoint (never a download)."""
    os.environ.setdefault("HF_HUB_OFFLINE", "1")
    ckpt = cfg.backbone_checkpoint
    if ckpt is not None and not os.path.isfile(ckpt):
        raise ConfigError(f"backbone checkpoint not found: {ckpt}")
    kwargs = {
        "img_size": cfg.view,
        "embed_dim": cfg.swin_embed,
        "depths": cfg.swin_depths,
        "num_heads": cfg.swin_heads,
        "window_size": cfg.swin_window,
        "num_classes": 0,
        "strict_img_size": False,  # any input size: timm pads windows and builds masks per size
        "drop_path_rate": 0.0,
    }
    try:
        if ckpt is None:
            return timm.create_model(cfg.swin_arch, pretrained=False, **kwargs)
        return timm.create_model(
            cfg.swin_arch, pretrained=True, pretrained_cfg_overlay={"file": ckpt, "num_classes": 0}, **kwargs
        )
    except RuntimeError as exc:  # shape mismatch between checkpoint and configured dims
        raise ConfigError(f"backbone checkpoint {ckpt} does not fit model.swin_* settings: {exc}") from exc


class DPANet(nn.Module):
    """Difficulty score of a frame pair; see the module docstring for the data flow."""

    def __init__(self, cfg: ModelConfig) -> None:
        super().__init__()
        if cfg.arch != "dpa":
            raise ConfigError(f"DPANet needs arch='dpa', got {cfg.arch!r}")
        self.cfg = cfg
        self.backbone = build_swin(cfg)
        c2, c4 = cfg.stage_width(1), cfg.stage_width(3)
        d = cfg.feat_dim
        if cfg.align == "pixelshuffle":
            self.align = nn.Sequential(nn.PixelShuffle(4), nn.Conv2d(c4 // 16, d, 1))
        else:
            # a 1x1 conv commutes with bilinear resizing, so reduce first (16x fewer MACs)
            self.align = nn.Conv2d(c4, d, 1)
        self.deform = DeformConv3x3(c2, d, guide_channels=d, impl=cfg.deform_impl)
        n_in = (6 if cfg.image_diff else 4) * d
        self.fuse = nn.Sequential(
            nn.Conv2d(n_in, cfg.fusion_dim, 1),
            nn.ReLU(inplace=True),
            nn.Conv2d(cfg.fusion_dim, cfg.fusion_dim, 3, padding=1),
            nn.ReLU(inplace=True),
        )
        self.head = PatchHead(cfg.fusion_dim, cfg.fusion_dim // 2)

    def frame_features(self, x: torch.Tensor) -> torch.Tensor:
        """Per-frame spatial feature: aligned deep map ++ deformably sampled shallow map.

        Any H x W works: the input is edge-padded to a multiple of 32 (Swin's total stride, so
        stage 4 is exactly 1/4 of stage 2) and the result is cropped back to ceil(H/8) x ceil(W/8).
        """
        h, w = x.shape[-2:]
        ph, pw = -h % 32, -w % 32
        if ph or pw:
            x = F.pad(x, (0, pw, 0, ph), mode="replicate")
        f2, f4 = self.backbone.forward_intermediates(x, indices=[1, 3], norm=True, intermediates_only=True)
        if self.cfg.align == "pixelshuffle":
            deep = self.align(f4)
        else:
            deep = F.interpolate(self.align(f4), size=f2.shape[-2:], mode="bilinear", align_corners=False)
        shallow = F.relu(self.deform(f2, deep))
        return torch.cat((deep, shallow), dim=1)[..., : -(-h // 8), : -(-w // 8)]

    def forward(self, frame0: torch.Tensor, frame1: torch.Tensor) -> dict[str, torch.Tensor]:
        """``frame0``/``frame1``: normalised ``(B, 3, H, W)``; returns score ``(B,)`` and maps."""
        if frame0.shape != frame1.shape or frame0.dim() != 4:
            raise InputError(f"frame tensors must both be (B, 3, H, W); got {tuple(frame0.shape)}, {tuple(frame1.shape)}")
        b = frame0.shape[0]
        s0, s1 = self.frame_features(torch.cat((frame0, frame1), dim=0)).split(b, dim=0)
        parts = (s0, s1, s0 - s1) if self.cfg.image_diff else (s0, s1)
        return self.head(self.fuse(torch.cat(parts, dim=1)))
