"""The in-memory S3 double itself: what it stores, what it reports, the faults it injects."""

from __future__ import annotations

import hashlib

import pytest

from s3tui.engine.crc import crc32c
from s3tui.engine.remote import ObjectInfo, PartInfo, Stored, classify
from s3tui.engine.remote.calls import composite_crc32c_b64, crc32c_b64, multipart_etag
from tests.s3double import S3Double, s3_error


def test_put_and_head_report_what_s3_would() -> None:
    s3 = S3Double()
    assert s3.head("k") is None
    stored = s3.put_object("k", b"hello", 5, crc32c(b"hello"), {})
    md5 = hashlib.md5(b"hello").hexdigest()
    assert stored == Stored(md5, crc32c_b64(crc32c(b"hello")))
    assert s3.head("k") == ObjectInfo(5, md5, crc32c_b64(crc32c(b"hello")), None)
    s3.delete("k")
    assert s3.head("k") is None


def test_a_body_that_does_not_match_its_crc_is_refused() -> None:
    with pytest.raises(Exception) as err:
        S3Double().put_object("k", b"hello", 5, 1, {})
    assert classify(err.value).reason == "BadDigest"


def test_multipart_parts_listing_and_the_composite_checksum() -> None:
    s3 = S3Double()
    up = s3.create_multipart("k", {})
    one, two = b"a" * 10, b"b" * 4
    e1 = s3.upload_part("k", up, 1, b"x" * 10, 10, crc32c(b"x" * 10)).etag  # type: ignore[arg-type]
    assert e1 is not None
    p1 = s3.upload_part("k", up, 1, one, 10, crc32c(one))  # type: ignore[arg-type]
    p2 = s3.upload_part("k", up, 2, two, 4, crc32c(two))  # type: ignore[arg-type]
    assert s3.list_parts("k", up) == [
        PartInfo(1, 10, p1.etag, crc32c_b64(crc32c(one))),  # the part sent last
        PartInfo(2, 4, p2.etag, crc32c_b64(crc32c(two))),
    ]
    parts = [(2, p2.etag or "", crc32c(two)), (1, p1.etag or "", crc32c(one))]
    done = s3.complete_or_confirm("k", up, parts, 14, retried=False)
    composite = composite_crc32c_b64([crc32c(one), crc32c(two)])
    assert done == Stored(multipart_etag([p1.etag or "", p2.etag or ""]), composite)
    assert s3.objects["k"].data == one + two and not s3.uploads
    assert s3.abort("k", up) is False  # gone: completed


def test_a_retried_completion_told_no_such_upload_accepts_exactly_its_parts() -> None:
    s3 = S3Double()
    up = s3.create_multipart("k", {})
    p = s3.upload_part("k", up, 1, b"abc", 3, crc32c(b"abc"))  # type: ignore[arg-type]
    parts = [(1, p.etag or "", crc32c(b"abc"))]
    s3.inject("complete", ConnectionResetError(104, "reset"), after=True)
    with pytest.raises(ConnectionResetError):
        s3.complete_or_confirm("k", up, parts, 3, retried=False)
    assert s3.complete_or_confirm("k", up, parts, 3, retried=True).checksum_crc32c == (
        composite_crc32c_b64([crc32c(b"abc")])
    )
    with pytest.raises(Exception) as err:  # another size: the NoSuchUpload stands
        s3.complete_or_confirm("k", up, parts, 4, retried=True)
    assert classify(err.value, "bkt", "k").code == "NoSuchUpload"


def test_faults_fire_on_the_nth_call_for_a_key_and_the_log_keeps_every_call() -> None:
    s3 = S3Double()
    seen: list[str] = []
    s3.inject("put_object", s3_error("AccessDenied", 403), nth=2, key="a")
    s3.inject("head", lambda: seen.append("after"), after=True)
    s3.put_object("b", b"", 0, crc32c(b""), {})
    s3.put_object("a", b"", 0, crc32c(b""), {})
    with pytest.raises(Exception) as err:
        s3.put_object("a", b"", 0, crc32c(b""), {})
    assert classify(err.value, "bkt", "a").code == "AccessDenied"
    s3.put_object("a", b"", 0, crc32c(b""), {})  # once only
    assert s3.head("a") is not None and seen == ["after"]
    assert [k for m, k, _ in s3.calls if m == "put_object"] == ["b", "a", "a", "a"]
    with pytest.raises(AttributeError):
        s3.inject("no_such_call", RuntimeError())
