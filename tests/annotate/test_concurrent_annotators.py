"""Eight annotators voting at once from separate processes: every vote lands exactly once."""

from __future__ import annotations

import multiprocessing as mp
from pathlib import Path

from sqlalchemy import select

from annotate.service import AnnotationService
from annotate.store import add_user
from db.annotation import Annotator, Vote
from db.engine import dispose_all, session_scope

N_ANNOTATORS = 8
N_ITEMS = 15


def intended(name: str, tid: int) -> int:
    return (sum(map(ord, name)) + tid) % 4 + 1


def _annotate(db_url: str, root: str, name: str, barrier, errors) -> None:
    try:
        svc = AnnotationService(db_url, Path(root), ratings_wanted=2)
        barrier.wait(timeout=60)
        tid = svc.assigned(name)
        while tid is not None:
            # every other item is first given a wrong score and re-rated via undo: an update
            nxt = svc.record(name, tid, intended(name, tid) % 4 + 1 if tid % 2 else intended(name, tid))
            if tid % 2:
                back, _ = svc.take_back(name)
                assert back == tid
                nxt = svc.record(name, tid, intended(name, tid))
            tid = nxt
    except BaseException as exc:  # reported to the parent, which fails the test
        errors.put(f"{name}: {exc!r}")
        raise


def test_eight_processes_lose_no_vote(db_url, tmp_home, make_fake_dataset) -> None:
    ids = make_fake_dataset(db_url, N_ITEMS)
    names = [f"rater{i}" for i in range(N_ANNOTATORS)]
    with session_scope(db_url) as s:
        for n in names:
            add_user(s, n, "correct horse battery")
    dispose_all()  # no connection may cross the fork
    ctx = mp.get_context("fork")
    barrier, errors = ctx.Barrier(N_ANNOTATORS), ctx.Queue()
    procs = [ctx.Process(target=_annotate, args=(db_url, str(tmp_home), n, barrier, errors)) for n in names]
    for p in procs:
        p.start()
    for p in procs:
        p.join(timeout=120)
    problems = [errors.get() for _ in range(errors.qsize())]
    assert not problems and all(p.exitcode == 0 for p in procs), problems
    with session_scope(db_url) as s:
        rows = s.execute(select(Annotator.name, Vote.triplet_id, Vote.score).join(Annotator)).all()
    assert len(rows) == N_ANNOTATORS * N_ITEMS
    assert len({(n, t) for n, t, _ in rows}) == len(rows)
    assert {(n, t) for n, t, _ in rows} == {(n, t) for n in names for t in ids}
    assert all(score == intended(n, t) for n, t, score in rows)
