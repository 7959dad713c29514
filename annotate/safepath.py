"""Resolving stored relative paths without ever leaving the data root.

Paths in the database are relative to the data root. A row written by a buggy or hostile tool
could hold ``../../etc/passwd`` or a symlink pointing elsewhere; everything the annotation area
reads or serves goes through :func:`inside` so such a path is refused instead of followed.
"""

from __future__ import annotations

from pathlib import Path

from dynvfi_core.errors import InputError


def inside(root: Path, relative: str | Path) -> Path:
    """``root / relative`` fully resolved, or :class:`InputError` if it lies outside ``root``."""
    base = Path(root).resolve()
    rel = Path(relative)
    if rel.is_absolute():
        raise InputError(f"refusing absolute path '{relative}': paths are stored relative to the data root")
    path = (base / rel).resolve()
    if not path.is_relative_to(base):
        raise InputError(f"refusing path '{relative}': it resolves outside the data root {base}")
    return path
