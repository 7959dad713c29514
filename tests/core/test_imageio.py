"""Frames of every common pixel format come in as RGB uint8; broken files give clear errors."""

from __future__ import annotations

from pathlib import Path

import cv2
import numpy as np
import pytest
import torch

from dynvfi_core.errors import InputError
from dynvfi_core.imageio import check_same_size, read_image, to_tensor, to_uint8, write_image


def _write(path: Path, arr: np.ndarray) -> Path:
    assert cv2.imwrite(str(path), arr)
    return path


def test_gray_png_becomes_rgb(tmp_path: Path) -> None:
    gray = np.arange(12 * 10, dtype=np.uint8).reshape(12, 10)
    img = read_image(_write(tmp_path / "g.png", gray))
    assert img.shape == (12, 10, 3) and img.dtype == np.uint8
    assert (img[..., 0] == gray).all() and (img[..., 2] == gray).all()


def test_rgba_drops_alpha_and_keeps_colour_order(tmp_path: Path) -> None:
    bgra = np.zeros((8, 9, 4), np.uint8)
    bgra[..., 2] = 200  # red in OpenCV's BGR order
    bgra[..., 3] = 17
    img = read_image(_write(tmp_path / "a.png", bgra))
    assert img.shape == (8, 9, 3)
    assert (img[..., 0] == 200).all() and (img[..., 1:] == 0).all()


def test_16bit_png_is_scaled_not_truncated(tmp_path: Path) -> None:
    arr = np.full((5, 6, 3), 65535, np.uint16)
    arr[0, 0] = 32768
    img = read_image(_write(tmp_path / "d.png", arr))
    assert img.dtype == np.uint8 and img[1, 1, 0] == 255 and img[0, 0, 0] == 128


def test_missing_truncated_and_non_image_files(tmp_path: Path) -> None:
    with pytest.raises(InputError, match="not found"):
        read_image(tmp_path / "nope.png")
    good = _write(tmp_path / "x.png", np.zeros((32, 32, 3), np.uint8))
    data = good.read_bytes()
    (tmp_path / "trunc.png").write_bytes(data[: len(data) // 3])
    with pytest.raises(InputError, match="cannot decode"):
        read_image(tmp_path / "trunc.png")
    (tmp_path / "empty.png").write_bytes(b"")
    with pytest.raises(InputError, match="cannot decode"):
        read_image(tmp_path / "empty.png")
    with pytest.raises(InputError, match="not a file"):
        read_image(tmp_path)


def test_write_read_roundtrip_is_lossless(tmp_path: Path) -> None:
    rng = np.random.default_rng(0)
    img = rng.integers(0, 256, (7, 13, 3), dtype=np.uint8)
    out = write_image(tmp_path / "sub" / "r.png", img)
    assert (read_image(out) == img).all()
    assert not list(tmp_path.rglob("*.part"))


def test_tensor_conversions_roundtrip() -> None:
    rng = np.random.default_rng(1)
    img = rng.integers(0, 256, (2, 5, 4, 3), dtype=np.uint8)
    t = to_tensor(img)
    assert t.shape == (2, 3, 5, 4) and t.dtype == torch.float32 and float(t.max()) <= 1.0
    assert (to_uint8(t) == img).all()
    with pytest.raises(InputError):
        to_tensor(np.zeros((4, 4), np.uint8))


def test_size_mismatch_message() -> None:
    with pytest.raises(InputError, match="10x20 vs 11x20"):
        check_same_size(np.zeros((20, 10, 3)), np.zeros((20, 11, 3)))
