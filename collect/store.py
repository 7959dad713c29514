"""Database side of collection: splits, shards, resume markers, saving, de-duplication, summary.

Cross-clip near duplicates are decided by a rule that depends only on the *set* of samples, not
on the order in which clips, workers or shards finished: a sample is a duplicate when a sample
of a clip whose key sorts earlier has a perceptual hash within ``dup_distance`` bits. Because
every clip keeps the hashes of all its filtered samples (``Clip.sample_hashes``), running the
rule after each run (or shard) converges to the same result as one run over everything.
"""

from __future__ import annotations

import bisect
import hashlib
import json
from collections import Counter, defaultdict
from collections.abc import Iterable, Iterator
from dataclasses import asdict
from pathlib import Path

import numpy as np
from sqlalchemy import delete, func, select
from sqlalchemy.orm import Session

from collect.config import Filters
from collect.sampling import unit_hash as _unit
from collect.sources import ClipSpec
from collect.worker import ClipResult
from db.annotation import Interpolation, Vote
from db.models import Clip, Triplet

CHUNK = 500  # keys per IN (...) query: far below every database's parameter limit


def split_of(group: str, splits: tuple[tuple[str, float], ...]) -> str:
    """train/val/test of a clip group, drawn once from its key: no footage in two splits."""
    u, acc = _unit("split:" + group), 0.0
    for name, weight in splits:
        acc += weight
        if u < acc:
            return name
    return splits[-1][0]


MIXED = "mixed"  # Clip.split of a shot-split clip whose triplets are in more than one split


def shot_of(frame0: int, cuts: list[int]) -> int:
    """0-based shot of a sample: the number of hard cuts at or before its first frame.

    A cut at frame ``c`` means the content jumps between ``c-1`` and ``c``; samples never span
    a cut, so all frames of a sample (and hence all its files) belong to one shot.
    """
    return bisect.bisect_right(cuts, frame0)


def shot_splits(group: str, sizes: dict[int, int], splits: tuple[tuple[str, float], ...]) -> dict[int, str]:
    """train/val/test of each shot of a clip (``split_unit: shot``), balanced within the clip.

    ``sizes`` maps each shot number to its number of samples. The rule depends on the clip group's
    key and these sizes alone, so shards, workers and run order never change it:

    * A clip with fewer shots than splits of positive weight is one unit: every shot gets the
      clip group's own split (:func:`split_of`), exactly as with ``split_unit: clip``.
    * Otherwise the shots, sorted by a hash of ``<group>#shot<k>``, are dealt one by one to the
      split furthest below its share of the clip's samples (``weight * samples - dealt``; ties go
      to the larger weight, then to train, val, test), except that once the shots left are only
      as many as the splits still without a shot, each goes to one of those. So every split of
      positive weight gets at least one shot (a clip with >= 3 shots always feeds val and test)
      and the splits' sample counts follow the weights as closely as whole shots allow.
    """
    if len(sizes) < len(splits):
        return dict.fromkeys(sizes, split_of(group, splits))
    total = sum(sizes.values())
    dealt = {name: 0 for name, _ in splits}
    shots = {name: 0 for name, _ in splits}
    order = sorted(sizes, key=lambda k: (_unit(f"split:{group}#shot{k}"), k))
    out: dict[int, str] = {}
    for i, k in enumerate(order):
        empty = [(name, w) for name, w in splits if shots[name] == 0]
        choices = empty if len(order) - i <= len(empty) else splits
        name = max(choices, key=lambda nw: (nw[1] * total - dealt[nw[0]], nw[1]))[0]
        out[k] = name
        dealt[name] += sizes[k]
        shots[name] += 1
    return out


def shard_of(key: str, shards: int) -> int:
    """0-based shard of a clip; a function of the key alone, so N machines agree without talking."""
    return int(hashlib.sha256(("shard:" + key).encode()).hexdigest()[:15], 16) % shards


def clip_signature(clip: ClipSpec, filters: Filters) -> str:
    """What decides a clip's triplets; a clip stored with the same signature is not re-done.

    ``split_unit: shot`` enters the payload (``clip`` does not, so signatures stored before the
    option existed stay valid): switching the unit re-collects the clip, and :func:`save` then
    re-splits all of its triplets, old ones included.
    """
    payload = {"sampling": asdict(clip.sampling), "fps": clip.fps,
               "filters": {k: v for k, v in asdict(filters).items() if k != "dup_distance"}}
    if clip.split_unit != "clip":
        payload["split_unit"] = clip.split_unit
    if clip.split is not None:
        payload["split"] = clip.split
    return hashlib.sha256(json.dumps(payload, sort_keys=True).encode()).hexdigest()[:16]


def _chunks(items: list, size: int = CHUNK) -> Iterator[list]:
    for i in range(0, len(items), size):
        yield items[i : i + size]


def done_signatures(session: Session, keys: list[str]) -> dict[str, str | None]:
    out: dict[str, str | None] = {}
    for part in _chunks(keys):
        out.update({k: sig for k, sig in session.execute(select(Clip.key, Clip.signature).where(Clip.key.in_(part)))})
    return out


def save(session: Session, clip: ClipSpec, splits: tuple[tuple[str, float], ...], signature: str,
         result: ClipResult) -> int:
    """Store a clip and its triplets (in the caller's transaction); returns the triplets added.

    Every triplet of the clip, stored earlier or now, gets the split the current ``split_unit``
    assigns, so a re-run that changes the unit re-splits the clip in place (no duplicates).
    """
    clip_split = clip.split or split_of(clip.group, splits)
    row = session.scalar(select(Clip).where(Clip.key == clip.key))
    old_samples: list = []
    if row is None:
        row = Clip(key=clip.key, source=clip.kind, uri=clip.uri, split=clip_split, group_key=clip.group)
        session.add(row)
    else:
        old_samples = list(row.sample_hashes or [])
    session.flush()
    stored = list(session.scalars(select(Triplet).where(Triplet.clip_id == row.id)))
    seen = {(f0, s) for f0, s, _ in result.samples}
    samples = result.samples + [x for x in old_samples if (x[0], x[1]) not in seen]
    stats = dict(result.stats)
    if clip.split_unit == "shot" and clip.split is None:
        cuts = stats.get("cuts", [])
        sizes = Counter(shot_of(f0, cuts) for f0, _, _ in samples)
        sizes.update({shot_of(t.frame0, cuts): 0 for t in stored})  # shots of legacy rows, if any
        by_shot = shot_splits(clip.group, dict(sizes), splits)
        stats["shot_splits"] = [[k, by_shot[k]] for k in sorted(by_shot)]
        used = set(by_shot.values())
        row.split = used.pop() if len(used) == 1 else (MIXED if used else clip_split)

        def split_for(frame0: int) -> str:
            return by_shot[shot_of(frame0, cuts)]
    else:
        row.split = clip_split

        def split_for(frame0: int) -> str:
            return clip_split
    row.fps, row.width, row.height, row.num_frames = result.fps, result.width, result.height, result.num_frames
    row.stats, row.signature, row.sample_hashes = stats, signature, samples
    existing = set()
    for t in stored:
        existing.add((t.frame0, t.stride, t.tier))
        t.split = split_for(t.frame0)
    added = 0
    for t in result.triplets:
        if (t.frame0, t.stride, t.tier) in existing:
            continue
        session.add(Triplet(clip_id=row.id, split=split_for(t.frame0), **asdict(t)))
        added += 1
    return added


def _near_duplicates(ranks: np.ndarray, hashes: np.ndarray, distance: int) -> np.ndarray:
    """Mask of samples with a near-identical sample (<= distance bits) in an earlier-ranked clip."""
    dup = np.zeros(len(hashes), dtype=bool)
    for start in range(0, len(hashes), 256):
        block = slice(start, start + 256)
        bits = np.bitwise_count(hashes[block, None] ^ hashes[None, :])
        dup[block] = ((bits <= distance) & (ranks[None, :] < ranks[block, None])).any(axis=1)
    return dup


def deduplicate(session: Session, root: Path, distance: int) -> tuple[Counter, int]:
    """Apply the near-duplicate rule to the whole database.

    Deletes duplicate triplets and the frame files no other triplet of their clip uses. Triplets
    that already carry votes or interpolations are kept (annotation work is never thrown away)
    and counted as the second return value. Returns (duplicate samples per clip id, kept).
    """
    rows = sorted(tuple(r) for r in session.execute(
        select(Clip.key, Clip.id, Clip.sample_hashes).where(Clip.sample_hashes.is_not(None))))
    samples = [(rank, cid, f0, s, h) for rank, (_, cid, hs) in enumerate(rows) for f0, s, h in hs]
    per_clip: Counter = Counter()
    if len({r for r, *_ in samples}) < 2:
        return per_clip, 0
    ranks = np.array([x[0] for x in samples], dtype=np.int64)
    hashes = np.array([int(x[4], 16) for x in samples], dtype=np.uint64)
    dup_ids: dict[int, set[tuple[int, int]]] = defaultdict(set)
    for (_, cid, f0, s, _), is_dup in zip(samples, _near_duplicates(ranks, hashes, distance), strict=True):
        if is_dup:
            dup_ids[cid].add((f0, s))
            per_clip[cid] += 1
    kept = 0
    for cid, pairs in dup_ids.items():
        victims = [t for t in session.scalars(select(Triplet).where(Triplet.clip_id == cid))
                   if (t.frame0, t.stride) in pairs]
        if not victims:
            continue
        ids = [t.id for t in victims]
        used = set(session.scalars(select(Vote.triplet_id).where(Vote.triplet_id.in_(ids))))
        used |= set(session.scalars(select(Interpolation.triplet_id).where(Interpolation.triplet_id.in_(ids))))
        doomed = [t for t in victims if t.id not in used]
        kept += len(victims) - len(doomed)
        if not doomed:
            continue
        files = {p for t in doomed for p in (t.path0, t.path_gt, t.path1)}
        session.execute(delete(Triplet).where(Triplet.id.in_([t.id for t in doomed])))
        still = {p for row in session.execute(select(Triplet.path0, Triplet.path_gt, Triplet.path1)
                                              .where(Triplet.clip_id == cid)) for p in row}
        for rel in files - still:
            (root / rel).unlink(missing_ok=True)
    return per_clip, kept


def summarize(session: Session, keys: Iterable[str]) -> dict:
    """Triplets per (tier, stride, split), per-clip stats and motion per stride of these clips."""
    buckets: Counter = Counter()
    rejected: Counter = Counter()
    tiers_skipped: Counter = Counter()
    strides_skipped: Counter = Counter()
    warnings: list[tuple[str, str]] = []
    motion: dict[int, list[float]] = defaultdict(list)
    clip_ids: dict[int, str] = {}
    for part in _chunks(list(keys)):
        for cid, key, stats in session.execute(select(Clip.id, Clip.key, Clip.stats).where(Clip.key.in_(part))):
            clip_ids[cid] = key
            stats = stats or {}
            rejected.update(stats.get("rejected", {}))
            tiers_skipped.update(stats.get("tiers_skipped", []))
            strides_skipped.update(stats.get("strides_skipped", {}))
            warnings += [(key, w) for w in stats.get("warnings", [])]
    ids = list(clip_ids)
    for part in _chunks(ids):
        q = (select(Triplet.tier, Triplet.stride, Triplet.split, func.count())
             .where(Triplet.clip_id.in_(part)).group_by(Triplet.tier, Triplet.stride, Triplet.split))
        for tier, stride, split, n in session.execute(q):
            buckets[(tier, stride, split)] += n
        # one value per sample (not per tier), normalised to px at 256p so tiers are comparable
        q = (select(Triplet.clip_id, Triplet.frame0, Triplet.stride, Triplet.motion_mean, Triplet.width, Triplet.height)
             .where(Triplet.clip_id.in_(part)))
        seen = set()
        for cid, f0, stride, m, w, h in session.execute(q):
            if (cid, f0, stride) not in seen and m is not None:
                seen.add((cid, f0, stride))
                motion[stride].append(m * 256.0 / min(w, h))
    return {"buckets": buckets, "rejected": rejected, "tiers_skipped": tiers_skipped,
            "strides_skipped": strides_skipped, "warnings": warnings, "motion": dict(motion),
            "clip_ids": clip_ids}
