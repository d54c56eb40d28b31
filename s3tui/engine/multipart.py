"""The multipart lifecycle both jobs share: the parts stored, the completion, the check after it.

A stream and a file differ only in where a part's bytes come from (a spooled chunk, a file
range); what a part leaves behind (its number, ETag, checksum value and length), how the
upload is completed (a retry told NoSuchUpload looks whether the first attempt made the
object), how the stored object is checked against what was read (deleted when it differs), and
the line that reports the upload are the same, and are here.
"""

from __future__ import annotations

import itertools
import threading
from collections.abc import Callable

from s3tui.engine.checksums import Checksum
from s3tui.engine.remote import ObjectInfo, S3Store, Stored
from s3tui.engine.watchdog import Watchdog
from s3tui.sizes import format_size

__all__ = [
    "CONTROL_DEADLINE",
    "PREFLIGHT_ATTEMPTS",
    "Completion",
    "IntegrityError",
    "PartTable",
    "uploaded_line",
    "verify_stored",
]

CONTROL_DEADLINE = 60.0  # create / complete / head / delete: no body, but complete can be slow
PREFLIGHT_ATTEMPTS = 4  # ~2 s of back-off: an unusable destination fails fast


class PartTable:
    """The parts of one multipart upload stored so far: number -> (ETag, checksum value,
    length). Thread-safe."""

    def __init__(self) -> None:
        self._parts: dict[int, tuple[str, int, int]] = {}
        self._lock = threading.Lock()

    def add(self, number: int, etag: str, crc: int, length: int = 0) -> int:
        """Note a stored part (``crc``: its value of the upload's checksum algorithm; ``length``
        its size, which a full-object CRC is combined with); returns how many are stored."""
        with self._lock:
            self._parts[number] = (etag, crc, length)
            return len(self._parts)

    def __len__(self) -> int:
        with self._lock:
            return len(self._parts)

    def ordered(self) -> list[tuple[int, str, int]]:
        """``[(number, etag, value), ...]`` by part number, as CompleteMultipartUpload lists."""
        with self._lock:
            return sorted((n, etag, crc) for n, (etag, crc, _) in self._parts.items())

    def lengths(self) -> list[int]:
        """The parts' sizes, by part number."""
        with self._lock:
            return [self._parts[n][2] for n in sorted(self._parts)]

    def numbered_through(self, count: int) -> bool:
        """Whether exactly parts 1..count are stored."""
        return [n for n, _, _ in self.ordered()] == list(range(1, count + 1))

    def expected(self, checksum: Checksum) -> str | None:
        """What S3 should report of the completed object (None: nothing to compare)."""
        return checksum.multipart([crc for _, _, crc in self.ordered()], self.lengths())


class Completion:
    """CompleteMultipartUpload for a fixed set of parts, one call per attempt. An attempt after
    the first may be told NoSuchUpload because the first did complete and its answer was lost:
    the object is then accepted only if it is exactly these parts."""

    def __init__(self, remote: S3Store, key: str, upload_id: str, parts: PartTable, size: int):
        self.remote, self.key, self.upload_id, self.size = remote, key, upload_id, size
        self.parts = parts.ordered()
        self.lengths = parts.lengths()
        self.expected = parts.expected(remote.checksum)
        self._attempts = itertools.count()

    def attempt(self) -> Stored:
        retried = next(self._attempts) > 0
        return self.remote.complete_or_confirm(
            self.key, self.upload_id, self.parts, self.size, retried, self.lengths
        )


class IntegrityError(Exception):
    """The stored object is not what was read. ``problem`` says how; the object was deleted
    unless ``delete_error`` says why it could not be."""

    def __init__(self, problem: str, delete_error: BaseException | None) -> None:
        super().__init__(problem)
        self.problem = problem
        self.delete_error = delete_error


def verify_stored(
    remote: S3Store,
    watchdog: Watchdog,
    key: str,
    size: int,
    answer: Stored,
    expected: str | None,
    head: Callable[[], ObjectInfo | None],
) -> None:
    """What S3 says it stored (``answer`` of the request that made the object) must be what was
    read, else the object is deleted and :class:`IntegrityError` raised.

    ``expected`` is what the store's checksum (``remote.checksum``: a CRC or SHA-256, full
    object or composite; for Content-MD5 the MD5 ETag) should report, None when the upload sent
    none. A reported value that matches is proof enough; only an answer that reports none (or
    a run without checksums) costs a HEAD (``head``, under the caller's retry policy), to check
    the size at least.
    """
    problem = None
    checksum = remote.checksum
    reported = checksum.reported(answer) if expected is not None else None
    if reported is not None and expected is not None and not checksum.same(reported, expected):
        problem = f"checksum {reported} != local {expected} ({checksum.algorithm.label})"
    elif reported is None:
        found = head()
        if found is None:
            problem = "the object is missing after completion"
        elif found.size != size:
            problem = f"size {found.size} != {size} bytes read"
    if problem is None:
        return
    delete_error: BaseException | None = None
    try:
        with watchdog.guard(CONTROL_DEADLINE):
            remote.delete(key)
    except Exception as e:  # the caller reports it; the upload has failed either way
        delete_error = e
    raise IntegrityError(problem, delete_error)


def uploaded_line(
    what: str,
    dest: str,
    seconds: float,
    *,
    size: int | None = None,
    parts: int = 0,
    retries: int = 0,
    reused: int = 0,
) -> str:
    """``uploaded WHAT to DEST in S s``, with ``(x MB/s, N parts, M retries)`` when ``size``
    is given: the one wording of every upload's result. ``reused``: bytes of ``size`` that an
    interrupted run had stored and were kept, not sent: the rate counts only what was sent."""
    line = f"uploaded {what} to {dest} in {seconds:.1f}s"
    if size is None:
        return line
    rate = (size - reused) / seconds / 1e6 if seconds > 0 else 0.0
    kept = f", {format_size(reused)} already stored by the interrupted run" if reused else ""
    return (
        f"{line} ({rate:.1f} MB/s, {parts} part{'s' if parts != 1 else ''}, "
        f"{retries} {'retry' if retries == 1 else 'retries'}{kept})"
    )
