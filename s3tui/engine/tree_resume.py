"""Resuming a file's multipart upload that an interrupted run left open: which open upload may be
taken over, with which part plan, and whether a stored part is the local bytes.

The decisions, in order:

- **Before any request** (:func:`plan_for`): the journal's uploads of the key that dead runs left
  open are the file's candidates while the file still has the size and mtime noted with them
  (newest first, at most :data:`MAX_CANDIDATES`). One of a file that changed since, and every
  one with ``--no-resume``, is to be aborted (it is s3tui's own), and the file starts over.
  Uploads whose writer still runs are never touched.
- **In the file's first request** (:func:`take_over`, in a worker): each candidate's parts are
  listed; the part size they were cut with is the plan (whatever ``--chunk-size`` says now: the
  stored parts are only of use cut that way). A candidate the journal does not vouch for (open
  on the key with no journal entry: another host, a lost state dir) is taken over only once a
  stored part proves to be the local bytes; one that does not is left alone, and a new upload is
  made. Own candidates that cannot be resumed are aborted.
- **In each part's request** (:func:`stored_copy`, in a worker, so that the hashing of a big file
  runs in parallel with the sending): the local range is hashed and compared with the stored
  copies (:func:`~s3tui.engine.resume.matching_copy`); a match is kept, anything else is sent.
"""

from __future__ import annotations

import hashlib
import json
import os
from dataclasses import dataclass, field
from typing import Any

from s3tui.engine.journal import Entry, Source
from s3tui.engine.localfile import blocks
from s3tui.engine.plan import MAX_PARTS, MIN_PART
from s3tui.engine.remote import PartInfo, UploadInfo
from s3tui.engine.resume import LocalPart, matching_copy
from s3tui.engine.walk import Entry as FileEntry

MAX_CANDIDATES = 3  # open uploads looked at per key: each costs a ListParts


@dataclass(frozen=True)
class Candidate:
    """An open upload of the key that may hold some of the file's parts."""

    upload_id: str
    own: bool  # noted by a dead s3tui run on this host: aborted when it cannot be resumed
    vouched: bool  # the journal says the file is unchanged since: no proof before taking over
    part_size: int = 0  # as noted; 0 when unknown


@dataclass
class Plan:
    """What a file's first request does about earlier uploads of its key."""

    candidates: list[Candidate] = field(default_factory=list)
    drop: list[str] = field(default_factory=list)  # own dead uploads to abort first
    note: str = ""  # why the file starts over, for the retry log
    listed: bool = False  # foreign candidates were looked for already


@dataclass(frozen=True)
class TakenOver:
    """An open upload the file continues, with the plan its parts were cut with."""

    upload_id: str
    part_size: int
    copies: dict[int, list[PartInfo]]  # stored copies that fit the plan, by part number
    stored_bytes: int
    own: bool


def fingerprint(args: dict[str, Any]) -> str:
    """The object's headers (Content-Type, metadata, tags, SSE...) as a short digest: an upload
    keeps the headers it was opened with, so one opened with others is not resumed."""
    text = json.dumps(args, sort_keys=True, default=str)
    return hashlib.sha256(text.encode()).hexdigest()[:16]


def source_of(e: FileEntry, part_size: int, options: str = "") -> Source:
    return Source(os.path.abspath(e.path), e.size, e.mtime_ns, part_size, options)


def plan_for(e: FileEntry, dead: list[Entry], no_resume: bool, options: str = "") -> Plan:
    """The file's candidates among the uploads dead runs left open on its key (newest first);
    ``options`` is the :func:`fingerprint` of this run's object headers."""
    plan = Plan()
    for old in dead:
        src = old.source
        if no_resume:
            plan.drop.append(old.upload_id)
            continue
        how = ""
        if src is not None and src.size != e.size:
            how = f"changed since the interrupted run (size {src.size} -> {e.size})"
        elif src is not None and src.mtime_ns != e.mtime_ns:
            how = "changed since the interrupted run (modified)"
        elif src is not None and src.options and options and src.options != options:
            how = "sent with other object options (headers) by the interrupted run"
        if how:
            plan.note = f"{how}: starting it over; its old upload is aborted"
            plan.drop.append(old.upload_id)
            continue
        if len(plan.candidates) >= MAX_CANDIDATES:
            plan.drop.append(old.upload_id)  # older copies of ours: nothing to gain
            continue
        vouched = src is not None
        plan.candidates.append(
            Candidate(
                old.upload_id, own=True, vouched=vouched, part_size=src.part_size if src else 0
            )
        )
    plan.listed = no_resume
    return plan


def foreign(found: list[UploadInfo], key: str, known: set[str], room: int) -> list[Candidate]:
    """Open uploads of exactly ``key`` no journal knows of, newest first, at most ``room``."""
    mine = [u for u in found if u.key == key and u.upload_id not in known]
    mine.sort(key=lambda u: u.initiated or 0.0, reverse=True)
    return [Candidate(u.upload_id, own=False, vouched=False) for u in mine[: max(0, room)]]


def fitting(
    copies: dict[int, list[PartInfo]], size: int, part_size: int
) -> dict[int, list[PartInfo]]:
    """The stored copies whose number and size fit ``size`` bytes cut in ``part_size`` parts."""
    nparts = -(-size // part_size)
    fit: dict[int, list[PartInfo]] = {}
    for n, listed in copies.items():
        if 1 <= n <= nparts:
            length = min(part_size, size - (n - 1) * part_size)
            same = [c for c in listed if c.size == length]
            if same:
                fit[n] = same
    return fit


def stored_plan(
    copies: dict[int, list[PartInfo]], size: int, noted: int, current: int
) -> tuple[int, dict[int, list[PartInfo]]] | None:
    """The part size the stored parts were cut with, and the copies that fit it: the size noted
    in the journal, else part 1's, else this run's; the one that fits the most stored parts.
    None when no stored part fits any."""
    tried: list[int] = []
    first = {c.size for c in copies.get(1, [])}
    for p in (noted, *sorted(first, reverse=True), current):
        if p and p not in tried and p >= MIN_PART and -(-size // p) <= MAX_PARTS:
            tried.append(p)
    best: tuple[int, dict[int, list[PartInfo]]] | None = None
    for p in tried:
        fit = fitting(copies, size, p)
        if fit and (best is None or len(fit) > len(best[1])):
            best = (p, fit)
    return best


def local_part(path: str, n: int, offset: int, length: int) -> LocalPart:
    """Part ``n`` of the local file, hashed as it is read."""
    return LocalPart.of_blocks(n, blocks(path, offset, length))


def proves(path: str, part_size: int, size: int, fit: dict[int, list[PartInfo]]) -> bool:
    """Whether the lowest-numbered stored part is the local bytes: the proof asked of an upload
    the journal does not vouch for before it is taken over (one part's read)."""
    n = min(fit)
    offset = (n - 1) * part_size
    local = local_part(path, n, offset, min(part_size, size - offset))
    return matching_copy(fit[n], local) is not None


def stored_copy(
    path: str, copies: list[PartInfo], n: int, offset: int, length: int
) -> tuple[PartInfo | None, LocalPart]:
    """The stored copy of part ``n`` that holds exactly the local range, if any, and the local
    part's hashes (its CRC32C is what the composite checksum needs, reused or sent)."""
    local = local_part(path, n, offset, length)
    return matching_copy(copies, local), local
