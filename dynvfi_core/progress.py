"""Progress output that suits a log file as well as a terminal.

tqdm redraws its bar with carriage returns many times a second: fine on a terminal, a single
ever-growing line of noise in a log. When standard error is not a terminal, the CLI wraps it in
:class:`LineProgress`, which turns each redraw into a plain line but keeps at most one per
``DYNVFI_PROGRESS_INTERVAL`` seconds (default 10), plus the final state of every bar (also of
bars erased on close); all other
output passes through unchanged.
"""

from __future__ import annotations

import os
import re
import time
from typing import TextIO

INTERVAL_ENV = "DYNVFI_PROGRESS_INTERVAL"
DEFAULT_INTERVAL_S = 10.0
_SPLIT = re.compile(r"(\r|\n)")


class LineProgress:
    """A text stream wrapper: ``\\r``-redraws become periodic lines, everything else is written as is."""

    def __init__(self, stream: TextIO, interval: float | None = None) -> None:
        self._stream = stream
        self._interval = float(os.environ.get(INTERVAL_ENV, DEFAULT_INTERVAL_S)) if interval is None else interval
        self._line = ""
        self._unshown = ""  # the latest redraw not written yet
        self._last = float("-inf")

    def write(self, text: str) -> int:
        out: list[str] = []
        for part in _SPLIT.split(text):
            if part == "\n":
                out.append(self._line + "\n")
                self._line, self._unshown = "", ""
            elif part == "\r":  # the current line is about to be redrawn: keep it if it is time
                now = time.monotonic()
                if self._line.strip():
                    self._unshown = self._line.rstrip()
                    if now - self._last >= self._interval:
                        out.append(self._unshown + "\n")
                        self._last, self._unshown = now, ""
                elif self._line and self._unshown:  # a bar erased on close (leave=False): its final state
                    out.append(self._unshown + "\n")
                    self._unshown = ""
                self._line = ""
            else:
                self._line += part
        if out:
            self._stream.write("".join(out))
        return len(text)

    def flush(self) -> None:
        self._stream.flush()

    def isatty(self) -> bool:
        return False

    def __getattr__(self, name: str) -> object:  # encoding, fileno, ... of the wrapped stream
        return getattr(self._stream, name)
