"""Resume a stream: which interrupted upload of the key to continue, and which of its stored
parts the stream produces again, chunk by chunk.

A stream cannot be read twice, so it is compared as it is read: each chunk is cut at the size
the interrupted upload stored for that part number (:func:`~s3tui.engine.resume.part_plan`),
hashed (MD5 and CRC32C), and compared with the stored copy
(:func:`~s3tui.engine.resume.matching_copy`). A chunk that matches is not sent; its spooled
bytes are deleted at once. The first chunk that differs ends the comparison: from it on every
part is sent again (a new copy of the same number replaces the stored one at completion, which
lists exactly this stream's parts, so stored parts past its end are not in the object).

Which upload: the newest one this host's journal says a dead run of s3tui left open for the
key; without one, the open uploads of exactly the key, newest first, and one is adopted only if
its part 1 is the stream's first chunk. An upload whose writer is alive is never touched.
"""

from __future__ import annotations

import hashlib
import mmap
import os
from dataclasses import dataclass, field
from pathlib import Path

from s3tui.engine import journal
from s3tui.engine.crc import crc32c
from s3tui.engine.plan import MAX_PART, MIN_PART, PartPlan
from s3tui.engine.remote import PartInfo, S3Store
from s3tui.engine.remote.errors import error_code
from s3tui.engine.resume import LocalPart, copies_by_number, matching_copy, part_plan
from s3tui.sizes import MiB, format_size

# Uploads of one key looked at when the journal names none: each costs a ListParts.
MAX_CANDIDATES = 8
# The largest chunk compared in memory. The default plan's parts reach it only past 5,000 parts
# (~250 GiB); a bigger one is compared on the spool and deleted as soon as it matched.
IN_MEMORY_MAX = 256 * MiB


@dataclass(frozen=True)
class ResumeFrom:
    """Where to look for the upload to resume: the endpoint as the journal notes it (the
    command line's; None for AWS) and the journal's directory (None: the user's)."""

    endpoint: str | None
    journal_dir: Path | None = None


@dataclass(frozen=True)
class Candidate:
    """An open upload of the key that the stream may continue."""

    upload_id: str
    ours: bool  # noted in this host's journal by a dead run of s3tui: ours to abort
    copies: dict[int, list[PartInfo]]
    plan: list[int]  # the stored sizes of parts 1..n: how the stream is cut
    spool_dir: str | None = None  # the dead run's spool (ours only): deleted once taken over

    @property
    def stored_bytes(self) -> int:
        return sum(self.plan)


@dataclass(frozen=True)
class Lookup:
    """What the look for an interrupted upload found. ``empty_ours``: uploads of the key that
    dead runs of s3tui left open holding no usable part (nothing to compare: aborted)."""

    candidates: list[Candidate]
    empty_ours: list[Candidate] = field(default_factory=list)


def usable_plan(sizes: list[int]) -> list[int]:
    """The stored plan as far as a stream may be cut by it: every part but the last of an
    upload must be 5 MiB or more, so a smaller stored part (the short last part of a stream
    whose completion never came) ends the plan, and is sent again if the stream goes on."""
    usable: list[int] = []
    for size in sizes:
        if not MIN_PART <= size <= MAX_PART:
            break
        usable.append(size)
    return usable


def _listed(remote: S3Store, key: str, upload_id: str) -> list[PartInfo] | None:
    """The upload's parts; None when the upload is gone (completed or aborted meanwhile)."""
    try:
        return remote.list_parts(key, upload_id)
    except Exception as e:
        if error_code(e) in ("NoSuchUpload", "404"):
            return None
        raise


def _candidate(
    remote: S3Store, key: str, upload_id: str, ours: bool, spool_dir: str | None = None
) -> Candidate | None:
    listed = _listed(remote, key, upload_id)
    if listed is None:
        return None
    copies = copies_by_number(listed)
    return Candidate(upload_id, ours, copies, usable_plan(part_plan(copies)), spool_dir)


def find(
    remote: S3Store, key: str, endpoint: str | None, journal_dir: Path | None = None
) -> Lookup:
    """The uploads of ``key`` the stream may continue, in the order to try them.

    ``endpoint`` is the one the journal notes (the command line's, None for AWS). Raises when
    the store cannot be asked (the caller retries, then uploads from the start).
    """
    empty: list[Candidate] = []
    for path, entry in journal.left_open(endpoint, remote.bucket, key, journal_dir):
        found = _candidate(remote, key, entry.upload_id, True, entry.spool_dir)
        if found is None:  # the upload is gone: a stale note, and what its run left
            journal.remove_spool(entry.spool_dir)
            path.unlink(missing_ok=True)
            continue
        if found.plan:
            return Lookup([found], empty)
        empty.append(found)
    if empty:
        return Lookup([], empty)
    alive = {e.upload_id for _, e in journal.entries(journal_dir) if e.writer_alive()}
    listing = remote.list_uploads(key)
    others = [u for u in listing.uploads if u.key == key and u.upload_id not in alive]
    others.sort(key=lambda u: u.initiated or 0.0, reverse=True)
    candidates = []
    for u in others[:MAX_CANDIDATES]:
        found = _candidate(remote, key, u.upload_id, ours=False)
        if found is not None and found.plan:
            candidates.append(found)
    return Lookup(candidates, empty)


def memory_file(name: str, size: int) -> int | None:
    """An anonymous in-memory file for a chunk to compare, or None when it would be too big
    (it is compared on the spool then): a chunk that matches is dropped, never written to
    disk; RAM holds one chunk at a time."""
    if size > IN_MEMORY_MAX or not hasattr(os, "memfd_create"):
        return None
    try:
        return os.memfd_create(f"s3tui-{name}", os.MFD_CLOEXEC)
    except OSError:
        return None


def file_md5(fd: int, length: int) -> str:
    """MD5 (hex) of the first ``length`` bytes of an open file, read through an mmap (the page
    cache the chunk was just written to: no copy, no disk read)."""
    h = hashlib.md5()
    if length:
        with mmap.mmap(fd, length, flags=mmap.MAP_SHARED, prot=mmap.PROT_READ) as view:
            h.update(view)
    return h.hexdigest()


def file_crc32c(fd: int, length: int) -> int:
    """CRC32C of the first ``length`` bytes of an open file (when the upload's own checksum is
    another algorithm: a store may list the parts' CRC32C)."""
    if not length:
        return 0
    with mmap.mmap(fd, length, flags=mmap.MAP_SHARED, prot=mmap.PROT_READ) as view:
        return crc32c(view)


class StreamResume:
    """The comparison of one stream with the upload(s) it may continue, chunk by chunk.

    Before part 1 is read, every candidate whose part 1 has the newest one's size is in the
    running (the first chunk can be cut only one way); the first whose part 1 matches is
    adopted. After that, only the adopted upload's parts are compared, until one differs.
    """

    def __init__(self, candidates: list[Candidate], fallback: PartPlan) -> None:
        first = candidates[0].plan[0] if candidates else None
        self.candidates = [c for c in candidates if c.plan and c.plan[0] == first]
        self.fallback = fallback
        self.chosen: Candidate | None = None
        self.comparing = bool(self.candidates)
        self.differs_at: int | None = None  # the first part number that differed
        self.skipped_parts = 0
        self.skipped_bytes = 0

    def size_of(self, number: int) -> int:
        """The size chunk ``number`` is cut at: the stored plan, then the usual one."""
        plan = self._plan()
        return plan[number - 1] if number <= len(plan) else self.fallback.size_of(number)

    def _plan(self) -> list[int]:
        if self.chosen is not None:
            return self.chosen.plan
        return self.candidates[0].plan if self.candidates else []

    def wants(self, number: int) -> bool:
        """Whether chunk ``number`` is to be hashed and compared."""
        return self.comparing and number <= len(self._plan())

    def compare(self, local: LocalPart) -> PartInfo | None:
        """The stored copy that holds exactly ``local``'s bytes, or None (which ends the
        comparison: from this chunk on, every part is sent)."""
        if not self.wants(local.number):
            return None
        pool = [self.chosen] if self.chosen is not None else self.candidates
        for c in pool:
            match = matching_copy(c.copies.get(local.number, []), local)
            if match is not None:
                self.chosen = c
                self.skipped_parts += 1
                self.skipped_bytes += local.size
                return match
        self.comparing = False
        self.differs_at = local.number
        return None

    def summary(self, parts: int) -> str:
        """``resumed: 412 of 1,200 parts (3.2 GiB) already stored, 788 sent``."""
        sent = parts - self.skipped_parts
        return (
            f"resumed: {self.skipped_parts:,} of {parts:,} parts "
            f"({format_size(self.skipped_bytes)}) already stored, {sent:,} sent"
        )
