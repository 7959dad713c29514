"""The same annotator's vote on the same item, written by two processes at once, on SQLite and PostgreSQL.

Each round first removes the vote, then both processes upsert it at the same instant (a barrier
releases them together): a read-modify-write upsert (SELECT, then INSERT when absent) lets both
see no row and both insert, which the unique constraint turns into an error in one of them.
The atomic ``INSERT ... ON CONFLICT DO UPDATE`` must leave exactly one row, with one of the two
scores, every round.
"""

from __future__ import annotations

import multiprocessing as mp
import threading

from sqlalchemy import select

from annotate.store import add_user, delete_vote, upsert_vote
from db.annotation import Vote
from db.engine import dispose_all, session_scope

WRITERS = 2
ROUNDS = 30


def _score(writer: int, rnd: int) -> int:
    return (writer + rnd) % 4 + 1


def _writer(db_url: str, writer: int, annotator: int, triplet: int, start, done, errors) -> None:
    try:
        for rnd in range(ROUNDS):
            start.wait(timeout=60)
            with session_scope(db_url) as s:
                upsert_vote(s, annotator, triplet, _score(writer, rnd))
            done.wait(timeout=60)
    except BaseException as exc:  # reported to the parent, which fails the test
        errors.put(f"writer {writer}: {exc!r}")
        start.abort()
        done.abort()
        raise


def test_same_vote_from_two_processes_is_one_row(db_url, make_fake_dataset) -> None:
    (triplet,) = make_fake_dataset(db_url, 1)
    with session_scope(db_url) as s:
        annotator = add_user(s, "rater", "correct horse battery").id
    dispose_all()  # no connection may cross the fork
    ctx = mp.get_context("fork")
    # the parent is a party too: it deletes the vote between rounds and checks the row
    start, done, errors = ctx.Barrier(WRITERS + 1), ctx.Barrier(WRITERS + 1), ctx.Queue()
    procs = [ctx.Process(target=_writer, args=(db_url, w, annotator, triplet, start, done, errors))
             for w in range(WRITERS)]
    for p in procs:
        p.start()
    seen = []
    try:
        for rnd in range(ROUNDS):
            with session_scope(db_url) as s:
                delete_vote(s, annotator, triplet)
            start.wait(timeout=60)
            done.wait(timeout=60)
            with session_scope(db_url) as s:
                rows = s.execute(select(Vote.score).where(Vote.annotator_id == annotator,
                                                          Vote.triplet_id == triplet)).all()
            seen.append([r.score for r in rows])
    except threading.BrokenBarrierError:
        pass  # a writer failed: its error is reported below
    finally:
        for p in procs:
            p.join(timeout=60)
        dispose_all()
    problems = [errors.get() for _ in range(errors.qsize())]
    assert not problems and all(p.exitcode == 0 for p in procs), problems
    assert len(seen) == ROUNDS
    for rnd, scores in enumerate(seen):
        assert len(scores) == 1 and scores[0] in {_score(w, rnd) for w in range(WRITERS)}, (rnd, scores)
