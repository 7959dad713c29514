"""Checks every command runs before its work: output locations and listen addresses.

A command that fails at the end (after the models ran) loses the user's time, so each command
checks what it will write and where it will run first, and raises a one-line
:class:`~dynvfi_core.errors.OutputError` / :class:`~dynvfi_core.errors.ConfigError`. The checks
create nothing that stays: a refused command leaves no folder behind. (Devices are checked by
:func:`dynvfi_core.device.check_device`, database URLs by :mod:`db.engine`, image suffixes by
:func:`dynvfi_core.imageio.check_image_suffix`.)
"""

from __future__ import annotations

import errno
import os
import tempfile
from pathlib import Path

from dynvfi_core.errors import ConfigError, OutputError


def _creatable_in(folder: Path, target: Path, what: str) -> None:
    """``folder`` (which may not exist yet) can be created and written to hold ``target``."""
    existing = folder
    while not existing.exists():
        if existing.parent == existing:
            break
        existing = existing.parent
    if not existing.is_dir():
        raise OutputError(f"cannot write {what} {target}: {existing} is a file, not a folder")
    if not os.access(existing, os.W_OK | os.X_OK):
        raise OutputError(f"cannot write {what} {target}: folder {existing} is not writable")
    # permission bits are not the whole story (root ignores them; /proc, /sys and some network
    # mounts refuse new files anyway): create and remove an unnamed file there to be sure
    try:
        with tempfile.TemporaryFile(dir=existing):
            pass
    except OSError as exc:
        raise OutputError(f"cannot write {what} {target}: folder {existing} does not accept new files "
                          f"({exc.strerror})") from None


def output_file(path: str | Path, what: str = "output") -> Path:
    """``path`` can be written as a file (it is not a folder; its folder exists or can be made)."""
    p = Path(path).expanduser()
    if p.is_dir():
        raise OutputError(f"{what} {p} is a folder; give a file name")
    if p.exists() and not os.access(p, os.W_OK):
        raise OutputError(f"cannot overwrite {what} {p}: the file is not writable")
    _creatable_in(p.parent, p, what)
    return p


def output_dir(path: str | Path, what: str = "output folder") -> Path:
    """``path`` is (or can become) a writable folder."""
    p = Path(path).expanduser()
    if p.exists() and not p.is_dir():
        raise OutputError(f"{what} {p} is a file, not a folder")
    _creatable_in(p, p, what)
    return p


def listen_address(host: str, port: int) -> None:
    """A server can listen on ``host:port``: valid port, resolvable local host, port not in use."""
    import socket

    if not 1 <= port <= 65535:
        raise ConfigError(f"--port {port} is not a TCP port (1-65535)")
    try:
        infos = socket.getaddrinfo(host, port, type=socket.SOCK_STREAM, flags=socket.AI_PASSIVE)
    except (socket.gaierror, UnicodeError) as exc:
        raise ConfigError(f"--host {host!r} cannot be resolved ({exc}); use 127.0.0.1, 0.0.0.0 or a local "
                          "address") from None
    family, kind, proto, _, address = infos[0]
    with socket.socket(family, kind, proto) as sock:
        sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)  # as the server itself will
        try:
            sock.bind(address)
        except OSError as exc:
            if exc.errno == errno.EADDRINUSE:
                raise ConfigError(f"port {port} on {host} is already in use (another server?); "
                                  "choose a free one with --port") from None
            raise ConfigError(f"cannot listen on {host}:{port}: {exc.strerror} (is {host} an address of "
                              "this machine?)") from None
