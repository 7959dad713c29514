"""Files that appear whole or not at all, with the permissions the user's umask asks for.

Every DynVFI writer of a file someone else may read while it is written (frames, checkpoints,
reports) goes through :func:`atomic_path`: the bytes go to a uniquely named hidden temporary file
in the target's folder, are flushed to disk (``fsync``), get mode ``0o666 & ~umask`` (temporary
files are created 0600, which would make outputs unreadable to the user's group), and are then
renamed over the target. A crash or Ctrl-C at any point leaves either the old file or the new
one, never a truncated file, and the temporary file is removed.

:func:`deferred_interrupt` holds back Ctrl-C while a group of files that belong together (a
training checkpoint's weights and optimizer state) is written, then raises it.

Test hook: ``DYNVFI_TEST_PAUSE_BEFORE_RENAME=SECONDS`` sleeps between the fsync and the rename,
so tests can interrupt a real process inside the save window deterministically.
"""

from __future__ import annotations

import os
import signal
import threading
import time
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

from dynvfi_core.errors import OutputError

PAUSE_ENV = "DYNVFI_TEST_PAUSE_BEFORE_RENAME"


def current_umask() -> int:
    """The process umask, read without changing it where Linux allows (``/proc``)."""
    try:
        for line in Path("/proc/self/status").read_text().splitlines():
            if line.startswith("Umask:"):
                return int(line.split()[1], 8)
    except OSError:
        pass
    mask = os.umask(0o022)  # elsewhere: set-and-restore (not thread-safe, but only a fallback)
    os.umask(mask)
    return mask


def file_mode() -> int:
    """Mode of a newly created regular file under the current umask."""
    return 0o666 & ~current_umask()


def _fsync_dir(folder: Path) -> None:
    try:
        fd = os.open(folder, os.O_RDONLY)
    except OSError:
        return
    try:
        os.fsync(fd)
    except OSError:
        pass
    finally:
        os.close(fd)


@contextmanager
def atomic_path(path: str | Path, *, fsync: bool = True) -> Iterator[Path]:
    """Yield a temporary path to write ``path``'s content to; on success it replaces ``path``.

    The caller writes the temporary file by any means (``open``, ``torch.save``,
    ``safetensors.save_file``). ``fsync=False`` skips the disk flush for bulk outputs whose loss
    in a power cut is harmless (they are redone on resume), keeping the rename's atomicity.
    """
    target = Path(path)
    target.parent.mkdir(parents=True, exist_ok=True)
    tmp = target.with_name(f".{target.name}.{os.getpid()}.{threading.get_ident()}.{time.monotonic_ns()}.part")
    try:
        yield tmp
        if fsync:
            with open(tmp, "rb+") as fh:
                os.fsync(fh.fileno())
        os.chmod(tmp, file_mode())
        pause = float(os.environ.get(PAUSE_ENV, "0") or 0)
        if pause > 0:
            time.sleep(pause)
        os.replace(tmp, target)
        if fsync:
            _fsync_dir(target.parent)
    except OSError as exc:
        # the temporary name is an implementation detail: report the file the user asked for
        if exc.filename is not None and Path(exc.filename) == tmp:
            raise OutputError(f"cannot write {target}: {exc.strerror}") from exc
        raise
    finally:
        if tmp.exists():
            tmp.unlink()


def write_bytes(path: str | Path, data: bytes, *, fsync: bool = True) -> Path:
    """Write ``data`` to ``path`` atomically (see :func:`atomic_path`)."""
    with atomic_path(path, fsync=fsync) as tmp:
        tmp.write_bytes(data)
    return Path(path)


@contextmanager
def deferred_interrupt() -> Iterator[None]:
    """Run the block to its end even if Ctrl-C (SIGINT) arrives; raise ``KeyboardInterrupt`` after it.

    Outside the main thread (where signal handlers cannot be set) the block simply runs.
    """
    if threading.current_thread() is not threading.main_thread():
        yield
        return
    received: list[int] = []
    previous = signal.signal(signal.SIGINT, lambda signum, _frame: received.append(signum))
    try:
        yield
    finally:
        signal.signal(signal.SIGINT, previous)
    if received:
        raise KeyboardInterrupt
