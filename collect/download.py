"""Resumable, size-limited HTTP(S) downloads for ``web`` sources.

A download goes to ``<name>.part`` and is renamed only when complete, so a killed run leaves
either a finished file (reused as is) or a partial one that the next run continues with an HTTP
``Range`` request. Servers that ignore ``Range`` answer 200 and the file restarts from byte 0.
The size limit is checked against ``Content-Length`` before any byte is read and again while
streaming, because servers may omit or misstate the length.
"""

from __future__ import annotations

import hashlib
import urllib.error
import urllib.request
from pathlib import Path, PurePosixPath
from urllib.parse import urlparse

from dynvfi_core.errors import InputError

CHUNK = 1 << 20


def target_path(url: str, folder: Path) -> Path:
    """Deterministic local name: a hash of the URL plus the URL's own suffix."""
    suffix = PurePosixPath(urlparse(url).path).suffix[:10] or ".bin"
    return folder / f"{hashlib.sha256(url.encode()).hexdigest()[:20]}{suffix}"


def download(url: str, folder: Path, max_bytes: int, timeout_s: float = 30.0) -> Path:
    """Fetch ``url`` into ``folder`` (resuming a ``.part`` file) and return the local path."""
    dest = target_path(url, folder)
    if dest.is_file():
        return dest
    folder.mkdir(parents=True, exist_ok=True)
    part = dest.with_name(dest.name + ".part")
    offset = part.stat().st_size if part.is_file() else 0
    request = urllib.request.Request(url, headers={"User-Agent": "dynvfi-collect"})
    if offset:
        request.add_header("Range", f"bytes={offset}-")
    try:
        with urllib.request.urlopen(request, timeout=timeout_s) as resp:
            if resp.status == 206:
                mode = "ab"
            else:  # full body: the server ignored Range (or there was nothing to resume)
                mode, offset = "wb", 0
            length = resp.headers.get("Content-Length")
            if length is not None and offset + int(length) > max_bytes:
                part.unlink(missing_ok=True)  # never completable: do not keep the partial bytes
                raise InputError(f"{url}: {offset + int(length)} bytes exceed the download limit of {max_bytes}")
            written = offset
            with open(part, mode) as out:
                while chunk := resp.read(CHUNK):
                    written += len(chunk)
                    if written > max_bytes:
                        break
                    out.write(chunk)
            if written > max_bytes:
                part.unlink(missing_ok=True)
                raise InputError(f"{url}: more than the download limit of {max_bytes} bytes")
            if length is not None and written != offset + int(length):
                raise InputError(f"{url}: connection closed after {written} bytes; the next run resumes")
    except urllib.error.HTTPError as exc:
        if exc.code == 416 and offset:  # nothing left to send: the .part file is complete
            part.replace(dest)
            return dest
        raise InputError(f"{url}: HTTP {exc.code} {exc.reason}") from exc
    except (urllib.error.URLError, TimeoutError, ConnectionError) as exc:
        reason = getattr(exc, "reason", exc)
        raise InputError(f"{url}: download failed ({reason}); the next run resumes") from exc
    part.replace(dest)
    return dest
