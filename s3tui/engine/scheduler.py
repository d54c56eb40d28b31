"""Which request of a tree upload goes next: the files' states, the queues, the preflight probes.

Pure logic over :class:`FileUpload` states, no S3 and no threads of its own: the tree job calls
it under its lock (tests/unit/test_scheduler.py drives it alone). The order is completions, parts
of open multipart uploads, new files: few uploads are open at once, memory stays flat however big
the tree, and a file that fails stops before its remaining parts are sent.

The preflight: the first write request (and with ``--skip-existing`` the first HeadObject) goes
alone; the next of its kind waits until it passed, or failed on a problem of its own file.
"""

from __future__ import annotations

import enum
from collections import deque
from collections.abc import Iterable
from dataclasses import dataclass

from s3tui.engine.multipart import PartTable
from s3tui.engine.plan import plan_parts
from s3tui.engine.progress import FileState
from s3tui.engine.remote import PartInfo
from s3tui.engine.stats import FileStat
from s3tui.engine.tree_resume import Plan
from s3tui.engine.walk import Entry


class RequestKind(enum.Enum):
    PUT = "put"  # a whole file, one PutObject
    CREATE = "create"  # CreateMultipartUpload
    PART = "part"  # UploadPart: a range of the file
    COMPLETE = "complete"  # CompleteMultipartUpload
    HEAD = "head"  # HeadObject, for --skip-existing

    @property
    def carries_data(self) -> bool:
        """A request with a body: shown as a part, timed by its size, counted as an attempt."""
        return self in (RequestKind.PUT, RequestKind.PART)

    @property
    def probe(self) -> Probe:
        return Probe.HEAD if self is RequestKind.HEAD else Probe.WRITE


class Probe(enum.Enum):
    WRITE = "write"
    HEAD = "head"


class ProbeState(enum.Enum):
    NONE = "none"  # not sent yet (or failed on its own file): the next request is the probe
    FLYING = "flying"  # in flight: nothing else of its kind is sent
    PASSED = "passed"


class FileUpload:
    """One file's upload state; mutated under the job's condition lock."""

    __slots__ = (
        "attempts",
        "checksum",
        "completing",
        "end",
        "entry",
        "etag",
        "failed",
        "first_start",
        "inflight",
        "next_part",
        "nparts",
        "ok_end",
        "ok_start",
        "part_size",
        "parts",
        "resume",
        "reused_bytes",
        "reused_parts",
        "settled",
        "stat",
        "state",
        "stored",
        "unanswered",
        "upload_id",
    )

    def __init__(self, entry: Entry, chunk: int) -> None:
        self.entry = entry
        if entry.size < chunk:
            self.part_size, self.nparts = 0, 1  # one PutObject
        else:
            self.part_size = plan_parts(chunk, expected_size=entry.size).base
            self.nparts = -(-entry.size // self.part_size)
        self.state = FileState.QUEUED
        self.failed: str | None = None
        self.settled = False
        self.upload_id: str | None = None
        self.completing = False  # CompleteMultipartUpload was sent: the upload may be gone
        self.unanswered = False  # its last PutObject was sent and no answer came back
        self.parts = PartTable()
        self.next_part = 1
        self.inflight = 0
        self.attempts = 0
        self.first_start: float | None = None
        self.ok_start: float | None = None
        self.ok_end: float | None = None
        self.end: float | None = None
        self.etag: str | None = None
        self.checksum: str | None = None
        self.stat: FileStat | None = None  # frozen when the file settles
        # Resuming (engine/tree_resume.py): what to do about earlier uploads of the key, the
        # copies an upload taken over had stored (by part number), and what was kept of them.
        self.resume: Plan = Plan()
        self.stored: dict[int, list[PartInfo]] = {}
        self.reused_bytes = 0
        self.reused_parts = 0

    def replan(self, part_size: int) -> None:
        """Cut the file as an upload taken over was cut (before any part was sent)."""
        self.part_size = part_size
        self.nparts = -(-self.entry.size // part_size)

    def part_range(self, n: int) -> tuple[int, int]:
        offset = (n - 1) * self.part_size
        return offset, min(self.part_size, self.entry.size - offset)

    def part_ranges(self) -> list[tuple[int, int]]:
        if not self.part_size:
            return [(0, self.entry.size)]
        return [self.part_range(n) for n in range(1, self.nparts + 1)]

    @property
    def finished(self) -> bool:
        return self.failed is not None or self.state in (FileState.DONE, FileState.SKIPPED)


@dataclass(frozen=True)
class Request:
    kind: RequestKind
    file: FileUpload
    part: int | None = None
    probe: bool = False


class Scheduler:
    """The queues of a tree upload. Not locked: the caller holds its lock around every call."""

    def __init__(self) -> None:
        self._completes: deque[FileUpload] = deque()
        self._ready: deque[FileUpload] = deque()
        self._writes: deque[FileUpload] = deque()
        self._heads: deque[FileUpload] = deque()
        self._probe = {Probe.WRITE: ProbeState.NONE, Probe.HEAD: ProbeState.NONE}

    def add(self, files: Iterable[FileUpload], check_first: bool) -> None:
        """New files: HEAD first with ``check_first`` (--skip-existing), else written."""
        (self._heads if check_first else self._writes).extend(files)

    def created(self, f: FileUpload) -> None:
        """Its multipart upload is open: its parts may go."""
        self._ready.append(f)

    def parts_stored(self, f: FileUpload) -> None:
        """Every part is stored: it may complete."""
        self._completes.append(f)

    def checked(self, f: FileUpload) -> None:
        """Its HEAD found nothing to skip: it is to be written."""
        self._writes.append(f)

    def probe_state(self, probe: Probe) -> ProbeState:
        return self._probe[probe]

    def set_probe(self, probe: Probe, state: ProbeState) -> None:
        if self._probe[probe] is not ProbeState.PASSED:
            self._probe[probe] = state

    def next(self) -> Request | None:
        """The request to send next, or None until something changes."""
        while self._completes:
            f = self._completes.popleft()
            if f.failed is None:
                return Request(RequestKind.COMPLETE, f)
        while self._ready:
            f = self._ready[0]
            if f.failed is not None or f.next_part > f.nparts:
                self._ready.popleft()
                continue
            n = f.next_part
            f.next_part += 1
            if f.next_part > f.nparts:
                self._ready.popleft()
            return Request(RequestKind.PART, f, part=n)
        for probe, q in ((Probe.WRITE, self._writes), (Probe.HEAD, self._heads)):
            if self._probe[probe] is ProbeState.FLYING:
                continue
            while q:
                f = q.popleft()
                if f.failed is not None:
                    continue
                first = self._probe[probe] is ProbeState.NONE
                if first:
                    self._probe[probe] = ProbeState.FLYING
                if probe is Probe.HEAD:
                    kind = RequestKind.HEAD
                else:
                    kind = RequestKind.PUT if f.part_size == 0 else RequestKind.CREATE
                return Request(kind, f, probe=first)
        return None
