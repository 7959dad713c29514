"""EMA-VFI's feature extractor: convolutions, then inter-frame window attention that yields
appearance *and* motion features (Zhang et al., "Extracting Motion and Appearance via Inter-Frame
Attention for Efficient Video Frame Interpolation", CVPR 2023).

Both frames run as one batch ``(2B, ...)``: frame-0 samples first, then frame-1. Five stages
(channels ``F, 2F, 4F, 8F, 16F`` at H, H/2, H/4, H/8, H/16):

- stages 1-3: two 3x3 conv+PReLU layers each (stages 2-3 start with a strided conv+PReLU);
- stage 4: a *cross-scale* patch embedding (dilated strided convs from all three conv stages,
  concatenated, 1x1 projection, LayerNorm) then attention blocks;
- stage 5: a strided 3x3 conv embedding + LayerNorm, then attention blocks.

Each attention block takes a window of frame 0's tokens as queries and the same window of frame 1
as keys/values (and vice versa). The attention map that gathers appearance also gathers the keys'
pixel coordinates: ``attention-weighted coordinates - own coordinates`` is a motion vector per
token, embedded to ``motion_dim`` channels. Odd blocks shift the windows by half a window.

Attribute names mirror the official checkpoint keys (``feature_bone.block4.1.attn.cor_embed``).
Two behaviours of the published code are kept on purpose, because the released weights were
trained with them: the attention residual is added to the *normalised* tokens, and a shifted
block masks with the shift regions *and* the padding regions of the unshifted grid. Masks are
computed for every input size (the official code caches one per padded area).
"""

from __future__ import annotations

import math

import torch
import torch.nn.functional as F
from torch import nn

#: additive logit bias that keeps tokens of different regions apart
MASK_VALUE = -100.0


def _windows(x: torch.Tensor, ws: int) -> torch.Tensor:
    """``(N, H, W, C)`` to ``(N * nW, ws*ws, C)``, windows row-major, tokens row-major."""
    n, h, w, c = x.shape
    x = x.view(n, h // ws, ws, w // ws, ws, c).permute(0, 1, 3, 2, 4, 5)
    return x.reshape(-1, ws * ws, c)


def _unwindows(x: torch.Tensor, ws: int, h: int, w: int) -> torch.Tensor:
    """Inverse of :func:`_windows`."""
    c = x.shape[-1]
    x = x.view(-1, h // ws, w // ws, ws, ws, c).permute(0, 1, 3, 2, 4, 5)
    return x.reshape(-1, h, w, c)


def _region_mask(ids: torch.Tensor, ws: int) -> torch.Tensor:
    """``(nW, N, N)`` bias: 0 where query and key tokens share a region id, else MASK_VALUE."""
    win = _windows(ids, ws).squeeze(-1)
    return torch.where(win[:, None, :] != win[:, :, None], MASK_VALUE, 0.0)


def _three_bands(n: int, first: int, second: int, device: torch.device) -> torch.Tensor:
    """Band index 0/1/2 of each of ``n`` positions split at ``first`` and ``second``."""
    return torch.bucketize(torch.arange(n, device=device), torch.tensor([first, second], device=device), right=True)


def _id_map(rows: torch.Tensor, cols: torch.Tensor) -> torch.Tensor:
    return (rows[:, None] * 3 + cols[None, :]).float()[None, :, :, None]


def centre_pad_amounts(h: int, w: int, ws: int) -> tuple[int, int, int, int]:
    """(top, bottom, left, right) zeros that make ``h x w`` a multiple of ``ws``, split evenly."""
    ph = math.ceil(h / ws) * ws - h
    pw = math.ceil(w / ws) * ws - w
    return ph // 2, ph - ph // 2, pw // 2, pw - pw // 2


def window_mask(h: int, w: int, ws: int, shift: int, device: torch.device) -> torch.Tensor | None:
    """The attention bias of one block on an ``h x w`` token map, ``(nW, N, N)``, or None.

    Unshifted blocks mask only the padding (the padded map splits into 3x3 bands: top/middle/
    bottom x left/middle/right). Shifted blocks mask the usual cyclic-shift regions of the
    padded map and, on top, every pair the unshifted padding mask separates.
    """
    top, bottom, left, right = centre_pad_amounts(h, w, ws)
    hp, wp = h + top + bottom, w + left + right
    pad_mask = None
    if top + bottom + left + right:
        ids = _id_map(_three_bands(hp, top, top + h, device), _three_bands(wp, left, left + w, device))
        pad_mask = _region_mask(ids, ws)
    if not shift:
        return pad_mask
    ids = _id_map(_three_bands(hp, hp - ws, hp - shift, device), _three_bands(wp, wp - ws, wp - shift, device))
    mask = _region_mask(ids, ws)
    return mask if pad_mask is None else mask.masked_fill(pad_mask != 0, MASK_VALUE)


def coordinate_grid(n: int, h: int, w: int, device: torch.device) -> torch.Tensor:
    """``(n, h, w, 2)`` pixel centres in [-1, 1] (x, then y): what motion is measured in."""
    ys, xs = torch.meshgrid(torch.linspace(-1.0, 1.0, h, device=device),
                            torch.linspace(-1.0, 1.0, w, device=device), indexing="ij")
    return torch.stack((xs, ys), -1).expand(n, h, w, 2)


class InterFrameAttention(nn.Module):
    """Queries from one frame's window, keys/values from the other's; the same attention also
    averages the keys' embedded coordinates, whose offset from the query's own is the motion."""

    def __init__(self, dim: int, motion_dim: int, heads: int) -> None:
        super().__init__()
        self.heads = heads
        self.scale = (dim // heads) ** -0.5
        self.q = nn.Linear(dim, dim)
        self.kv = nn.Linear(dim, 2 * dim)
        self.cor_embed = nn.Linear(2, motion_dim)
        self.proj = nn.Linear(dim, dim)
        self.motion_proj = nn.Linear(motion_dim, motion_dim)

    def forward(self, x: torch.Tensor, other: torch.Tensor, coords: torch.Tensor,
                mask: torch.Tensor | None) -> tuple[torch.Tensor, torch.Tensor]:
        """``x``, ``other``: ``(NW, N, C)`` windows; ``coords``: ``(NW, N, 2)``; returns
        ``(appearance (NW, N, C), motion (NW, N, motion_dim))``."""
        nw, n, c = x.shape
        q = self.q(x).view(nw, n, self.heads, -1).transpose(1, 2)
        k, v = self.kv(other).view(nw, n, 2, self.heads, -1).permute(2, 0, 3, 1, 4)
        pos = self.cor_embed(coords)
        pos_heads = pos.view(nw, n, self.heads, -1).transpose(1, 2)
        logits = (q @ k.transpose(-2, -1)) * self.scale
        if mask is not None:
            windows = mask.shape[0]
            logits = (logits.view(-1, windows, self.heads, n, n) + mask[None, :, None]).view(nw, self.heads, n, n)
        attn = logits.softmax(-1)
        appearance = (attn @ v).transpose(1, 2).reshape(nw, n, c)
        gathered = (attn @ pos_heads).transpose(1, 2).reshape(nw, n, -1)
        return self.proj(appearance), self.motion_proj(gathered - pos)


class _DepthwiseConv(nn.Module):
    """3x3 depthwise conv on tokens laid out as an ``h x w`` map (key path ``dwconv.dwconv``)."""

    def __init__(self, dim: int) -> None:
        super().__init__()
        self.dwconv = nn.Conv2d(dim, dim, 3, 1, 1, groups=dim)

    def forward(self, x: torch.Tensor, h: int, w: int) -> torch.Tensor:
        n, _, c = x.shape
        return self.dwconv(x.transpose(1, 2).reshape(n, c, h, w)).flatten(2).transpose(1, 2)


class _ConvMlp(nn.Module):
    """Linear, depthwise 3x3 conv, GELU, linear."""

    def __init__(self, dim: int, hidden: int) -> None:
        super().__init__()
        self.fc1 = nn.Linear(dim, hidden)
        self.dwconv = _DepthwiseConv(hidden)
        self.fc2 = nn.Linear(hidden, dim)

    def forward(self, x: torch.Tensor, h: int, w: int) -> torch.Tensor:
        return self.fc2(F.gelu(self.dwconv(self.fc1(x), h, w)))


class MotionFormerBlock(nn.Module):
    """One inter-frame attention block (windows of ``ws``, shifted by ``shift``) and its MLP."""

    def __init__(self, dim: int, motion_dim: int, heads: int, ws: int, shift: int, mlp_ratio: float) -> None:
        super().__init__()
        self.ws, self.shift = ws, shift
        self.norm1 = nn.LayerNorm(dim, eps=1e-6)
        self.attn = InterFrameAttention(dim, motion_dim, heads)
        self.norm2 = nn.LayerNorm(dim, eps=1e-6)
        self.mlp = _ConvMlp(dim, int(dim * mlp_ratio))

    def forward(self, x: torch.Tensor, coords: torch.Tensor, h: int, w: int) -> tuple[torch.Tensor, torch.Tensor]:
        """``x``: ``(2B, h*w, C)`` tokens of both frames; ``coords``: ``(2B, h, w, 2)``."""
        n, _, c = x.shape
        top, bottom, left, right = centre_pad_amounts(h, w, self.ws)
        hp, wp = h + top + bottom, w + left + right
        grid = F.pad(x.view(n, h, w, c), (0, 0, left, right, top, bottom))
        cgrid = F.pad(coords, (0, 0, left, right, top, bottom))
        if self.shift:
            grid = torch.roll(grid, (-self.shift, -self.shift), (1, 2))
            cgrid = torch.roll(cgrid, (-self.shift, -self.shift), (1, 2))
        mask = window_mask(h, w, self.ws, self.shift, x.device)
        tokens = self.norm1(_windows(grid, self.ws))
        half = tokens.shape[0] // 2
        other = torch.cat((tokens[half:], tokens[:half]))  # each frame's windows face the other frame's
        appearance, motion = self.attn(tokens, other, _windows(cgrid, self.ws), mask)
        tokens = tokens + appearance
        grid = _unwindows(tokens, self.ws, hp, wp)
        motion = _unwindows(motion, self.ws, hp, wp)
        if self.shift:
            grid = torch.roll(grid, (self.shift, self.shift), (1, 2))
            motion = torch.roll(motion, (self.shift, self.shift), (1, 2))
        x = grid[:, top:top + h, left:left + w].reshape(n, h * w, c)
        motion = motion[:, top:top + h, left:left + w].reshape(n, h * w, -1)
        return x + self.mlp(self.norm2(x), h, w), motion


class _ConvStage(nn.Module):
    """``depth`` 3x3 conv+PReLU layers under ``.conv`` (the official ``ConvBlock``)."""

    def __init__(self, cin: int, cout: int, depth: int) -> None:
        super().__init__()
        layers: list[nn.Module] = []
        for i in range(depth):
            layers += [nn.Conv2d(cin if i == 0 else cout, cout, 3, 1, 1), nn.PReLU(cout)]
        self.conv = nn.Sequential(*layers)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.conv(x)


class CrossScaleEmbed(nn.Module):
    """Stage-4 tokens from all three conv stages: one 3x3 conv from the coarsest (H/4), two from
    H/2 and four from H, each strided down to H/8, the ``j``-th of a stage dilated by ``j + 1``
    to widen its view; concatenated, projected by a 1x1 conv, flattened and normalised."""

    def __init__(self, in_dims: list[int], dim: int) -> None:
        super().__init__()
        base = in_dims[0]
        layers = []
        for level in range(len(in_dims)):
            for j in range(2 ** level):
                layers.append(nn.Conv2d(in_dims[-1 - level], base, 3, 2 ** (level + 1), 1 + j, 1 + j))
        self.layers = nn.ModuleList(layers)
        self.proj = nn.Conv2d(base * len(layers), dim, 1)
        self.norm = nn.LayerNorm(dim)

    def forward(self, feats: list[torch.Tensor]) -> tuple[torch.Tensor, int, int]:
        outs, k = [], 0
        for level in range(len(feats)):
            for _ in range(2 ** level):
                outs.append(self.layers[k](feats[-1 - level]))
                k += 1
        x = self.proj(torch.cat(outs, 1))
        h, w = x.shape[-2:]
        return self.norm(x.flatten(2).transpose(1, 2)), h, w


class StridedEmbed(nn.Module):
    """Stage-5 tokens: a stride-2 3x3 conv, flattened and normalised."""

    def __init__(self, cin: int, dim: int) -> None:
        super().__init__()
        self.proj = nn.Conv2d(cin, dim, 3, 2, 1)
        self.norm = nn.LayerNorm(dim)

    def forward(self, x: torch.Tensor) -> tuple[torch.Tensor, int, int]:
        x = self.proj(x)
        h, w = x.shape[-2:]
        return self.norm(x.flatten(2).transpose(1, 2)), h, w


class MotionFormer(nn.Module):
    """Three conv stages and two attention stages (see the module docstring)."""

    def __init__(self, dims: list[int], motion_dims: list[int], depths: list[int], heads: list[int],
                 ws: int, mlp_ratio: float = 4.0) -> None:
        super().__init__()
        self.block1 = _ConvStage(3, dims[0], depths[0])
        for i in (1, 2):
            setattr(self, f"patch_embed{i + 1}", nn.Sequential(nn.Conv2d(dims[i - 1], dims[i], 3, 2, 1), nn.PReLU(dims[i])))
            setattr(self, f"block{i + 1}", _ConvStage(dims[i], dims[i], depths[i]))
        for i, embed in ((3, CrossScaleEmbed(dims[:3], dims[3])), (4, StridedEmbed(dims[3], dims[4]))):
            setattr(self, f"norm{i + 1}", nn.LayerNorm(dims[i], eps=1e-6))
            setattr(self, f"patch_embed{i + 1}", embed)
            setattr(self, f"block{i + 1}", nn.ModuleList(
                MotionFormerBlock(dims[i], motion_dims[i], heads[i - 3], ws, 0 if j % 2 == 0 else ws // 2, mlp_ratio)
                for j in range(depths[i])))

    def forward(self, img0: torch.Tensor, img1: torch.Tensor) -> tuple[list[torch.Tensor], list[torch.Tensor]]:
        """Appearance features of all five stages and motion features of stages 4-5, each
        ``(2B, C, h, w)`` with frame 0's samples first (motion: all blocks' outputs concatenated)."""
        x = self.block1(torch.cat((img0, img1), 0))
        appearance = [x]
        for i in (2, 3):
            x = getattr(self, f"block{i}")(getattr(self, f"patch_embed{i}")(x))
            appearance.append(x)
        motion = []
        for i in (4, 5):
            tokens, h, w = getattr(self, f"patch_embed{i}")(appearance if i == 4 else appearance[-1])
            coords = coordinate_grid(tokens.shape[0], h, w, tokens.device)
            moves = []
            for block in getattr(self, f"block{i}"):
                tokens, move = block(tokens, coords, h, w)
                moves.append(move)
            n = tokens.shape[0]
            appearance.append(getattr(self, f"norm{i}")(tokens).transpose(1, 2).reshape(n, -1, h, w))
            motion.append(torch.cat(moves, -1).transpose(1, 2).reshape(n, -1, h, w))
        return appearance, motion
