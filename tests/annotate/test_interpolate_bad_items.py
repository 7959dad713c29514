"""One bad triplet does not stop ``annotate interpolate``: it is set aside, recorded, and retried.

Two of four triplets are broken (a missing ground-truth file, an undecodable PNG). The run
interpolates the other two, names the two it set aside in its summary and in the
``interpolation_failure`` table, and exits 0; a re-run with nothing usable left exits 4 and
counts a second attempt; once the files are repaired the next run finishes them and clears the
records. A database without triplets is "nothing to interpolate" (exit 4), not a silent 0.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np
from sqlalchemy import select

from db.annotation import Interpolation, InterpolationFailure
from db.engine import session_scope
from dynvfi_core.cli import main as cli
from dynvfi_core.imageio import write_image


def _frames(root: Path, name: str, seed: int) -> tuple[str, str, str]:
    rng = np.random.default_rng(seed)
    rels = tuple(f"t/{name}/{k}.png" for k in ("0", "gt", "1"))
    for rel in rels:
        write_image(root / rel, rng.integers(0, 256, (8, 8, 3), dtype=np.uint8))
    return rels


def _args(url: str, root: Path) -> list[str]:
    return ["annotate", "interpolate", "--db", url, "--data-root", str(root), "--model", "blend",
            "--no-perceptual", "--batch-size", "4"]


def test_bad_triplets_set_aside_recorded_and_retried(sqlite_url, tmp_home, make_triplets, capsys) -> None:
    root = tmp_home / "data"
    rels = [_frames(root, f"n{i}", i) for i in range(4)]
    ids = make_triplets(sqlite_url, rels, size=(8, 8))
    missing, corrupt = root / rels[1][1], root / rels[2][2]
    missing.unlink()
    corrupt.write_bytes(b"\x89PNG\r\n\x1a\n not really")

    assert cli(_args(sqlite_url, root)) == 0
    out = capsys.readouterr().out
    assert "interpolated 2 triplets" in out and "2 set aside" in out
    assert f"triplet {ids[1]}: image not found" in out and f"triplet {ids[2]}: cannot decode image" in out
    with session_scope(sqlite_url) as s:
        assert set(s.scalars(select(Interpolation.triplet_id))) == {ids[0], ids[3]}
        failures = {f.triplet_id: (f.reason, f.attempts) for f in s.scalars(select(InterpolationFailure))}
    assert set(failures) == {ids[1], ids[2]}
    assert str(missing) in failures[ids[1]][0] and failures[ids[1]][1] == 1

    # re-run: only the two bad ones are pending and both fail again -> nothing done, exit 4
    assert cli(_args(sqlite_url, root)) == 4
    assert "error: nothing interpolated: all 2 pending triplet(s) were set aside" in capsys.readouterr().err
    with session_scope(sqlite_url) as s:
        assert {f.attempts for f in s.scalars(select(InterpolationFailure))} == {2}

    # repaired: the next run finishes them and forgets the failures
    _frames(root, "n1", 1)
    _frames(root, "n2", 2)
    assert cli(_args(sqlite_url, root)) == 0
    assert "interpolated 2 triplets" in capsys.readouterr().out
    with session_scope(sqlite_url) as s:
        assert len(s.scalars(select(Interpolation)).all()) == 4
        assert s.scalars(select(InterpolationFailure)).all() == []


def test_database_without_triplets_is_nothing_done(sqlite_url, tmp_home, capsys) -> None:
    assert cli(_args(sqlite_url, tmp_home / "data")) == 4
    assert "holds no triplets" in capsys.readouterr().err
