"""Engine and session setup.

SQLite is the default (one file under ``$DYNVFI_HOME``); any SQLAlchemy URL (e.g.
``postgresql+psycopg://user@host/db``) works. SQLite gets WAL journaling, a busy timeout and
foreign keys on every connection so that concurrent annotators and collector workers wait for
each other instead of failing with "database is locked".
"""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

from sqlalchemy import Engine, create_engine, event
from sqlalchemy.dialects import postgresql, sqlite
from sqlalchemy.orm import Session, sessionmaker

from dynvfi_core.errors import ConfigError, InputError
from dynvfi_core.paths import default_db_url

SQLITE_BUSY_TIMEOUT_MS = 30_000
#: the first 16 bytes of every SQLite 3 database file
SQLITE_HEADER = b"SQLite format 3\x00"

_engines: dict[str, Engine] = {}


def _sqlite_pragmas(dbapi_conn, _record) -> None:  # noqa: ANN001 - DB-API connection
    cur = dbapi_conn.cursor()
    cur.execute("PRAGMA journal_mode=WAL")
    cur.execute(f"PRAGMA busy_timeout={SQLITE_BUSY_TIMEOUT_MS}")
    cur.execute("PRAGMA foreign_keys=ON")
    cur.execute("PRAGMA synchronous=NORMAL")
    cur.close()


def sqlite_file(url: str) -> Path | None:
    """The file of a ``sqlite:///PATH`` URL; None for in-memory SQLite and other databases."""
    if url.startswith("sqlite:///") and url != "sqlite:///:memory:":
        return Path(url.removeprefix("sqlite:///").split("?", 1)[0]).expanduser()
    return None


def check_url(url: str) -> None:
    """A URL that SQLAlchemy can parse, whose driver is installed and, for SQLite, whose file is a database.

    Raises :class:`ConfigError` / :class:`InputError` naming the URL, so a typo costs one line
    instead of a driver traceback.
    """
    from sqlalchemy.engine import make_url
    from sqlalchemy.exc import ArgumentError, NoSuchModuleError

    try:
        make_url(url).get_dialect()
    except ArgumentError:
        raise ConfigError(f"not a database URL: {url!r} (e.g. sqlite:///path/to/db.sqlite or "
                          "postgresql+psycopg://user@host/db)") from None
    except (NoSuchModuleError, ImportError) as exc:
        raise ConfigError(f"database URL {url!r}: no driver for it ({exc})") from None
    path = sqlite_file(url)
    if path is not None and path.is_file() and path.stat().st_size:
        with open(path, "rb") as fh:
            if fh.read(16) != SQLITE_HEADER:
                raise InputError(f"{path} (database URL {url}) is not an SQLite database")
    if path is not None and path.is_dir():
        raise InputError(f"database URL {url} names a folder, not an SQLite file")


def require_database(url: str | None = None) -> str:
    """``url`` (default: the configured one) checked, and for SQLite refused if the file does not exist.

    Commands that only read or add to a database call this instead of silently creating an empty
    one (and its folder) when ``--db`` has a typo; ``dynvfi collect``, whose job is to create the
    database, does not.
    """
    url = url or default_db_url()
    check_url(url)
    path = sqlite_file(url)
    if path is not None and not path.is_file():
        raise InputError(f"no database at {url} (file not found); check --db / $DYNVFI_DB, "
                         "or create it with `dynvfi collect`")
    return url


def get_engine(url: str | None = None) -> Engine:
    """One cached engine per checked URL; creates the SQLite file's folder when needed."""
    url = url or default_db_url()
    if url in _engines:
        return _engines[url]
    check_url(url)
    if url.startswith("sqlite:///") and url != "sqlite:///:memory:":
        Path(url.removeprefix("sqlite:///")).expanduser().parent.mkdir(parents=True, exist_ok=True)
    kwargs: dict = {"future": True}
    if url.startswith("sqlite"):
        kwargs["connect_args"] = {"timeout": SQLITE_BUSY_TIMEOUT_MS / 1000, "check_same_thread": False}
    else:
        kwargs["pool_pre_ping"] = True
    engine = create_engine(url, **kwargs)
    if url.startswith("sqlite"):
        event.listen(engine, "connect", _sqlite_pragmas)
    _engines[url] = engine
    return engine


def session_factory(url: str | None = None) -> sessionmaker[Session]:
    return sessionmaker(bind=get_engine(url), expire_on_commit=False)


@contextmanager
def session_scope(url: str | None = None) -> Iterator[Session]:
    """A session that commits on success and rolls back on any error."""
    session = session_factory(url)()
    try:
        yield session
        session.commit()
    except BaseException:
        session.rollback()
        raise
    finally:
        session.close()


def dispose_all() -> None:
    """Close every cached engine (tests and forked workers call this)."""
    for engine in _engines.values():
        engine.dispose()
    _engines.clear()


def dialect_insert(session: Session):  # noqa: ANN201 - the dialect's insert() construct
    """``insert`` of the session's dialect, which has ``on_conflict_do_nothing/do_update``.

    Concurrent writers (annotators voting, interpolation runs) rely on the database to settle
    races with an upsert; both supported databases spell it the same way in SQLAlchemy.
    """
    dialect = session.get_bind().dialect.name
    if dialect == "postgresql":
        return postgresql.insert
    if dialect == "sqlite":
        return sqlite.insert
    raise ConfigError(f"unsupported database dialect '{dialect}' (use SQLite or PostgreSQL)")
