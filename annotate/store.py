"""Database operations of the annotation area: schema, accounts, votes.

Votes are written with a single dialect-aware ``INSERT ... ON CONFLICT (annotator, triplet) DO
UPDATE`` so that concurrent writers (many annotators, several server processes, SQLite or
PostgreSQL) can never create a duplicate row or lose a vote to a read-modify-write race.
"""

from __future__ import annotations

import functools
import re

import bcrypt
from sqlalchemy import Engine, func, select
from sqlalchemy.orm import Session

from db.annotation import Annotator, Vote
from db.engine import dialect_insert, get_engine
from db.migrate import upgrade
from db.models import utcnow
from dynvfi_core.errors import InputError

AUTO_PREFIX = "auto:"
NAME_RE = re.compile(r"^[A-Za-z0-9][A-Za-z0-9_.@-]{0,63}$")
MIN_PASSWORD = 8


def ensure_schema(url: str) -> Engine:
    """Bring the database to the current schema (Alembic; safe to call from many processes)."""
    upgrade(url)
    return get_engine(url)


# -- accounts ---------------------------------------------------------------------------------
def hash_password(password: str) -> str:
    return bcrypt.hashpw(password.encode("utf-8"), bcrypt.gensalt()).decode("ascii")


@functools.cache
def _dummy_hash() -> bytes:
    return hash_password("x" * MIN_PASSWORD).encode("ascii")


def add_user(session: Session, name: str, password: str, update: bool = False) -> Annotator:
    """Create (or with ``update`` re-key) a human annotator with a bcrypt-hashed password."""
    if not NAME_RE.match(name) or name.startswith(AUTO_PREFIX):
        raise InputError(f"invalid annotator name '{name}': use 1-64 letters, digits, _ . @ - "
                         f"(names starting with '{AUTO_PREFIX}' are reserved)")
    if len(password) < MIN_PASSWORD:
        raise InputError(f"password too short: at least {MIN_PASSWORD} characters")
    if len(password.encode("utf-8")) > 72:
        raise InputError("password too long: bcrypt uses at most 72 bytes")
    user = session.scalar(select(Annotator).where(Annotator.name == name))
    if user is not None and not update:
        raise InputError(f"annotator '{name}' already exists (use --update to change the password)")
    if user is None:
        user = Annotator(name=name, is_auto=False, seed=int.from_bytes(bcrypt.gensalt()[-8:], "big") % 2**31)
        session.add(user)
    user.password_hash = hash_password(password)
    session.flush()
    return user


def check_login(session: Session, name: str, password: str) -> Annotator | None:
    """The annotator when name and password match, else None (pseudo-annotators never log in)."""
    user = session.scalar(select(Annotator).where(Annotator.name == name))
    if user is None or user.is_auto or not user.password_hash:
        # spend the same time as a real check so that names cannot be probed by timing
        bcrypt.checkpw(password.encode("utf-8")[:72], _dummy_hash())
        return None
    if not bcrypt.checkpw(password.encode("utf-8")[:72], user.password_hash.encode("ascii")):
        return None
    return user


def auto_annotator(session: Session, metric: str) -> Annotator:
    """The pseudo-annotator ``auto:<metric>``, created on first use."""
    name = f"{AUTO_PREFIX}{metric}"
    user = session.scalar(select(Annotator).where(Annotator.name == name))
    if user is None:
        user = Annotator(name=name, is_auto=True, password_hash=None, seed=0)
        session.add(user)
        session.flush()
    return user


# -- votes ------------------------------------------------------------------------------------
def upsert_vote(session: Session, annotator_id: int, triplet_id: int, score: int | None) -> None:
    """Insert or update one vote (``score=None`` records a skip) atomically."""
    if score is not None and score not in (1, 2, 3, 4):
        raise InputError(f"score must be 1, 2, 3 or 4, got {score!r}")
    insert = dialect_insert(session)
    now = utcnow()
    stmt = insert(Vote).values(annotator_id=annotator_id, triplet_id=triplet_id, score=score,
                               skipped=score is None, created_at=now, updated_at=now)
    stmt = stmt.on_conflict_do_update(
        index_elements=[Vote.annotator_id, Vote.triplet_id],
        set_={"score": stmt.excluded.score, "skipped": stmt.excluded.skipped, "updated_at": now},
    )
    session.execute(stmt)


def delete_vote(session: Session, annotator_id: int, triplet_id: int) -> None:
    session.query(Vote).filter(Vote.annotator_id == annotator_id, Vote.triplet_id == triplet_id).delete()


def last_vote(session: Session, annotator_id: int) -> Vote | None:
    """The annotator's most recently written vote (what ``undo`` takes back)."""
    return session.scalar(select(Vote).where(Vote.annotator_id == annotator_id)
                          .order_by(Vote.updated_at.desc(), Vote.id.desc()).limit(1))


def vote_counts(session: Session) -> dict[int, int]:
    """Number of human (non-skip) scores per triplet."""
    rows = session.execute(
        select(Vote.triplet_id, func.count()).join(Annotator, Annotator.id == Vote.annotator_id)
        .where(Annotator.is_auto.is_(False), Vote.score.is_not(None)).group_by(Vote.triplet_id))
    return {tid: n for tid, n in rows}
