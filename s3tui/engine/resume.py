"""Which stored parts of an interrupted multipart upload are the local bytes, so only the others
are sent again.

A part is reused only on proof: the same size, and an MD5 of the local range equal to the stored
copy's ETag (S3 and SeaweedFS make a part's ETag the MD5 of its bytes, except under SSE-KMS /
SSE-C on AWS), and the CRC32C too when the store lists one. That is 128 bits (160 with the CRC)
per part: a coincidence is not a realistic risk. An ETag that is not an MD5 proves nothing, and
a CRC32C alone (32 bits) is too little: such a part is sent again.

SeaweedFS keeps every copy of a part sent twice and lists them all; the copy that matches is the
one to complete with (its ETag names it in CompleteMultipartUpload).
"""

from __future__ import annotations

import hashlib
import re
from collections.abc import Iterable
from dataclasses import dataclass

from s3tui.engine.crc import crc32c
from s3tui.engine.remote import PartInfo, crc32c_b64

_MD5_ETAG = re.compile(r"^[0-9a-f]{32}$")


@dataclass(frozen=True)
class LocalPart:
    """What the local bytes of one part are: to be compared with a stored copy."""

    number: int
    size: int
    md5: str  # hex, lower case
    crc32c: int

    @classmethod
    def of(cls, number: int, data: bytes | memoryview) -> LocalPart:
        return cls(number, len(data), hashlib.md5(data).hexdigest(), crc32c(data))

    @classmethod
    def of_blocks(cls, number: int, blocks: Iterable[bytes | memoryview]) -> LocalPart:
        """The same, from the part's bytes in pieces: a part of a file (up to 5 GiB) is hashed
        as it is read, never held whole."""
        md5 = hashlib.md5(usedforsecurity=False)
        crc = size = 0
        for block in blocks:
            md5.update(block)
            crc = crc32c(block, crc)
            size += len(block)
        return cls(number, size, md5.hexdigest(), crc)


def copies_by_number(listed: Iterable[PartInfo]) -> dict[int, list[PartInfo]]:
    """ListParts' entries grouped by part number, copies in the order listed."""
    found: dict[int, list[PartInfo]] = {}
    for p in listed:
        found.setdefault(p.number, []).append(p)
    return found


def provable(copy: PartInfo) -> bool:
    """Whether a stored copy can be checked at all: its ETag is an MD5."""
    return copy.etag is not None and _MD5_ETAG.match(copy.etag.lower()) is not None


def matching_copy(copies: Iterable[PartInfo], local: LocalPart) -> PartInfo | None:
    """The stored copy of ``local``'s part number that holds exactly its bytes, or None."""
    for copy in copies:
        if copy.number != local.number or copy.size != local.size or not provable(copy):
            continue
        if (copy.etag or "").lower() != local.md5:
            continue
        if copy.checksum_crc32c is not None and copy.checksum_crc32c != crc32c_b64(local.crc32c):
            continue
        return copy
    return None


def part_plan(copies: dict[int, list[PartInfo]]) -> list[int]:
    """The sizes of parts 1..n as stored, as far as they run without a gap: the plan a resumed
    stream is cut by. Copies of one number that differ in size leave it (and what follows) out:
    which one the interrupted run meant cannot be told."""
    sizes: list[int] = []
    number = 1
    while number in copies:
        found = {c.size for c in copies[number]}
        if len(found) != 1:
            break
        sizes.append(found.pop())
        number += 1
    return sizes
