"""The checksum pieces alone: values, wire forms, combines, composites, the choice, and the probe
that falls back when a store refuses checksum headers (with its per-endpoint memory)."""

from __future__ import annotations

import base64
import hashlib
import json
import os
import stat
import zlib
from pathlib import Path

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from s3tui.engine import checksums
from s3tui.engine.checksums import CRC32, CRC32C, CRC64NVME, MD5, NONE, SHA256, Checksum, choose
from s3tui.engine.remote import checksum_support
from s3tui.engine.remote.calls import made_of, object_info
from s3tui.engine.remote.checksum_support import ChecksumSupport, memory_path, remembered
from tests.s3double import s3_error


def test_values_are_the_standard_check_values() -> None:
    assert CRC32C.of(b"123456789") == 0xE3069283
    assert CRC64NVME.of(b"123456789") == 0xAE8B14860A799888
    assert CRC32.of(b"123456789") == zlib.crc32(b"123456789")
    assert SHA256.wire(SHA256.of(b"x")) == base64.b64encode(hashlib.sha256(b"x").digest()).decode()
    assert MD5.wire(MD5.of(b"x")) == base64.b64encode(hashlib.md5(b"x").digest()).decode()
    assert NONE.of(b"x") == 0 and not NONE.sends


@settings(max_examples=40, deadline=None)
@given(st.lists(st.binary(min_size=0, max_size=300), min_size=1, max_size=5))
def test_combining_part_crcs_is_the_crc_of_the_whole(pieces: list[bytes]) -> None:
    """Parts stored in any order, combined by number: the same as one pass over the bytes."""
    whole = b"".join(pieces)
    for algorithm in (CRC32C, CRC64NVME, CRC32):
        values = [algorithm.of(p) for p in pieces]
        assert algorithm.combine(values, [len(p) for p in pieces]) == algorithm.of(whole)


def test_composites_are_what_seaweedfs_reported() -> None:
    """Values SeaweedFS 4.48 reported for parts of 5 MiB and 1,000 bytes (see design notes):
    the composite is the checksum of the parts' checksums, -N; the full object is the whole."""
    c = Checksum(CRC32C)
    parts = [int.from_bytes(base64.b64decode(v), "big") for v in ("eF8CQw==", "LILiXw==")]
    assert c.multipart(parts, [5 * 1024 * 1024, 1000]) == "gYix5g==-2"
    sha = [
        int.from_bytes(base64.b64decode(v), "big")
        for v in (
            "iyzEbnOsNnDanv6aHtfDcFr55i50uPcMs/YDkiDbkXU=",
            "M586YLzaaUmRuRocRpGC++PkAYxRuLkHnLbQLoQfN5c=",
        )
    ]
    assert Checksum(SHA256).multipart(sha, [0, 0]) == (
        "LuzvLDPguJCnhom6iuIV/NfkVPIt27WMslsWxFGi0tY=-2"
    )
    full = Checksum(CRC32C, full_object=True)
    assert full.multipart(parts, [5 * 1024 * 1024, 1000]) == "igXHng=="


def test_md5_is_checked_through_the_etag() -> None:
    c = Checksum(MD5)
    data = b"hello"
    assert c.single(MD5.of(data)) == hashlib.md5(data).hexdigest()
    parts = [MD5.of(b"a"), MD5.of(b"b")]
    expected = hashlib.md5(hashlib.md5(b"a").digest() + hashlib.md5(b"b").digest()).hexdigest()
    assert c.multipart(parts, [1, 1]) == expected + "-2"
    info = object_info({"ETag": f'"{expected}-2"', "ContentLength": 2})
    assert c.reported(info) == expected + "-2"
    assert c.reported(object_info({"ETag": '"not-an-md5"'})) is None  # e.g. SSE-KMS
    assert c.request_args(MD5.of(data)) == {"ContentMD5": MD5.wire(MD5.of(data))}
    assert c.create_args() == {} and c.part_entry(1) == {}


def test_what_each_choice_sends() -> None:
    assert choose(None, None) == checksums.DEFAULT == Checksum(CRC32C)
    crc64 = choose("crc64nvme", None)
    assert crc64.full_object and crc64.create_args() == {
        "ChecksumAlgorithm": "CRC64NVME",
        "ChecksumType": "FULL_OBJECT",
    }
    assert choose("crc32c", "full-object").create_args()["ChecksumType"] == "FULL_OBJECT"
    assert choose("sha256", None).create_args()["ChecksumType"] == "COMPOSITE"
    assert choose("none", None).request_args(5) == {} and choose("none", None).single(0) is None
    whole = crc64.complete_args([CRC64NVME.of(b"ab"), CRC64NVME.of(b"c")], [2, 1])
    assert whole == {
        "ChecksumCRC64NVME": CRC64NVME.wire(CRC64NVME.of(b"abc")),
        "ChecksumType": "FULL_OBJECT",
    }
    assert Checksum(CRC32C).complete_args([1], [1]) == {}  # composite: S3 computes it
    with pytest.raises(ValueError, match="full-object checksum only"):
        choose("crc64nvme", "composite")
    with pytest.raises(ValueError, match="no full-object type"):
        choose("sha256", "full-object")


def test_a_lost_complete_is_recognised_by_a_full_object_checksum() -> None:
    c = Checksum(CRC64NVME)
    parts = [(1, "e1", CRC64NVME.of(b"ab")), (2, "e2", CRC64NVME.of(b"c"))]
    info = object_info(
        {"ContentLength": 3, "ChecksumCRC64NVME": CRC64NVME.wire(CRC64NVME.of(b"abc"))}
    )
    assert made_of(info, 3, parts, c, [2, 1]) is not None
    assert made_of(info, 3, parts, c, None) is None  # no lengths: cannot tell
    other = object_info({"ContentLength": 3, "ChecksumCRC64NVME": CRC64NVME.wire(7)})
    assert made_of(other, 3, parts, c, [2, 1]) is None


# --- the probe ---

REFUSED = s3_error("InvalidRequest", 400, "x-amz-checksum-crc32c not supported")


def test_a_refusal_proven_by_the_fallback_is_said_and_remembered() -> None:
    s = ChecksumSupport(Checksum(CRC32C), "http://user:pw@store:9000", memory=True)
    said: list[str] = []
    s.set_listener(said.append)
    assert s.refused(Checksum(CRC32C), True, REFUSED) == Checksum(MD5)
    assert said == []  # not proven yet
    s.accepted(Checksum(MD5), True)
    assert len(said) == 1 and "refuses CRC32C headers: sending Content-MD5" in said[0]
    assert "pw" not in said[0]
    assert remembered("http://store:9000") == "checksum"
    path = memory_path()
    assert stat.S_IMODE(path.stat().st_mode) == 0o600
    assert stat.S_IMODE(path.parent.stat().st_mode) == 0o700
    assert "pw" not in path.read_text() and "user" not in path.read_text()
    # Confirmed: a later refusal is an error like any other.
    assert s.refused(Checksum(MD5), True, REFUSED) is None
    # The next run starts with the fallback, says so, and probes nothing.
    later = ChecksumSupport(Checksum(CRC32C), "http://store:9000", memory=True)
    assert later.current == Checksum(MD5) and "earlier run" in later.notices[0]
    assert later.refused(Checksum(MD5), True, REFUSED) is None
    # --checksum on the command line probes again, and forgets once the headers are taken.
    again = ChecksumSupport(Checksum(CRC32C), "http://store:9000", memory=True, reprobe=True)
    assert again.current == Checksum(CRC32C)
    again.accepted(Checksum(CRC32C), True)
    assert remembered("http://store:9000") is None


def test_content_md5_refused_too_falls_back_to_nothing_in_one_line() -> None:
    s = ChecksumSupport(Checksum(CRC64NVME), "http://store", memory=True)
    said: list[str] = []
    s.set_listener(said.append)
    assert s.refused(Checksum(CRC64NVME), True, REFUSED) == Checksum(MD5)
    s.accepted(Checksum(MD5), False)  # a create: proves the refusal, not yet Content-MD5
    assert said == [] and remembered("http://store") == "checksum"
    nothing = s.refused(Checksum(MD5), True, s3_error("NotImplemented", 501))
    assert nothing == Checksum(NONE)
    s.accepted(Checksum(NONE), False)
    assert len(said) == 1 and "CRC64NVME and Content-MD5" in said[0]
    assert "only sizes are checked" in said[0]
    assert remembered("http://store") == "md5"


def test_a_refusal_with_another_cause_reverts_and_is_not_remembered() -> None:
    s = ChecksumSupport(Checksum(CRC32C), "http://store", memory=True)
    assert s.refused(Checksum(CRC32C), True, REFUSED) == Checksum(MD5)
    assert s.refused(Checksum(MD5), True, REFUSED) == Checksum(NONE)
    # Refused even without any checksum header: it was never about them.
    assert s.refused(Checksum(NONE), False, REFUSED) is None
    assert s.current == Checksum(CRC32C) and s.notices == []
    assert not memory_path().exists()
    # Other errors (BadDigest: a corrupted body) are never taken for a refusal.
    t = ChecksumSupport(Checksum(CRC32C), "http://store", memory=True)
    assert t.refused(Checksum(CRC32C), True, s3_error("BadDigest", 400)) is None
    assert t.current == Checksum(CRC32C)


def test_the_memory_expires(monkeypatch: pytest.MonkeyPatch) -> None:
    checksum_support.remember("http://store", "checksum")
    data = json.loads(memory_path().read_text())
    data["http://store"]["since"] -= (checksum_support.REMEMBER_DAYS + 1) * 86400
    memory_path().write_text(json.dumps(data))
    assert remembered("http://store") is None
    assert ChecksumSupport(Checksum(CRC32C), "http://store", memory=True).current == Checksum(
        CRC32C
    )


def test_a_damaged_memory_file_costs_only_a_probe(tmp_path: Path) -> None:
    memory_path().parent.mkdir(parents=True, exist_ok=True)
    memory_path().write_text("{not json")
    assert remembered("http://store") is None
    checksum_support.remember("http://store", "md5")
    assert remembered("http://store") == "md5"
    assert os.stat(memory_path()).st_mode & 0o077 == 0
