"""The DPA's input policy: every pair is scored on a small, fixed-size "view".

Why: difficulty is a property of the whole pair (how far things move relative to the frame,
how much texture there is), and the DPA must cost a fraction of the VFI model it routes for.
Both frames are resized as a whole (cv2 INTER_AREA, aspect ratio not kept) to the model's
``view`` (default 160x160), so a 1080p pair costs the same as a 256p pair and the score sees
the entire frame instead of a crop. Training applies the same resize (after a pair-consistent
random crop/flip, see ``train.data``), so the network learns in the geometry it is used in.
"""

from __future__ import annotations

import cv2
import numpy as np
import torch

from dynvfi_core.errors import InputError
from dynvfi_core.imageio import check_same_size

#: ImageNet statistics, the normalisation timm Swin checkpoints expect
MEAN = torch.tensor([0.485, 0.456, 0.406]).view(1, 3, 1, 1)
STD = torch.tensor([0.229, 0.224, 0.225]).view(1, 3, 1, 1)


def check_frame(frame: np.ndarray, what: str = "frame") -> np.ndarray:
    """Validate one RGB uint8 ``(H, W, 3)`` frame (clear error instead of a deep traceback)."""
    arr = np.asarray(frame)
    if arr.dtype != np.uint8 or arr.ndim != 3 or arr.shape[2] != 3:
        raise InputError(f"{what} must be an RGB uint8 array of shape (H, W, 3), got {arr.dtype} {arr.shape}")
    if min(arr.shape[:2]) < 8:
        raise InputError(f"{what} is too small to score: {arr.shape[1]}x{arr.shape[0]}")
    return arr


def resize_to_view(frame: np.ndarray, view: tuple[int, int]) -> np.ndarray:
    """Resize a uint8 frame to ``view=(H, W)``; area filter when shrinking (no aliasing)."""
    h, w = view
    if frame.shape[:2] == (h, w):
        return frame
    shrink = frame.shape[0] >= h and frame.shape[1] >= w
    return cv2.resize(frame, (w, h), interpolation=cv2.INTER_AREA if shrink else cv2.INTER_LINEAR)


def normalise(batch_uint8: torch.Tensor) -> torch.Tensor:
    """``(B, H, W, 3)`` uint8 tensor -> ``(B, 3, H, W)`` float, ImageNet-normalised."""
    x = batch_uint8.permute(0, 3, 1, 2).float().div_(255.0)
    return (x - MEAN.to(x.device)) / STD.to(x.device)


#: how many values :func:`pair_stats` returns
N_STATS = 2


def pair_stats(frame0: np.ndarray, frame1: np.ndarray) -> np.ndarray:
    """Full-resolution statistics of a pair: ``[log1p(mean |f0 - f1|), log1p(mean gradient)]``.

    Why: the view is a strong area-downscale, which averages away exactly what costs the fast
    model PSNR at the frame's own size: fine texture and small changes of it. The mean absolute
    difference (0-255 scale, all pixels and channels) is the "absdiff" heuristic itself; the mean
    gradient is ``(|dx| + |dy|)`` per pixel and channel (forward differences), averaged over both
    frames. Both are symmetric in the two frames, so flips and time reversal leave them unchanged.
    """
    a, b = np.ascontiguousarray(frame0, dtype=np.uint8), np.ascontiguousarray(frame1, dtype=np.uint8)

    def mean_absdiff(x: np.ndarray, y: np.ndarray) -> float:  # exact |x - y| in uint8 (cv2, SIMD)
        return float(cv2.absdiff(x, y).mean(dtype=np.float64))

    def grad(x: np.ndarray) -> float:
        return mean_absdiff(x[:, 1:], x[:, :-1]) + mean_absdiff(x[1:], x[:-1])

    return np.log1p(np.array([mean_absdiff(a, b), (grad(a) + grad(b)) / 2], dtype=np.float64)).astype(np.float32)


def pair_views(frame0: np.ndarray, frame1: np.ndarray, view: tuple[int, int]) -> tuple[np.ndarray, np.ndarray]:
    """Both frames of one pair, validated and resized to the view."""
    a = check_frame(frame0, "frame0")
    b = check_frame(frame1, "frame1")
    check_same_size(a, b)
    return resize_to_view(a, view), resize_to_view(b, view)
