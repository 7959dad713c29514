"""A synthetic, self-labelled training table for smoke tests and first runs without a DB.

Each "triplet" is a random texture and the same texture shifted by a known number of pixels
(plus mild brightness change): the larger the shift, the harder the interpolation, so the label
falls linearly from 4 (no motion) to 1 (``max_shift``), with a little noise. Real PNG files are
written, so the whole data path (decode, crop, resize) is exercised.
"""

from __future__ import annotations

from pathlib import Path

import cv2
import numpy as np
import pandas as pd

from dynvfi_core.imageio import write_image


def _texture(rng: np.random.Generator, h: int, w: int) -> np.ndarray:
    """Smooth random colour texture: noise blurred at a random scale, then contrast-stretched."""
    noise = rng.random((h, w, 3)).astype(np.float32)
    sigma = float(rng.uniform(1.0, 4.0))
    img = cv2.GaussianBlur(noise, (0, 0), sigma)
    img = (img - img.min()) / max(float(np.ptp(img)), 1e-6)
    return (img * 255).astype(np.uint8)


def make_table(out_dir: str | Path, n: int = 48, size: tuple[int, int] = (64, 96), max_shift: float = 16.0,
               clips_per_split: tuple[int, int, int] = (6, 2, 2), seed: int = 0) -> Path:
    """Write ``n`` pairs under ``out_dir`` and their table ``out_dir/table.csv``; return its path."""
    out = Path(out_dir)
    rng = np.random.default_rng(seed)
    h, w = size
    pad = int(np.ceil(max_shift)) + 1
    n_clips = sum(clips_per_split)
    splits = ["train"] * clips_per_split[0] + ["val"] * clips_per_split[1] + ["test"] * clips_per_split[2]
    rows = []
    for i in range(n):
        clip = i % n_clips
        big = _texture(rng, h + 2 * pad, w + 2 * pad)
        shift = float(rng.uniform(0, max_shift))
        angle = float(rng.uniform(0, 2 * np.pi))
        dy, dx = round(shift * float(np.sin(angle))), round(shift * float(np.cos(angle)))
        f0 = big[pad:pad + h, pad:pad + w]
        f1 = big[pad + dy:pad + dy + h, pad + dx:pad + dx + w]
        gt = big[pad + dy // 2:pad + dy // 2 + h, pad + dx // 2:pad + dx // 2 + w]
        paths = [write_image(out / f"{i:05d}" / name, img) for name, img in
                 (("frame0.png", f0), ("gt.png", gt), ("frame1.png", f1))]
        magnitude = float(np.hypot(dy, dx))
        label = float(np.clip(4.0 - 3.0 * magnitude / max_shift + rng.normal(0, 0.15), 1.0, 4.0))
        rows.append({
            "triplet_id": i, "clip_id": clip, "path0": str(paths[0].resolve()), "path_gt": str(paths[1].resolve()),
            "path1": str(paths[2].resolve()), "tier": "256p", "stride": 1, "split": splits[clip],
            "width": w, "height": h, "motion_mean": magnitude, "motion_p95": magnitude, "label": label,
            "label_source": "synthetic", "n_votes": 0, "mean": np.nan, "ci95": np.nan, "prescore": label,
            # stands in for the precomputed LPIPS of the inputs: grows with the frames' difference
            "input_perceptual": float(np.abs(f0.astype(np.float32) - f1.astype(np.float32)).mean() / 255.0 * 4.0),
            "perceptual_metric": "synthetic-mad", "rife_psnr": np.nan, "rife_ssim": np.nan,
        })
    table = out / "table.csv"
    pd.DataFrame(rows).to_csv(table, index=False)
    return table
