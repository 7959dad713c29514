"""Reading and writing frames.

Every frame enters DynVFI as an RGB ``uint8`` array of shape ``(H, W, 3)``. Grayscale, RGBA
(composited over black is wrong for VFI, so alpha is simply dropped), palette and 16-bit images
are converted instead of rejected, because users feed whatever their pipelines emit.
"""

from __future__ import annotations

from pathlib import Path

import cv2
import numpy as np
import torch

from dynvfi_core.atomic import write_bytes
from dynvfi_core.errors import InputError, OutputError


def read_image(path: str | Path) -> np.ndarray:
    """Read an image file as RGB ``uint8`` ``(H, W, 3)``; raise :class:`InputError` if impossible."""
    p = Path(path)
    if not p.exists():
        raise InputError(f"image not found: {p}")
    if not p.is_file():
        raise InputError(f"not a file: {p}")
    data = np.fromfile(str(p), dtype=np.uint8)
    img = cv2.imdecode(data, cv2.IMREAD_UNCHANGED) if data.size else None
    if img is None:
        raise InputError(f"cannot decode image (unreadable, truncated or not an image): {p}")
    return to_rgb_uint8(img, bgr=True)


def to_rgb_uint8(img: np.ndarray, bgr: bool = False) -> np.ndarray:
    """Normalise any 2-D/3-D image array (gray, gray+alpha, RGB(A), 8/16-bit, float) to RGB uint8."""
    if img.dtype == np.uint16:
        img = ((img.astype(np.float32) / 65535.0) * 255.0 + 0.5).astype(np.uint8)
    elif img.dtype in (np.float32, np.float64):
        img = (np.clip(img, 0.0, 1.0) * 255.0 + 0.5).astype(np.uint8)
    elif img.dtype == np.bool_:
        img = img.astype(np.uint8) * 255
    elif img.dtype != np.uint8:
        raise InputError(f"unsupported image dtype {img.dtype}")
    if img.ndim == 2:
        img = np.repeat(img[:, :, None], 3, axis=2)
    elif img.ndim == 3 and img.shape[2] == 1:
        img = np.repeat(img, 3, axis=2)
    elif img.ndim == 3 and img.shape[2] == 2:  # gray + alpha
        img = np.repeat(img[:, :, :1], 3, axis=2)
    elif img.ndim == 3 and img.shape[2] == 4:
        img = img[:, :, :3]
    elif not (img.ndim == 3 and img.shape[2] == 3):
        raise InputError(f"unsupported image shape {img.shape}")
    if bgr:
        img = img[:, :, ::-1]
    return np.ascontiguousarray(img)


def write_image(path: str | Path, rgb: np.ndarray, png_compression: int | None = None) -> Path:
    """Write an RGB uint8 image atomically (PNG is lossless; the format follows the suffix).

    The bytes go to a uniquely named temporary file that is then renamed over ``path``, so a
    reader never sees a half-written frame, even when several processes write the same file.
    ``png_compression`` (0-9) trades file size for encoding time.
    """
    p = Path(path)
    check_image_suffix(p)
    params = [cv2.IMWRITE_PNG_COMPRESSION, png_compression] if png_compression is not None else []
    ok, buf = cv2.imencode(p.suffix or ".png", np.ascontiguousarray(rgb[:, :, ::-1]), params)
    if not ok:
        raise InputError(f"cannot encode image as '{p.suffix}': {p}")
    return write_bytes(p, buf.tobytes(), fsync=False)  # frames are redone on resume; no fsync cost


def check_image_suffix(path: Path) -> None:
    """Refuse an output name whose suffix no image encoder handles (``out.txt``), before any work."""
    if path.suffix and not cv2.haveImageWriter(str(path)):
        raise OutputError(f"cannot write an image named '{path.name}': no image format for '{path.suffix}' "
                          "(use .png, .jpg, .tif, .webp, ...)")


def to_tensor(rgb: np.ndarray | torch.Tensor) -> torch.Tensor:
    """RGB image(s) to float tensor ``(B, 3, H, W)`` in [0, 1].

    Accepts uint8 ``(H, W, 3)`` / ``(B, H, W, 3)`` arrays, or float tensors already in
    ``(3, H, W)`` / ``(B, 3, H, W)`` layout.
    """
    if isinstance(rgb, torch.Tensor):
        t = rgb
        if t.dtype == torch.uint8:
            t = t.float() / 255.0
        if t.dim() == 3:
            t = t.unsqueeze(0)
        if t.dim() != 4 or t.shape[1] != 3:
            raise InputError(f"expected a (B, 3, H, W) tensor, got {tuple(rgb.shape)}")
        return t
    arr = np.asarray(rgb)
    if arr.ndim == 3:
        arr = arr[None]
    if arr.ndim != 4 or arr.shape[-1] != 3:
        raise InputError(f"expected (H, W, 3) RGB frames, got {arr.shape}")
    if arr.dtype == np.uint8:
        return torch.from_numpy(np.ascontiguousarray(arr)).permute(0, 3, 1, 2).float().div_(255.0)
    return torch.from_numpy(np.ascontiguousarray(arr, dtype=np.float32)).permute(0, 3, 1, 2)


def to_uint8(t: torch.Tensor) -> np.ndarray:
    """Float tensor ``(B, 3, H, W)`` or ``(3, H, W)`` in [0, 1] to uint8 ``(B, H, W, 3)`` / ``(H, W, 3)``."""
    x = t.detach().float().clamp(0, 1).mul(255.0).round().to(torch.uint8).cpu()
    if x.dim() == 4:
        return x.permute(0, 2, 3, 1).numpy()
    return x.permute(1, 2, 0).numpy()


def check_same_size(a: np.ndarray, b: np.ndarray, what: str = "frames") -> None:
    """Raise a clear error when two frames differ in size (VFI needs aligned inputs)."""
    if a.shape[:2] != b.shape[:2]:
        raise InputError(
            f"{what} have different sizes: {a.shape[1]}x{a.shape[0]} vs {b.shape[1]}x{b.shape[0]}"
        )
