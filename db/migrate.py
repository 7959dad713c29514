"""Bring a database to the current schema with Alembic, from inside the installed package.

``upgrade(url)`` is what every entry point calls before touching the database. It is safe to
call repeatedly (a database at head is left alone) and concurrently (collector workers, several
annotation servers): SQLite callers serialise on a lock of the database's folder, PostgreSQL
callers on a transaction-scoped advisory lock. A database made earlier by
``Base.metadata.create_all`` (no ``alembic_version`` table) is *stamped* rather than re-created:
at head when it already has every current table and column, else at the first revision, from
which the later revisions then upgrade it.
"""

from __future__ import annotations

import fcntl
import logging
import os
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

# alembic logs plugin set-up at INFO when imported; silence that before the import happens
_ALEMBIC_LOG = logging.getLogger("alembic")
_ALEMBIC_LOG.setLevel(logging.WARNING)

from alembic import command
from alembic.config import Config
from alembic.script import ScriptDirectory
from sqlalchemy import Connection, inspect, text

import db.annotation  # noqa: F401  (registers the annotation tables on Base.metadata)
from db.engine import get_engine, sqlite_file
from db.models import Base
from dynvfi_core.paths import default_db_url

MIGRATIONS_DIR = Path(__file__).resolve().parent / "migrations"
FIRST_REVISION = "0001_initial"
_PG_LOCK_KEY = 0x44594E56  # "DYNV": arbitrary constant shared by every DynVFI process


def alembic_config(url: str | None = None) -> Config:
    """An Alembic ``Config`` built in code (the package ships no ``alembic.ini``)."""
    cfg = Config()
    cfg.set_main_option("script_location", str(MIGRATIONS_DIR))
    # '%' is ConfigParser interpolation syntax; URL-encoded passwords contain it
    cfg.set_main_option("sqlalchemy.url", (url or default_db_url()).replace("%", "%%"))
    return cfg


def head_revision() -> str:
    """The newest revision id shipped with the package."""
    head = ScriptDirectory.from_config(alembic_config("sqlite://")).get_current_head()
    if head is None:  # pragma: no cover - the package always ships 0001_initial
        raise RuntimeError(f"no Alembic revisions in {MIGRATIONS_DIR}")
    return head


@contextmanager
def _file_lock(url: str) -> Iterator[None]:
    """Serialise migrations of one SQLite file across processes (no-op for other databases).

    The lock is an ``flock`` on the database's folder, so no lock file is left behind (a lock
    file cannot be removed safely while another process may be waiting on it). ``flock`` locks
    are independent of the POSIX record locks SQLite itself takes, so the two never interfere.
    """
    path = sqlite_file(url)
    if path is None:
        yield
        return
    path.parent.mkdir(parents=True, exist_ok=True)
    fd = os.open(path.parent, os.O_RDONLY)
    try:
        fcntl.flock(fd, fcntl.LOCK_EX)
        yield
    finally:
        os.close(fd)  # closing releases the lock


def _current_revision(conn: Connection) -> str | None:
    if "alembic_version" not in inspect(conn).get_table_names():
        return None
    return conn.execute(text("SELECT version_num FROM alembic_version")).scalar()


def _stamp_target(conn: Connection) -> str | None:
    """Revision to stamp an unversioned database at, or None when it has none of our tables."""
    insp = inspect(conn)
    existing = set(insp.get_table_names())
    wanted = Base.metadata.tables
    if not existing & set(wanted):
        return None
    complete = all(
        name in existing and {c.name for c in table.columns} <= {c["name"] for c in insp.get_columns(name)}
        for name, table in wanted.items()
    )
    return "head" if complete else FIRST_REVISION


def upgrade(url: str | None = None) -> None:
    """Migrate the database at ``url`` (default: the configured one) to the newest revision."""
    url = url or default_db_url()
    engine = get_engine(url)
    cfg = alembic_config(url)
    # routine upgrades are not news; `dynvfi -v` (root logger at DEBUG) shows them
    _ALEMBIC_LOG.setLevel(logging.INFO if logging.getLogger().isEnabledFor(logging.DEBUG) else logging.WARNING)
    head = head_revision()
    with _file_lock(url), engine.begin() as conn:
        if conn.dialect.name == "postgresql":
            conn.execute(text("SELECT pg_advisory_xact_lock(:k)"), {"k": _PG_LOCK_KEY})
        current = _current_revision(conn)
        if current == head:
            return
        cfg.attributes["connection"] = conn
        if current is None:
            target = _stamp_target(conn)
            if target is not None:
                command.stamp(cfg, target)
        command.upgrade(cfg, "head")
