"""The worker pool: every request of a job runs here, with deadlines, retries and statistics.

A :class:`Task` is one request's worth of work (a part, or a whole small file). Workers take
tasks from a queue, wait for a slot at the :class:`~s3tui.engine.gate.ConcurrencyGate`, and run
attempts under a watchdog guard until one succeeds, the error is not worth retrying, the attempt
limit is hit, or requests have been failing, none succeeding, for ``give_up_after`` seconds (a
producer that is quiet for an hour costs nothing: only failing work runs that clock).
"""

from __future__ import annotations

import collections
import dataclasses
import queue
import random
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

from s3tui.engine.autoconc import AutoConcurrency, Move
from s3tui.engine.bandwidth import (
    MIN_SAMPLE_BYTES,
    BandwidthEstimator,
    RateLimiter,
    deadline_for,
    retry_delay,
    stall_rule_for,
)
from s3tui.engine.config import UploadConfig
from s3tui.engine.gate import LIGHT_BYTES, LIGHT_PER_SLOT, ConcurrencyGate
from s3tui.engine.hedge import Hedger, Race
from s3tui.engine.progress import EventKind, Progress
from s3tui.engine.remote import Failure, Withdrawal
from s3tui.engine.stats import AttemptRecord
from s3tui.engine.watchdog import Guard, Watchdog

# How many worker threads may exist; the gate decides how many of them send at once. Light
# requests (small files) can be in flight 4 per slot, so up to 4 x the 64-part ceiling.
MAX_WORKERS = 64 * LIGHT_PER_SLOT


class Withdrawn(Exception):
    """Raised by an attempt whose work no longer needs doing (its file already failed): the
    task ends quietly, with no attempt recorded, no retry-log line and no progress row."""


@dataclass
class Task:
    label: str
    size: int
    # One attempt: gets a progress callback (bytes sent, may be negative on rewind), returns a
    # result for ``on_success``. Raising means the attempt failed.
    attempt: Callable[[Callable[[int], None]], Any]
    on_success: Callable[[Any], None]
    on_failure: Callable[[Failure], None]
    part: int | None = None
    file: str | None = None
    # Fixed deadline for requests whose time does not scale with a body (complete, abort).
    fixed_deadline: float | None = None
    # Fewer attempts than the config's, e.g. for the preflight request: fail fast, before reading.
    max_attempts: int | None = None
    # What a failure of this task means, when the pool's classifier needs more (the file's key).
    classify: Callable[[BaseException], Failure] | None = None
    # A part: a second copy may go out when it straggles (engine/hedge.py). Never a request
    # whose repetition could change what lands (PutObject, CompleteMultipartUpload).
    hedge: bool = False
    first_started: float = field(default=0.0)


class Transfer:
    def __init__(
        self,
        cfg: UploadConfig,
        progress: Progress,
        classify: Callable[[BaseException], Failure],
        on_record: list[Callable[[AttemptRecord], None]] | None = None,
    ) -> None:
        self.cfg = cfg
        self.progress = progress
        self.classify = classify
        self.records: list[AttemptRecord] = []
        self._on_record = list(on_record or [])
        self.estimator = BandwidthEstimator(cfg.initial_bandwidth, cfg.ewma_alpha)
        self.gate = ConcurrencyGate(cfg.concurrency, hold=cfg.slowdown_hold)
        self.limiter = RateLimiter(cfg.bwlimit) if cfg.bwlimit else None
        self.watchdog = Watchdog()
        self.stop = threading.Event()
        self._queue: queue.Queue[Task | None] = queue.Queue()
        self._threads: list[threading.Thread] = []
        self._lock = threading.Lock()
        # When the current run of failures began (None while requests succeed): the give-up
        # clock runs only while there is work that fails, never across a quiet producer.
        self._failing_since: float | None = None
        # The evidence for growing a retry's deadline (_deadline_grows): when a request last
        # completed and fed the estimate, and the recent attempts that ran out of deadline.
        self._last_ok: float | None = None
        self._late: collections.deque[tuple[float, Task]] = collections.deque(maxlen=64)
        self._rng = random.Random()
        # Told when a task's own callbacks raised (a bug, a full disk under --stats-file): the
        # job decides what that means; the worker thread itself never dies of it.
        self.on_crash: Callable[[str], None] = lambda message: None
        progress.estimate_fn = lambda: self.estimator.value
        progress.gate_fn = lambda: (self.gate.limit, self.gate.ceiling, self.gate.paused)
        progress.bwlimit = cfg.bwlimit
        self._init_tail()

    # --- the tail: hedged stragglers (engine/hedge.py), tuned concurrency (engine/autoconc.py) ---
    def _init_tail(self) -> None:
        # Whether the job has submitted its last request (the stream sets its own): a hedge
        # is always worth it then, the slot would idle otherwise.
        self.tail: Callable[[], bool] = self._queue.empty
        # The most requests in flight the spool allows (a stream under --max-spool sets it).
        self.spool_bound: Callable[[], int] = lambda: 64
        self.hedger = Hedger(
            self.watchdog,
            take_slot=self.gate.try_acquire,
            release=lambda ok: self.gate.release(ok),
            tail=lambda: self.tail(),
            record=lambda task, attempt, elapsed, guard, ok, error: self._record(
                task, attempt, elapsed, guard, ok, error, hedge=True
            ),
            note=lambda label, why: self.progress.event(
                EventKind.HEDGE, label, reason=why, next="a second copy goes out"
            ),
            stop=self.stop,
        )
        self.hedger.enabled = self.cfg.hedge
        self.tuner: AutoConcurrency | None = None
        if self.cfg.auto_concurrency:
            self.tuner = AutoConcurrency(
                self.cfg.concurrency,
                read=lambda: (self.gate.active, self.gate.paused),
                apply=self._tune_to,
                bound=lambda: self.spool_bound(),
                note=self._tuned,
            )
        self.progress.tune_fn = lambda: (
            self.hedger.count,
            self.tuner.why if self.tuner is not None else "pinned",
        )

    def _tune_to(self, n: int) -> None:
        self._grow(n)
        self.gate.set_ceiling(n)

    def _tuned(self, move: Move) -> None:
        self.progress.event(
            EventKind.CONCURRENCY, "concurrency", reason=move.why, next=f"{move.n} in flight"
        )

    def _failed_for_tuner(self, failure: Failure, guard: Guard) -> None:
        """SlowDown and errors take concurrency down; a stall or a late answer says nothing
        about how many requests the link carries."""
        if self.tuner is None:
            return
        if failure.slowdown:
            self.tuner.slow_down()
        elif not guard.fired:
            self.tuner.error()

    # --- pool ---
    def start(self) -> None:
        self._grow(self.cfg.concurrency)
        if self.tuner is not None:
            self.tuner.start()

    def _grow(self, n: int) -> None:
        with self._lock:
            while len(self._threads) < min(n, MAX_WORKERS):
                t = threading.Thread(
                    target=self._worker, name=f"s3tui-worker-{len(self._threads)}", daemon=True
                )
                self._threads.append(t)
                t.start()

    def submit(self, task: Task) -> None:
        if task.size <= LIGHT_BYTES and len(self._threads) < LIGHT_PER_SLOT * self.gate.ceiling:
            self._grow(LIGHT_PER_SLOT * self.gate.ceiling)  # once, when light work shows up
        self._queue.put(task)

    def set_concurrency(self, n: int) -> int:
        """The user's number (the dashboard's +/-): it pins the concurrency."""
        if self.tuner is not None:
            self.tuner.pin()
        n = max(1, min(n, MAX_WORKERS))
        self._grow(n)
        return self.gate.set_ceiling(n)

    def shutdown(self, wait: bool = True, timeout: float = 30.0) -> None:
        """Stop the workers. With ``stop`` set, in-flight attempts are cut by their guards.

        The watchdog keeps running: the stop path's own requests (aborts) need deadlines too.
        """
        for _ in self._threads:
            self._queue.put(None)
        if wait:
            deadline = time.monotonic() + timeout
            for t in self._threads:
                t.join(max(0.0, deadline - time.monotonic()))
        self.gate.close()

    def close(self) -> None:
        """The job's last request is done: stop the watchdog and tuning threads."""
        if self.tuner is not None:
            self.tuner.stop()
        self.hedger.close()
        self.watchdog.stop()

    def _worker(self) -> None:
        while True:
            task = self._queue.get()
            if task is None:
                return
            if self.stop.is_set():
                continue
            try:
                self.run_task(task)
            except Exception as e:  # a callback's bug: fail the job, keep the worker alive
                self.on_crash(f"internal error in {task.label}: {type(e).__name__}: {e}")

    # --- one task, all its attempts ---
    def run_task(self, task: Task) -> bool:
        """Run ``task`` to success or final failure in the calling thread."""
        task.first_started = time.monotonic()
        attempt = 0
        grown = 0  # how many times this task's deadline has grown (see _deadline_grows)
        cut_before: str | None = None  # why the guard cut the previous attempt, if it did
        light = task.size <= LIGHT_BYTES
        while not self.stop.is_set():
            attempt += 1
            if not self.gate.acquire(self.stop, light):
                return False
            ok = False
            try:
                ok, failure, guard, elapsed = self._one_attempt(task, attempt, grown)
            finally:
                self.gate.release(ok, light)
            if ok:
                return True
            if self.stop.is_set():
                return False  # cut by the stop path: not a retry, not a failure of its own
            assert failure is not None
            if isinstance(failure, Withdrawal):
                self.progress.part_removed(task.label)
                task.on_failure(failure)
                return False
            if failure.slowdown:
                self.gate.slow_down()
            self._failed_for_tuner(failure, guard)
            now = time.monotonic()
            if self._deadline_grows(task, guard, elapsed, cut_before, now):
                grown += 1
            cut_before = guard.cause if guard.fired else None
            with self._lock:
                if self._failing_since is None:
                    self._failing_since = now
                stalled_for = now - self._failing_since
            max_attempts = min(task.max_attempts or self.cfg.max_attempts, self.cfg.max_attempts)
            give_up = (
                not failure.retryable
                or attempt >= max_attempts
                or stalled_for > self.cfg.give_up_after
            )
            if give_up and failure.retryable:
                why = (
                    f"gave up after {attempt} attempts"
                    if attempt >= max_attempts
                    else f"requests failed for {stalled_for:.0f}s with none succeeding"
                )
                failure = dataclasses.replace(
                    failure,
                    retryable=False,
                    message=f"{task.label}: {why}, last error: {failure.message}",
                )
            if give_up:
                self.progress.part_failed(task.label)
                self.progress.event(
                    EventKind.FAILED,
                    task.label,
                    attempt=attempt,
                    reason=failure.reason,
                    deadline=guard.seconds,
                    next="upload fails",
                )
                task.on_failure(failure)
                return False
            delay = retry_delay(attempt, self.cfg, self._rng)
            self.progress.part_retrying(task.label)
            self.progress.event(
                EventKind.RETRY,
                task.label,
                attempt=attempt,
                reason=failure.reason,
                deadline=guard.seconds,
                next=f"attempt {attempt + 1} in {delay:.1f}s",
            )
            if self.stop.wait(delay):
                return False
        return False

    def _deadline_grows(
        self, task: Task, guard: Guard, elapsed: float, cut_before: str | None, now: float
    ) -> bool:
        """Whether the retry of a failed attempt gets a longer deadline (x deadline_backoff).

        Only when the estimate the deadline came from may be wrong: within the attempt's span
        (its deadline, or its time if longer) no request completed and fed the estimate, or
        another request ran out of its deadline too, or this request ran out of its deadline
        twice in a row. A stall, or one late request while the others completed at the
        estimated speed, says nothing against the estimate: the retry gets the normal deadline.
        """
        since = now - max(elapsed, guard.seconds)
        with self._lock:
            nothing_completed = self._last_ok is None or self._last_ok < since
            others_late = any(t >= since and who is not task for t, who in self._late)
        late_again = guard.cause == "deadline" and cut_before == "deadline"
        return nothing_completed or others_late or late_again

    def _one_attempt(
        self, task: Task, attempt: int, grown: int = 0
    ) -> tuple[bool, Failure | None, Guard, float]:
        stall = None
        if task.fixed_deadline is not None:
            seconds = min(
                task.fixed_deadline * self.cfg.deadline_backoff ** (attempt - 1),
                self.cfg.max_deadline,
            )
        else:
            estimate = self.estimator.value
            seconds = deadline_for(task.size, estimate, grown + 1, self.cfg)
            if task.size > LIGHT_BYTES:
                # A light request (a small file) is its round trip: its 5 s deadline is about
                # what a stall allowance would give it, and a slow answer is no stall.
                stall = stall_rule_for(task.size, estimate, self.cfg, grown)
        self.progress.part_attempt(task.label, attempt, seconds)

        started = time.monotonic()
        with self.watchdog.guard(seconds, stall) as guard:

            def sent(n: int) -> None:
                guard.touch()
                self.progress.part_sent(task.label, n)

            race = self.hedger.enter(task, guard, attempt, seconds, stall) if task.hedge else None
            result: Any = None
            try:
                result = task.attempt(sent)
                error: BaseException | None = None
            except Exception as exc:  # every failure is classified, none escapes the worker
                error = exc
        if race is not None:  # the answer is the first copy's to succeed
            result, error, elapsed = self._raced(race, task, attempt, guard, result, error)
            end = time.monotonic()
        else:
            end = time.monotonic()
            elapsed = end - started
        if isinstance(error, Withdrawn):
            return False, Withdrawal(False, False, "withdrawn", str(error)), guard, elapsed
        if error is None:
            self._failing_since = None
            if task.fixed_deadline is None:
                self.estimator.update(task.size, elapsed)
                self.hedger.finished(task.size, elapsed)
                if self.tuner is not None and task.size > LIGHT_BYTES:
                    self.tuner.completed(end - elapsed, task.size, elapsed)
                if task.size >= MIN_SAMPLE_BYTES:
                    with self._lock:
                        self._last_ok = end
            if race is None or not race.copy_won:
                self._record(task, attempt, elapsed, guard, ok=True)
            self.progress.part_done(task.label)
            task.on_success(result)
            return True, None, guard, elapsed
        failure = (task.classify or self.classify)(error)
        if guard.fired and failure.retryable:
            if guard.cause == "stalled":
                failure = Failure(
                    True,
                    False,
                    "stalled",
                    f"{task.label}: stalled, nothing moved for {guard.silent_for:.1f}s "
                    f"(cut {elapsed:.1f}s into a {seconds:.1f}s deadline)",
                )
            else:
                failure = Failure(
                    True,
                    False,
                    "deadline",
                    f"{task.label}: no answer within the {seconds:.1f}s deadline",
                )
                if guard.cause == "deadline" and task.fixed_deadline is None:
                    with self._lock:
                        self._late.append((end, task))
        self._record(task, attempt, elapsed, guard, ok=False, error=failure.reason)
        return False, failure, guard, elapsed

    def _raced(
        self,
        race: Race,
        task: Task,
        attempt: int,
        guard: Guard,
        result: Any,
        error: BaseException | None,
    ) -> tuple[Any, BaseException | None, float]:
        """A hedgeable attempt returned: the request's answer and time (its copy's, when the
        copy won: then this attempt is recorded as overtaken)."""
        elapsed = time.monotonic() - race.started  # before waiting for a copy that lost
        result, error = self.hedger.settle(race, result, error)
        if race.copy_won:
            self._record(task, attempt, elapsed, guard, ok=False, error="overtaken by its hedge")
            return result, None, race.copy_seconds
        return result, error, elapsed

    def _record(
        self,
        task: Task,
        attempt: int,
        elapsed: float,
        guard: Guard,
        ok: bool,
        error: str | None = None,
        hedge: bool = False,
    ) -> None:
        rec = AttemptRecord(
            label=task.label,
            part=task.part,
            file=task.file,
            bytes=task.size,
            attempt=attempt,
            success_ms=round(elapsed * 1000, 1) if ok else None,
            total_ms=round((time.monotonic() - task.first_started) * 1000, 1),
            MBps=round(task.size / elapsed / 1e6, 5) if ok and elapsed > 0 else 0.0,
            MBps_est=round(self.estimator.value / 1e6, 5),
            deadline_s=round(guard.seconds, 2),
            ok=ok,
            error=error,
            hedge=hedge,
        )
        with self._lock:
            self.records.append(rec)
            listeners = list(self._on_record)
        for fn in listeners:
            try:
                fn(rec)
            except Exception as e:  # e.g. --stats-file on a full disk: say so once, go on
                with self._lock:
                    if fn not in self._on_record:
                        continue
                    self._on_record.remove(fn)
                self.progress.event(
                    EventKind.WARNING,
                    "stats",
                    reason=f"cannot record attempts: {error_line(e)}",
                    next="the upload goes on without them",
                )


def error_line(e: BaseException) -> str:
    """An exception from outside the request path (a callback, a file) as words."""
    if isinstance(e, OSError) and e.strerror:
        where = f" ({e.filename})" if e.filename else ""
        return f"{e.strerror}{where}"
    return f"{type(e).__name__}: {e}"
