"""A PostgreSQL URL that names a database, role or server that is not there is one clear line.

SQLite typos are caught before connecting (``require_database``: no file, no database); for
PostgreSQL only the server can tell, so these check that its answer reaches the user as one
line naming what is missing, with exit code 2, and that nothing was created on the server.
"""

from __future__ import annotations

import pytest
from sqlalchemy import create_engine, text

from dynvfi_core.cli import main

pytestmark = pytest.mark.postgres


def _error_line(capsys: pytest.CaptureFixture) -> str:
    lines = [ln for ln in capsys.readouterr().err.splitlines() if ln.strip()]
    assert len(lines) == 1 and lines[0].startswith("error: database error: "), lines
    return lines[0]


def _databases(prefix: str) -> set[str]:
    engine = create_engine(f"{prefix}/postgres")
    with engine.connect() as conn:
        names = set(conn.scalars(text("SELECT datname FROM pg_database")))
    engine.dispose()
    return names


def test_missing_database_role_and_server_are_one_line(pg_server: str, tmp_home, capsys) -> None:
    before = _databases(pg_server)
    for argv in (["annotate", "stats"], ["annotate", "interpolate", "--model", "blend"],
                 ["annotate", "auto", "--metric", "psnr"]):
        assert main([*argv, "--db", f"{pg_server}/dynvfi_tpyo"]) == 2
        assert 'database "dynvfi_tpyo" does not exist' in _error_line(capsys)
    assert _databases(pg_server) == before
    nobody = pg_server.replace("postgres@", "nobody@")
    assert main(["annotate", "stats", "--db", f"{nobody}/postgres"]) == 2
    assert 'role "nobody" does not exist' in _error_line(capsys)
    assert main(["annotate", "stats", "--db", "postgresql+psycopg://postgres@127.0.0.1:1/dynvfi"]) == 2
    assert "port 1 failed" in _error_line(capsys)
