"""A deterministic stand-in for an upload, for UI tests and screenshots (no S3, no sleeping).

:class:`FakeJob` implements the ``UploadJob`` protocol over a real :class:`Progress`. Its
``run()`` (on the :class:`~s3tui.tui.runner.JobRunner`'s thread, like a real job) plays a
*script*: a generator that mutates the progress model one simulated second at a time and yields a
step name. The test releases steps with :meth:`FakeJob.advance` (or :func:`play`), which returns
once the step is applied, so the screen only ever sees whole steps: snapshots are repeatable.
"""

from __future__ import annotations

import asyncio
import math
import threading
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

from s3tui.engine.job import Result
from s3tui.engine.progress import FileState, PartState, Phase, Progress
from s3tui.engine.stats import AttemptRecord, FileStat
from s3tui.sizes import format_size
from tests.helpers import MiB

if TYPE_CHECKING:
    from s3tui.tui.app import UploadApp

# 2026-01-01 14:03:00 UTC: event timestamps in snapshots and screenshots (TZ=UTC there).
WALL_EPOCH = 1_767_276_180.0

Script = Callable[["FakeJob"], Iterator[str]]


class FakeClock:
    """Monotonic time that moves only when the script says so."""

    def __init__(self, start: float = 1000.0) -> None:
        self.start = start
        self.t = start

    def __call__(self) -> float:
        return self.t

    def advance(self, seconds: float) -> None:
        self.t += seconds

    def wall(self) -> float:
        return WALL_EPOCH + (self.t - self.start)


@dataclass
class FakeJob:
    script: Script
    source: str = "stdin"
    dest: str = "s3://backups/db/2026-01-01.sql.gz"
    clock: FakeClock = field(default_factory=FakeClock)
    concurrency: int = 4
    max_concurrency: int = 16
    estimate: float = 0.0
    spool: tuple[int, int, int, str] = (0, 0, 0, "")
    bwlimit: float | None = None

    def __post_init__(self) -> None:
        # Both clocks fake: part ages (Snapshot.now) and event times (Event.time) repeat.
        self.progress = Progress(
            self.source, self.dest, clock=self.clock, wall_clock=self.clock.wall
        )
        self.progress.gate_fn = lambda: (self.concurrency, self.concurrency, self.paused)
        self.progress.estimate_fn = lambda: self.estimate
        self.progress.spool_fn = lambda: self.spool
        self.progress.bwlimit = self.bwlimit
        self.records: list[AttemptRecord] = []
        self.file_stats: list[FileStat] = []
        self.paused = False
        self.pause_calls: list[bool] = []
        self.concurrency_calls: list[int] = []
        self.cancelled: tuple[int, str] | None = None
        self.result: Result | None = None
        self.step_name = ""
        self.steps_done = 0
        self.run_returned = threading.Event()
        self._go = threading.Semaphore(0)
        self._applied = threading.Semaphore(0)
        self._cancel = threading.Event()

    # --- UploadJob ---
    def run(self) -> Result:
        try:
            return self._play()
        finally:
            self.run_returned.set()

    def cancel(self, exit_code: int, reason: str) -> None:
        self.cancelled = (exit_code, reason)
        self._cancel.set()

    def set_paused(self, paused: bool) -> None:
        self.pause_calls.append(paused)
        self.paused = paused

    def set_concurrency(self, n: int) -> int:
        self.concurrency = max(1, min(n, self.max_concurrency))
        self.concurrency_calls.append(self.concurrency)
        return self.concurrency

    # --- driving it from a test ---
    def advance(self, steps: int = 1, timeout: float = 5.0) -> None:
        """Let the run thread apply ``steps`` steps, and return once they are applied."""
        for _ in range(steps):
            if self.run_returned.is_set():
                return
            self._go.release()
            deadline = time.monotonic() + timeout
            while not self._applied.acquire(timeout=0.01):
                if self.run_returned.is_set():
                    return
                if time.monotonic() > deadline:
                    raise TimeoutError(f"fake job stuck after step {self.step_name!r}")

    # --- internals ---
    def _wait_for_go(self) -> bool:
        while not self._go.acquire(timeout=0.01):
            if self._cancel.is_set():
                return False
        return not self._cancel.is_set()

    def _play(self) -> Result:
        steps = self.script(self)
        while True:
            if not self._wait_for_go():
                return self._cancelled()
            try:
                self.step_name = next(steps)
            except StopIteration:
                if self.result is not None:
                    return self.result
                self._cancel.wait()
                return self._cancelled()
            finally:
                self.steps_done += 1
                self._applied.release()

    def _cancelled(self) -> Result:
        code, reason = self.cancelled or (130, "cancelled")
        self.progress.set_phase(Phase.CANCELLED, f"{reason}; multipart upload aborted")
        snap = self.progress.snapshot()
        return Result(code, reason, size=snap.bytes_uploaded, seconds=snap.elapsed)

    def finish(self, etag: str = "", checksum: str = "") -> None:
        """Called by a script at its end: the upload succeeded (message worded as the
        engine's)."""
        snap = self.progress.snapshot()
        size, secs = snap.bytes_uploaded, snap.elapsed
        message = (
            f"uploaded {format_size(size)} to {self.dest} in {secs:.1f}s "
            f"({size / secs / 1e6:.1f} MB/s, {snap.parts_done} parts, {snap.retries} retries)"
        )
        self.progress.set_phase(Phase.DONE, message)
        snap = self.progress.snapshot()
        self.result = Result(
            0,
            message,
            size=snap.bytes_uploaded,
            seconds=snap.elapsed,
            parts=snap.parts_done,
            retries=snap.retries,
            etag=etag or None,
            checksum=checksum or None,
        )


# --- scripts -------------------------------------------------------------------------------


def _request_rate(t: float, n: int) -> float:
    """A per-request speed that wanders (deterministically) around 3.5 MB/s."""
    return 3.5e6 * (1 + 0.3 * math.sin(t / 4 + n) + 0.1 * math.sin(t * 1.7 + 2 * n))


@dataclass
class _Part:
    label: str
    number: int
    size: int
    attempt: int = 0
    sent: int = 0
    started: float = 0.0
    stalled: bool = False
    wait_until: float = 0.0  # back-off before the next attempt


def stream_script(
    *,
    total: int = 48 * 16 * MiB,
    part_size: int = 16 * MiB,
    read_rate: float = 15e6,
    stall_part: int = 3,
    stall_at: float = 9.0,
    until_done: bool = True,
) -> Script:
    """A dump arriving on stdin, cut into spooled parts; one part stalls and is retried."""

    def script(job: FakeJob) -> Iterator[str]:
        p, clock = job.progress, job.clock
        spool_limit = 256 * MiB
        spool_dir = "/var/tmp/s3tui/spool/s3tui-7f3k2q"
        p.set_expected(total)
        p.set_phase(Phase.RUNNING)
        job.estimate = 3.4e6
        read = 0
        number = 0
        filling: _Part | None = None
        queue: list[_Part] = []
        active: list[_Part] = []
        on_disk = 0
        yield "start"
        t = 0
        while True:
            t += 1
            clock.advance(1.0)
            # Read from the source into chunk files, unless the spool is full (backpressure).
            budget = read_rate
            while budget > 0 and read < total and on_disk < spool_limit:
                if filling is None:
                    number += 1
                    filling = _Part(f"part {number}", number, min(part_size, total - read))
                    p.part_added(
                        filling.label, filling.size, number=number, state=PartState.SPOOLING
                    )
                    p.add_parts_total(1)
                room = filling.size - filling.sent
                take = int(min(budget, room))
                filling.sent += take
                read += take
                on_disk += take
                budget -= take
                p.add_read(take)
                if filling.sent >= filling.size:
                    filling.sent = 0
                    p.part_queued(filling.label, filling.size)
                    queue.append(filling)
                    filling = None
            if read >= total and filling is None:
                p.set_total(total)
            # Start queued parts within the concurrency limit.
            while queue and not job.paused and len(active) < job.concurrency:
                part = queue.pop(0)
                part.attempt = 1
                part.started = clock()
                part.stalled = part.number == stall_part
                p.part_attempt(part.label, 1, max(5.0, 2.5 * part.size / job.estimate))
                active.append(part)
            # Send.
            for part in list(active):
                if part.wait_until:
                    if clock() < part.wait_until:
                        continue
                    part.wait_until = 0.0
                    part.attempt += 1
                    part.started = clock()
                    part.sent = 0
                    deadline = max(5.0, 2.5 * part.size / job.estimate) * 1.5
                    p.part_attempt(part.label, part.attempt, deadline)
                deadline = max(5.0, 2.5 * part.size / job.estimate)
                if part.stalled and t >= stall_at:
                    if clock() - part.started > deadline:
                        part.stalled = False
                        part.wait_until = clock() + 1.0
                        p.part_retrying(part.label)
                        p.event(
                            "retry",
                            part.label,
                            attempt=part.attempt,
                            reason="deadline: no answer within the "
                            f"{deadline:.1f}s deadline (server stopped reading)",
                            deadline=deadline,
                            next=f"attempt {part.attempt + 1} in 1.2s",
                        )
                    continue
                n = int(min(_request_rate(t, part.number), part.size - part.sent))
                part.sent += n
                p.part_sent(part.label, n)
                if part.sent >= part.size:
                    elapsed = clock() - part.started
                    job.estimate = 0.8 * job.estimate + 0.2 * part.size / max(elapsed, 0.5)
                    p.part_done(part.label)
                    on_disk -= part.size
                    active.remove(part)
            job.spool = (
                on_disk,
                len(queue) + len(active) + (filling is not None),
                spool_limit,
                spool_dir,
            )
            yield f"t{t}"
            if read >= total and not queue and not active and filling is None:
                break
        if until_done:
            job.spool = (0, 0, spool_limit, spool_dir)
            p.set_phase(Phase.COMPLETING)
            yield "completing"
            clock.advance(0.4)
            job.finish(etag="9b2cf535f27731c974343645a3985328-48", checksum="Xv1NQw==-48")
            yield "done"

    return script


def tree_script() -> Script:
    """A directory upload: small files in one request each, a large one in parts, one failure."""
    files = [
        ("photos/2025/IMG_0101.jpg", 4_718_592),
        ("photos/2025/IMG_0102.jpg", 5_033_165),
        ("photos/2025/IMG_0103.jpg", 3_984_589),
        ("photos/2025/IMG_0104.jpg", 6_291_456),
        ("photos/2025/IMG_0105.jpg", 4_404_019),
        ("photos/2025/IMG_0106.jpg", 5_557_452),
        ("photos/2025/thumbs/.DS_Store", 6_148),
        ("photos/2025/IMG_0107.jpg", 4_928_307),
        ("videos/holiday-2025.mp4", 96 * MiB),
        ("photos/2025/IMG_0108.jpg", 5_138_022),
        ("photos/2025/IMG_0109.jpg", 4_823_449),
        ("notes/trip.md", 12_288),
    ]

    def script(job: FakeJob) -> Iterator[str]:
        p, clock = job.progress, job.clock
        p.set_phase(Phase.RUNNING)
        job.estimate = 3.1e6
        total = sum(size for _, size in files)
        for path, size in files:
            p.file_added(path, f"backup/{path}", size)
        p.set_total(total, parts_total=len(files) - 2 + 6 - 1)
        p.file_state("photos/2025/thumbs/.DS_Store", FileState.SKIPPED, "excluded by --exclude")
        p.add_read(0)
        yield "start"
        # Whole-file requests, four at a time.
        small = [(path, size) for path, size in files if size < 16 * MiB and "DS_Store" not in path]
        for i, (path, size) in enumerate(small[:6]):
            clock.advance(1.5)
            p.part_added(path, size, file=path)
            p.part_attempt(path, 1, 6.0)
            p.file_state(path, FileState.UPLOADING)
            p.part_sent(path, size)
            p.file_sent(path, size)
            p.add_read(size)
            if path.endswith("IMG_0104.jpg"):
                p.part_failed(path)
                p.file_state(
                    path, FileState.FAILED, "file changed while it was read (size differs)"
                )
                p.event(
                    "failed",
                    path,
                    attempt=1,
                    reason="file changed while it was read",
                    deadline=6.0,
                    next="file skipped, the rest go on",
                )
            else:
                p.part_done(path)
                p.file_state(path, FileState.DONE)
            yield f"file{i}"
        # The video: multipart, six 16 MiB parts, three in flight.
        video = "videos/holiday-2025.mp4"
        p.file_state(video, FileState.UPLOADING)
        for n in range(1, 4):
            label = f"{video}#{n}"
            p.part_added(label, 16 * MiB, number=n, file=video)
            p.part_attempt(label, 1, 12.0)
        for t in range(1, 4):
            clock.advance(1.0)
            for n in range(1, 4):
                label = f"{video}#{n}"
                sent = int(_request_rate(t, n) * (1.0 if n != 2 else 0.6))
                p.part_sent(label, sent)
                p.file_sent(video, sent)
                p.add_read(sent)
            if t == 2:
                p.event(
                    "slowdown",
                    f"{video}#2",
                    attempt=1,
                    reason="503 SlowDown from the server",
                    deadline=12.0,
                    next="concurrency 4 → 2 for 5s",
                )
            yield f"video{t}"
        p.part_added("photos/2025/IMG_0107.jpg", 4_928_307, file="photos/2025/IMG_0107.jpg")
        p.file_state("photos/2025/IMG_0107.jpg", FileState.UPLOADING)
        p.part_attempt("photos/2025/IMG_0107.jpg", 1, 6.0)
        p.part_sent("photos/2025/IMG_0107.jpg", 2_100_000)
        p.file_sent("photos/2025/IMG_0107.jpg", 2_100_000)
        yield "busy"

    return script


def stream_job(**script_options: Any) -> FakeJob:
    return FakeJob(stream_script(**script_options))


def tree_job() -> FakeJob:
    return FakeJob(tree_script(), source="./photos-backup", dest="s3://family-archive/backup/")


def fixed_spool_free(_path: str) -> int:
    """Free space for the temp-disk panel, fixed so pictures do not depend on this machine."""
    return 41 * 1024**3


def play(app: UploadApp, job: FakeJob, until: str | None = None) -> None:
    """Apply script steps one by one, letting the dashboard sample after each (as its timer
    would), up to and including the step ``until`` (or to the end of the script).

    Call it from the app's event loop (inside ``run_test`` or a snapshot ``run_before``).
    """
    for _ in range(10_000):
        if job.run_returned.is_set() or (until is not None and job.step_name == until):
            return
        job.advance()
        app.poll()
    raise AssertionError(f"the script has no step {until!r}")


async def job_ended(app: UploadApp, timeout: float = 10.0) -> None:
    """Wait until the app has been told the job's result: the job's thread posts it, so the
    app's event loop must run meanwhile (call this from inside ``run_test``)."""
    deadline = time.monotonic() + timeout
    while app.outcome is None:
        if time.monotonic() > deadline:
            raise TimeoutError("the app was never told the job's result")
        await asyncio.sleep(0.01)
