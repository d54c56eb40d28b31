"""``s3tui verify``: does the object stored at a key hold a local file's bytes?

Cheapest proof first, without downloading: a checksum S3 stores with the object (CRC32C,
CRC64NVME, CRC32, SHA-256, SHA-1; full-object or the composite ``b64-N`` of a multipart upload,
recomputed locally over the object's own part sizes), then an ETag that is an MD5 (one part: the
file's MD5; ``-N``: the MD5 of the parts' MD5s). Only when none of those can decide is the object
streamed (GetObject) and compared with the file byte for byte.

A stored checksum that disagrees is only taken as proof of a difference when nothing was
guessed: a whole-object checksum, or a composite one over part sizes the store listed. A
composite over a guessed layout (sizes inferred from the first part), or an ETag (which some
stores do not make an MD5), that disagrees sends the file on to the download instead.
"""

from __future__ import annotations

import base64
import hashlib
import threading
import zlib
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from typing import Protocol

from s3tui.engine.crc import crc32c
from s3tui.engine.localfile import blocks
from s3tui.engine.plan import MAX_PARTS, plan_parts
from s3tui.engine.remote.store import ObjectSums

MATCH, DIFFERS, MISSING, ERROR = "match", "differs", "missing", "error"
DOWNLOADED, ETAG_MD5, SIZE = "downloaded", "etag md5", "size"
# Stored checksums in the order they are tried: hardware CRC32C is the cheapest to recompute.
CHECKSUM_ORDER = ("crc32c", "crc64nvme", "crc32", "sha256", "sha1")
# Under these the ETag is not the MD5 of the bytes.
_OPAQUE_ETAG_SSE = ("aws:kms", "aws:kms:dsse", "SSE-C")


class VerifyStore(Protocol):
    """What verify reads of the bucket (implemented by Remote)."""

    def head_sums(self, key: str, part_number: int | None = None) -> ObjectSums | None: ...

    def part_sizes(self, key: str) -> list[int] | None: ...

    def read_object(self, key: str, block: int = 1 << 20) -> Iterator[bytes]: ...


@dataclass(frozen=True)
class Verdict:
    """One file against its key: how it was checked and what was found."""

    path: str
    key: str
    size: int
    method: str  # a checksum name, "etag md5", "downloaded", "size", or "" (missing/error)
    result: str  # match, differs, missing, error
    detail: str = ""


# --- local digests ---------------------------------------------------------------------------


def _crc64nvme() -> Callable[[bytes, int], int] | None:
    try:
        from awscrt.checksums import crc64nvme  # optional: botocore[crt]
    except ImportError:
        return None
    return crc64nvme


def _hasher(algo: str) -> Callable[[Iterator[bytes]], bytes] | None:
    """A function from blocks to the digest bytes S3 encodes, or None if it cannot be made."""

    def crc(update: Callable[[bytes, int], int], width: int) -> Callable[[Iterator[bytes]], bytes]:
        def run(data: Iterator[bytes]) -> bytes:
            value = 0
            for block in data:
                value = update(block, value)
            return value.to_bytes(width, "big")

        return run

    def hashed(name: str) -> Callable[[Iterator[bytes]], bytes]:
        def run(data: Iterator[bytes]) -> bytes:
            h = hashlib.new(name, usedforsecurity=False)
            for block in data:
                h.update(block)
            return h.digest()

        return run

    if algo == "crc32c":
        return crc(crc32c, 4)
    if algo == "crc32":
        return crc(zlib.crc32, 4)
    if algo == "crc64nvme":
        nvme = _crc64nvme()
        return crc(nvme, 8) if nvme is not None else None
    if algo in ("sha256", "sha1", "md5"):
        return hashed(algo)
    return None


def available(algo: str) -> bool:
    """Whether this machine can recompute ``algo`` (CRC64NVME needs awscrt)."""
    return _hasher(algo) is not None


def _b64(raw: bytes) -> str:
    return base64.b64encode(raw).decode("ascii")


class LocalFile:
    """A local file's digests, computed on demand; ``counted`` gets the bytes read."""

    def __init__(self, path: str, size: int, counted: Callable[[int], None]) -> None:
        self.path, self.size, self._counted = path, size, counted

    def _blocks(self, offset: int, length: int) -> Iterator[bytes]:
        for block in blocks(self.path, offset, length):
            self._counted(len(block))
            yield block

    def whole(self, algo: str) -> bytes:
        run = _hasher(algo)
        assert run is not None
        return run(self._blocks(0, self.size))

    def composite(self, algo: str, sizes: list[int]) -> bytes:
        """S3's composite: the digest of the concatenated part digests."""
        run = _hasher(algo)
        assert run is not None
        joined, offset = b"", 0
        for length in sizes:
            joined += run(self._blocks(offset, length))
            offset += length
        return run(iter([joined]))


# --- the part layout of a multipart object --------------------------------------------------


@dataclass(frozen=True)
class Layout:
    sizes: list[int]
    listed: bool  # from the store's own listing; else inferred from the first part's size


def _uniform(first: int, total: int, count: int) -> list[int] | None:
    """Parts of ``first`` bytes and a shorter last one (most tools), if that makes ``count``."""
    if first <= 0 or count < 1:
        return None
    sizes = [first] * (count - 1) + [total - first * (count - 1)]
    return sizes if 0 < sizes[-1] <= first else None


def _growing(first: int, total: int, count: int) -> list[int] | None:
    """s3tui's plan for a stream of unknown size (the part size doubles every 1,000 parts)."""
    try:
        plan = plan_parts(first, None)
    except ValueError:
        return None
    sizes: list[int] = []
    left = total
    for number in range(1, min(count, MAX_PARTS) + 1):
        if left <= 0:
            break
        size = min(plan.size_of(number), left)
        sizes.append(size)
        left -= size
    return sizes if left == 0 and len(sizes) == count else None


def layout(store: VerifyStore, key: str, total: int, count: int | None) -> Layout | None:
    """The part sizes of the multipart object at ``key``: listed by the store, else inferred
    from the first part's size (HeadObject with PartNumber=1, which also gives the count)."""
    listed = store.part_sizes(key)
    if listed and sum(listed) == total and (count is None or len(listed) == count):
        return Layout(listed, True)
    first = store.head_sums(key, part_number=1)
    if first is None or first.size is None:
        return None
    count = count or first.parts_count
    if not count:
        return None
    for guess in (_uniform(first.size, total, count), _growing(first.size, total, count)):
        if guess is not None:
            return Layout(guess, False)
    return None


# --- one file ---------------------------------------------------------------------------------


def _parts_of_etag(etag: str | None) -> int | None:
    """N of a multipart ETag ``hex-N``; None for a single-part one."""
    _, dash, n = (etag or "").rpartition("-")
    return int(n) if dash and n.isdigit() else None


class _Undecided(Exception):
    """This method cannot say: try the next one."""


def check_file(
    store: VerifyStore,
    path: str,
    key: str,
    size: int,
    *,
    counted: Callable[[int], None] = lambda n: None,
    downloaded: Callable[[int], None] = lambda n: None,
    download: bool = True,
) -> Verdict:
    """Whether the object at ``key`` holds the file ``path`` of ``size`` bytes."""
    head = store.head_sums(key)
    if head is None:
        return Verdict(path, key, size, "", MISSING, "no object at this key")
    if head.size != size:
        return Verdict(
            path, key, size, SIZE, DIFFERS, f"the object has {head.size} bytes, the file {size}"
        )
    local = LocalFile(path, size, counted)
    cache: dict[str, Layout | None] = {}

    def parts(count: int | None) -> Layout | None:
        if "layout" not in cache:
            cache["layout"] = layout(store, key, size, count)
        return cache["layout"]

    for algo in CHECKSUM_ORDER:
        stored = head.checksums.get(algo)
        if stored is None or not available(algo):
            continue
        try:
            return _by_checksum(path, key, size, head, algo, stored, local, parts)
        except _Undecided:
            continue
    try:
        return _by_etag(path, key, size, head, local, parts)
    except _Undecided:
        pass
    if not download:
        return Verdict(path, key, size, "", ERROR, "no stored checksum decides it (not downloaded)")
    return _by_download(store, path, key, size, downloaded)


def _by_checksum(
    path: str,
    key: str,
    size: int,
    head: ObjectSums,
    algo: str,
    stored: str,
    local: LocalFile,
    parts: Callable[[int | None], Layout | None],
) -> Verdict:
    value, _, suffix = stored.partition("-")
    count = int(suffix) if suffix.isdigit() else None
    multipart = _parts_of_etag(head.etag)
    full_object = head.checksum_type == "FULL_OBJECT" or algo == "crc64nvme"
    if full_object or (count is None and head.checksum_type is None and multipart is None):
        same = _b64(local.whole(algo)) == value
        return Verdict(path, key, size, algo, MATCH if same else DIFFERS, _said(same, algo))
    # Composite: "-N", or COMPOSITE, or (moto) no suffix on a multipart object's checksum.
    untyped = count is None and head.checksum_type is None and algo.startswith("crc")
    if untyped and _b64(local.whole(algo)) == value:  # a full-object CRC after all
        return Verdict(path, key, size, algo, MATCH, _said(True, algo))
    lay = parts(count or multipart)
    if lay is None:
        raise _Undecided
    if count is not None and len(lay.sizes) != count:
        raise _Undecided
    same = _b64(local.composite(algo, lay.sizes)) == value
    if same:
        return Verdict(path, key, size, algo, MATCH, _said(True, algo, len(lay.sizes)))
    if lay.listed:
        return Verdict(path, key, size, algo, DIFFERS, _said(False, algo, len(lay.sizes)))
    raise _Undecided  # the inferred part sizes may be wrong: download instead


def _by_etag(
    path: str,
    key: str,
    size: int,
    head: ObjectSums,
    local: LocalFile,
    parts: Callable[[int | None], Layout | None],
) -> Verdict:
    etag = head.etag or ""
    if head.sse in _OPAQUE_ETAG_SSE or not etag:
        raise _Undecided
    digest, _, suffix = etag.partition("-")
    if len(digest) != 32 or any(c not in "0123456789abcdef" for c in digest.lower()):
        raise _Undecided
    if not suffix:
        if local.whole("md5").hex() == digest.lower():
            return Verdict(path, key, size, ETAG_MD5, MATCH, "same MD5 as the ETag")
        raise _Undecided  # a store may make ETags that are not MD5s: look at the bytes
    lay = parts(int(suffix) if suffix.isdigit() else None)
    if lay is None:
        raise _Undecided
    if local.composite("md5", lay.sizes).hex() == digest.lower():
        n = len(lay.sizes)
        return Verdict(path, key, size, ETAG_MD5, MATCH, f"same MD5s of {n} parts as the ETag")
    raise _Undecided


def _said(same: bool, algo: str, parts: int | None = None) -> str:
    over = f" over {parts} parts" if parts else ""
    return f"{'same' if same else 'different'} {algo.upper()}{over}"


def _by_download(
    store: VerifyStore, path: str, key: str, size: int, downloaded: Callable[[int], None]
) -> Verdict:
    """Stream the object and compare it with the file, block by block."""
    local = blocks(path, 0, size)
    pending = b""
    offset = 0
    for chunk in store.read_object(key):
        downloaded(len(chunk))
        view = memoryview(chunk)
        while view:
            if not pending:
                pending = next(local, b"")
                if not pending:
                    return _differs_at(path, key, size, offset, "the object is longer")
            n = min(len(pending), len(view))
            if view[:n] != pending[:n]:
                at = offset + next(i for i in range(n) if view[i] != pending[i])
                return _differs_at(path, key, size, at, "")
            offset += n
            view, pending = view[n:], pending[n:]
    if pending or next(local, b""):
        return _differs_at(path, key, size, offset, "the object is shorter")
    return Verdict(path, key, size, DOWNLOADED, MATCH, "same bytes")


def _differs_at(path: str, key: str, size: int, offset: int, why: str) -> Verdict:
    detail = why or f"first difference at byte {offset:,}"
    return Verdict(path, key, size, DOWNLOADED, DIFFERS, detail)


class Counter:
    """Bytes read locally and downloaded, for the progress line (thread-safe)."""

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self.hashed = 0
        self.downloaded = 0
        self.files_done = 0

    def add_hashed(self, n: int) -> None:
        with self._lock:
            self.hashed += n

    def add_downloaded(self, n: int) -> None:
        with self._lock:
            self.downloaded += n

    def file_done(self) -> None:
        with self._lock:
            self.files_done += 1
