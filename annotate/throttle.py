"""Login throttling: exponential backoff per user name and per client address.

bcrypt makes each guess cost ~0.25 s of CPU, but without a limit an attacker can still try
passwords without end, and a flood of guesses takes the CPU from the raters (a 16-thread flood
made a real login take 5.9 s and the next item 5x slower). After ``free`` failed logins in a row
for a name, or from an address, further attempts for that key are refused *without* a bcrypt
check until a lock of ``base_s * 2**(failures - free)`` seconds (capped at ``max_s``) has passed.
Keying by name stops a guesser spread over many addresses; keying by address stops one address
spraying many names. A success clears the name's and the address's record; a record without a
failure for ``forget_s`` is dropped. A locked name can be unlocked by its owner only by waiting:
the price of stopping guessers is that a guesser can delay a known user's login by ``max_s``.
"""

from __future__ import annotations

import threading
import time
from dataclasses import dataclass, field


@dataclass
class _Record:
    failures: int = 0
    locked_until: float = 0.0
    last: float = 0.0


@dataclass
class LoginThrottle:
    free: int = 5
    base_s: float = 1.0
    max_s: float = 900.0
    forget_s: float = 3600.0
    clock: object = time.monotonic  # injectable for tests
    _records: dict[str, _Record] = field(default_factory=dict)
    _lock: threading.Lock = field(default_factory=threading.Lock)

    @staticmethod
    def keys(name: str, address: str) -> tuple[str, str]:
        return f"user:{name.strip().lower()}", f"addr:{address}"

    def wait_s(self, name: str, address: str) -> float:
        """Seconds until an attempt for this name from this address is allowed (0: now)."""
        now = self.clock()
        with self._lock:
            return max((max(r.locked_until - now, 0.0) for k in self.keys(name, address)
                        if (r := self._records.get(k)) is not None), default=0.0)

    def failed(self, name: str, address: str) -> float:
        """Record a failed attempt; return the lock it starts (0 while still within ``free``)."""
        now = self.clock()
        lock = 0.0
        with self._lock:
            self._forget(now)
            for key in self.keys(name, address):
                r = self._records.setdefault(key, _Record())
                r.failures += 1
                r.last = now
                if r.failures > self.free:
                    r.locked_until = now + min(self.base_s * 2 ** (r.failures - self.free - 1), self.max_s)
                lock = max(lock, r.locked_until - now)
        return lock

    def succeeded(self, name: str, address: str) -> None:
        with self._lock:
            for key in self.keys(name, address):
                self._records.pop(key, None)

    def _forget(self, now: float) -> None:
        for key in [k for k, r in self._records.items() if now - r.last > self.forget_s and now >= r.locked_until]:
            del self._records[key]
