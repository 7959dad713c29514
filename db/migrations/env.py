"""Alembic environment of DynVFI.

Runs inside the installed package (no ``alembic.ini``): :mod:`db.migrate` builds the Alembic
``Config`` in code and hands over an open connection, so migrations use the very engine settings
(SQLite WAL, busy timeout, foreign keys) the application uses. ``render_as_batch`` lets later
revisions alter SQLite tables, which SQLite cannot do with plain ``ALTER TABLE``.
"""

from __future__ import annotations

from alembic import context

import db.annotation  # noqa: F401  (registers the annotation tables on Base.metadata)
from db.engine import get_engine
from db.models import Base

target_metadata = Base.metadata


def _run(connection) -> None:
    context.configure(
        connection=connection,
        target_metadata=target_metadata,
        render_as_batch=connection.dialect.name == "sqlite",
        compare_type=True,
    )
    with context.begin_transaction():
        context.run_migrations()


def run_migrations_offline() -> None:
    """Emit SQL to stdout (``alembic upgrade --sql``) without a database."""
    context.configure(
        url=context.config.get_main_option("sqlalchemy.url"),
        target_metadata=target_metadata,
        literal_binds=True,
        render_as_batch=True,
    )
    with context.begin_transaction():
        context.run_migrations()


def run_migrations_online() -> None:
    connection = context.config.attributes.get("connection")
    if connection is not None:
        _run(connection)
        return
    with get_engine(context.config.get_main_option("sqlalchemy.url")).connect() as conn:
        _run(conn)
        conn.commit()


if context.is_offline_mode():
    run_migrations_offline()
else:
    run_migrations_online()
