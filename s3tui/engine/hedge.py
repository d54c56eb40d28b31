"""Hedged requests: a second copy of a straggler, the first answer wins.

One request that runs far longer than its peers holds the whole upload back, above all at the end,
when nothing else is left to send ("The Tail at Scale", Dean and Barroso; AWS's S3 performance
guidance: retry the slowest requests). A stall is cut by the watchdog; a request that moves, but
slowly (a bad path, a congested connection), is not. So when a request has run past
``factor`` x the 95th percentile of what its peers took (scaled to its size, at least
``min_wait``) and a slot is free, a copy goes out on another connection: the same part number,
bytes and checksum. The first copy to succeed wins and the other is cut by its guard.

Only parts are hedged (:attr:`Task.hedge`): a second PutObject or CompleteMultipartUpload could
change what lands (``If-None-Match``, the final request's bookkeeping), a part cannot. S3 keeps
the last part sent under a number, SeaweedFS keeps both: completion names the winner's ETag (the
copies carry the same bytes, so either ETag is right).

Hedges are bounded: outside the tail at most ``share`` of the requests and of the bytes started;
in the tail (the job has sent its last request) a straggler is always worth a copy, since the
slot would be idle otherwise. A copy takes a slot of the gate like any request, so
``--concurrency N`` is never exceeded, and a request is hedged once per attempt.

:class:`HedgePolicy` is the pure decision (a fake clock in tests); :class:`Hedger` runs it.
"""

from __future__ import annotations

import collections
import math
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

from s3tui.engine.watchdog import Guard, StallRule, Watchdog

if TYPE_CHECKING:
    from s3tui.engine.transfer import Task

Clock = Callable[[], float]

# The cause a guard is cut with when the other copy of its request won.
OVERTAKEN = "overtaken"


@dataclass(frozen=True)
class HedgeRules:
    factor: float = 1.5  # a straggler runs past factor x the peers' p95 (scaled to its size)
    min_wait: float = 1.0  # never hedge a request younger than this (seconds)
    min_peers: int = 4  # completed requests needed before their p95 means anything
    share: float = 0.05  # outside the tail: hedges per request started, and per byte
    window: int = 64  # the peers: the last this many completed requests


class HedgePolicy:
    """Which running request is a straggler, and whether the budget allows a copy of it."""

    def __init__(self, rules: HedgeRules | None = None) -> None:
        self.rules = rules or HedgeRules()
        self._per_byte: collections.deque[float] = collections.deque(maxlen=self.rules.window)
        self.started = 0
        self.started_bytes = 0
        self.count = 0
        self.bytes = 0
        self.won = 0

    def request_started(self, size: int) -> None:
        self.started += 1
        self.started_bytes += size

    def finished(self, size: int, seconds: float) -> None:
        """A request of ``size`` bytes succeeded in ``seconds``: one more peer."""
        if size > 0 and seconds > 0:
            self._per_byte.append(seconds / size)

    def wait_for(self, size: int) -> float | None:
        """How long a request of ``size`` bytes may run before it is a straggler; None while
        too few peers finished to say."""
        if len(self._per_byte) < self.rules.min_peers:
            return None
        ordered = sorted(self._per_byte)
        p95 = ordered[math.ceil(0.95 * len(ordered)) - 1]  # nearest rank
        return max(self.rules.min_wait, self.rules.factor * p95 * size)

    def allows(self, size: int, tail: bool) -> bool:
        """Whether the budget has room for a copy of ``size`` bytes."""
        if tail:
            return True
        share = self.rules.share
        requests_ok = self.count + 1 <= share * self.started
        return requests_ok and self.bytes + size <= share * self.started_bytes

    def hedged(self, size: int) -> None:
        self.count += 1
        self.bytes += size


class Race:
    """One attempt of a hedgeable request and, maybe, its copy: who won, with what answer."""

    def __init__(self, task: Task, guard: Guard, started: float) -> None:
        self.task = task
        self.guard = guard
        self.started = started
        self.copy_guard: Guard | None = None
        self.copy_thread: threading.Thread | None = None
        self.copy_done = threading.Event()
        self.copy_result: Any = None
        self.copy_error: BaseException | None = None
        self.copy_seconds = 0.0
        self.winner: str | None = None  # "primary" or "copy"
        self.lock = threading.Lock()

    @property
    def copy_won(self) -> bool:
        return self.winner == "copy"


class Hedger:
    """Watches the hedgeable attempts in flight and sends copies of the stragglers.

    ``slot_free(light=False)`` must take a gate slot without waiting (False: none free, or work
    is waiting for it) and ``release(ok)`` give it back; ``tail()`` says the job has submitted
    its last request. ``record`` writes the copy's attempt record, ``note`` the retry-log line.
    """

    def __init__(
        self,
        watchdog: Watchdog,
        take_slot: Callable[[], bool],
        release: Callable[[bool], None],
        tail: Callable[[], bool],
        record: Callable[[Task, int, float, Guard, bool, str | None], None],
        note: Callable[[str, str], None],
        stop: threading.Event,
        rules: HedgeRules | None = None,
        clock: Clock = time.monotonic,
        interval: float = 0.1,
    ) -> None:
        self.policy = HedgePolicy(rules)
        self._watchdog = watchdog
        self._take_slot = take_slot
        self._release = release
        self._tail = tail
        self._record = record
        self._note = note
        self._stop = stop
        self._clock = clock
        self._interval = interval
        self._lock = threading.Lock()
        self._running: dict[int, tuple[Race, int, float, StallRule | None]] = {}
        self._thread: threading.Thread | None = None
        self._closed = threading.Event()
        self.enabled = True

    @property
    def count(self) -> int:
        return self.policy.count

    # --- the hooks the worker calls around one attempt ---
    def enter(
        self, task: Task, guard: Guard, attempt: int, seconds: float, stall: StallRule | None
    ) -> Race:
        race = Race(task, guard, self._clock())
        with self._lock:
            if attempt == 1:
                self.policy.request_started(task.size)
            self._running[id(race)] = (race, attempt, seconds, stall)
            if self._thread is None and self.enabled:
                self._thread = threading.Thread(target=self._watch, name="s3tui-hedge", daemon=True)
                self._thread.start()
        return race

    def settle(self, race: Race, result: Any, error: BaseException | None) -> tuple[Any, Any]:
        """The primary attempt returned ``result`` or raised ``error``: the request's answer.

        The primary won if it succeeded first: its copy is cut. If it failed while its copy
        runs, the copy may still win: wait for it (its own guard bounds the wait)."""
        with self._lock:
            self._running.pop(id(race), None)
        with race.lock:
            if error is None and race.winner is None:
                race.winner = "primary"
            copy_guard = race.copy_guard
        if copy_guard is not None and race.winner == "primary":
            copy_guard.fire(OVERTAKEN)
        if race.copy_thread is not None:
            race.copy_done.wait()
        if race.copy_won:
            return race.copy_result, None
        return result, error

    def finished(self, size: int, seconds: float) -> None:
        with self._lock:
            self.policy.finished(size, seconds)

    def close(self) -> None:
        self._closed.set()

    # --- the watcher ---
    def _watch(self) -> None:
        while not self._stop.wait(self._interval) and not self._closed.is_set():
            for race, attempt, seconds, stall in self._due():
                if not self._take_slot():
                    break
                self._launch(race, attempt, seconds, stall)

    def _due(self) -> list[tuple[Race, int, float, StallRule | None]]:
        """The stragglers the budget allows a copy of, oldest first (one pass)."""
        now = self._clock()
        out = []
        with self._lock:
            tail = self._tail()
            for entry in sorted(self._running.values(), key=lambda e: e[0].started):
                race = entry[0]
                if race.copy_thread is not None or race.guard.fired:
                    continue
                wait = self.policy.wait_for(race.task.size)
                if wait is None or now - race.started < wait:
                    continue
                if not self.policy.allows(race.task.size, tail):
                    continue
                out.append(entry)
        return out

    def _launch(self, race: Race, attempt: int, seconds: float, stall: StallRule | None) -> None:
        task = race.task
        with self._lock:
            self.policy.hedged(task.size)
        self._note(task.label, f"running {self._clock() - race.started:.1f}s, past its peers")
        race.copy_thread = threading.Thread(
            target=self._run_copy,
            args=(race, attempt, seconds, stall),
            name="s3tui-hedge-copy",
            daemon=True,
        )
        race.copy_thread.start()

    def _run_copy(self, race: Race, attempt: int, seconds: float, stall: StallRule | None) -> None:
        task = race.task
        ok = False
        try:
            started = self._clock()
            with self._watchdog.guard(seconds, stall) as guard:
                with race.lock:
                    race.copy_guard = guard
                    lost = race.winner == "primary"
                if lost:
                    guard.fire(OVERTAKEN)
                try:
                    result = task.attempt(lambda n: guard.touch())
                    error: BaseException | None = None
                except Exception as e:  # the primary's outcome decides; this is recorded only
                    result, error = None, e
            race.copy_seconds = self._clock() - started
            with race.lock:
                if error is None and race.winner is None:
                    race.winner = "copy"
                    race.copy_result = result
                    ok = True
            if ok:
                with self._lock:
                    self.policy.won += 1
                race.guard.fire(OVERTAKEN)
            why = None if ok else ("overtaken" if error is None else _reason(error, guard))
            self._record(task, attempt, race.copy_seconds, guard, ok, why)
        finally:
            self._release(ok)
            race.copy_done.set()


def _reason(error: BaseException, guard: Guard) -> str:
    if guard.fired and guard.cause:
        return guard.cause
    return type(error).__name__
