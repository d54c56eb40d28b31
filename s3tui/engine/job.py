"""What every upload (stream, file, tree) offers to whoever drives it: CLI, dashboard or library.

A driver calls :meth:`UploadJob.run` in a thread of its own and watches ``job.progress``; it steers
with ``cancel``/``set_paused``/``set_concurrency``. All of these are safe from any thread. Once
``run`` has returned, the headless summary reads ``records`` and ``file_stats``.
"""

from __future__ import annotations

import threading
import time
from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Protocol

from s3tui.engine.progress import Progress
from s3tui.errors import EXIT_FAILED

if TYPE_CHECKING:
    from s3tui.engine.remote import Remote
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
    failed_files: tuple[tuple[str, str], ...] = field(default_factory=tuple)

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

    @property
    def cancel_note(self) -> str:
        """What a stop leaves behind, said after "interrupted": e.g. that nothing was stored."""
        ...

    def run(self) -> Result: ...

    def cancel(self, exit_code: int, reason: str) -> None: ...

    def set_paused(self, paused: bool) -> None: ...

    def set_concurrency(self, n: int) -> int: ...


class SteeredJob:
    """Steering shared by the stream and tree jobs: the first failure or cancel wins, sets the
    stop flag, cuts requests in flight and wakes the job's waits."""

    transfer: Transfer
    remote: Remote
    progress: Progress

    def _init_steering(self) -> None:
        self._stop = self.transfer.stop
        self._outcome: tuple[int, str] | None = None
        self._outcome_lock = threading.Lock()
        self._cond = threading.Condition()

    def cancel(self, exit_code: int, reason: str) -> None:
        with self._outcome_lock:
            if self._outcome is None:
                self._outcome = (exit_code, reason)
        self._stop.set()
        self.transfer.watchdog.fire_all()
        with self._cond:
            self._cond.notify_all()

    def fail(self, message: str) -> None:
        self.cancel(EXIT_FAILED, message)

    def set_paused(self, paused: bool) -> None:
        self.transfer.gate.set_paused(paused)

    def set_concurrency(self, n: int) -> int:
        n = self.transfer.set_concurrency(n)
        with self._cond:
            self._cond.notify_all()
        return n

    def _abort_upload(self, key: str, upload_id: str, label: str) -> None:
        """Abort a multipart upload on the stop path, outside the retry loop (whose stop flag is
        already set): three tries with growing deadlines, then a warning that says what to do."""
        last: Exception | None = None
        for attempt in range(3):
            with self.transfer.watchdog.guard(15.0 * (attempt + 1)):
                try:
                    self.remote.abort(key, upload_id)
                    return
                except Exception as e:  # retried below, then reported
                    last = e
                    if "NoSuchUpload" in str(e):
                        return
            time.sleep(0.5 * (attempt + 1))
        self.progress.event(
            "warning",
            label,
            reason=f"could not abort upload {upload_id}: {last}",
            next="`s3tui cleanup` aborts it once the endpoint is back",
        )
