"""Idempotent re-runs, resume after a kill, and deterministic sharding give identical sets."""

from __future__ import annotations

import hashlib
import os
import signal
import sqlite3
import subprocess
import sys
import time
from pathlib import Path

import pytest
from sqlalchemy import select

from collect.config import load_config
from collect.pipeline import collect, parse_shard
from collect.store import shard_of
from db.engine import session_scope
from db.models import Clip, Triplet
from dynvfi_core.errors import ConfigError

N_CLIPS = 8


@pytest.fixture
def clips_config(tmp_path: Path, synth, video_writer, folder_writer, make_config) -> Path:
    """Videos and frame folders with cuts and static parts, plus one exact duplicate clip."""
    root = tmp_path / "clips"
    for i in range(N_CLIPS):
        frames = synth(36, size=(128, 96), cuts=(12 + i,), seed=i, static=(i == 3))
        if i % 2:
            folder_writer(root / f"seq{i}", frames)
        else:
            video_writer(root / f"vid{i}.avi", frames)
    video_writer(root / "zz_dup0.avi", synth(36, size=(128, 96), cuts=(12,), seed=0))
    return make_config([{"kind": "local", "path": str(root)}], sampling={"strides": [1, 2, 3], "max_per_clip": 9})


def snapshot(home: Path) -> tuple[set, dict]:
    """Triplet identities (with metadata) and the content hash of every file under the data root."""
    url = f"sqlite:///{home / 'dynvfi.sqlite'}"
    with session_scope(url) as s:
        rows = {
            (c.key, c.split, t.frame0, t.stride, t.tier, t.width, t.height, t.path0, t.path_gt, t.path1,
             round(t.motion_mean, 3), t.phash)
            for t, c in s.execute(select(Triplet, Clip).join(Clip))
        }
    files = {
        p.relative_to(home).as_posix(): hashlib.sha256(p.read_bytes()).hexdigest()
        for p in (home / "data" / "frames").rglob("*") if p.is_file()
    }
    return rows, files


def run_in(home: Path, monkeypatch: pytest.MonkeyPatch, cfg: Path, **kw):
    """Collect into a private home (DB and data root inside it, whatever the caller's env says)."""
    monkeypatch.setenv("DYNVFI_HOME", str(home))
    monkeypatch.delenv("DYNVFI_DB", raising=False)
    monkeypatch.delenv("DYNVFI_DATA", raising=False)
    return collect(load_config(cfg), progress=False, plot=False, **kw)


def test_rerun_is_idempotent_and_dedup_counted(tmp_path: Path, monkeypatch, clips_config: Path) -> None:
    home = tmp_path / "h"
    first = run_in(home, monkeypatch, clips_config)
    before = snapshot(home)
    assert first.triplets_total == len(before[0]) > 0
    assert first.rejected["scene_cut"] > 0 and first.rejected["near_static"] > 0
    # the copy sorts after vid0, so all of its samples are near duplicates and none is stored
    assert first.rejected["near_duplicate"] >= 1
    assert not any(r[0].endswith("zz_dup0.avi") for r in before[0])
    again = run_in(home, monkeypatch, clips_config)
    assert again.triplets_added == 0 and again.clips_processed == 0 and again.clips_resumed == N_CLIPS + 1
    assert snapshot(home) == before
    assert again.triplets == first.triplets and again.rejected == first.rejected


def test_two_shards_equal_one_run(tmp_path: Path, monkeypatch, clips_config: Path) -> None:
    whole = run_in(tmp_path / "one", monkeypatch, clips_config)
    # shard 1 holds the duplicate copy and runs first, when vid0 (shard 2) is not there yet, so
    # it keeps the copy's triplets; shard 2 must then remove them (and their files)
    first = run_in(tmp_path / "two", monkeypatch, clips_config, shard=(1, 2))
    assert any(r[0].endswith("zz_dup0.avi") for r in snapshot(tmp_path / "two")[0])
    second = run_in(tmp_path / "two", monkeypatch, clips_config, shard=(2, 2))
    assert first.clips_in_shard + second.clips_in_shard == whole.clips_in_shard
    assert 0 < first.clips_in_shard < whole.clips_in_shard
    assert snapshot(tmp_path / "two") == snapshot(tmp_path / "one")
    assert len(snapshot(tmp_path / "two")[0]) == whole.triplets_total
    # the copy's rejections are reported by its own shard once the original exists
    assert first.rejected["near_duplicate"] == 0
    again = run_in(tmp_path / "two", monkeypatch, clips_config, shard=(1, 2))
    assert again.clips_processed == 0
    assert again.rejected["near_duplicate"] == whole.rejected["near_duplicate"] > 0
    assert again.triplets + second.triplets == whole.triplets


def test_duplicate_pair_lands_in_different_shards() -> None:
    """Guard for the test above: the fixture's duplicate pair is split, the copy in shard 1/2."""
    assert shard_of("local:clips/zz_dup0.avi", 2) == 0
    assert shard_of("local:clips/vid0.avi", 2) == 1


def test_kill_then_rerun_equals_uninterrupted(tmp_path: Path, monkeypatch, clips_config: Path) -> None:
    reference = run_in(tmp_path / "ref", monkeypatch, clips_config)
    home = tmp_path / "killed"
    env = {k: v for k, v in os.environ.items() if k not in ("DYNVFI_DB", "DYNVFI_DATA")}
    env["DYNVFI_HOME"] = str(home)
    code = ("import sys; from collect.config import load_config; from collect.pipeline import collect; "
            "collect(load_config(sys.argv[1]), progress=False)")
    proc = subprocess.Popen([sys.executable, "-c", code, str(clips_config)], env=env)
    db = home / "dynvfi.sqlite"
    deadline = time.monotonic() + 120
    committed = 0
    while time.monotonic() < deadline and proc.poll() is None:
        try:
            with sqlite3.connect(f"file:{db}?mode=ro", uri=True, timeout=1) as con:
                committed = con.execute("SELECT count(*) FROM clip").fetchone()[0]
        except sqlite3.Error:
            committed = 0
        if committed >= 2:
            proc.send_signal(signal.SIGKILL)
            break
        time.sleep(0.01)
    proc.wait(timeout=30)
    assert proc.returncode == -signal.SIGKILL, "the run finished before it could be killed"
    with sqlite3.connect(db) as con:
        done = con.execute("SELECT count(*) FROM clip").fetchone()[0]
    assert done < N_CLIPS + 1, "killed too late to test resuming"
    resumed = run_in(home, monkeypatch, clips_config)
    assert resumed.clips_resumed == done
    assert snapshot(home) == snapshot(tmp_path / "ref")
    assert resumed.triplets == reference.triplets
    assert not list((home / "data").rglob("*.part"))


def test_parse_shard() -> None:
    assert parse_shard("2/4") == (2, 4)
    for bad in ("0/2", "3/2", "x", "1-2"):
        with pytest.raises(ConfigError):
            parse_shard(bad)
