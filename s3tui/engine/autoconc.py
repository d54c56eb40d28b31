"""Concurrency that finds the link: more requests in flight while throughput grows with them.

A single connection across a continent, or through a per-flow shaper, carries a fraction of the
link: the fixed defaults of every S3 client (aws 10, s5cmd 5, rclone 4) leave most of a fat link
idle, while on a thin link more requests only add spool and contention. So, unless the user pins
a number (``--concurrency N``, or ``+``/``-`` in the dashboard), the ceiling is tuned while the
upload runs, by measurement: the aggregate rate at a setting is the median rate of the requests
that started at it (each one's size / time, start to answer) x the requests in flight on average.
Bytes leaving the sockets would be quicker to read but lie: each new request first fills its
socket's send buffer (MBs on a fast path) at once, so a step up looked like a gain and the next
window like a loss. A decision waits for ``samples`` requests begun at the setting.

- **Up** while it pays: after a step up, throughput must have grown at least as the number of
  requests to the power ``grow`` (0.25: +19% for twice the requests), and by ``least`` (10%,
  above run-to-run noise) for any step. Gains short of proportional are worth taking: a link
  measured at 13.8, 24.5, 35.8, 38.6 MiB/s for 8, 16, 32, 64 requests gains +46% from 16 to 32;
  on a shared cap (12.3, 14.1, 7.3 for 8, 16, 32) the step to 32 fails all the same. Steps
  double until one does not pay (a slow start), and leap x4 after a doubling in which each
  request kept its speed (no shared bottleneck in sight: each step costs a whole request's
  time, 4 s for 8 MiB at 2 MB/s, so 8 -> 64 by doublings took three); a leap that does not pay
  falls back to the doubling, judged in turn. Then steps are small (x1.25), and a plateau is
  probed again now and then.
- **Down** when it does not: a step up that did not pay is undone, and a step down is taken when
  fewer requests carry as much (within ``keep``), down to the start: on a link with a total cap,
  fewer requests give the same rate with less spool and contention. Below the start only
  SlowDown and errors take it: probes below 8 on a fast local link cost more than they found.
- **Down at once** on a SlowDown (halved, as the gate does) and on errors (several in a window).
- Windows where the ceiling is not used (too little work: a slow producer) say nothing and are
  skipped; so are windows with the upload paused.

Bounded by ``low``..``high`` (1..64) and by what the spool allows (``--max-spool`` / part size).
:class:`Tuner` is the pure decision on a fake clock; :class:`AutoConcurrency` runs it.
"""

from __future__ import annotations

import threading
import time
from collections.abc import Callable
from dataclasses import dataclass

Clock = Callable[[], float]


@dataclass(frozen=True)
class TuneRules:
    low: int = 1
    high: int = 64
    window: float = 1.0  # at least this many seconds per decision
    samples: int = 4  # requests begun at a setting and completed, before it is judged
    grow: float = 0.25  # a step up from n0 to n must raise the rate x (n / n0) ** grow
    least: float = 0.10  # and by this share at least, whatever the step
    keep: float = 0.92  # a step down is kept when it carries this share of the rate
    busy: float = 0.75  # a window counts only if this share of the ceiling was in flight
    probe_every: int = 8  # windows at a steady setting before it is probed again
    errors: int = 2  # this many errors in one window take a step down
    # After a doubling whose requests each kept 2**(linear - 1) (87%) of their rate: x4 next.
    linear: float = 0.8


@dataclass(frozen=True)
class Move:
    """A change of the ceiling and why, for the dashboard and the headless line."""

    n: int
    why: str


class Tuner:
    """The decision: feed :meth:`sample` every fraction of a second; it returns a :class:`Move`
    when the ceiling should change."""

    def __init__(self, start: int, rules: TuneRules | None = None, now: float = 0.0) -> None:
        self.rules = rules or TuneRules()
        self.n = self._clamp(start, self.rules.high)
        # Probes and descents stop at the start: below it, only SlowDown and errors take the
        # number (on a fast local link every probe below 8 cost more than it could find).
        self._start = self.n
        self.why = "start"
        self._bound = self.rules.high
        self._fast = True  # doubling until a step up does not pay
        self._linear = False  # the last doubling kept each request's speed: x4 next
        # (n, rate, one request's rate) before the last step
        self._prev: tuple[int, float, float] | None = None
        self._steady = 0  # windows measured at the current setting since it was settled
        self._direction = 0  # +1: last step was up, -1: down, 0: steady
        self._errors = 0
        self._probe_up = False  # at a plateau, probes alternate up and down
        self._down_from = 0.0  # the rate where the current descent began
        self._begin(now)

    def _clamp(self, n: int, bound: int) -> int:
        return max(self.rules.low, min(n, self.rules.high, bound))

    def _begin(self, now: float) -> None:
        """Start a measurement: requests begun from ``now`` on are its samples."""
        self._since = now
        self._rates: list[float] = []
        self._busy_sum = 0.0
        self._busy_samples = 0
        self._paused = False
        self._errors = 0

    def bound(self, most: int) -> Move | None:
        """What the spool allows now; a ceiling above it comes down at once."""
        self._bound = max(self.rules.low, most)
        if self.n > self._bound:
            return self._set(self._bound, "spool cap", 0.0, -1)
        return None

    def _set(self, n: int, why: str, now: float, direction: int) -> Move:
        self.n, self.why, self._direction = n, why, direction
        self._steady = 0
        self._begin(now)
        return Move(n, why)

    # --- events ---
    def slow_down(self, now: float) -> Move:
        self._fast = False
        self._prev = None
        return self._set(self._clamp(self.n // 2, self._bound), "SlowDown from the server", now, -1)

    def error(self, now: float) -> Move | None:
        self._errors += 1
        if self._errors < self.rules.errors:
            return None
        self._fast = False
        self._prev = None
        n = self._clamp(int(self.n * 0.75), self._bound)
        return None if n == self.n else self._set(n, "requests failing", now, -1)

    # --- the measurement ---
    def completed(self, started: float, size: int, seconds: float) -> None:
        """A request of ``size`` bytes begun at ``started`` succeeded in ``seconds``."""
        if started > self._since and seconds > 0:
            self._rates.append(size / seconds)

    def sample(self, now: float, in_flight: float, paused: bool = False) -> Move | None:
        """Every fraction of a second: ``in_flight``, the requests in flight now."""
        self._paused |= paused
        self._busy_sum += in_flight
        self._busy_samples += 1
        if now - self._since < self.rules.window or len(self._rates) < self.rules.samples:
            return None
        busy = self._busy_sum / self._busy_samples
        if self._paused or busy < self.rules.busy * self.n:
            self._begin(now)  # no evidence: measure again
            return None
        rates = sorted(self._rates)
        one = rates[len(rates) // 2]
        return self._decide(now, one * busy, one)

    def _decide(self, now: float, rate: float, one: float) -> Move | None:
        r = self.rules
        prev, self._prev = self._prev, (self.n, rate, one)
        if prev is not None and self._direction > 0:
            n0, rate0, one0 = prev
            wanted = max((self.n / n0) ** r.grow, 1 + r.least)
            if rate < rate0 * wanted:
                self._fast = self._linear = False
                self._prev = prev
                half = self._clamp(n0 * 2, self._bound)
                if n0 < half < self.n:  # a leap did not pay: the doubling may
                    why = f"{self.n} in flight carried too little more than {n0}: trying {half}"
                    return self._set(half, why, now, 1)
                move = self._set(n0, f"{self.n} in flight carried no more than {n0}", now, 0)
                # More did not pay: after one window to refresh the rate at n0, try fewer.
                self._probe_up, self._steady = True, r.probe_every - 1
                return move
            # Each request as fast as before, with more of them: no shared bottleneck in sight.
            # (The aggregate's ratio is less clear: in-flight counts average in the ramp.)
            self._linear = one >= one0 * (self.n / n0) ** (r.linear - 1)
            return self._up(now, f"throughput grew {rate / rate0 - 1:+.0%} with more requests")
        if prev is not None and self._direction < 0:
            n0, rate0, _ = prev
            # Against the rate where the descent began: 8% lost per step would add up.
            if rate < max(rate0, self._down_from) * r.keep:
                self._prev = prev
                return self._set(n0, f"{self.n} in flight carried less than {n0}", now, 0)
            if self.n <= self._start:
                self._direction = 0
                return None
            return self._down(now, f"{self.n} in flight carry as much as {n0}")
        # steady (or the first window): probe now and then; doubling at first
        if self._fast:
            return self._up(now, "measuring: more requests")
        self._steady += 1
        self._begin(now)
        if self._steady < r.probe_every:
            return None
        self._steady = 0
        self._probe_up = not self._probe_up
        if self._probe_up or self.n <= max(r.low, self._start):
            return self._up(now, "probing for more")
        return self._down(now, "probing for less")

    def _up(self, now: float, why: str) -> Move | None:
        if self._fast:
            bigger = self.n * (4 if self._linear else 2)
        else:
            bigger = max(self.n + 1, int(self.n * 1.25))
        n = self._clamp(bigger, self._bound)
        if n == self.n:
            self._direction = 0
            self._begin(now)
            return None
        return self._set(n, why, now, +1)

    def _down(self, now: float, why: str) -> Move | None:
        if self._direction >= 0 and self._prev is not None:
            self._down_from = self._prev[1]
        n = self._clamp(max(self._start, min(self.n - 1, int(self.n * 0.75))), self._bound)
        if n == self.n:
            self._direction = 0
            self._begin(now)
            return None
        return self._set(n, why, now, -1)


class AutoConcurrency:
    """Runs a :class:`Tuner` against a live transfer every ``tick`` seconds, until pinned.

    ``read()`` gives (requests in flight, paused); ``apply(n)`` sets the ceiling;
    ``bound()`` what the spool allows; ``note(move)`` tells the progress model.
    """

    def __init__(
        self,
        start: int,
        read: Callable[[], tuple[float, bool]],
        apply: Callable[[int], None],
        bound: Callable[[], int],
        note: Callable[[Move], None],
        rules: TuneRules | None = None,
        clock: Clock = time.monotonic,
        tick: float = 0.25,
    ) -> None:
        self.tuner = Tuner(start, rules, clock())
        self._read, self._apply, self._bound, self._note = read, apply, bound, note
        self._clock = clock
        self._tick = tick
        self._lock = threading.Lock()
        self._end = threading.Event()
        self.pinned = False
        self._thread: threading.Thread | None = None

    @property
    def why(self) -> str:
        return "pinned" if self.pinned else self.tuner.why

    def start(self) -> None:
        self._thread = threading.Thread(target=self._run, name="s3tui-autoconc", daemon=True)
        self._thread.start()

    def stop(self) -> None:
        self._end.set()

    def pin(self) -> None:
        """The user chose a number: stop tuning."""
        with self._lock:
            self.pinned = True

    def completed(self, started: float, size: int, seconds: float) -> None:
        with self._lock:
            self.tuner.completed(started, size, seconds)

    def slow_down(self) -> None:
        self._event(lambda now: self.tuner.slow_down(now))

    def error(self) -> None:
        self._event(lambda now: self.tuner.error(now))

    def _event(self, fn: Callable[[float], Move | None]) -> None:
        with self._lock:
            if self.pinned:
                return
            move = fn(self._clock())
            if move is not None:
                self._move(move)

    def _move(self, move: Move) -> None:
        self._apply(move.n)
        self._note(move)

    def _run(self) -> None:
        while not self._end.wait(self._tick):
            with self._lock:
                if self.pinned:
                    return
                move = self.tuner.bound(self._bound())
                if move is None:
                    in_flight, paused = self._read()
                    move = self.tuner.sample(self._clock(), in_flight, paused)
                if move is not None:
                    self._move(move)
