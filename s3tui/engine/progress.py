"""One thread-safe model of a transfer: the engine writes it, reporters read immutable snapshots.

Workers bump counters under a lock (coalesced: a body reports every ~256 KiB, never per byte);
the dashboard and the headless reporter call :meth:`Progress.snapshot` on a timer. Discrete
happenings (a retry, a failed file) are also pushed to listeners as :class:`Event` objects.
"""

from __future__ import annotations

import contextlib
import threading
import time
from collections import deque
from collections.abc import Callable
from dataclasses import dataclass, field
from enum import StrEnum
from typing import Any, TypeVar

from s3tui.engine.outage import OutageView
from s3tui.engine.redact import without_userinfo

_V = TypeVar("_V")


def _evolve(view: _V, **changes: Any) -> _V:
    """``dataclasses.replace`` for the frozen views, minus its per-call field introspection.

    Why: workers update a view ~6 times per file, and on a tree of small files ``replace``'s
    introspection would be the engine's largest own cost. The views have plain ``__dict__``s and
    no ``__post_init__``.
    """
    new = object.__new__(type(view))
    new.__dict__.update(view.__dict__)
    new.__dict__.update(changes)
    return new


class PartState(StrEnum):
    SPOOLING = "spooling"
    QUEUED = "queued"
    UPLOADING = "uploading"
    RETRYING = "retrying"
    DONE = "done"
    FAILED = "failed"


class FileState(StrEnum):
    QUEUED = "queued"
    UPLOADING = "uploading"
    DONE = "done"
    FAILED = "failed"
    SKIPPED = "skipped"


class Phase(StrEnum):
    STARTING = "starting"
    RUNNING = "running"
    COMPLETING = "completing"
    DONE = "done"
    FAILED = "failed"
    CANCELLED = "cancelled"


@dataclass(frozen=True)
class PartView:
    """One request's unit of work: a part of a multipart upload, or a whole small file."""

    label: str  # "part 12" or "photos/a.jpg#3"
    size: int
    number: int | None = None
    file: str | None = None
    sent: int = 0  # bytes of the current attempt actually handed to the socket
    state: PartState = PartState.QUEUED
    attempt: int = 0
    started: float = 0.0  # monotonic start of the current attempt
    deadline: float = 0.0  # seconds allowed for the current attempt
    finished: float = 0.0  # monotonic time it reached DONE/FAILED (for fading out)

    def speed(self, now: float) -> float:
        elapsed = now - self.started
        return self.sent / elapsed if self.state == PartState.UPLOADING and elapsed > 0 else 0.0


@dataclass(frozen=True)
class FileView:
    path: str
    key: str
    size: int
    sent: int = 0
    state: FileState = FileState.QUEUED
    reason: str = ""


class EventKind(StrEnum):
    """What a retry-log line is; the values are what the reporters print."""

    RETRY = "retry"
    FAILED = "failed"
    SLOWDOWN = "slowdown"
    INFO = "info"
    WARNING = "warning"
    HEDGE = "hedge"  # a second copy of a straggling request went out
    CONCURRENCY = "concurrency"  # the tuned concurrency moved, and why
    STDERR = "stderr"  # a line the command of ``put --from`` wrote to stderr (it is the reason)
    OUTAGE = "outage"  # the endpoint is unreachable (once, then once a minute), or back


STDERR_EVENT = EventKind.STDERR


@dataclass(frozen=True)
class Event:
    """Something a person should see in the retry log."""

    time: float  # wall clock
    kind: EventKind
    label: str
    attempt: int = 0
    reason: str = ""
    deadline: float = 0.0
    next: str = ""  # what happens next, e.g. "retry in 1.2s"


@dataclass(frozen=True)
class Snapshot:
    now: float  # the model's clock at snapshot time (PartView times are on this clock)
    source: str
    dest: str
    phase: Phase
    elapsed: float
    bytes_read: int  # taken from the source so far
    bytes_uploaded: int  # confirmed stored by S3
    bytes_sent: int  # every byte put on the wire, retries included (for throughput)
    expected_size: int | None
    total_size: int | None  # known once the stream ended, or up front for files
    parts_done: int
    parts_total: int | None
    retries: int
    estimate: float  # bytes/s per request, the EWMA that sets deadlines
    bwlimit: float | None
    concurrency: int
    concurrency_ceiling: int
    paused: bool
    spool_bytes: int
    spool_files: int
    spool_limit: int
    spool_dir: str
    parts: tuple[PartView, ...]
    events: tuple[Event, ...]
    files: tuple[FileView, ...] = ()
    files_done: int = 0
    files_failed: int = 0
    files_skipped: int = 0
    files_total: int = 0
    message: str = ""  # final result or error line
    outage: OutageView | None = None  # set while the endpoint is unreachable
    # Of bytes_uploaded: parts an interrupted run had stored and this one proved and kept
    # (done, never sent: throughput and ETA come from what is sent).
    bytes_reused: int = 0
    hedges: int = 0  # second copies of straggling requests sent
    concurrency_why: str = ""  # why the tuned concurrency is what it is ("pinned": the user's)

    @property
    def parts_in_flight(self) -> int:
        return sum(1 for p in self.parts if p.state in (PartState.UPLOADING, PartState.RETRYING))


# How long finished parts stay in the snapshot so the dashboard can fade them out.
FINISHED_LINGER = 3.0
PRUNE_EVERY = 0.25


class Progress:
    """The live model. All mutators are cheap and thread-safe."""

    def __init__(
        self,
        source: str,
        dest: str,
        clock: Callable[[], float] = time.monotonic,
        wall_clock: Callable[[], float] = time.time,
    ):
        self._lock = threading.Lock()
        self._clock = clock
        self._wall = wall_clock
        self._t0 = clock()
        self.source = without_userinfo(source)  # labels for every reporter
        self.dest = without_userinfo(dest)
        self._phase = Phase.STARTING
        self._bytes_read = 0
        self._bytes_uploaded = 0
        self._bytes_sent = 0
        self._bytes_reused = 0
        self._expected: int | None = None
        self._total: int | None = None
        self._parts_done = 0
        self._parts_total: int | None = None
        self._retries = 0
        self._parts: dict[str, PartView] = {}
        self._files: dict[str, FileView] = {}
        self._file_counts = {s: 0 for s in FileState}
        self._events: deque[Event] = deque(maxlen=500)
        self._listeners: list[Callable[[Event], None]] = []
        self._message = ""
        self._ended: float | None = None
        self._pruned_at = float("-inf")
        # Providers of values owned elsewhere (estimator, gate, spool), read at snapshot time.
        self.estimate_fn: Callable[[], float] = lambda: 0.0
        self.gate_fn: Callable[[], tuple[int, int, bool]] = lambda: (0, 0, False)
        self.spool_fn: Callable[[], tuple[int, int, int, str]] = lambda: (0, 0, 0, "")
        self.bwlimit: float | None = None
        self.outage_fn: Callable[[], OutageView | None] = lambda: None
        self.tune_fn: Callable[[], tuple[int, str]] = lambda: (0, "")  # (hedges, why)

    # --- listeners ---
    def subscribe(self, fn: Callable[[Event], None]) -> None:
        self._listeners.append(fn)

    def unsubscribe(self, fn: Callable[[Event], None]) -> None:
        with contextlib.suppress(ValueError):
            self._listeners.remove(fn)

    def event(self, kind: EventKind, label: str, **kw: object) -> Event:
        kind = EventKind(kind)
        ev = Event(time=self._wall(), kind=kind, label=label, **kw)  # type: ignore[arg-type]
        with self._lock:
            self._events.append(ev)
            if kind is EventKind.RETRY:
                self._retries += 1
        for fn in list(self._listeners):
            try:
                fn(ev)
            except Exception:  # a reporter that cannot write (closed stderr) never stops work
                self.unsubscribe(fn)
        return ev

    # --- totals ---
    def set_phase(self, phase: Phase, message: str = "") -> None:
        with self._lock:
            self._phase = phase
            if message:
                self._message = message
            if phase in (Phase.DONE, Phase.FAILED, Phase.CANCELLED) and self._ended is None:
                self._ended = self._clock()

    @property
    def phase(self) -> Phase:
        return self._phase

    def set_expected(self, expected: int | None) -> None:
        self._expected = expected

    def add_read(self, n: int) -> None:
        with self._lock:
            self._bytes_read += n

    def add_reused(self, n: int, parts: int = 1) -> None:
        """``parts`` parts (``n`` bytes) an earlier run stored were proved to be the source's
        bytes and kept: read and done, but never sent."""
        with self._lock:
            self._bytes_read += n
            self._bytes_uploaded += n
            self._bytes_reused += n
            self._parts_done += parts

    def set_total(self, total: int, parts_total: int | None = None) -> None:
        with self._lock:
            self._total = total
            if parts_total is not None:
                self._parts_total = parts_total

    def add_parts_total(self, n: int) -> None:
        with self._lock:
            self._parts_total = (self._parts_total or 0) + n

    # --- parts ---
    def part_added(
        self,
        label: str,
        size: int,
        number: int | None = None,
        file: str | None = None,
        state: PartState = PartState.QUEUED,
    ) -> None:
        with self._lock:
            self._parts[label] = PartView(
                label=label, size=size, number=number, file=file, state=state
            )

    def part_queued(self, label: str, size: int) -> None:
        with self._lock:
            p = self._parts.get(label)
            if p is not None:
                self._parts[label] = _evolve(p, size=size, state=PartState.QUEUED)

    def part_attempt(self, label: str, attempt: int, deadline: float) -> None:
        with self._lock:
            p = self._parts.get(label)
            if p is not None:
                self._parts[label] = _evolve(
                    p,
                    state=PartState.UPLOADING,
                    attempt=attempt,
                    sent=0,
                    started=self._clock(),
                    deadline=deadline,
                )

    def part_sent(self, label: str, n: int) -> None:
        """Bytes handed to the socket; ``n`` may be negative when a body rewinds."""
        with self._lock:
            self._bytes_sent += max(n, 0)
            p = self._parts.get(label)
            if p is not None:
                self._parts[label] = _evolve(p, sent=max(0, p.sent + n))

    def part_retrying(self, label: str) -> None:
        with self._lock:
            p = self._parts.get(label)
            if p is not None:
                self._parts[label] = _evolve(p, state=PartState.RETRYING)

    def part_done(self, label: str) -> None:
        with self._lock:
            p = self._parts.get(label)
            if p is None:
                return
            self._parts[label] = _evolve(
                p, state=PartState.DONE, sent=p.size, finished=self._clock()
            )
            if p.number is not None or p.file is not None:  # not control requests
                self._parts_done += 1
                self._bytes_uploaded += p.size
            self._prune_locked()

    def part_failed(self, label: str) -> None:
        with self._lock:
            p = self._parts.get(label)
            if p is not None:
                self._parts[label] = _evolve(p, state=PartState.FAILED, finished=self._clock())
            self._prune_locked()

    def part_removed(self, label: str) -> None:
        """A row that turned out not to be a part (an empty chunk at end of stream)."""
        with self._lock:
            self._parts.pop(label, None)

    def _prune_locked(self) -> None:
        now = self._clock()
        # A scan of every row per finished part is O(n^2) on 2,000-file trees: a few per second do.
        if now - self._pruned_at < PRUNE_EVERY:
            return
        self._pruned_at = now
        stale = [
            k for k, p in self._parts.items() if p.finished and now - p.finished > FINISHED_LINGER
        ]
        for k in stale:
            del self._parts[k]

    # --- files (directory uploads) ---
    def file_added(self, path: str, key: str, size: int) -> None:
        with self._lock:
            self._files[path] = FileView(path=path, key=key, size=size)
            self._file_counts[FileState.QUEUED] += 1

    def file_state(
        self, path: str, state: FileState, reason: str = "", sent: int | None = None
    ) -> None:
        with self._lock:
            f = self._files.get(path)
            if f is None:
                return
            self._file_counts[f.state] -= 1
            self._file_counts[state] += 1
            self._files[path] = _evolve(
                f,
                state=state,
                reason=reason or f.reason,
                sent=f.size if state == FileState.DONE else (sent if sent is not None else f.sent),
            )

    def file_sent(self, path: str, n: int) -> None:
        with self._lock:
            f = self._files.get(path)
            if f is not None:
                self._files[path] = _evolve(f, sent=max(0, f.sent + n))

    # --- reading ---
    def elapsed(self) -> float:
        end = self._ended if self._ended is not None else self._clock()
        return end - self._t0

    def snapshot(self, max_files: int = 200) -> Snapshot:
        concurrency, ceiling, paused = self.gate_fn()
        spool_bytes, spool_files, spool_limit, spool_dir = self.spool_fn()
        estimate = self.estimate_fn()
        outage = self.outage_fn()
        hedges, why = self.tune_fn()
        with self._lock:
            self._prune_locked()
            files = tuple(self._files.values())
            if len(files) > max_files:
                # Active and failed files first: they are what a person looks for.
                order = {
                    FileState.UPLOADING: 0,
                    FileState.FAILED: 1,
                    FileState.QUEUED: 2,
                    FileState.DONE: 3,
                    FileState.SKIPPED: 4,
                }
                files = tuple(sorted(files, key=lambda f: order[f.state])[:max_files])
            return Snapshot(
                now=self._clock(),
                source=self.source,
                dest=self.dest,
                phase=self._phase,
                elapsed=self.elapsed(),
                bytes_read=self._bytes_read,
                bytes_uploaded=self._bytes_uploaded,
                bytes_sent=self._bytes_sent,
                expected_size=self._expected,
                total_size=self._total,
                parts_done=self._parts_done,
                parts_total=self._parts_total,
                retries=self._retries,
                estimate=estimate,
                bwlimit=self.bwlimit,
                concurrency=concurrency,
                concurrency_ceiling=ceiling,
                paused=paused,
                spool_bytes=spool_bytes,
                spool_files=spool_files,
                spool_limit=spool_limit,
                spool_dir=spool_dir,
                parts=tuple(self._parts.values()),
                events=tuple(self._events)[-100:],
                files=files,
                files_done=self._file_counts[FileState.DONE],
                files_failed=self._file_counts[FileState.FAILED],
                files_skipped=self._file_counts[FileState.SKIPPED],
                files_total=len(self._files),
                message=self._message,
                outage=outage,
                bytes_reused=self._bytes_reused,
                hedges=hedges,
                concurrency_why=why,
            )


@dataclass
class RateMeter:
    """Throughput over a sliding window, from successive ``(time, total_bytes)`` samples."""

    window: float = 5.0
    _samples: deque[tuple[float, int]] = field(default_factory=deque)

    def add(self, t: float, total: int) -> float:
        self._samples.append((t, total))
        while len(self._samples) > 2 and t - self._samples[0][0] > self.window:
            self._samples.popleft()
        t0, b0 = self._samples[0]
        return (total - b0) / (t - t0) if t > t0 else 0.0
