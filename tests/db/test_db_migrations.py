"""Alembic migrations: they build exactly the models' schema, and upgrade() is safe to repeat,
to run concurrently, and to run on a database that create_all made earlier."""

from __future__ import annotations

import multiprocessing as mp
from pathlib import Path

from alembic import command
from alembic.autogenerate import compare_metadata
from alembic.migration import MigrationContext
from alembic.script import ScriptDirectory
from sqlalchemy import inspect, text

import db.annotation  # noqa: F401  (registers the annotation tables)
from db.engine import dispose_all, get_engine
from db.migrate import FIRST_REVISION, alembic_config, head_revision, upgrade
from db.models import Base


def _diff(url: str) -> list:
    with get_engine(url).connect() as conn:
        return compare_metadata(MigrationContext.configure(conn, opts={"compare_type": True}), Base.metadata)


def _version(url: str) -> str | None:
    with get_engine(url).connect() as conn:
        return conn.execute(text("SELECT version_num FROM alembic_version")).scalar()


def test_upgrade_builds_the_models_schema(tmp_path: Path) -> None:
    url = f"sqlite:///{tmp_path / 'a.sqlite'}"
    upgrade(url)
    assert _diff(url) == [], "db.models / db.annotation changed without an Alembic revision"
    assert _version(url) == head_revision()
    upgrade(url)  # a second call is a no-op
    assert _version(url) == head_revision()


def test_revision_chain_starts_at_0001_initial() -> None:
    script = ScriptDirectory.from_config(alembic_config("sqlite://"))
    bases = script.get_bases()
    assert bases == [FIRST_REVISION]
    assert script.get_revision(FIRST_REVISION).down_revision is None


def test_downgrade_to_base_and_back(tmp_path: Path) -> None:
    url = f"sqlite:///{tmp_path / 'b.sqlite'}"
    upgrade(url)
    cfg = alembic_config(url)
    with get_engine(url).begin() as conn:
        cfg.attributes["connection"] = conn
        command.downgrade(cfg, "base")
    with get_engine(url).connect() as conn:
        assert set(inspect(conn).get_table_names()) == {"alembic_version"}
    upgrade(url)
    assert _diff(url) == []


def test_create_all_database_is_stamped(tmp_path: Path) -> None:
    url = f"sqlite:///{tmp_path / 'c.sqlite'}"
    Base.metadata.create_all(get_engine(url))
    with get_engine(url).begin() as conn:
        conn.execute(text("INSERT INTO annotator (name, is_auto, seed, created_at) VALUES ('kept', 0, 0, '2024-01-01')"))
    upgrade(url)
    assert _version(url) == head_revision()
    with get_engine(url).connect() as conn:
        assert conn.execute(text("SELECT name FROM annotator")).scalar() == "kept"


def _upgrade_in_child(url: str) -> None:
    upgrade(url)
    dispose_all()


def test_concurrent_upgrades(tmp_path: Path) -> None:
    url = f"sqlite:///{tmp_path / 'd.sqlite'}"
    ctx = mp.get_context("spawn")
    procs = [ctx.Process(target=_upgrade_in_child, args=(url,)) for _ in range(3)]
    for p in procs:
        p.start()
    for p in procs:
        p.join(timeout=120)
    assert [p.exitcode for p in procs] == [0, 0, 0]
    assert _version(url) == head_revision() and _diff(url) == []


def test_memory_database() -> None:
    upgrade("sqlite:///:memory:")
    with get_engine("sqlite:///:memory:").connect() as conn:
        assert "triplet" in inspect(conn).get_table_names()
    dispose_all()
