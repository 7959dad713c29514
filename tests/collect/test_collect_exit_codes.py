"""``dynvfi collect`` never reports success for nothing done, and an interrupted run says so.

- every listed clip fails to decode: exit 4 (nothing collected), the problems named;
- a data root that cannot be a folder: one ``error:`` line before any clip is read;
- Ctrl-C (SIGINT to a real ``dynvfi collect`` process, inside a frame write made deterministic
  by the ``DYNVFI_TEST_PAUSE_BEFORE_RENAME`` hook): exit 130, the run row is marked
  ``interrupted`` with its time, and no half-written frame is left.
"""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
from pathlib import Path

from sqlalchemy import select

from db.engine import session_scope
from db.models import CollectRun
from dynvfi_core.atomic import PAUSE_ENV
from dynvfi_core.cli import main

REPO = Path(__file__).resolve().parents[2]


def test_every_clip_undecodable_exits_4(tmp_path: Path, make_config, capsys) -> None:
    bad = tmp_path / "clips"
    bad.mkdir()
    for k in range(2):
        (bad / f"garbage{k}.mp4").write_bytes(bytes(range(256)) * (100 + k))
    cfg = make_config([{"kind": "local", "path": str(bad), "name": "bad"}])
    url = f"sqlite:///{tmp_path / 'c.sqlite'}"
    rc = main(["collect", "--config", str(cfg), "--db", url, "--data-root", str(tmp_path / "data"), "--no-plot"])
    assert rc == 4
    err = capsys.readouterr().err
    assert "error: nothing collected: every clip failed (2 problem(s)" in err and "garbage" in err


def test_data_root_that_cannot_be_a_folder(tmp_path: Path, make_config, synth, video_writer, capsys) -> None:
    clip = video_writer(tmp_path / "ok.avi", synth(12, size=(96, 64), seed=1))
    blocker = tmp_path / "file"
    blocker.write_text("x")
    cfg = make_config([{"kind": "local", "path": str(clip)}])
    url = f"sqlite:///{tmp_path / 'c.sqlite'}"
    rc = main(["collect", "--config", str(cfg), "--db", url, "--data-root", str(blocker / "data"), "--no-plot"])
    assert rc == 2
    lines = [ln for ln in capsys.readouterr().err.splitlines() if ln.strip()]
    assert len(lines) == 1 and lines[0].startswith("error: cannot write data root") and "is a file" in lines[0]


def test_interrupted_collect_marks_its_run(tmp_path: Path, make_config, synth, video_writer) -> None:
    clips = tmp_path / "clips"
    for k in range(3):
        video_writer(clips / f"c{k}.avi", synth(24, size=(96, 64), seed=10 + k))
    cfg = make_config([{"kind": "local", "path": str(clips)}])
    url = f"sqlite:///{tmp_path / 'c.sqlite'}"
    root = tmp_path / "data"
    proc = subprocess.Popen(
        [sys.executable, "-m", "dynvfi_core.cli", "collect", "--config", str(cfg), "--db", url,
         "--data-root", str(root), "--no-plot"],
        cwd=REPO, env={**os.environ, PAUSE_ENV: "2"}, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    end = time.monotonic() + 240
    while not list(root.rglob(".*.part")):
        assert proc.poll() is None, proc.communicate()[1][-2000:]
        assert time.monotonic() < end, "no frame write seen"
        time.sleep(0.05)
    proc.send_signal(signal.SIGINT)
    _, err = proc.communicate(timeout=120)
    assert proc.returncode == 130, err[-2000:]
    assert "interrupted" in err and "Traceback" not in err
    assert not list(root.rglob("*.part"))
    with session_scope(url) as s:
        runs = s.scalars(select(CollectRun)).all()
    assert len(runs) == 1
    run = runs[0]
    assert not run.finished and run.report["interrupted"] is True and run.seconds > 0
