"""``--skip-existing``: whether the object already stored at a key holds a local file.

:func:`same_object` takes what a HeadObject said and the local file's facts (size, part plan,
checksums computed on demand) and decides; it sends no request and reads nothing itself, so it is
tested with made-up answers (tests/unit/test_skip.py).

The object holds the file when it has the same size and, as far as S3 can tell, the same
content: its CRC32C (s3tui's single puts; the composite ``b64-N`` of a multipart upload,
recomputed locally with this run's part plan), a full-object CRC32 (aws cli), or the MD5 ETag of
a single-part object. An object with none of those is taken on size alone; a multipart object
with a different part count (another ``--chunk-size`` or tool) cannot be compared, so the file is
uploaded again.
"""

from __future__ import annotations

import base64
import hashlib
import zlib
from collections.abc import Sequence
from typing import Any, Protocol

from s3tui.engine.localfile import blocks, crc32c_range
from s3tui.engine.remote import ObjectInfo, composite_crc32c_b64, crc32c_b64


class LocalFacts(Protocol):
    """What the comparison needs of the local file; checksums are computed only when asked."""

    size: int
    nparts: int  # parts of this run's plan; 1 for a single PutObject

    def unchanged(self) -> None:
        """Raise if the file is no longer what was listed (before anything is read)."""
        ...

    def crc32c(self) -> int: ...

    def part_crc32cs(self) -> list[int]: ...

    def crc32(self) -> int: ...

    def md5_hex(self) -> str: ...


def same_object(head: ObjectInfo | None, local: LocalFacts) -> str | None:
    """Why the stored object already holds the file (skip it), or None (upload it)."""
    if head is None or head.size != local.size:
        return None
    local.unchanged()
    crc_c, crc_32 = head.checksum_crc32c, head.checksum_crc32
    if crc_c:
        count = crc_c.partition("-")[2]
        if not count:
            same = crc_c == crc32c_b64(local.crc32c())
        elif int(count) == 1:
            same = crc_c == composite_crc32c_b64([local.crc32c()])
        elif local.nparts > 1 and int(count) == local.nparts:
            same = crc_c == composite_crc32c_b64(local.part_crc32cs())
        else:
            return None  # another part plan: cannot compare, so upload again
        return "exists with the same size and CRC32C" if same else None
    if crc_32:
        if "-" in crc_32:
            return None
        same = crc_32 == base64.b64encode(local.crc32().to_bytes(4, "big")).decode()
        return "exists with the same size and CRC32" if same else None
    etag = head.etag or ""
    if len(etag) == 32 and "-" not in etag:
        return "exists with the same size and MD5" if local.md5_hex() == etag else None
    return "exists with the same size (no checksum to compare)"


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

    def crc32c(self) -> int:
        return crc32c_range(self.path, 0, self.size)

    def part_crc32cs(self) -> list[int]:
        return [crc32c_range(self.path, offset, length) for offset, length in self._ranges]

    def crc32(self) -> int:
        crc = 0
        for block in blocks(self.path, 0, self.size):
            crc = zlib.crc32(block, crc)
        return crc

    def md5_hex(self) -> str:
        md5 = hashlib.md5(usedforsecurity=False)
        for block in blocks(self.path, 0, self.size):
            md5.update(block)
        return md5.hexdigest()
