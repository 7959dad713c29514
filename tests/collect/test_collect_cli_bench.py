"""`dynvfi collect` end to end (demo default and --config), and the bench throughput function."""

from __future__ import annotations

import json
from pathlib import Path

import cv2
import pytest
from sqlalchemy import func, select

from collect.bench import PNG_SETTINGS, png_settings, throughput
from collect.frames import open_reader
from db.engine import session_scope
from db.models import CollectRun, Triplet
from dynvfi_core.cli import main


def test_demo_default_into_default_db(tmp_home: Path, capsys: pytest.CaptureFixture) -> None:
    assert main(["collect", "--max-per-clip", "6", "--json", str(tmp_home / "r.json")]) == 0
    out = capsys.readouterr().out
    assert "Triplets" in out and "carphone" in out and "smaller than 256p" in out
    report = json.loads((tmp_home / "r.json").read_text())
    assert report["db_url"] == f"sqlite:///{tmp_home / 'dynvfi.sqlite'}"
    assert report["clips_processed"] == 2 and 0 < report["triplets_total"] <= 12
    assert {r["tier"] for r in report["triplets"]} == {"256p"}
    assert Path(report["histogram"]).is_file() and report["histogram"].startswith(str(tmp_home / "data"))
    with session_scope() as s:
        assert s.scalar(select(func.count()).select_from(Triplet)) == report["triplets_total"]
        run = s.scalars(select(CollectRun)).one()
        assert run.finished and run.report["triplets_total"] == report["triplets_total"]


def test_cli_config_and_errors(tmp_home: Path, tmp_path: Path, synth, video_writer, make_config,
                               capsys: pytest.CaptureFixture) -> None:
    video_writer(tmp_path / "v" / "a.avi", synth(20))
    cfg = make_config([{"kind": "local", "path": str(tmp_path / "v")}])
    db = f"sqlite:///{tmp_path / 'other.sqlite'}"
    assert main(["collect", "--config", str(cfg), "--db", db, "--data-root", str(tmp_path / "data"),
                 "--workers", "2", "--shard", "1/1", "--no-plot"]) == 0
    assert list((tmp_path / "data" / "frames" / "native").rglob("*.png"))
    with session_scope(db) as s:
        assert s.scalar(select(func.count()).select_from(Triplet)) > 0
    assert main(["collect", "--config", str(tmp_path / "nope.yaml")]) != 0
    assert main(["collect", "--config", str(cfg), "--shard", "3/2"]) != 0
    assert main(["collect", "--config", str(cfg), "--tiers", "8k"]) != 0
    err = capsys.readouterr().err
    assert err.count("error:") == 3 and "not found" in err and "unknown tier" in err


def test_parallel_workers_match_serial(tmp_path: Path, monkeypatch, synth, video_writer, make_config) -> None:
    from collect.config import load_config
    from collect.pipeline import collect

    for i in range(3):
        video_writer(tmp_path / "v" / f"c{i}.avi", synth(24, seed=i, cuts=(9 + i,)))
    cfg = load_config(make_config([{"kind": "local", "path": str(tmp_path / "v")}]))
    reports = []
    monkeypatch.delenv("DYNVFI_DB", raising=False)
    monkeypatch.delenv("DYNVFI_DATA", raising=False)
    for workers in (1, 2):
        monkeypatch.setenv("DYNVFI_HOME", str(tmp_path / f"w{workers}"))
        reports.append(collect(cfg, workers=workers, progress=False, plot=False))
    assert reports[0].triplets == reports[1].triplets and reports[0].rejected == reports[1].rejected


def test_throughput(tmp_path: Path, synth, video_writer) -> None:
    video = video_writer(tmp_path / "b.avi", synth(30, size=(320, 256)))
    r = throughput(video, tier="256p", repeats=2)
    assert r["frames"] == 30 and r["decode_fps"] > 0 and r["repeats"] == 2
    assert r["triplets"] == 14  # stride 1 every 2 frames over 30 frames, nothing filtered
    assert r["collect_triplets_per_s"] > 0 and r["resolution"] == "320x256"
    assert r["ratio_to_decode"] > 0
    # the stored frames are 0..28, each once, as level-1 "up" PNGs of the decoded frames
    reader = open_reader(video, "video", None)
    frames = [f.bgr for f in reader][:29]
    reader.close()
    params = PNG_SETTINGS["level 1, filter up (default)"]
    expected = sum(cv2.imencode(".png", f, params)[1].size for f in frames)
    assert r["bytes_per_triplet"] == round(expected / 14)


def test_png_settings_table(synth) -> None:
    frames = synth(2, size=(160, 96))
    rows = png_settings(frames, repeats=1)
    assert [r["png_setting"] for r in rows] == list(PNG_SETTINGS)
    for r in rows:
        params = PNG_SETTINGS[r["png_setting"]]
        assert r["bytes_per_frame"] == sum(cv2.imencode(".png", f, params)[1].size for f in frames) // 2
        assert r["encode_cpu_ms_per_frame"] >= 0
    stored = {r["png_setting"]: r["bytes_per_frame"] for r in rows}
    assert stored["level 0 (stored), filter none"] > 160 * 96 * 3  # no compression at all
