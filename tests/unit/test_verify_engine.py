"""``s3tui verify``'s decision for one file (s3tui.engine.verify.check_file) against made-up
HeadObject answers: which stored checksum decides, over which part sizes, and when only the
bytes can tell."""

from __future__ import annotations

import base64
import hashlib
from collections.abc import Iterator
from pathlib import Path

import pytest

from s3tui.engine import verify
from s3tui.engine.crc import crc32c
from s3tui.engine.remote.store import ObjectSums
from s3tui.engine.verify import check_file

KiB = 1024


def _crc(data: bytes) -> bytes:
    return crc32c(data).to_bytes(4, "big")


def _b64(raw: bytes) -> str:
    return base64.b64encode(raw).decode()


class FakeStore:
    """One object made of ``parts``; reports what it is told to; counts downloads."""

    def __init__(
        self,
        parts: list[bytes],
        *,
        crc: str | None = "composite",  # "composite", "full", "bare" (moto: no -N), None
        listed: bool = True,
        checksum_type: str | None = None,
        etag: bool = True,
    ) -> None:
        self.parts, self.listed, self.downloads = parts, listed, 0
        data = b"".join(parts)
        sums: dict[str, str] = {}
        n = len(parts)
        composite = _b64(_crc(b"".join(_crc(p) for p in parts)))
        if crc == "composite":
            sums["crc32c"] = f"{composite}-{n}" if n > 1 else composite
        elif crc == "bare":
            sums["crc32c"] = composite
        elif crc == "full":
            sums["crc32c"] = _b64(_crc(data))
        if n > 1:
            md5s = b"".join(hashlib.md5(p).digest() for p in parts)
            tag = f"{hashlib.md5(md5s).hexdigest()}-{n}"
        else:
            tag = hashlib.md5(data).hexdigest()
        self.head = ObjectSums(len(data), tag if etag else None, sums, checksum_type)

    def head_sums(self, key: str, part_number: int | None = None) -> ObjectSums | None:
        if part_number:
            return ObjectSums(len(self.parts[0]), None, {}, parts_count=len(self.parts))
        return self.head

    def part_sizes(self, key: str) -> list[int] | None:
        return [len(p) for p in self.parts] if self.listed else None

    def read_object(self, key: str, block: int = 1 << 20) -> Iterator[bytes]:
        self.downloads += 1
        data = b"".join(self.parts)
        for i in range(0, len(data), 7 * KiB):
            yield data[i : i + 7 * KiB]


def _file(tmp_path: Path, data: bytes) -> tuple[str, int]:
    p = tmp_path / "f"
    p.write_bytes(data)
    return str(p), len(data)


PARTS = [bytes([i]) * (64 * KiB) for i in range(1, 4)] + [b"end" * 100]


def test_composite_crc32c_over_listed_parts_decides_both_ways(tmp_path: Path) -> None:
    store = FakeStore(PARTS)
    path, size = _file(tmp_path, b"".join(PARTS))
    v = check_file(store, path, "k", size)
    assert (v.method, v.result) == ("crc32c", "match")
    changed = bytearray(b"".join(PARTS))
    changed[100] ^= 1
    path, size = _file(tmp_path, bytes(changed))
    v = check_file(store, path, "k", size)
    assert (v.method, v.result, store.downloads) == ("crc32c", "differs", 0)


def test_inferred_part_sizes_that_disagree_send_it_to_the_download(tmp_path: Path) -> None:
    """Uneven parts, not listed: the first part's size gives a wrong layout, so a mismatch
    cannot be trusted and the bytes decide (here: the same bytes)."""
    uneven = [b"a" * (80 * KiB), b"b" * (64 * KiB), b"c" * (70 * KiB)]  # guessed: 80, 80, 54
    store = FakeStore(uneven, listed=False)
    path, size = _file(tmp_path, b"".join(uneven))
    v = check_file(store, path, "k", size)
    assert (v.method, v.result, store.downloads) == ("downloaded", "match", 1)


def test_inferred_even_parts_decide_without_a_download(tmp_path: Path) -> None:
    store = FakeStore(PARTS, listed=False)
    path, size = _file(tmp_path, b"".join(PARTS))
    v = check_file(store, path, "k", size)
    assert (v.method, v.result, store.downloads) == ("crc32c", "match", 0)


def test_a_checksum_without_its_part_count_on_a_multipart_object(tmp_path: Path) -> None:
    """moto reports a composite CRC32C without '-N': the ETag's count says it is multipart."""
    store = FakeStore(PARTS, crc="bare", listed=False)
    path, size = _file(tmp_path, b"".join(PARTS))
    assert check_file(store, path, "k", size).method == "crc32c"


def test_full_object_crc_and_single_part_etag(tmp_path: Path) -> None:
    data = b"".join(PARTS)
    path, size = _file(tmp_path, data)
    store = FakeStore(PARTS, crc="full", checksum_type="FULL_OBJECT")
    assert check_file(store, path, "k", size).method == "crc32c"
    single = FakeStore([data], crc=None)
    v = check_file(single, path, "k", size)
    assert (v.method, v.result) == ("etag md5", "match")


def test_a_multipart_etag_decides_when_there_is_no_checksum(tmp_path: Path) -> None:
    store = FakeStore(PARTS, crc=None)
    path, size = _file(tmp_path, b"".join(PARTS))
    v = check_file(store, path, "k", size)
    assert (v.method, v.result, store.downloads) == ("etag md5", "match", 0)


def test_nothing_to_compare_downloads_and_finds_the_difference(tmp_path: Path) -> None:
    store = FakeStore(PARTS, crc=None, etag=False)
    changed = bytearray(b"".join(PARTS))
    changed[-1] ^= 1
    path, size = _file(tmp_path, bytes(changed))
    v = check_file(store, path, "k", size)
    assert (v.method, v.result, store.downloads) == ("downloaded", "differs", 1)
    v = check_file(store, path, "k", size, download=False)
    assert (v.result, store.downloads) == ("error", 1)


def test_size_and_missing(tmp_path: Path) -> None:
    store = FakeStore(PARTS)
    path, size = _file(tmp_path, b"short")
    assert (check_file(store, path, "k", size).result, store.downloads) == ("differs", 0)
    store.head = None  # type: ignore[assignment]
    assert check_file(store, path, "k", size).result == "missing"


def test_crc64nvme_without_awscrt_falls_back(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(verify, "_crc64nvme", lambda: None)
    data = b"".join(PARTS)
    store = FakeStore([data], crc=None)
    store.head = ObjectSums(len(data), store.head.etag, {"crc64nvme": "AAAAAAAAAAA="})
    path, size = _file(tmp_path, data)
    assert check_file(store, path, "k", size).method == "etag md5"


def test_growing_parts_of_an_unknown_size_stream() -> None:
    """s3tui's own plan for a stream: the part size doubles after 1,000 parts."""
    first = 5 * 1024 * 1024
    sizes = verify._growing(first, 1000 * first + 2 * first + 7, 1002)
    assert sizes is not None and sizes[999] == first and sizes[1000] == 2 * first
    assert sizes[-1] == 7 and verify._uniform(first, 1000 * first + 2 * first + 7, 1002) is None
