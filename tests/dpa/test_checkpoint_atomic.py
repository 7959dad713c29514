"""Checkpoints survive Ctrl-C: a real ``dynvfi train`` process interrupted inside its save.

The save window is made deterministic with the documented test hook of
:mod:`dynvfi_core.atomic` (``DYNVFI_TEST_PAUSE_BEFORE_RENAME``), which sleeps between writing a
checkpoint's temporary file and renaming it; SIGINT is sent while ``state.pt`` sits there.
"""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import yaml
from safetensors import safe_open

from dynvfi_core.atomic import PAUSE_ENV

REPO = Path(__file__).resolve().parents[2]


def _train(cfg: Path, *extra: str, env: dict[str, str] | None = None) -> subprocess.Popen:
    return subprocess.Popen([sys.executable, "-m", "dynvfi_core.cli", "train", "--config", str(cfg), *extra],
                            cwd=REPO, env={**os.environ, "HF_HUB_OFFLINE": "1", **(env or {})},
                            stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)


def _wait_for(folder: Path, pattern: str, proc: subprocess.Popen, timeout: float = 240.0) -> Path:
    end = time.monotonic() + timeout
    while time.monotonic() < end:
        hits = sorted(folder.glob(pattern)) if folder.is_dir() else []
        if hits:
            return hits[0]
        assert proc.poll() is None, f"training ended before its save: {proc.communicate()[1][-2000:]}"
        time.sleep(0.05)
    proc.kill()
    raise AssertionError(f"no {pattern} appeared in {folder} within {timeout} s")


def _weights_step(path: Path) -> int:
    with safe_open(str(path), framework="pt") as fh:
        return int(fh.metadata()["step"])


def test_ctrl_c_while_saving_keeps_a_complete_checkpoint_and_resume_continues(
        synthetic_table, tiny_train_dict, tmp_path) -> None:
    out = tmp_path / "run"
    cfg = tmp_path / "tiny.yaml"
    cfg.write_text(yaml.safe_dump(tiny_train_dict(synthetic_table, out, epochs=2)))
    proc = _train(cfg, env={PAUSE_ENV: "3"})
    part = _wait_for(out, "*state.pt*.part", proc)  # state.pt is being written, not yet renamed
    proc.send_signal(signal.SIGINT)
    _, err = proc.communicate(timeout=120)
    assert proc.returncode == 130, err[-2000:]
    assert "interrupted" in err and "Traceback" not in err
    # the save in progress was completed, not torn: both files present and of the same step
    assert not part.exists() and not list(out.glob("*.part"))
    assert (out / "state.pt").is_file() and (out / "last.safetensors").is_file()
    import torch

    state = torch.load(out / "state.pt", map_location="cpu", weights_only=False)
    assert state["step"] == _weights_step(out / "last.safetensors") > 0
    done = _train(cfg, "--resume")
    stdout, err = done.communicate(timeout=300)
    assert done.returncode == 0, err[-2000:]
    summary = json.loads(stdout[: stdout.rindex("}") + 1])
    assert summary["finished"] is True and summary["step"] > state["step"]


def test_resume_from_the_weights_when_the_optimizer_state_is_missing(synthetic_table, tiny_train_dict,
                                                                     tmp_path, caplog) -> None:
    from train.config import from_dict
    from train.trainer import train

    out = tmp_path / "run"
    cfg = from_dict(tiny_train_dict(synthetic_table, out, epochs=2))
    first = train(cfg, stop_at=3, progress=False)
    assert first["step"] == _weights_step(out / "last.safetensors") >= 3 and not first["finished"]
    (out / "state.pt").unlink()  # as an interrupted save of an older version left it
    resumed = train(cfg, resume=True, progress=False)
    assert resumed["finished"] and resumed["step"] > first["step"]
    assert "resuming" in caplog.text and "from last.safetensors alone" in caplog.text
