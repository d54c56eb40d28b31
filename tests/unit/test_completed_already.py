"""Deciding whether the object at a key is exactly the parts we sent (pure logic, fake HEAD)."""

from __future__ import annotations

import hashlib
from typing import Any

from s3tui.engine.remote.calls import Remote, composite_crc32c_b64, multipart_etag, object_info
from s3tui.engine.remote.store import Stored

PARTS = [
    (2, '"' + hashlib.md5(b"b").hexdigest() + '"', 222),
    (1, hashlib.md5(b"a").hexdigest(), 111),
]


class _Client:
    class meta:  # mimics botocore's client.meta
        endpoint_url = "http://s3.test"


def _remote(head: dict[str, Any] | None) -> Remote:
    remote = Remote(_Client(), "bkt")
    info = None if head is None else object_info(head)  # as Remote.head reads the answer
    remote.head = lambda key: info  # type: ignore[method-assign]
    return remote


def test_multipart_etag_is_md5_of_part_md5s() -> None:
    want = hashlib.md5(hashlib.md5(b"a").digest() + hashlib.md5(b"b").digest()).hexdigest()
    assert multipart_etag(
        [hashlib.md5(b"a").hexdigest(), f'"{hashlib.md5(b"b").hexdigest()}"']
    ) == (f"{want}-2")
    assert multipart_etag(["not-hex"]) == ""


def test_same_size_and_checksum_is_ours_with_or_without_the_part_count() -> None:
    composite = composite_crc32c_b64([111, 222])
    for reported in (composite, composite.split("-")[0]):
        found = _remote({"ContentLength": 10, "ChecksumCRC32C": reported, "ETag": '"x"'})
        assert found.completed_already("k", 10, PARTS) == Stored("x", composite)


def test_other_checksum_size_or_missing_object_is_not_ours() -> None:
    composite = composite_crc32c_b64([111, 222])
    assert _remote(None).completed_already("k", 10, PARTS) is None
    other = {"ContentLength": 10, "ChecksumCRC32C": composite_crc32c_b64([1, 2])}
    assert _remote(other).completed_already("k", 10, PARTS) is None
    bigger = {"ContentLength": 11, "ChecksumCRC32C": composite}
    assert _remote(bigger).completed_already("k", 10, PARTS) is None


def test_without_a_checksum_the_multipart_etag_decides() -> None:
    etag = multipart_etag([tag for _, tag, _ in sorted(PARTS)])
    assert _remote({"ContentLength": 10, "ETag": f'"{etag}"'}).completed_already("k", 10, PARTS)
    assert (
        _remote({"ContentLength": 10, "ETag": '"abc-2"'}).completed_already("k", 10, PARTS) is None
    )
