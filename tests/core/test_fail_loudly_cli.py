"""Ordinary user mistakes end in one ``error:`` line and a meaningful exit code, before any work.

Each case is one a new user hit (issue 15): outputs that cannot be written, unknown devices, bad
or mistyped database URLs, incomplete triplet sets, bad training input, server addresses. The
expected messages and codes are the documented ones (:mod:`dynvfi_core.errors`); "before any
work" is checked by the absence of the work's own output (no summary table, no file).
"""

from __future__ import annotations

import json
import socket
from pathlib import Path

import cv2
import numpy as np
import pytest
import torch

from dynvfi_core.cli import main


def _png(path: Path, seed: int, size: tuple[int, int] = (32, 48)) -> Path:
    path.parent.mkdir(parents=True, exist_ok=True)
    cv2.imwrite(str(path), np.random.default_rng(seed).integers(0, 256, (*size, 3), dtype=np.uint8))
    return path


def _one_line_error(capsys: pytest.CaptureFixture, *fragments: str) -> str:
    captured = capsys.readouterr()
    lines = [ln for ln in captured.err.splitlines() if ln.strip()]
    assert len(lines) == 1 and lines[0].startswith("error: "), captured.err
    for fragment in fragments:
        assert fragment in lines[0], lines[0]
    return captured.out


@pytest.fixture
def pair(tmp_path: Path) -> tuple[Path, Path]:
    return _png(tmp_path / "a.png", 1), _png(tmp_path / "b.png", 2)


@pytest.fixture
def vimeo(tmp_path: Path) -> Path:
    """Two complete Vimeo90K triplet folders and one holding only im1/im2."""
    root = tmp_path / "vimeo"
    for name in ("t0", "t1"):
        for k in (1, 2, 3):
            _png(root / name / f"im{k}.png", k)
    _png(root / "broken" / "im1.png", 7)
    _png(root / "broken" / "im2.png", 8)
    return root


@pytest.fixture
def a_file(tmp_path: Path) -> Path:
    """A plain file, used as the 'folder' of an output path (unwritable even for root)."""
    path = tmp_path / "plain.txt"
    path.write_text("x")
    return path


# -- outputs are checked before the model runs -------------------------------------------------
@pytest.mark.parametrize("output, fragment", [
    ("folder", "is a folder"),
    ("out.txt", "no image format for '.txt'"),
    ("under-file", "is a file, not a folder"),
    # a folder that refuses new files whatever its permission bits say (also as root)
    ("in /proc", "cannot write --output /proc/dynvfi-out.png: folder /proc"),
])
def test_interpolate_output_checked_first(pair, tmp_path, a_file, capsys, output, fragment) -> None:
    target = {"folder": tmp_path, "out.txt": tmp_path / "out.txt", "under-file": a_file / "x.png",
              "in /proc": Path("/proc/dynvfi-out.png")}[output]
    before = set(tmp_path.iterdir())
    rc = main(["interpolate", str(pair[0]), str(pair[1]), "--model", "blend", "-o", str(target)])
    assert rc == 2
    assert "wrote" not in _one_line_error(capsys, fragment)
    assert set(tmp_path.iterdir()) == before  # no output, no .part file left


@pytest.mark.parametrize("where", ["folder", "under-file"])
def test_eval_triplets_json_checked_first(vimeo, tmp_path, a_file, capsys, where) -> None:
    target = tmp_path if where == "folder" else a_file / "r.json"
    rc = main(["eval-triplets", str(vimeo), "--model", "blend", "--json", str(target)])
    assert rc == 2
    assert "PSNR" not in _one_line_error(capsys, "--json")  # no summary table: nothing was evaluated


def test_route_eval_out_checked_first(vimeo, a_file, capsys) -> None:
    rc = main(["route-eval", "--data", str(vimeo), "--fast", "blend", "--heavy", "tta(blend)",
               "--out", str(a_file / "re")])
    assert rc == 2
    assert "routed" not in _one_line_error(capsys, "--out", "is a file, not a folder")


# -- incomplete inputs are counted, or refused with --strict -----------------------------------
def test_incomplete_triplet_folder_warned_and_refused_under_strict(vimeo, capsys, caplog) -> None:
    assert main(["eval-triplets", str(vimeo), "--model", "blend"]) == 0
    warning = [r.getMessage() for r in caplog.records if "skipped" in r.getMessage()]
    assert warning and "1 incomplete triplet(s)" in warning[0] and "im3.png missing" in warning[0]
    capsys.readouterr()
    out = vimeo.parent / "eval.json"
    assert main(["eval-triplets", str(vimeo), "--model", "blend", "--json", str(out)]) == 0
    report = json.loads(out.read_text())
    assert report["num_triplets"] == 2
    assert report["skipped"] == [{"where": str(vimeo / "broken"), "reason": "incomplete Vimeo90K triplet: im3.png missing"}]
    capsys.readouterr()
    assert main(["eval-triplets", str(vimeo), "--model", "blend", "--strict"]) == 5
    assert "PSNR" not in _one_line_error(capsys, "--strict", "broken")


def test_route_eval_report_lists_what_it_skipped(vimeo, tmp_path, capsys) -> None:
    """The report's pair count is explained: the incomplete folder is named with its reason."""
    out = tmp_path / "re"
    assert main(["route-eval", "--data", str(vimeo), "--fast", "blend", "--heavy", "tta(blend)",
                 "--cost-repeats", "0", "--out", str(out)]) == 0
    report = json.loads((out / "results.json").read_text())
    assert report["config"]["n_pairs"] == 2
    assert report["config"]["skipped"] == [{"where": str(vimeo / "broken"),
                                            "reason": "incomplete Vimeo90K triplet: im3.png missing"}]
    assert f"- 1 incomplete triplet(s) skipped:\n  - `{vimeo / 'broken'}`: incomplete Vimeo90K triplet: im3.png missing" \
        in (out / "results.md").read_text()


def test_vimeo_list_entry_without_folder_counted(tmp_path, capsys, caplog) -> None:
    root = tmp_path / "v"
    for k in (1, 2, 3):
        _png(root / "sequences" / "00001" / "0001" / f"im{k}.png", k)
    (root / "tri_testlist.txt").write_text("00001/0001\n00001/0404\n")
    assert main(["route-eval", "--data", str(root), "--fast", "blend", "--heavy", "tta(blend)", "--strict",
                 "--out", str(tmp_path / "o")]) == 5
    _one_line_error(capsys, "0404", "does not exist")
    assert not (tmp_path / "o").exists()


# -- devices ------------------------------------------------------------------------------------
@pytest.mark.parametrize("device, fragment", [("gpu7", "is not a device"), ("cuda:9", "CUDA")])
def test_bad_device_is_one_line(pair, tmp_path, capsys, device, fragment) -> None:
    if device.startswith("cuda") and torch.cuda.device_count() > 9:
        pytest.skip("this machine has a cuda:9")
    rc = main(["interpolate", str(pair[0]), str(pair[1]), "--model", "blend", "-o", str(tmp_path / "o.png"),
               "--device", device])
    assert rc == 2
    _one_line_error(capsys, fragment)
    assert not (tmp_path / "o.png").exists()


# -- databases ----------------------------------------------------------------------------------
def test_reading_commands_refuse_to_create_a_database(tmp_home, tmp_path, capsys) -> None:
    typo = tmp_path / "tpyo" / "dynvfi.sqlite"
    url = f"sqlite:///{typo}"
    for argv in (["annotate", "interpolate", "--model", "blend"], ["annotate", "stats"],
                 ["annotate", "auto", "--metric", "psnr"]):
        assert main([*argv, "--db", url]) == 2
        _one_line_error(capsys, "no database at", url)
    assert not typo.parent.exists()  # neither the file nor its folder was made


@pytest.mark.parametrize("url, fragment", [
    ("notadialect://host/db", "not a database URL"),
    ("sqlite:///{file}", "is not an SQLite database"),
    ("sqlite:///{folder}", "names a folder"),
])
def test_bad_database_url_is_one_line(tmp_path, a_file, capsys, url, fragment) -> None:
    url = url.format(file=a_file, folder=tmp_path)
    assert main(["annotate", "stats", "--db", url]) == 2
    _one_line_error(capsys, fragment)


def test_stats_and_export_outputs_checked_first(tmp_home, a_file, capsys) -> None:
    from annotate.store import ensure_schema

    url = f"sqlite:///{tmp_home / 'db.sqlite'}"
    ensure_schema(url)
    assert main(["annotate", "stats", "--db", url, "--json", str(a_file / "s.json")]) == 2
    _one_line_error(capsys, "--json")
    assert main(["annotate", "export", "--db", url, "-o", str(a_file / "t.csv")]) == 2
    _one_line_error(capsys, "--output")
    assert not list(tmp_home.glob("*.migrate.lock"))  # the schema upgrade leaves no lock file


# -- training input -----------------------------------------------------------------------------
def test_train_empty_table_and_bad_override(tmp_path, capsys) -> None:
    empty = tmp_path / "empty.csv"
    empty.write_text("")
    assert main(["train", "--table", str(empty), "--out", str(tmp_path / "r")]) == 2
    _one_line_error(capsys, "cannot read training table", str(empty))
    assert main(["train", "--set", "epochs=abc", "--out", str(tmp_path / "r")]) == 2
    _one_line_error(capsys, "epochs must be a valid integer", "'abc'")


# -- the labelling server's address -------------------------------------------------------------
def test_serve_address_errors(tmp_home, capsys) -> None:
    from annotate.store import ensure_schema

    url = f"sqlite:///{tmp_home / 'db.sqlite'}"
    ensure_schema(url)
    assert main(["annotate", "serve", "--db", url, "--port", "99999"]) == 2
    _one_line_error(capsys, "99999", "1-65535")
    assert main(["annotate", "serve", "--db", url, "--host", "no-such-host.invalid"]) == 2
    _one_line_error(capsys, "no-such-host.invalid", "cannot be resolved")
    with socket.socket() as busy:
        busy.bind(("127.0.0.1", 0))
        busy.listen()
        port = busy.getsockname()[1]
        assert main(["annotate", "serve", "--db", url, "--port", str(port)]) == 2
    out = _one_line_error(capsys, "already in use", "--port")
    assert "annotation app on" not in out


def test_dpa_eval_out_checked_before_the_checkpoint_loads(tmp_path, a_file, capsys) -> None:
    assert main(["dpa", "eval", "--checkpoint", str(tmp_path / "absent.safetensors"), "--table",
                 str(tmp_path / "absent.csv"), "--out", str(a_file / "ev")]) == 2
    _one_line_error(capsys, "--out", "is a file, not a folder")


# -- environment failures raised by libraries mid-run -------------------------------------------
@pytest.mark.parametrize("exc, expected", [
    (PermissionError(13, "Permission denied", "/data/x.png"), "error: Permission denied: /data/x.png"),
    (OSError(28, "No space left on device", "/data/y.png"), "error: No space left on device: /data/y.png"),
])
def test_environment_errors_are_one_line(monkeypatch, pair, tmp_path, capsys, exc, expected) -> None:
    def fail(*_args, **_kwargs):
        raise exc

    monkeypatch.setattr("dynvfi_core.imageio.write_bytes", fail)
    rc = main(["interpolate", str(pair[0]), str(pair[1]), "--model", "blend", "-o", str(tmp_path / "o.png")])
    assert rc == 2
    assert capsys.readouterr().err.strip() == expected


def test_database_driver_errors_are_one_line(tmp_home, capsys) -> None:
    import sqlite3

    url = f"sqlite:///{tmp_home / 'locked.sqlite'}"
    sqlite3.connect(tmp_home / "locked.sqlite").execute("CREATE TABLE alembic_version (x INTEGER)").connection.commit()
    # an alembic_version table of the wrong shape: the driver's error, in one line
    assert main(["annotate", "stats", "--db", url]) == 2
    err = capsys.readouterr().err.strip()
    assert err.startswith("error: database error: ") and "\n" not in err
