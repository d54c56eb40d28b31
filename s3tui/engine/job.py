"""What every upload (stream, file, tree) offers to whoever drives it: CLI, dashboard or library.

A driver calls :meth:`UploadJob.run` in a thread of its own and watches ``job.progress``; it steers
with ``cancel``/``set_paused``/``set_concurrency``. All of these are safe from any thread. Once
``run`` has returned, the headless summary reads ``records`` and ``file_stats``.
"""

from __future__ import annotations

import enum
import threading
import time
from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Protocol

from s3tui.engine.progress import EventKind, Progress
from s3tui.engine.redact import without_userinfo
from s3tui.errors import EXIT_FAILED

if TYPE_CHECKING:
    from s3tui.engine.remote import S3Store
    from s3tui.engine.stats import AttemptRecord, FileStat
    from s3tui.engine.transfer import Transfer


@dataclass(frozen=True)
class Result:
    """How an upload ended. ``exit_code`` follows the CLI's codes (0, 1, 130, 143)."""

    exit_code: int
    message: str  # one line: what happened, or what went wrong and what to do
    size: int = 0
    seconds: float = 0.0
    parts: int = 0
    retries: int = 0
    etag: str | None = None
    checksum: str | None = None
    checksum_algorithm: str = "CRC32C"  # what ``checksum`` is (MD5: the ETag S3 reports)
    failed_files: tuple[tuple[str, str], ...] = field(default_factory=tuple)

    def __post_init__(self) -> None:
        # What every reporter shows: no URL's user:password@ (see s3tui.engine.redact).
        object.__setattr__(self, "message", without_userinfo(self.message))
        if self.failed_files:
            failed = tuple((path, without_userinfo(why)) for path, why in self.failed_files)
            object.__setattr__(self, "failed_files", failed)

    @property
    def ok(self) -> bool:
        return self.exit_code == 0


class UploadJob(Protocol):
    """What a driver (``s3tui.drive``, the dashboard) uses of a job, and nothing more."""

    progress: Progress

    @property
    def records(self) -> Sequence[AttemptRecord]:
        """Every request attempt so far, in order: the summary's part-time percentiles."""
        ...

    @property
    def file_stats(self) -> Sequence[FileStat]:
        """One row per file once ``run`` has returned; empty for a stream."""
        ...

    def run(self) -> Result: ...

    def cancel(self, exit_code: int, reason: str) -> None:
        """Stop from outside; ``reason`` names the cause ("terminated (SIGTERM)"), and the job's
        result adds what the stop left behind, which only the job knows once it has stopped."""
        ...

    def set_paused(self, paused: bool) -> None: ...

    def set_concurrency(self, n: int) -> int: ...


class Stop(Exception):
    """The stop flag was raised while a job waited: unwinds to the job's stop path."""


class AbortOutcome(enum.Enum):
    """What the stop path's AbortMultipartUpload established."""

    ABORTED = "aborted"
    GONE = "gone"  # NoSuchUpload: completed by a request in flight, or aborted by another
    UNCONFIRMED = "unconfirmed"  # no answer within the stop budget: the journal keeps it


# The whole stop path (cutting requests, aborting uploads) stays well inside systemd's default
# 90 s stop timeout: a signal ends the process in bounded time whatever the endpoint does.
STOP_BUDGET = 30.0
ABORT_ATTEMPT = 10.0  # one AbortMultipartUpload may take this long before it is tried again
ABORT_ATTEMPTS = 4  # a refused connection fails fast: ~3 s of back-off, then cleanup's turn
WORKERS_JOIN = 10.0  # workers are cut by their guards; this only bounds a stuck callback


class SteeredJob:
    """Steering shared by the stream and tree jobs: the first failure or cancel wins, sets the
    stop flag, cuts requests in flight and wakes the job's waits.

    ``cancel`` is a stop from outside (a signal, the user): its reason says what stopped the
    job and the job adds what the stop left behind (:meth:`left_behind`), which only it knows
    once the stop path ran. ``fail`` carries a complete message of its own.
    """

    transfer: Transfer
    remote: S3Store
    progress: Progress

    def _init_steering(self) -> None:
        self._stop = self.transfer.stop
        self._outcome: tuple[int, str] | None = None
        self._stopped_from_outside = False
        self._outcome_lock = threading.Lock()
        self._cond = threading.Condition()
        self.transfer.on_crash = self.fail
        self._stop_ends: float | None = None  # when the stop path's budget runs out

    @property
    def records(self) -> Sequence[AttemptRecord]:
        return self.transfer.records

    def cancel(self, exit_code: int, reason: str) -> None:
        self._set_outcome(exit_code, reason, from_outside=True)

    def fail(self, message: str) -> None:
        self._set_outcome(EXIT_FAILED, message, from_outside=False)

    def _set_outcome(self, exit_code: int, message: str, from_outside: bool) -> None:
        with self._outcome_lock:
            if self._outcome is None:
                self._outcome = (exit_code, message)
                self._stopped_from_outside = from_outside
        self._stop.set()
        self.transfer.watchdog.fire_all()
        with self._cond:
            self._cond.notify_all()

    # What a stop from outside leaves at the destination when nothing unusual happened.
    stop_note = "the upload was aborted, nothing was stored"

    def left_behind(self) -> str | None:
        """What the stop path found that the usual note would get wrong (a final request that
        took effect after all, an abort that was not confirmed); None when the note is true."""
        return None

    def _final_outcome(self) -> tuple[int, str]:
        code, message = self._outcome or (EXIT_FAILED, "upload failed")
        found = self.left_behind()
        if self._stopped_from_outside:
            message = f"{message}: {found or self.stop_note}"
        elif found:
            message = f"{message}; {found}"
        return code, message

    def set_paused(self, paused: bool) -> None:
        self.transfer.gate.set_paused(paused)

    def set_concurrency(self, n: int) -> int:
        n = self.transfer.set_concurrency(n)
        with self._cond:
            self._cond.notify_all()
        return n

    def _stop_workers(self) -> None:
        """The first step of every way out of a job: cut what is in flight, end the workers,
        and start the clock of the stop path's own requests (:data:`STOP_BUDGET`)."""
        self._stop.set()
        self.transfer.watchdog.fire_all()
        self.transfer.shutdown(wait=True, timeout=WORKERS_JOIN)
        self._stop_ends = time.monotonic() + STOP_BUDGET

    def _stop_time_left(self, most: float) -> float:
        """Seconds one request of the stop path may take: ``most``, within the budget."""
        if self._stop_ends is None:
            return most  # not stopping: a request on the normal path (a failed file's abort)
        return max(0.0, min(most, self._stop_ends - time.monotonic()))

    def _settle_lost_creates(self) -> None:
        """Uploads that a create whose answer was lost may have opened are found and aborted
        (no journal entry could name them); if that fails the journal's note stays."""
        try:
            if not self.remote.has_lost_creates():
                return
            seconds = self._stop_time_left(2 * ABORT_ATTEMPT)
            if seconds < 0.5:
                raise TimeoutError("no time left")
            with self.transfer.watchdog.guard(seconds):
                self.remote.settle_lost_creates()
        except Exception as e:  # noted in the journal: cleanup settles it later
            self.progress.event(
                EventKind.WARNING,
                "create",
                reason=f"could not look for an upload a lost answer may have opened "
                f"({self.transfer.classify(e).reason})",
                next="`s3tui cleanup` looks again",
            )

    def _abort_uploads(self, uploads: list[tuple[str, str, str]]) -> dict[str, AbortOutcome]:
        """Abort ``(key, upload_id, label)`` uploads on the stop path, all at once, outside the
        retry loop (whose stop flag is already set). Each is tried up to ``ABORT_ATTEMPTS``
        times within what is left of the stop budget; one that could not be confirmed stays in
        the journal for ``s3tui cleanup``."""
        if not uploads:
            return {}
        end = time.monotonic() + self._stop_time_left(STOP_BUDGET)
        results: dict[str, AbortOutcome] = {}

        def one(key: str, upload_id: str, label: str) -> None:
            last: Exception | None = None
            attempt = 0
            while attempt < ABORT_ATTEMPTS and (left := end - time.monotonic()) > 0.5:
                attempt += 1
                try:
                    with self.transfer.watchdog.guard(min(ABORT_ATTEMPT, left)):
                        gone = not self.remote.abort(key, upload_id)
                    results[upload_id] = AbortOutcome.GONE if gone else AbortOutcome.ABORTED
                    return
                except Exception as e:  # retried below until the budget ends, then reported
                    last = e
                time.sleep(min(0.5 * attempt, max(0.0, end - time.monotonic() - 0.5)))
            results[upload_id] = AbortOutcome.UNCONFIRMED
            failure = self.transfer.classify(last) if last is not None else None
            why = failure.reason if failure is not None else "no time left"
            when = "once the endpoint answers"
            if failure is not None and failure.expired_credentials:
                when = "with credentials that work"
            self.progress.event(
                EventKind.WARNING,
                label,
                reason=f"could not abort upload {upload_id} ({why})",
                next=f"`s3tui cleanup` aborts it {when}",
            )

        # One thread each: a tree stops with a few uploads open (the scheduler keeps few
        # open), and one slow abort must not eat the others' share of the budget.
        threads = [
            threading.Thread(target=one, args=u, name="s3tui-abort", daemon=True) for u in uploads
        ]
        for t in threads:
            t.start()
        for t in threads:
            t.join(max(0.0, end - time.monotonic()) + 1.0)
        for _, upload_id, _ in uploads:
            results.setdefault(upload_id, AbortOutcome.UNCONFIRMED)
        return results
