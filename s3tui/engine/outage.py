"""Waiting out an outage: while no request can reach the endpoint, nothing gives up on a count.

An upload that runs for hours will see its network go away (a reboot of the router, a hotel
link, the store's maintenance window). Retrying each part on its own would burn every part's
attempts in a minute and throw the upload away. Instead, once the endpoint counts as unreachable,
the workers park their tasks, one of them probes the endpoint with a cheap request on a back-off
(1 s, x1.5 each time) capped at :data:`MAX_PROBE_DELAY`, and the first answer releases them all
at full speed. Only ``patience`` bounds the wait.

What counts as unreachable: failures that got no answer from the server (refused, reset, DNS,
timeouts), and only after some request of this job was answered, so a mistyped endpoint still
fails at once. A refused or unresolvable connection is an outage at once; resets and timeouts
when they have gone on, with nothing answered, for :data:`OUTAGE_AFTER` or
:data:`OUTAGE_FAILURES` failures. Any answer from the server (a 503 too) ends it: server
answers keep the count-based retry rules.

The state machine is pure (a clock is passed in) so its timing is unit-tested on a fake clock.
"""

from __future__ import annotations

import enum
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass
from typing import Protocol

# Resets and timeouts with no answer from the server for this long, or this many in a row
# (across all requests): the endpoint is down. The count catches a burst of quick resets
# before one part's attempts run out; any answer in between starts both over.
OUTAGE_AFTER = 10.0
OUTAGE_FAILURES = 6
FIRST_PROBE_DELAY = 1.0  # the first probe: a blip is over in about a second
PROBE_BACKOFF = 1.5  # each probe waits this much longer than the one before ...
MAX_PROBE_DELAY = 60.0  # ... up to a minute
PROBE_DEADLINE = 10.0  # one probe (a HEAD of the bucket) may take this long
REPORT_EVERY = 60.0  # a "still unreachable" line at most this often


class Endpoint(Protocol):
    """What the worker pool needs of the destination to wait out an outage and to outlive
    expiring credentials (:class:`~s3tui.engine.remote.S3Store` has these)."""

    def probe(self) -> None:
        """One cheap request; returns if the server answered anything at all, else raises."""
        ...

    def credentials_generation(self) -> int:
        """Grows each time fresh credentials replace the ones requests are signed with."""
        ...

    def renew_credentials(self, generation: int) -> str | None:
        """Load the credentials again (the standard chain). None when requests now sign with
        newer ones than ``generation`` had; else one line: which expired and how to renew."""
        ...


class Step(enum.Enum):
    OVER = "over"  # the endpoint answered: go on
    PROBE = "probe"  # this worker probes, after ``delay``
    WAIT = "wait"  # another worker probes: wait for its answer
    GIVE_UP = "give up"  # unreachable for longer than the patience


@dataclass(frozen=True)
class OutageView:
    """What the reporters show: "endpoint unreachable since 14:02, next try in 40 s"."""

    since: float  # wall clock
    next_try: float  # wall clock of the next probe
    reason: str  # the last failure, e.g. "connection refused"
    probes: int  # probes tried so far


class Outage:
    """Whether the endpoint counts as unreachable, and whose turn it is to probe it.

    Thread-safe. Times are on ``clock`` (monotonic); ``wall`` is only for what is shown.
    """

    def __init__(
        self,
        patience: float,
        clock: Callable[[], float] = time.monotonic,
        wall: Callable[[], float] = time.time,
    ) -> None:
        self.patience = patience
        self._clock = clock
        self._wall = wall
        self._lock = threading.Lock()
        self.changed = threading.Condition(self._lock)  # notified when an outage ends
        self._proven = False  # some request of this job got an answer: the endpoint is right
        self._unanswered_since: float | None = None
        self._unanswered = 0  # failures in the current run with no answer
        self._last_was_real = False  # the last outage outlived a probe (see was_real)
        self._since: float | None = None  # when the current outage began (None: none)
        self._since_wall = 0.0
        self._probes = 0
        self._next_probe = 0.0
        self._probing = False
        self._reason = ""
        self._reported = 0.0

    # --- what requests tell ---
    def answered(self) -> float | None:
        """The server answered a request (success or error). Returns how long the outage that
        this ends lasted, None if there was none."""
        with self._lock:
            self._proven = True
            self._unanswered_since = None
            self._unanswered = 0
            if self._since is None:
                return None
            lasted = self._clock() - self._since
            self._last_was_real = self._probes > 0
            self._since = None
            self._probing = False
            self.changed.notify_all()
            return lasted

    def unanswered(self, reason: str, connect_failed: bool, force: bool = False) -> bool:
        """A request got no answer. True when the endpoint counts as unreachable (an outage
        began now or is going on): the caller parks its task instead of counting an attempt.
        ``force``: the task would give up otherwise; let a probe decide."""
        with self._lock:
            now = self._clock()
            if self._since is not None:
                return True
            if not self._proven:
                return False  # never reached: a wrong endpoint fails on the usual count
            if self._unanswered_since is None:
                self._unanswered_since = now
            self._unanswered += 1
            long = now - self._unanswered_since >= OUTAGE_AFTER
            if not (connect_failed or force or long or self._unanswered >= OUTAGE_FAILURES):
                return False
            self._since = self._unanswered_since
            self._since_wall = self._wall() - (now - self._since)
            self._probes = 0
            self._next_probe = now + FIRST_PROBE_DELAY
            self._probing = False
            self._reason = reason
            self._reported = 0.0
            return True

    # --- the waiting workers ---
    @property
    def on(self) -> bool:
        with self._lock:
            return self._since is not None

    def next_step(self) -> tuple[Step, float]:
        """What a parked worker does now, and the seconds it waits before (PROBE, WAIT)."""
        with self._lock:
            if self._since is None:
                return Step.OVER, 0.0
            now = self._clock()
            left = self._since + self.patience - now
            if left <= 0:
                return Step.GIVE_UP, 0.0
            if not self._probing:
                self._probing = True
                return Step.PROBE, max(0.0, min(self._next_probe - now, left))
            return Step.WAIT, min(1.0, left)

    def probe_failed(self, reason: str) -> None:
        """The probe got no answer either: the next one waits longer (up to a minute). Growth
        by 1.5 rather than 2: a link back after 8 s is found within 3 s, not 7."""
        with self._lock:
            self._probes += 1
            self._reason = reason or self._reason
            delay = min(FIRST_PROBE_DELAY * PROBE_BACKOFF**self._probes, MAX_PROBE_DELAY)
            self._next_probe = self._clock() + delay
            self._probing = False

    def probe_abandoned(self) -> None:
        """The prober stopped before probing (the job is stopping): another may take over."""
        with self._lock:
            self._probing = False

    def was_real(self) -> bool:
        """Whether the outage that ended last outlived at least one probe. One whose first
        probe was answered was a blip, or the failures were the requests' own (a middlebox
        that cuts big bodies): the tasks keep counting their attempts, so a request that can
        never succeed still fails instead of parking forever."""
        with self._lock:
            return self._last_was_real

    def waited(self) -> float:
        """Seconds the current outage has lasted (0 when none)."""
        with self._lock:
            return 0.0 if self._since is None else self._clock() - self._since

    def view(self) -> OutageView | None:
        with self._lock:
            if self._since is None:
                return None
            next_try = self._wall() + max(0.0, self._next_probe - self._clock())
            return OutageView(self._since_wall, next_try, self._reason, self._probes)

    def due_report(self) -> bool:
        """Whether a "still unreachable" line is due (the first at once, then once a minute)."""
        with self._lock:
            now = self._clock()
            if self._since is None or (self._reported and now - self._reported < REPORT_EVERY):
                return False
            self._reported = now
            return True


def since_text(view: OutageView, now: float) -> str:
    """ "endpoint unreachable since 14:02 (connection refused), next try in 40 s"."""
    since = time.strftime("%H:%M", time.localtime(view.since))
    if now - view.since >= 86400:
        since = time.strftime("%Y-%m-%d %H:%M", time.localtime(view.since))
    wait = max(0, round(view.next_try - now))
    why = f" ({view.reason})" if view.reason else ""
    return f"endpoint unreachable since {since}{why}, next try in {wait} s"
