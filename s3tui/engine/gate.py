"""How many requests may be in flight right now: the user's ceiling, pause, and SlowDown.

A 503 SlowDown halves the limit and holds it for a while; each later success adds one slot back
(additive increase, multiplicative decrease), so s3tui yields to a throttling server or a shared
link and then climbs back. The dashboard's ``+``/``-``/``p`` keys act here too.

A slot is sized for a part. Light requests (a small file of at most ``LIGHT_BYTES``, a create or
complete) take a quarter of one: their time is the round trip, not the bytes, so a tree of small
files keeps 4x as many in flight (32 at the default 8) while big parts keep the limit the user set
(on this machine 16 parts in flight were slower than 8 for 4 x 256 MiB, and 16-32 small files
faster than 8). A waiting part has priority over light requests, so it cannot starve.
"""

from __future__ import annotations

import threading
import time
from collections.abc import Callable

LIGHT_BYTES = 1 << 20  # requests with at most this many body bytes are light
LIGHT_PER_SLOT = 4


class ConcurrencyGate:
    def __init__(
        self, limit: int, hold: float = 5.0, clock: Callable[[], float] = time.monotonic
    ) -> None:
        self._cond = threading.Condition()
        self._ceiling = max(1, limit)
        self._limit = self._ceiling
        self._heavy = 0
        self._light = 0
        self._heavy_waiting = 0
        self._paused = False
        self._hold = hold
        self._hold_until = 0.0
        self._clock = clock
        self._closed = False

    # --- what workers call ---
    def acquire(self, stop: threading.Event, light: bool = False) -> bool:
        """Wait for room; False when ``stop`` is set or the gate is closed."""
        with self._cond:
            if not light:
                self._heavy_waiting += 1
            try:
                while self._paused or not self._fits(light):
                    if stop.is_set() or self._closed:
                        return False
                    self._cond.wait(0.2)
            finally:
                if not light:
                    self._heavy_waiting -= 1
            if stop.is_set() or self._closed:
                return False
            if light:
                self._light += 1
            else:
                self._heavy += 1
            return True

    def try_acquire(self) -> bool:
        """Take a part's slot only if one is free now and no request waits for it: what a
        hedge (a second copy of a straggler) may use, never a slot work is waiting for."""
        with self._cond:
            if self._paused or self._closed or self._heavy_waiting or not self._fits(False):
                return False
            self._heavy += 1
            return True

    def _fits(self, light: bool) -> bool:
        used = self._heavy * LIGHT_PER_SLOT + self._light  # in quarter slots
        room = self._limit * LIGHT_PER_SLOT - used
        if light:
            return room >= 1 and self._heavy_waiting == 0
        return room >= LIGHT_PER_SLOT

    def release(self, success: bool, light: bool = False) -> None:
        with self._cond:
            if light:
                self._light -= 1
            else:
                self._heavy -= 1
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
        """Slots in use (light requests count a quarter each, rounded up)."""
        return self._heavy + -(-self._light // LIGHT_PER_SLOT)

    @property
    def paused(self) -> bool:
        return self._paused
