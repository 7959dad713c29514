"""Where DynVFI keeps its files.

One root, ``$DYNVFI_HOME`` (default ``~/.cache/dynvfi``), holds weights, the default SQLite
database and collected data, so a user can move or wipe everything with one variable.
"""

from __future__ import annotations

import os
from pathlib import Path


def home() -> Path:
    """Root directory for weights, databases and data (``$DYNVFI_HOME``)."""
    return Path(os.environ.get("DYNVFI_HOME", Path.home() / ".cache" / "dynvfi")).expanduser()


def weights_dir() -> Path:
    """Directory holding one sub-folder of weight files per model."""
    return home() / "weights"


def data_root() -> Path:
    """Default root of collected triplets (PNG frames) and interpolated outputs."""
    return Path(os.environ.get("DYNVFI_DATA", home() / "data")).expanduser()


def default_db_url() -> str:
    """SQLAlchemy URL of the default database: ``$DYNVFI_DB`` or SQLite under the home root."""
    url = os.environ.get("DYNVFI_DB")
    if url:
        return url
    return f"sqlite:///{home() / 'dynvfi.sqlite'}"
