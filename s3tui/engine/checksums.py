"""Every checksum s3tui can send, in one place: how each is computed, combined, sent and reported.

An :class:`Algorithm` is one kind of digest (CRC32C, CRC64NVME, SHA-256, MD5, CRC32, or none);
a :class:`Checksum` is what an upload uses: an algorithm and, for the CRCs, whether S3 keeps a
*full-object* checksum of a multipart object or a *composite* one (the checksum of the parts'
checksums, ``-N``). The jobs compute values with :meth:`Algorithm.hasher` (or
:meth:`~Algorithm.of`, :meth:`~Algorithm.of_file`) and hand them to the store as unsigned integers
of the algorithm's width; the store asks the :class:`Checksum` for the request parameters and
how to read S3's answer. No other module says ``if algorithm == ...``.

Why the full-object checksums are *combined* from the parts' CRCs (``crc(A || B)`` from
``crc(A)``, ``crc(B)`` and ``len(B)``) instead of one running CRC over the stream: the parts of a
file are read by several workers in any order, and a retried part is read again; combining the
stored parts' values at completion needs no order and no second pass.

CRC32C comes from the ``crc32c`` package (hardware, loaded lean by :mod:`s3tui.engine.crc`);
CRC64NVME and the CRC combines from ``awscrt`` (what botocore itself uses for CRC64NVME), imported
only by an upload that needs them (~0.08 s).
"""

from __future__ import annotations

import base64
import hashlib
import re
import zlib
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass
from typing import Any, Protocol

BLOCK = 1024 * 1024


class Hasher(Protocol):
    def update(self, data: Any) -> None: ...

    def value(self) -> int: ...


class _Crc:
    """A running CRC over ``fn(data, previous)``."""

    def __init__(self, fn: Callable[[Any, int], int]) -> None:
        self._fn, self._value = fn, 0

    def update(self, data: Any) -> None:
        self._value = self._fn(data, self._value)

    def value(self) -> int:
        return self._value


class _Hash:
    """A hashlib digest as an integer."""

    def __init__(self, name: str) -> None:
        self._h = hashlib.new(name, usedforsecurity=False)

    def update(self, data: Any) -> None:
        self._h.update(data)

    def value(self) -> int:
        return int.from_bytes(self._h.digest(), "big")


class _Nothing:
    def update(self, data: Any) -> None:
        pass

    def value(self) -> int:
        return 0


def _crc32c(data: Any, value: int = 0) -> int:
    from s3tui.engine.crc import crc32c

    return crc32c(data, value)


def _crc64nvme(data: Any, value: int = 0) -> int:
    from awscrt.checksums import crc64nvme

    return crc64nvme(data, value)


def _combiner(name: str) -> Callable[[int, int, int], int]:
    def combine(a: int, b: int, length_b: int) -> int:
        from awscrt import checksums

        return getattr(checksums, f"combine_{name}")(a, b, length_b)

    return combine


@dataclass(frozen=True)
class Algorithm:
    """One digest: its ``--checksum`` name, how S3 names it and where it travels."""

    name: str  # as --checksum spells it
    s3: str | None  # ChecksumAlgorithm; None: not an S3 checksum (md5, none)
    width: int  # bytes of a value
    param: str | None  # botocore's request/answer parameter (ChecksumCRC32C, ContentMD5)
    header: str | None  # the same on the wire
    _new: Callable[[], Hasher]
    _combine: Callable[[int, int, int], int] | None = None  # a CRC: full-object capable

    @property
    def label(self) -> str:
        return {"md5": "Content-MD5", "none": "no checksum"}.get(self.name, self.name.upper())

    @property
    def sends(self) -> bool:
        """Whether requests carry a value of it."""
        return self.param is not None

    @property
    def is_crc(self) -> bool:
        return self._combine is not None

    @property
    def field(self) -> str | None:
        """The attribute of :class:`~s3tui.engine.remote.store.Stored` and ``ObjectInfo`` that
        holds what S3 reports of it."""
        return f"checksum_{self.name}" if self.s3 else None

    def hasher(self) -> Hasher:
        return self._new()

    def of(self, data: Any) -> int:
        h = self._new()
        h.update(data)
        return h.value()

    def of_file(self, path: str, offset: int, length: int) -> int:
        """The value of ``length`` bytes of a file from ``offset``, read in blocks."""
        h = self._new()
        if self.name == "none" or length == 0:
            return h.value()
        with open(path, "rb", buffering=0) as f:
            f.seek(offset)
            left = length
            while left > 0:
                block = f.read(min(BLOCK, left))
                if not block:
                    break
                h.update(block)
                left -= len(block)
        return h.value()

    def wire(self, value: int) -> str:
        """How S3 writes a value: base64 of its big-endian bytes (Content-MD5 alike)."""
        return base64.b64encode(value.to_bytes(self.width, "big")).decode("ascii")

    def combine(self, values: Sequence[int], lengths: Sequence[int]) -> int:
        """The CRC of the parts' bytes end to end, from each part's CRC and length."""
        assert self._combine is not None, f"{self.name} cannot be combined"
        total = values[0] if values else 0
        for value, length in zip(values[1:], lengths[1:], strict=True):
            total = self._combine(total, value, length)
        return total

    def composite(self, values: Sequence[int]) -> str:
        """S3's composite checksum of a multipart object: the checksum of the parts' checksums
        (their bytes end to end), ``-N``."""
        joined = b"".join(v.to_bytes(self.width, "big") for v in values)
        return f"{self.wire(self.of(joined))}-{len(values)}"


CRC32C = Algorithm("crc32c", "CRC32C", 4, "ChecksumCRC32C", "x-amz-checksum-crc32c",
                   lambda: _Crc(_crc32c), _combiner("crc32c"))  # fmt: skip
CRC64NVME = Algorithm("crc64nvme", "CRC64NVME", 8, "ChecksumCRC64NVME", "x-amz-checksum-crc64nvme",
                      lambda: _Crc(_crc64nvme), _combiner("crc64nvme"))  # fmt: skip
CRC32 = Algorithm("crc32", "CRC32", 4, "ChecksumCRC32", "x-amz-checksum-crc32",
                  lambda: _Crc(zlib.crc32), _combiner("crc32"))  # fmt: skip
SHA256 = Algorithm("sha256", "SHA256", 32, "ChecksumSHA256", "x-amz-checksum-sha256",
                   lambda: _Hash("sha256"))  # fmt: skip
MD5 = Algorithm("md5", None, 16, "ContentMD5", "content-md5", lambda: _Hash("md5"))
NONE = Algorithm("none", None, 0, None, None, _Nothing)

ALGORITHMS = {a.name: a for a in (CRC32C, CRC64NVME, SHA256, MD5, NONE, CRC32)}
CHOICES = ("crc32c", "crc64nvme", "sha256", "md5", "none", "crc32")  # for --checksum
# What a HeadObject may report, most telling first (for --skip-existing).
REPORTED = (CRC64NVME, CRC32C, CRC32, SHA256)

_MD5_ETAG = re.compile(r"^[0-9a-f]{32}(-\d+)?$")


@dataclass(frozen=True)
class Checksum:
    """What one upload sends and checks: an algorithm and, for a CRC, the multipart type."""

    algorithm: Algorithm
    full_object: bool = False  # for a CRC: FULL_OBJECT instead of COMPOSITE (CRC64NVME: always)

    def __post_init__(self) -> None:
        if self.algorithm is CRC64NVME and not self.full_object:
            object.__setattr__(self, "full_object", True)  # S3 has no composite CRC64NVME
        if self.full_object and not self.algorithm.is_crc:
            object.__setattr__(self, "full_object", False)

    @property
    def label(self) -> str:
        if self.algorithm.s3 is None:
            return self.algorithm.label
        kind = "full object" if self.full_object else "composite"
        return f"{self.algorithm.label} ({kind})"

    # --- what is sent ---
    def create_args(self) -> dict[str, str]:
        """CreateMultipartUpload's parameters."""
        a = self.algorithm
        if a.s3 is None:
            return {}
        return {"ChecksumAlgorithm": a.s3, "ChecksumType": self.kind}

    @property
    def kind(self) -> str:
        return "FULL_OBJECT" if self.full_object else "COMPOSITE"

    def request_args(self, value: int) -> dict[str, str]:
        """A PutObject's or UploadPart's checksum parameter (the server verifies it)."""
        a = self.algorithm
        return {a.param: a.wire(value)} if a.param else {}

    def request_header(self, value: int) -> tuple[str, str] | None:
        a = self.algorithm
        return (a.header, a.wire(value)) if a.header else None

    def part_entry(self, value: int) -> dict[str, str]:
        """A part's checksum in CompleteMultipartUpload's list."""
        a = self.algorithm
        return {a.param: a.wire(value)} if a.s3 else {}

    def complete_args(self, values: Sequence[int], lengths: Sequence[int]) -> dict[str, str]:
        """The whole object's checksum, sent with CompleteMultipartUpload for S3 to check."""
        if not self.full_object or not values:
            return {}
        a = self.algorithm
        assert a.param is not None
        return {a.param: a.wire(a.combine(values, lengths)), "ChecksumType": "FULL_OBJECT"}

    # --- what S3 should report ---
    def single(self, value: int) -> str | None:
        """What S3 reports of an object stored by one PutObject (MD5: its ETag)."""
        a = self.algorithm
        if a is MD5:
            return f"{value:032x}"
        return a.wire(value) if a.s3 else None

    def multipart(self, values: Sequence[int], lengths: Sequence[int]) -> str | None:
        """What S3 reports of a completed multipart object made of these parts."""
        a = self.algorithm
        if a is NONE:
            return None
        if a is MD5:  # the multipart ETag: MD5 of the parts' MD5s, -N
            joined = b"".join(v.to_bytes(16, "big") for v in values)
            return f"{hashlib.md5(joined, usedforsecurity=False).hexdigest()}-{len(values)}"
        if self.full_object:
            return a.wire(a.combine(values, lengths))
        return a.composite(values)

    def reported(self, answer: Any) -> str | None:
        """What ``answer`` (a Stored or an ObjectInfo) says of the object in this algorithm's
        terms; None when it says nothing (MD5: an ETag that is no MD5, e.g. under SSE-KMS)."""
        a = self.algorithm
        if a is MD5:
            etag = (getattr(answer, "etag", None) or "").lower()
            return etag if _MD5_ETAG.match(etag) else None
        return getattr(answer, a.field, None) if a.field else None

    def same(self, reported: str, expected: str) -> bool:
        """Whether a reported checksum is the expected one; a HEAD may leave out the ``-N``."""
        if reported == expected:
            return True
        return "-" in expected and "-" not in reported and reported == expected.split("-")[0]

    def fallback(self) -> Checksum | None:
        """What to send when the store refuses this: Content-MD5 for the S3 checksums, nothing
        for Content-MD5; None when nothing is sent already."""
        if self.algorithm.s3 is not None:
            return Checksum(MD5)
        if self.algorithm is MD5:
            return Checksum(NONE)
        return None


DEFAULT = Checksum(CRC32C)
FULL_OBJECT_TYPES = ("composite", "full-object")


def choose(name: str | None, kind: str | None) -> Checksum:
    """The Checksum of ``--checksum NAME --checksum-type KIND`` (both already valid names).

    The type defaults to what S3 does for the algorithm by default: full object for CRC64NVME,
    composite for the others (so s3tui's objects keep the checksums earlier runs gave them).
    """
    algorithm = ALGORITHMS[name or "crc32c"]
    if kind == "composite" and algorithm is CRC64NVME:
        raise ValueError("S3 keeps CRC64NVME as a full-object checksum only")
    if kind == "full-object" and not algorithm.is_crc:
        raise ValueError(f"{algorithm.name} has no full-object type (only the CRCs do)")
    return Checksum(algorithm, full_object=kind == "full-object" or algorithm is CRC64NVME)


def parts_values(parts: Iterable[tuple[int, int]]) -> tuple[list[int], list[int]]:
    """``[(value, length), ...]`` -> (values, lengths)."""
    values, lengths = [], []
    for value, length in parts:
        values.append(value)
        lengths.append(length)
    return values, lengths
