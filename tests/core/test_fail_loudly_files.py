"""Files others can read, no leftovers, logs without carriage-return noise, a light ``dynvfi -h``.

- every file DynVFI writes gets ``0o666 & ~umask`` (the temp-file-and-rename writers used to
  keep the temporary file's 0600): frames, ``dynvfi interpolate`` outputs, DPA checkpoints;
- migrating a database leaves no ``*.migrate.lock`` next to it;
- with standard error piped, progress bars become plain periodic lines (no ``\\r``);
- building the CLI parser imports none of pandas, matplotlib, cv2, torch.
"""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest

from dynvfi_core.cli import main
from dynvfi_core.imageio import write_image

REPO = Path(__file__).resolve().parents[2]


@pytest.fixture(params=[0o022, 0o002, 0o077])
def umask(request: pytest.FixtureRequest):
    old = os.umask(request.param)
    yield request.param
    os.umask(old)


def _mode(path: Path) -> int:
    return path.stat().st_mode & 0o777


def test_written_files_follow_the_umask(umask: int, tmp_path: Path) -> None:
    from dynvfi_core.dpa.config import ModelConfig
    from dynvfi_core.dpa.factory import build_model, save_model

    expected = 0o666 & ~umask  # what open(..., "w") gives any ordinary file
    frame = write_image(tmp_path / "f.png", np.zeros((4, 6, 3), np.uint8))
    assert _mode(frame) == expected
    a, b = write_image(tmp_path / "a.png", np.zeros((8, 8, 3), np.uint8)), tmp_path / "b.png"
    write_image(b, np.full((8, 8, 3), 200, np.uint8))
    assert main(["interpolate", str(a), str(b), "--model", "blend", "-o", str(tmp_path / "mid.png")]) == 0
    assert _mode(tmp_path / "mid.png") == expected
    cfg = ModelConfig(arch="ahiq", view=(32, 32), ahiq_vit_embed=16, ahiq_vit_depth=1, ahiq_vit_heads=1,
                      ahiq_dims=(16, 8, 16))
    ckpt = save_model(tmp_path / "m.safetensors", build_model(cfg), cfg)
    assert _mode(ckpt) == expected
    assert not list(tmp_path.glob(".*.part"))


def test_migration_leaves_no_lock_file(tmp_path: Path) -> None:
    from db.migrate import upgrade

    url = f"sqlite:///{tmp_path / 'sub' / 'x.sqlite'}"
    upgrade(url)
    upgrade(url)  # at head: the second call only checks
    assert sorted(p.name for p in (tmp_path / "sub").iterdir() if "lock" in p.name) == []


def test_piped_progress_is_plain_lines(tmp_path: Path) -> None:
    root = tmp_path / "v"
    for i in range(3):
        for k in (1, 2, 3):
            write_image(root / f"s{i}" / f"im{k}.png", np.full((16, 16, 3), 40 * k, np.uint8))
    proc = subprocess.run([sys.executable, "-m", "dynvfi_core.cli", "eval-triplets", str(root), "--model", "blend"],
                          cwd=REPO, capture_output=True, timeout=300,  # bytes: text mode would turn \r into \n
                          env={**os.environ, "DYNVFI_PROGRESS_INTERVAL": "0", "COLUMNS": "160"})
    err = proc.stderr.decode()
    assert proc.returncode == 0, err[-2000:]
    assert "\r" not in err
    lines = err.split("\n")
    assert any("0/3" in ln for ln in lines), err
    assert any("100%" in ln and "3/3" in ln for ln in lines), err  # the final state is never dropped


def test_help_imports_no_heavy_libraries() -> None:
    code = ("import sys; from dynvfi_core.cli import build_parser; build_parser(); "
            "print(sorted(m for m in ('pandas', 'matplotlib', 'cv2', 'torch', 'sqlalchemy') if m in sys.modules))")
    out = subprocess.run([sys.executable, "-c", code], cwd=REPO, capture_output=True, text=True, timeout=120)
    assert out.returncode == 0, out.stderr
    assert out.stdout.strip() == "[]"


def test_a_failed_atomic_write_names_the_file_asked_for_not_its_temporary() -> None:
    # /proc accepts no new files, even for root: the error must name the target, and no
    # temporary ".part" name (an implementation detail the user never gave)
    from dynvfi_core.atomic import write_bytes
    from dynvfi_core.errors import OutputError

    with pytest.raises(OutputError, match=r"^cannot write /proc/dynvfi-out\.bin: ") as info:
        write_bytes("/proc/dynvfi-out.bin", b"x")
    assert ".part" not in str(info.value)
