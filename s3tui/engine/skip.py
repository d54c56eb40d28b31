"""``--skip-existing``: whether the object already stored at a key holds a local file.

:func:`same_object` takes what a HeadObject said and the local file's facts (size, part plan,
checksums computed on demand) and decides; it sends no request and reads nothing itself, so it is
tested with made-up answers (tests/unit/test_skip.py).

The object holds the file when it has the same size and, as far as S3 can tell, the same
content: a checksum it reports (CRC64NVME, CRC32C, CRC32 or SHA-256; of the whole object, or the
composite ``b64-N`` of a multipart upload, recomputed locally with this run's part plan), else its
MD5 ETag (a single-part object's MD5, or a multipart one's MD5 of the parts' MD5s with this run's
plan). An object with none of those is taken on size alone; a multipart object with a different
part count (another ``--chunk-size`` or tool) cannot be compared, so the file is uploaded again.
"""

from __future__ import annotations

import hashlib
from collections.abc import Sequence
from typing import Any, Protocol

from s3tui.engine.checksums import MD5, REPORTED, Algorithm
from s3tui.engine.remote import ObjectInfo


class LocalFacts(Protocol):
    """What the comparison needs of the local file; checksums are computed only when asked."""

    size: int
    nparts: int  # parts of this run's plan; 1 for a single PutObject

    def unchanged(self) -> None:
        """Raise if the file is no longer what was listed (before anything is read)."""
        ...

    def value(self, algorithm: Algorithm) -> int:
        """The whole file's value of ``algorithm``."""
        ...

    def part_values(self, algorithm: Algorithm) -> list[int]:
        """Each part's value of ``algorithm``, with this run's part plan."""
        ...


def same_object(head: ObjectInfo | None, local: LocalFacts) -> str | None:
    """Why the stored object already holds the file (skip it), or None (upload it)."""
    if head is None or head.size != local.size:
        return None
    local.unchanged()
    for algorithm in REPORTED:
        reported = getattr(head, algorithm.field or "", None)
        if reported:
            same = _same(algorithm, reported, head.checksum_type, local)
            return f"exists with the same size and {algorithm.label}" if same else None
    etag = (head.etag or "").lower()
    value, _, count = etag.partition("-")
    if len(value) != 32:
        return "exists with the same size (no checksum to compare)"
    if not count:
        same = local.value(MD5) == int(value, 16)
    elif count.isdigit() and int(count) == local.nparts > 1:
        joined = b"".join(v.to_bytes(16, "big") for v in local.part_values(MD5))
        same = hashlib.md5(joined, usedforsecurity=False).hexdigest() == value
    else:  # another part plan, or not an MD5 (SSE-KMS): nothing to compare
        return "exists with the same size (no checksum to compare)"
    return "exists with the same size and MD5" if same else None


def _same(algorithm: Algorithm, reported: str, kind: str | None, local: LocalFacts) -> bool:
    """Whether a reported checksum is the local file's: a full-object one is the whole file's;
    a composite one is made of this run's parts, and only a count that matches can be."""
    value, _, count = reported.partition("-")
    if kind == "FULL_OBJECT" or (not count and kind is None):
        return value == algorithm.wire(local.value(algorithm))
    if count and not count.isdigit():
        return False
    if count == "1" or (not count and local.nparts == 1):
        return value == algorithm.composite([local.value(algorithm)]).partition("-")[0]
    if count and int(count) != local.nparts:
        return False  # another part plan: cannot compare, so upload again
    return value == algorithm.composite(local.part_values(algorithm)).partition("-")[0]


class FileFacts:
    """:class:`LocalFacts` of a file on disk, read in blocks."""

    def __init__(
        self,
        path: str,
        size: int,
        part_ranges: Sequence[tuple[int, int]],
        unchanged: Any,
    ) -> None:
        self.path, self.size = path, size
        self._ranges = part_ranges
        self.nparts = len(part_ranges)
        self._unchanged = unchanged

    def unchanged(self) -> None:
        self._unchanged()

    def value(self, algorithm: Algorithm) -> int:
        return algorithm.of_file(self.path, 0, self.size)

    def part_values(self, algorithm: Algorithm) -> list[int]:
        return [algorithm.of_file(self.path, offset, length) for offset, length in self._ranges]
