"""How many requests may be in flight right now: the user's ceiling, pause, and SlowDown.

A 503 SlowDown halves the limit and holds it for a while; each later success adds one slot back
(additive increase, multiplicative decrease), so s3tui yields to a throttling server or a shared
link and then climbs back. The dashboard's ``+``/``-``/``p`` keys act here too.
"""

from __future__ import annotations

import threading
import time
from collections.abc import Callable


class ConcurrencyGate:
    def __init__(
        self, limit: int, hold: float = 5.0, clock: Callable[[], float] = time.monotonic
    ) -> None:
        self._cond = threading.Condition()
        self._ceiling = max(1, limit)
        self._limit = self._ceiling
        self._active = 0
        self._paused = False
        self._hold = hold
        self._hold_until = 0.0
        self._clock = clock
        self._closed = False

    # --- what workers call ---
    def acquire(self, stop: threading.Event) -> bool:
        """Wait for a slot; False when ``stop`` is set or the gate is closed."""
        with self._cond:
            while self._paused or self._active >= self._limit:
                if stop.is_set() or self._closed:
                    return False
                self._cond.wait(0.2)
            if stop.is_set() or self._closed:
                return False
            self._active += 1
            return True

    def release(self, success: bool) -> None:
        with self._cond:
            self._active -= 1
            if success and self._limit < self._ceiling and self._clock() >= self._hold_until:
                self._limit += 1
            self._cond.notify_all()

    def slow_down(self) -> None:
        """The server said SlowDown: halve the limit and hold it."""
        with self._cond:
            self._limit = max(1, self._limit // 2)
            self._hold_until = self._clock() + self._hold

    # --- what the user controls ---
    def set_ceiling(self, n: int) -> int:
        with self._cond:
            self._ceiling = max(1, n)
            self._limit = min(max(self._limit, 1), self._ceiling)
            if n > self._limit and self._clock() >= self._hold_until:
                self._limit = self._ceiling
            self._cond.notify_all()
            return self._ceiling

    def set_paused(self, paused: bool) -> None:
        with self._cond:
            self._paused = paused
            self._cond.notify_all()

    def close(self) -> None:
        with self._cond:
            self._closed = True
            self._cond.notify_all()

    @property
    def limit(self) -> int:
        return self._limit

    @property
    def ceiling(self) -> int:
        return self._ceiling

    @property
    def active(self) -> int:
        return self._active

    @property
    def paused(self) -> bool:
        return self._paused
