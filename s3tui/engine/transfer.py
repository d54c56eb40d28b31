"""The worker pool: every request of a job runs here, with deadlines, retries and statistics.

A :class:`Task` is one request's worth of work (a part, or a whole small file). Workers take
tasks from a queue, wait for a slot at the :class:`~s3tui.engine.gate.ConcurrencyGate`, and run
attempts under a watchdog guard until one succeeds, the error is not worth retrying, the attempt
limit is hit, or requests have been failing, none succeeding, for ``give_up_after`` seconds (a
producer that is quiet for an hour costs nothing: only failing work runs that clock).

Two kinds of failure are not counted as attempts: while the endpoint is unreachable (see
:mod:`~s3tui.engine.outage`) tasks are parked and one worker probes until the endpoint answers
or ``patience`` runs out; and when the server says the credentials expired, they are loaded
again through the standard chain and the request is retried, failing only when nothing newer
comes.
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
from s3tui.engine.outage import PROBE_DEADLINE, Endpoint, Outage, Step, since_text
from s3tui.engine.progress import EventKind, Progress
from s3tui.engine.remote import Failure, Withdrawal
from s3tui.engine.stats import AttemptRecord
from s3tui.engine.watchdog import Guard, Watchdog

# How many worker threads may exist; the gate decides how many of them send at once. Light
# requests (small files) can be in flight 4 per slot, so up to 4 x the 64-part ceiling.
MAX_WORKERS = 64 * LIGHT_PER_SLOT

# Fresh credentials a task may be given before an "expired" answer counts as a failure: a server
# that calls every new set expired too must not keep the upload in a loop.
MAX_RENEWALS = 3


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
        endpoint: Endpoint | None = None,
    ) -> None:
        self.cfg = cfg
        # The destination, for probes during an outage and for renewing credentials; without
        # one (a bare library use) outages are not waited out and credentials not renewed.
        self.endpoint = endpoint
        self.outage = Outage(cfg.patience)
        self._renewed_generation = 0
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
        progress.outage_fn = self.outage.view
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
        renewals = 0  # fresh credentials this task was given (see MAX_RENEWALS)
        grown = 0  # how many times this task's deadline has grown (see _deadline_grows)
        cut_before: str | None = None  # why the guard cut the previous attempt, if it did
        light = task.size <= LIGHT_BYTES
        while not self.stop.is_set():
            attempt += 1
            generation = self.endpoint.credentials_generation() if self.endpoint else 0
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
            max_attempts = min(task.max_attempts or self.cfg.max_attempts, self.cfg.max_attempts)
            if failure.unanswered:
                # A task about to give up on no answer asks the endpoint first (a probe): a
                # reset storm with few requests in flight is an outage too.
                if self.endpoint is not None and self.outage.unanswered(
                    failure.reason, failure.connect_failed, force=attempt >= max_attempts
                ):
                    # Not an attempt of this task's own: the endpoint is down for everyone.
                    self.progress.part_retrying(task.label)
                    ended = self._wait_out_outage(task, failure)
                    if self.stop.is_set():
                        return False
                    if ended is not None:
                        failure = ended  # patience ran out: fails below, whatever the count
                    elif self.outage.was_real():
                        # Back at full strength: what the network took before the outage was
                        # declared (the first resets) is not held against the task.
                        attempt = 0
                        continue
                    # Else the first probe was answered: a blip, or failures of this request's
                    # own; this attempt counts as usual (so one that never works still fails).
            else:
                self._answered()  # the server answered: whatever it said, it is reachable
            if (
                failure.expired_credentials
                and self.endpoint is not None
                and renewals < MAX_RENEWALS
            ):
                problem = self._renew_credentials(task, generation, failure)
                if problem is None:
                    renewals += 1
                    attempt -= 1
                    continue
                failure = dataclasses.replace(failure, retryable=False, message=problem)
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

    # --- outages: park, probe, release ---
    def wait_reachable(self) -> bool:
        """Block while the endpoint is unreachable (a stream's reader stops reading); False
        when the job is stopping."""
        while self.outage.on and not self.stop.is_set():
            with self.outage.changed:
                self.outage.changed.wait(0.5)
        return not self.stop.is_set()

    def _wait_out_outage(self, task: Task, failure: Failure) -> Failure | None:
        """Park ``task`` while the endpoint is unreachable. None once it answers again (or the
        job stops); a final Failure when the outage outlasted the patience."""
        self._report_outage()
        while not self.stop.is_set():
            step, delay = self.outage.next_step()
            if step is Step.OVER:
                return None
            if step is Step.GIVE_UP:
                waited, patience = self.outage.waited(), self.cfg.patience
                return dataclasses.replace(
                    failure,
                    retryable=False,
                    message=f"the endpoint was unreachable for {_span(waited)}, longer than "
                    f"the patience ({_span(patience)}, --patience): "
                    f"last error: {failure.message}",
                )
            if step is Step.WAIT:
                with self.outage.changed:
                    self.outage.changed.wait(delay)
            elif self.stop.wait(delay):
                self.outage.probe_abandoned()
                return None
            else:
                self._probe()
            self._report_outage()
        return None

    def _probe(self) -> None:
        """One cheap request: any answer ends the outage, none schedules the next probe."""
        assert self.endpoint is not None
        try:
            with self.watchdog.guard(PROBE_DEADLINE) as guard:
                self.endpoint.probe()
        except Exception as e:
            f = self.classify(e)
            if f.unanswered or guard.fired:
                self.outage.probe_failed("no answer" if guard.fired else f.reason)
                return
        self._answered()

    def _answered(self) -> None:
        """A request got an answer: an outage, if one was on, is over."""
        lasted = self.outage.answered()
        if lasted is None:
            return
        with self._lock:
            self._failing_since = None  # the give-up clock restarts: the outage had its own
        self.progress.event(
            EventKind.OUTAGE,
            "endpoint",
            reason=f"endpoint reachable again after {_span(lasted)}",
            next="going on at full speed",
        )

    def _report_outage(self) -> None:
        if not self.outage.due_report():
            return
        view = self.outage.view()
        if view is None:
            return
        ends = view.since + self.cfg.patience
        self.progress.event(
            EventKind.OUTAGE,
            "endpoint",
            reason=since_text(view, time.time()),
            next=f"waiting until {time.strftime('%H:%M', time.localtime(ends))} (--patience)",
        )

    # --- credentials that expired ---
    def _renew_credentials(self, task: Task, generation: int, failure: Failure) -> str | None:
        """Load the credentials again; None when requests now sign with newer ones (this
        worker's renewal or another's since the attempt began), else the one-line failure."""
        assert self.endpoint is not None
        problem = self.endpoint.renew_credentials(generation)
        if problem is not None:
            return problem
        now_at = self.endpoint.credentials_generation()
        with self._lock:
            first = now_at > self._renewed_generation
            self._renewed_generation = max(self._renewed_generation, now_at)
        if first:
            self.progress.event(
                EventKind.INFO,
                task.label,
                reason=f"the credentials expired ({failure.reason}): loaded fresh ones",
                next="retrying with them",
            )
        return None

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
            self._answered()
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
                    unanswered=True,
                )
            else:
                failure = Failure(
                    True,
                    False,
                    "deadline",
                    f"{task.label}: no answer within the {seconds:.1f}s deadline",
                    unanswered=True,
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


def _span(seconds: float) -> str:
    """``"42 s"``, ``"3 min"``, ``"1 h 5 min"``: how long an outage or a patience lasted."""
    seconds = max(0, round(seconds))
    if seconds < 120:
        return f"{seconds} s"
    minutes = seconds // 60
    if minutes < 120:
        return f"{minutes} min"
    return f"{minutes // 60} h {minutes % 60} min" if minutes % 60 else f"{minutes // 60} h"
