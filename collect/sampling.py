"""Where triplets are taken from a clip: strides, resolution tiers and spread-out candidate slots.

A *sample* is ``(frame0, stride)``: frames ``frame0``, ``frame0+stride`` (ground truth) and
``frame0+2*stride``. The per-clip cap is split evenly over the clip's strides; each stride's
share becomes that many equal *slots* along the clip, and the first candidate of a slot that
passes every filter is kept. Slots spread samples over the whole clip instead of piling them up
at its start, and a rejected candidate is replaced by the next one of the same slot. Everything
depends only on the clip and the config, so re-runs, resumed runs and shards agree exactly.
"""

from __future__ import annotations

import hashlib
from collections import Counter
from dataclasses import dataclass

from collect.config import TIERS, Sampling


@dataclass(frozen=True)
class Stride:
    frames: int  # source frames between an outer frame and the middle frame
    effective_fps: float | None  # frame rate of the triplet's sequence (source fps / stride)


@dataclass(frozen=True)
class Candidate:
    frame0: int
    stride: int
    slot: int  # slots are numbered per stride

    @property
    def last(self) -> int:
        return self.frame0 + 2 * self.stride


def tier_size(tier: str, width: int, height: int) -> tuple[int, int] | None:
    """Stored (width, height) of a tier, keeping the aspect; None when it would upscale."""
    target = TIERS[tier]
    short = min(width, height)
    if target is None or target == short:
        return width, height
    if target > short:
        return None
    scale = target / short
    w, h = (round(width * scale), target) if height <= width else (target, round(height * scale))
    return max(w, 1), max(h, 1)


def unit_hash(text: str) -> float:
    """A stable number in [0, 1) from a string (sha256, independent of Python's hash seed)."""
    return int(hashlib.sha256(text.encode()).hexdigest()[:15], 16) / 16**15


def choose_tiers(tiers: tuple[str, ...], width: int, height: int) -> tuple[dict[str, tuple[int, int]], list[str]]:
    """Tiers this source can fill without upscaling, and the tiers skipped for it.

    A tier whose size equals an earlier tier's (``native`` of a 256x256 source next to ``256p``)
    is skipped too: it would store every triplet twice.
    """
    chosen: dict[str, tuple[int, int]] = {}
    skipped: list[str] = []
    for t in tiers:
        size = tier_size(t, width, height)
        if size is None or size in chosen.values():
            skipped.append(t)
        else:
            chosen[t] = size
    return chosen, skipped


def in_tier(share: dict[str, float], tier: str, clip_key: str, frame0: int, stride: int) -> bool:
    """Whether a kept sample is also stored at ``tier``: always, unless the tier keeps only a
    ``share`` of the samples; then a fixed hash draw of (clip, sample, tier) decides, so the
    subset is the same in every run, shard and resume."""
    return tier not in share or unit_hash(f"tier:{clip_key}#{frame0}#{stride}#{tier}") < share[tier]


def choose_strides(sampling: Sampling, fps: float | None) -> tuple[list[Stride], Counter]:
    """Strides in source frames, from ``strides`` and ``target_fps``; counts the unusable targets."""
    skipped: Counter = Counter()
    frames = set(sampling.strides)
    for target in sampling.target_fps:
        if fps is None:
            skipped["target_fps_unknown_source_fps"] += 1
            continue
        stride = round(fps / target)
        if stride < 1:
            skipped["target_fps_above_source"] += 1
        else:
            frames.add(stride)
    return [Stride(s, fps / s if fps else None) for s in sorted(frames)], skipped


def plan(strides: list[Stride], frame_count: int | None, max_per_clip: int, step: int | None) -> list[Candidate]:
    """Candidates of a clip, sorted by the frame at which they can be decided (their last frame).

    ``frame_count`` is the declared length; when it is unknown each slot holds a single candidate
    every ``step`` frames and the cap simply stops the clip early.
    """
    if not strides:
        return []
    base, extra = divmod(max_per_clip, len(strides))
    out: list[Candidate] = []
    for i, stride in enumerate(strides):
        s = stride.frames
        share = base + (1 if i < extra else 0)
        gap = step or 2 * s
        if share == 0:
            continue
        if frame_count is None:
            out += [Candidate(k * gap, s, k) for k in range(share)]
            continue
        usable = frame_count - 2 * s  # number of valid frame0 values
        if usable <= 0:
            continue
        slot_len = max(gap, usable // share)
        for f0 in range(0, usable, gap):
            slot = f0 // slot_len
            if slot < share:
                out.append(Candidate(f0, s, slot))
    return sorted(out, key=lambda c: (c.last, c.stride, c.frame0))
