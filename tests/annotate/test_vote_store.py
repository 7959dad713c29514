"""The vote store's own rules, row by row on a real SQLite database, with outcomes planned by hand.

Accounts (name and password limits, who may log in), the ``auto:<metric>`` pseudo-annotators,
and the vote rows themselves (skip vs score, what ``undo`` takes back, whose vote a delete
removes, which votes count towards an item's coverage).
"""

from __future__ import annotations

from datetime import timedelta

import bcrypt
import pytest
from sqlalchemy import select

from annotate.store import (add_user, auto_annotator, check_login, delete_vote, last_vote, upsert_vote,
                            vote_counts)
from db.annotation import Annotator, Vote
from db.engine import session_scope
from dynvfi_core.errors import InputError


@pytest.fixture
def triplets(sqlite_url: str, make_triplets):
    """``triplets(n)``: ids of n triplet rows (no files: the store never reads them)."""
    return lambda n: make_triplets(sqlite_url, [(f"a{i}.png", f"b{i}.png", f"c{i}.png") for i in range(n)])


def test_account_limits_are_exact(sqlite_url: str) -> None:
    with session_scope(sqlite_url) as s:
        with pytest.raises(InputError) as bad:
            add_user(s, "auto:me", "password1")
        assert str(bad.value) == ("invalid annotator name 'auto:me': use 1-64 letters, digits, _ . @ - "
                                  "(names starting with 'auto:' are reserved)")
        with pytest.raises(InputError, match=r"^password too short: at least 8 characters$"):
            add_user(s, "ann", "1234567")
        with pytest.raises(InputError, match=r"^password too long: bcrypt uses at most 72 bytes$"):
            add_user(s, "ann", "é" * 36 + "x")  # 73 bytes in UTF-8, 37 characters
        short = add_user(s, "ann", "12345678")  # exactly the minimum
        longest = add_user(s, "bob", "é" * 36)  # exactly 72 bytes
        assert (short.is_auto, longest.is_auto) == (False, False)
        assert all(0 <= u.seed < 2**31 for u in (short, longest))
    with session_scope(sqlite_url) as s:
        assert check_login(s, "bob", "é" * 36).name == "bob"
        assert check_login(s, "ann", "12345678").name == "ann"
        assert s.scalar(select(Annotator.is_auto).where(Annotator.name == "ann")) is False


def test_only_humans_with_the_right_password_log_in(sqlite_url: str) -> None:
    password = "correct horse"
    with session_scope(sqlite_url) as s:
        add_user(s, "ann", password)
        robot = auto_annotator(s, "psnr")
        robot.password_hash = bcrypt.hashpw(password.encode(), bcrypt.gensalt()).decode()  # even with a hash
        s.add(Annotator(name="nohash", is_auto=False, password_hash=None, seed=1))
    with session_scope(sqlite_url) as s:
        assert check_login(s, "ann", password).name == "ann"
        assert check_login(s, "ann", password + "!") is None
        assert check_login(s, "auto:psnr", password) is None
        assert check_login(s, "nohash", "") is None and check_login(s, "nobody", password) is None
        # a password longer than bcrypt's 72 bytes is refused, not an exception
        assert check_login(s, "ann", "x" * 80) is None and check_login(s, "nobody", "x" * 80) is None


def test_pseudo_annotators_are_made_once_per_metric(sqlite_url: str) -> None:
    with session_scope(sqlite_url) as s:
        add_user(s, "ann", "password1")
        psnr = auto_annotator(s, "psnr")
        lpips = auto_annotator(s, "lpips")
        again = auto_annotator(s, "psnr")
        assert again.id == psnr.id != lpips.id
    with session_scope(sqlite_url) as s:
        rows = {a.name: (a.is_auto, a.password_hash, a.seed) for a in s.scalars(select(Annotator))}
    assert rows.keys() == {"ann", "auto:psnr", "auto:lpips"}
    assert rows["auto:psnr"] == rows["auto:lpips"] == (True, None, 0)


def test_vote_rows_skip_then_score_then_delete(sqlite_url: str, triplets) -> None:
    t1, t2 = triplets(2)
    with session_scope(sqlite_url) as s:
        ann, bob = add_user(s, "ann", "password1").id, add_user(s, "bob", "password1").id
        with pytest.raises(InputError) as bad:
            upsert_vote(s, ann, t1, 5)
        assert str(bad.value) == "score must be 1, 2, 3 or 4, got 5"
        upsert_vote(s, ann, t1, None)
        upsert_vote(s, bob, t1, 2)
    with session_scope(sqlite_url) as s:
        skip = s.scalar(select(Vote).where(Vote.annotator_id == ann))
        assert (skip.score, skip.skipped) == (None, True)
        assert skip.created_at is not None and skip.created_at == skip.updated_at
        created = skip.created_at
    with session_scope(sqlite_url) as s:
        upsert_vote(s, ann, t1, 3)
    with session_scope(sqlite_url) as s:
        vote = s.scalar(select(Vote).where(Vote.annotator_id == ann))
        assert (vote.score, vote.skipped, vote.created_at) == (3, False, created) and vote.updated_at > created
        delete_vote(s, ann, t1)
    with session_scope(sqlite_url) as s:
        left = [(v.annotator_id, v.triplet_id, v.score) for v in s.scalars(select(Vote))]
    assert left == [(bob, t1, 2)]  # only ann's vote on t1 went


def test_undo_takes_back_the_latest_written_vote(sqlite_url: str, triplets) -> None:
    t1, t2, t3 = triplets(3)
    with session_scope(sqlite_url) as s:
        ann = add_user(s, "ann", "password1").id
        for t in (t1, t2, t3):
            upsert_vote(s, ann, t, 1)
    with session_scope(sqlite_url) as s:
        upsert_vote(s, ann, t1, 4)  # the oldest row, rewritten last
        assert last_vote(s, ann).triplet_id == t1
    with session_scope(sqlite_url) as s:  # same time stamp: the later row wins
        stamp = s.scalar(select(Vote.updated_at).where(Vote.triplet_id == t1)) + timedelta(seconds=1)
        for v in s.scalars(select(Vote)):
            v.updated_at = stamp
    with session_scope(sqlite_url) as s:
        assert last_vote(s, ann).triplet_id == t3


def test_coverage_counts_human_scores_only(sqlite_url: str, triplets) -> None:
    t1, t2, t3 = triplets(3)
    with session_scope(sqlite_url) as s:
        ann, bob = add_user(s, "ann", "password1").id, add_user(s, "bob", "password1").id
        robot = auto_annotator(s, "psnr").id
        upsert_vote(s, ann, t1, 2)
        upsert_vote(s, bob, t1, 3)
        upsert_vote(s, ann, t2, None)  # a skip is not a score
        upsert_vote(s, bob, t2, 4)
        upsert_vote(s, robot, t3, 1)  # a pseudo-annotator's score is not coverage
        assert vote_counts(s) == {t1: 2, t2: 1}
