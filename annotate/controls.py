"""Control items: triplets whose correct score is known, mixed into every annotator's queue.

An annotator's accuracy on them (see ``dynvfi annotate stats``) shows who is careless. Controls
are chosen either by hand (``--set ID=SCORE``) or automatically among triplets where all three
automatic metrics agree on an extreme score (1 or 4): such cases are clear to a human too.
"""

from __future__ import annotations

import random

from sqlalchemy import select, update

from annotate.store import AUTO_PREFIX, ensure_schema
from db.annotation import Annotator, Vote
from db.engine import session_scope
from db.models import Triplet
from dynvfi_core.errors import InputError

METRICS = ("perceptual", "psnr", "ssim")


def set_controls(db_url: str, answers: dict[int, int]) -> int:
    """Mark the given triplets as controls with the given answers (1-4)."""
    ensure_schema(db_url)
    with session_scope(db_url) as s:
        for tid, answer in answers.items():
            if answer not in (1, 2, 3, 4):
                raise InputError(f"control answer must be 1-4, got {answer} for triplet {tid}")
            trip = s.get(Triplet, tid)
            if trip is None:
                raise InputError(f"no triplet {tid}")
            trip.is_control, trip.control_answer = True, answer
    return len(answers)


def clear_controls(db_url: str) -> None:
    ensure_schema(db_url)
    with session_scope(db_url) as s:
        s.execute(update(Triplet).values(is_control=False, control_answer=None))


def pick_auto(db_url: str, n: int, seed: int = 0) -> dict[int, int]:
    """Up to ``n`` triplets on which auto:perceptual, auto:psnr and auto:ssim agree on 1 or 4."""
    ensure_schema(db_url)
    with session_scope(db_url) as s:
        rows = s.execute(select(Annotator.name, Vote.triplet_id, Vote.score)
                         .join(Vote, Vote.annotator_id == Annotator.id)
                         .where(Annotator.name.in_([AUTO_PREFIX + m for m in METRICS]))).all()
    by_item: dict[int, dict[str, int]] = {}
    for name, tid, score in rows:
        by_item.setdefault(tid, {})[name] = score
    clear = {tid: next(iter(set(sc.values()))) for tid, sc in by_item.items()
             if len(sc) == len(METRICS) and len(set(sc.values())) == 1 and next(iter(sc.values())) in (1, 4)}
    if not clear:
        raise InputError("no triplet on which all automatic metrics agree on score 1 or 4: run "
                         "`dynvfi annotate auto --metric M` for perceptual, psnr and ssim first, or use --set")
    ids = sorted(clear)
    random.Random(seed).shuffle(ids)
    return {tid: clear[tid] for tid in ids[:n]}
