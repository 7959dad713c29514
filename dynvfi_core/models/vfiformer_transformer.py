"""VFIformer's synthesis network: a 4-level U-Net of Swin-style window-attention groups.

Levels run at H, H/2, H/4 and H/8 with 160 channels each. Levels 0-2 hold two residual groups of
three layers: the first group uses window self-attention, the second *cross-scale* window
attention, where every 8x8 window's queries attend both to the window itself and to an 8x8
window of the half-resolution map covering the same (2x larger) area. Odd layers shift the
windows by 4 pixels (with the usual mask so tokens only attend within their original region).
The warped context features of both frames enter each encoder level and the bottleneck by
concatenation. Output: 4 channels (3 residual logits and 1 blend-mask logit).

Attribute names mirror the official checkpoint's keys (``layers1.1.residual_group.blocks.2.attn.kv``).
The official layers also carry their shift masks for 192x192 training crops as persistent buffers
(``attn_mask``, ``attn_mask_x``, ``attn_mask_y``); they are kept with the same shapes so the
released checkpoint loads strictly, and forward computes the masks for the actual input size.
"""

from __future__ import annotations

import torch
import torch.nn.functional as F
from torch import nn

#: the official model was trained (and its buffers sized) on 192x192 crops
TRAIN_CROP = 192
#: regions a shifted window may mix are kept apart by this additive logit bias
MASK_VALUE = -100.0
#: (self-attention mask, cross-scale mask) of one level, each ``(nW, N, N)``
Masks = tuple[torch.Tensor, torch.Tensor]


def window_partition(x: torch.Tensor, ws: int) -> torch.Tensor:
    """``(B, H, W, C)`` to ``(B * nW, ws*ws, C)`` windows, row-major over windows and tokens."""
    b, h, w, c = x.shape
    x = x.view(b, h // ws, ws, w // ws, ws, c).permute(0, 1, 3, 2, 4, 5)
    return x.reshape(-1, ws * ws, c)


def window_merge(windows: torch.Tensor, ws: int, h: int, w: int) -> torch.Tensor:
    """Inverse of :func:`window_partition`: ``(B * nW, ws*ws, C)`` to ``(B, H, W, C)``."""
    c = windows.shape[-1]
    x = windows.view(-1, h // ws, w // ws, ws, ws, c).permute(0, 1, 3, 2, 4, 5)
    return x.reshape(-1, h, w, c)


def coarse_windows(x: torch.Tensor, ws: int) -> torch.Tensor:
    """For each ``ws`` window of ``x`` (``(B, H, W, C)``), the ``ws`` window of the half-resolution
    map centred on it: downsample, reflect-pad by ws/4, take windows with stride ws/2.
    Returns ``(B * nW, ws*ws, C)`` in :func:`window_partition` order."""
    b, _, _, c = x.shape
    half = F.interpolate(x.permute(0, 3, 1, 2), scale_factor=0.5, mode="bilinear", align_corners=False)
    pad = ws // 4
    half = F.pad(half, (pad, pad, pad, pad), mode="reflect")
    cols = F.unfold(half, kernel_size=ws, stride=ws // 2)  # (B, C*ws*ws, nW)
    return cols.view(b, c, ws * ws, -1).permute(0, 3, 2, 1).reshape(-1, ws * ws, c)


def _region_map(h: int, w: int, ws: int, shift: int, device: torch.device) -> torch.Tensor:
    """``(1, H, W, 1)`` ids of the 3x3 regions a cyclic shift by ``shift`` brings together."""
    edges_h = torch.tensor([h - ws, h - shift], device=device)
    edges_w = torch.tensor([w - ws, w - shift], device=device)
    row = torch.bucketize(torch.arange(h, device=device), edges_h, right=True)
    col = torch.bucketize(torch.arange(w, device=device), edges_w, right=True)
    return (row[:, None] * 3 + col[None, :]).float().view(1, h, w, 1)


def shift_masks(h: int, w: int, ws: int, shift: int, device: torch.device) -> Masks:
    """Additive attention masks for shifted windows on an ``h x w`` map, each ``(nW, N, N)``.

    The first masks self-attention (query and key regions differ); the second masks the
    cross-scale branch, whose keys come from the downsampled region map (so keys straddling a
    region border are masked too).
    """
    regions = _region_map(h, w, ws, shift, device)
    ids = window_partition(regions, ws).squeeze(-1)  # (nW, N)
    self_mask = ids[:, None, :] - ids[:, :, None]
    coarse_ids = coarse_windows(regions, ws).squeeze(-1)  # (nW, N)
    cross_mask = coarse_ids[:, None, :] - ids[:, :, None]

    def to_bias(diff: torch.Tensor) -> torch.Tensor:
        return torch.where(diff != 0, MASK_VALUE, 0.0)

    return to_bias(self_mask), to_bias(cross_mask)


def relative_position_index(ws: int) -> torch.Tensor:
    """``(N, N)`` index into a ``(2ws-1)**2`` bias table for every (query, key) pair of a window."""
    ys, xs = torch.meshgrid(torch.arange(ws), torch.arange(ws), indexing="ij")
    ys, xs = ys.flatten(), xs.flatten()
    dy = ys[:, None] - ys[None, :] + ws - 1
    dx = xs[:, None] - xs[None, :] + ws - 1
    return dy * (2 * ws - 1) + dx


def _attend(
    q: torch.Tensor, k: torch.Tensor, v: torch.Tensor, bias: torch.Tensor, mask: torch.Tensor | None
) -> torch.Tensor:
    """Softmax attention of ``(B*nW, heads, N, d)`` tensors with a per-head relative-position
    ``bias`` (``(heads, N, N)``) and an optional per-window shift ``mask`` (``(nW, N, N)``)."""
    if mask is None:
        return F.scaled_dot_product_attention(q, k, v, attn_mask=bias.to(q.dtype))
    nw = mask.shape[0]
    full = bias.to(q.dtype).unsqueeze(0) + mask.to(q.dtype).unsqueeze(1)  # (nW, heads, N, N)
    split = (-1, nw, *q.shape[1:])
    out = F.scaled_dot_product_attention(q.reshape(split), k.reshape(split), v.reshape(split), attn_mask=full)
    return out.view(q.shape)


class _PositionBias(nn.Module):
    """Shared base: relative-position index buffer and the table lookup."""

    def __init__(self, ws: int, heads: int) -> None:
        super().__init__()
        self.ws = ws
        self.heads = heads
        self.register_buffer("relative_position_index", relative_position_index(ws))

    def lookup(self, table: torch.Tensor) -> torch.Tensor:
        n = self.ws * self.ws
        return table[self.relative_position_index.view(-1)].view(n, n, self.heads).permute(2, 0, 1)

    def split_heads(self, t: torch.Tensor, parts: int) -> torch.Tensor:
        bw, n, _ = t.shape
        return t.view(bw, n, parts, self.heads, -1).permute(2, 0, 3, 1, 4)


def _table(ws: int, heads: int) -> nn.Parameter:
    table = nn.Parameter(torch.zeros((2 * ws - 1) ** 2, heads))
    nn.init.trunc_normal_(table, std=0.02)
    return table


class WindowSelfAttention(_PositionBias):
    """Multi-head attention within each window, with a learned relative-position bias."""

    def __init__(self, dim: int, ws: int, heads: int) -> None:
        super().__init__(ws, heads)
        self.relative_position_bias_table = _table(ws, heads)
        self.qkv = nn.Linear(dim, 3 * dim)
        self.proj = nn.Linear(dim, dim)

    def forward(self, x: torch.Tensor, mask: torch.Tensor | None) -> torch.Tensor:
        q, k, v = self.split_heads(self.qkv(x), 3)
        out = _attend(q, k, v, self.lookup(self.relative_position_bias_table), mask)
        return self.proj(out.transpose(1, 2).reshape(x.shape))


class WindowCrossScaleAttention(_PositionBias):
    """Queries of a window attend to the window (self) and to its half-resolution surroundings
    (cross-scale, own key/value projection and bias table); the two results are fused by a
    small MLP added to the self branch."""

    def __init__(self, dim: int, ws: int, heads: int) -> None:
        super().__init__(ws, heads)
        self.relative_position_bias_table_x = _table(ws, heads)
        self.relative_position_bias_table_y = _table(ws, heads)
        self.qkv = nn.Linear(dim, 3 * dim)
        self.kv = nn.Linear(dim, 2 * dim)
        self.merge1 = nn.Linear(2 * dim, dim)
        self.merge2 = nn.Linear(dim, dim)
        self.proj = nn.Linear(dim, dim)

    def forward(
        self, x: torch.Tensor, coarse: torch.Tensor, mask_x: torch.Tensor | None, mask_y: torch.Tensor | None
    ) -> torch.Tensor:
        q, k, v = self.split_heads(self.qkv(x), 3)
        kc, vc = self.split_heads(self.kv(coarse), 2)
        own = _attend(q, k, v, self.lookup(self.relative_position_bias_table_x), mask_x)
        wide = _attend(q, kc, vc, self.lookup(self.relative_position_bias_table_y), mask_y)
        own, wide = (t.transpose(1, 2).reshape(x.shape) for t in (own, wide))
        fused = self.merge2(F.leaky_relu(self.merge1(torch.cat((own, wide), -1)), 0.2)) + own
        return self.proj(fused)


class _Mlp(nn.Module):
    """Two-layer GELU feed-forward (``fc1``/``fc2`` as in the checkpoint)."""

    def __init__(self, dim: int, hidden: int) -> None:
        super().__init__()
        self.fc1 = nn.Linear(dim, hidden)
        self.fc2 = nn.Linear(hidden, dim)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.fc2(F.gelu(self.fc1(x)))


class TransformerLayer(nn.Module):
    """Pre-norm (shifted) window attention + MLP, both residual, on ``(B, H*W, C)`` tokens."""

    def __init__(self, dim: int, heads: int, ws: int, shift: int, mlp_ratio: float, cross: bool) -> None:
        super().__init__()
        self.ws, self.shift, self.cross = ws, shift, cross
        if shift:
            self_mask, cross_mask = shift_masks(TRAIN_CROP, TRAIN_CROP, ws, shift, torch.device("cpu"))
            if cross:
                self.register_buffer("attn_mask_x", self_mask)
                self.register_buffer("attn_mask_y", cross_mask)
            else:
                self.register_buffer("attn_mask", self_mask)
        self.norm1 = nn.LayerNorm(dim)
        self.attn = WindowCrossScaleAttention(dim, ws, heads) if cross else WindowSelfAttention(dim, ws, heads)
        self.norm2 = nn.LayerNorm(dim)
        self.mlp = _Mlp(dim, int(dim * mlp_ratio))

    def forward(self, x: torch.Tensor, hw: tuple[int, int], masks: Masks | None) -> torch.Tensor:
        """``masks``: :func:`shift_masks` for this level's size (used only by shifted layers)."""
        h, w = hw
        b, n, c = x.shape
        y = self.norm1(x).view(b, h, w, c)
        if self.shift:
            y = torch.roll(y, shifts=(-self.shift, -self.shift), dims=(1, 2))
        self_mask, cross_mask = masks if self.shift and masks is not None else (None, None)
        windows = window_partition(y, self.ws)
        if self.cross:
            out = self.attn(windows, coarse_windows(y, self.ws), self_mask, cross_mask)
        else:
            out = self.attn(windows, self_mask)
        y = window_merge(out, self.ws, h, w)
        if self.shift:
            y = torch.roll(y, shifts=(self.shift, self.shift), dims=(1, 2))
        x = x + y.reshape(b, n, c)
        return x + self.mlp(self.norm2(x))


class _LayerStack(nn.Module):
    """Holds a group's layers under ``.blocks``, the path the official keys use."""

    def __init__(self, layers: list[TransformerLayer]) -> None:
        super().__init__()
        self.blocks = nn.ModuleList(layers)


class ResidualGroup(nn.Module):
    """Several transformer layers and a 3x3 conv, with a residual around all of them."""

    def __init__(self, dim: int, depth: int, heads: int, ws: int, mlp_ratio: float, cross: bool) -> None:
        super().__init__()
        self.residual_group = _LayerStack(
            [TransformerLayer(dim, heads, ws, 0 if i % 2 == 0 else ws // 2, mlp_ratio, cross) for i in range(depth)]
        )
        self.conv = nn.Conv2d(dim, dim, 3, 1, 1)

    def forward(self, x: torch.Tensor, hw: tuple[int, int], masks: Masks | None) -> torch.Tensor:
        y = x
        for layer in self.residual_group.blocks:
            y = layer(y, hw, masks)
        b, _, c = y.shape
        y = self.conv(y.transpose(1, 2).reshape(b, c, *hw))
        return y.flatten(2).transpose(1, 2) + x


class _TokenNorm(nn.Module):
    """The LayerNorm applied to tokens entering every level, at the official ``patch_embed.norm``."""

    def __init__(self, dim: int) -> None:
        super().__init__()
        self.norm = nn.LayerNorm(dim)


def _conv_lrelu(cin: int, cout: int, stride: int = 1) -> list[nn.Module]:
    return [nn.Conv2d(cin, cout, 3, stride, 1), nn.LeakyReLU(0.2, inplace=True)]


class SynthesisTransformer(nn.Module):
    """The U-Net: ``(B, in_ch, H, W)`` fused frames + 4 warped context levels -> 4 logits."""

    def __init__(self, in_ch: int = 48, out_ch: int = 4, ctx: int = 24, dim: int = 160, ws: int = 8,
                 heads: int = 2, mlp_ratio: float = 2.0) -> None:
        super().__init__()
        self.ws = ws
        self.conv_first = nn.Conv2d(in_ch, dim, 3, 1, 1)
        self.patch_embed = _TokenNorm(dim)

        def level(depth: int, cross_second: bool) -> nn.ModuleList:
            return nn.ModuleList([ResidualGroup(dim, depth, heads, ws, mlp_ratio, False),
                                  ResidualGroup(dim, depth, heads, ws, mlp_ratio, cross_second)])

        self.layers0 = level(3, True)
        self.layers1 = level(3, True)
        self.layers2 = level(3, True)
        self.layers3 = level(1, False)
        self.conv_after_body0 = nn.Sequential(*_conv_lrelu(dim + 2 * ctx, dim, 2), *_conv_lrelu(dim, dim))
        self.conv_after_body1 = nn.Sequential(*_conv_lrelu(dim + 4 * ctx, dim, 2), *_conv_lrelu(dim, dim))
        self.conv_after_body2 = nn.Sequential(*_conv_lrelu(dim + 8 * ctx, dim, 2), *_conv_lrelu(dim, dim))
        self.conv_up0 = nn.Sequential(nn.ConvTranspose2d(dim + 16 * ctx, dim, 4, 2, 1), nn.LeakyReLU(0.2, inplace=True))
        self.conv_up1 = nn.Sequential(nn.ConvTranspose2d(2 * dim, dim, 4, 2, 1), nn.LeakyReLU(0.2, inplace=True))
        self.conv_up2 = nn.Sequential(nn.ConvTranspose2d(2 * dim, dim, 4, 2, 1), nn.LeakyReLU(0.2, inplace=True))
        self.conv_last1 = nn.Sequential(*_conv_lrelu(2 * dim, dim), nn.Conv2d(dim, dim, 3, 1, 1))
        self.conv_last2 = nn.Sequential(*_conv_lrelu(dim, dim // 2), nn.Conv2d(dim // 2, out_ch, 3, 1, 1))
        self.norm = nn.LayerNorm(dim)
        self.apply(_init_linear_and_norm)

    def _level(self, x: torch.Tensor, groups: nn.ModuleList) -> torch.Tensor:
        b, c, h, w = x.shape
        shifted = any(layer.shift for group in groups for layer in group.residual_group.blocks)
        masks = shift_masks(h, w, self.ws, self.ws // 2, x.device) if shifted else None
        tokens = self.patch_embed.norm(x.flatten(2).transpose(1, 2))
        for group in groups:
            tokens = group(tokens, (h, w), masks)
        return self.norm(tokens).transpose(1, 2).reshape(b, c, h, w)

    def forward(self, x: torch.Tensor, context: list[torch.Tensor]) -> torch.Tensor:
        s0 = self.conv_first(x)
        fea0 = self._level(s0, self.layers0)
        fea1 = self._level(self.conv_after_body0(torch.cat((fea0, context[0]), 1)), self.layers1)
        fea2 = self._level(self.conv_after_body1(torch.cat((fea1, context[1]), 1)), self.layers2)
        fea3 = self._level(self.conv_after_body2(torch.cat((fea2, context[2]), 1)), self.layers3)
        up = self.conv_up0(torch.cat((fea3, context[3]), 1))
        up = self.conv_up1(torch.cat((up, fea2), 1))
        up = self.conv_up2(torch.cat((up, fea1), 1))
        out = self.conv_last1(torch.cat((up, fea0), 1)) + s0
        return self.conv_last2(out)


def _init_linear_and_norm(m: nn.Module) -> None:
    """The official initialisation (truncated-normal linears, unit LayerNorms); it only matters
    for random-weight tests and training from scratch, since checkpoints overwrite it."""
    if isinstance(m, nn.Linear):
        nn.init.trunc_normal_(m.weight, std=0.02)
        nn.init.zeros_(m.bias)
    elif isinstance(m, nn.LayerNorm):
        nn.init.ones_(m.weight)
        nn.init.zeros_(m.bias)
