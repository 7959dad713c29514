"""Architecture settings of the DPA network and its AHIQ-style baseline.

One frozen dataclass describes a network completely; it is stored as JSON inside every
``.safetensors`` checkpoint, so :meth:`dynvfi_core.dpa.DPA.load` rebuilds the exact network
without a separate config file. Training settings live in ``train.config``.
"""

from __future__ import annotations

import dataclasses
import json
from dataclasses import field
from typing import Any, Literal, get_args

from dynvfi_core.errors import ConfigError
from dynvfi_core.settings import build, replace, settings

Arch = Literal["dpa", "ahiq", "rife-prior"]
Align = Literal["pixelshuffle", "interp"]
ARCHS = get_args(Arch)
ALIGNS = get_args(Align)


@settings("model", frozen=True)
class ModelConfig:
    """Network hyper-parameters. The defaults are the full VFI-DPA: 4,374,649 parameters
    (paper: 4.469M), 0.72 GMAC per pair at the 160x160 view (rife-v4.25 at 448x256: 2.55)."""

    arch: Arch = "dpa"
    #: every pair is resized to this (H, W) "view" before scoring; see dynvfi_core.dpa.preprocess
    view: tuple[int, int] = (160, 160)
    # -- Swin backbone (shared by both frames) ------------------------------------------------
    #: timm architecture whose constructor builds the backbone; the dims below override it
    swin_arch: str = "swin_tiny_patch4_window7_224"
    #: stage-1 width; timm doubles it at every stage (C, 2C, 4C, 8C)
    swin_embed: int = 40
    swin_depths: tuple[int, int, int, int] = (1, 2, 4, 2)
    swin_heads: tuple[int, int, int, int] = (1, 2, 4, 8)
    swin_window: int = 5
    #: optional local timm checkpoint (.pth/.safetensors) for the backbone; never downloaded
    backbone_checkpoint: str | None = None
    # -- fusion and head ----------------------------------------------------------------------
    feat_dim: int = 64
    fusion_dim: int = 96
    #: how stage 4 is brought to stage-2 resolution: PixelShuffle (paper) or bilinear resize
    align: Align = "pixelshuffle"
    #: add the temporal difference feature (frame-0 minus frame-1 features) to the fusion input
    image_diff: bool = True
    deform_impl: str = "native"
    # -- AHIQ-style baseline (arch="ahiq"): ViT + ResNet features, AHIQ's fusion and head ----
    ahiq_vit_embed: int = 192
    ahiq_vit_depth: int = 5
    ahiq_vit_heads: int = 3
    ahiq_vit_patch: int = 16
    ahiq_cnn: str = "resnet18"
    #: channel widths of AHIQ's fusion/head (AHIQ itself: out 768, hidden 512, smoothing 1024)
    ahiq_dims: tuple[int, int, int] = field(default=(192, 128, 256))
    # -- motion-prior variant (arch="rife-prior", dynvfi_core.dpa.rife_prior) -----------------
    #: how many of RIFE v4.25's five IFBlocks (coarse to fine) run as the frozen prior
    prior_blocks: int = 3
    #: width of the trainable head on the derived maps
    prior_width: int = 64
    #: load the released RIFE v4.25 weights into the prior (a saved checkpoint carries them)
    prior_pretrained: bool = True
    #: also feed the pair's full-resolution statistics (dynvfi_core.dpa.preprocess.pair_stats) to
    #: the head: the view loses the fine texture and change that cost the fast model PSNR
    prior_stats: bool = False

    def __post_init__(self) -> None:
        if min(self.view) < 32 or any(v % 32 for v in self.view):
            raise ConfigError(f"model.view must be (H, W), multiples of 32 and >= 32, got {self.view}")
        if self.arch == "dpa":
            for name in ("swin_depths", "swin_heads"):
                if len(getattr(self, name)) != 4:
                    raise ConfigError(f"model.{name} needs 4 values (one per Swin stage)")
            if any(self.stage_width(i) % h for i, h in enumerate(self.swin_heads)):
                raise ConfigError("each Swin stage width must be divisible by its number of heads")
            if self.align == "pixelshuffle" and self.stage_width(3) % 16:
                raise ConfigError("PixelShuffle(4) needs the stage-4 width to be a multiple of 16")
        if self.arch == "rife-prior":
            if any(v % 64 for v in self.view):
                raise ConfigError(f"model.view of the rife-prior DPA must be multiples of 64 (RIFE's "
                                  f"coarsest level), got {self.view}")
            if not 1 <= self.prior_blocks <= 5:
                raise ConfigError(f"model.prior_blocks must be 1..5, got {self.prior_blocks}")
            if self.prior_width < 2 or self.prior_width % 2:
                raise ConfigError(f"model.prior_width must be an even number >= 2, got {self.prior_width}")

    def stage_width(self, stage: int) -> int:
        """Channels of Swin stage ``stage`` (0-based)."""
        return self.swin_embed * 2**stage

    def to_dict(self) -> dict[str, Any]:
        return dataclasses.asdict(self)

    def to_json(self) -> str:
        return json.dumps(self.to_dict(), sort_keys=True)

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> ModelConfig:
        """Build from a plain dict (YAML/JSON); see :mod:`dynvfi_core.settings` for the checks."""
        return build(cls, data, "model")

    def replace(self, **changes: Any) -> ModelConfig:
        return replace(self, **changes)
