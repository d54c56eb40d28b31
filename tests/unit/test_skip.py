"""--skip-existing's comparison: made-up HEAD answers against a local file's facts, no S3."""

from __future__ import annotations

import base64
import hashlib
import zlib
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from awscrt.checksums import crc64nvme

from s3tui.engine import skip
from s3tui.engine.checksums import CRC32C, CRC64NVME, SHA256, Algorithm
from s3tui.engine.crc import crc32c
from s3tui.engine.remote import composite_crc32c_b64, crc32c_b64
from s3tui.engine.remote.calls import object_info
from s3tui.engine.skip import FileFacts, LocalFacts

DATA = b"0123456789" * 100


@dataclass
class Facts:
    data: bytes = DATA
    part: int = 0  # 0: one PutObject
    checked: list[bool] = field(default_factory=list)

    @property
    def size(self) -> int:
        return len(self.data)

    @property
    def nparts(self) -> int:
        return -(-self.size // self.part) if self.part else 1

    def unchanged(self) -> None:
        self.checked.append(True)

    def value(self, algorithm: Algorithm) -> int:
        return algorithm.of(self.data)

    def part_values(self, algorithm: Algorithm) -> list[int]:
        step = self.part or self.size
        return [algorithm.of(self.data[i : i + step]) for i in range(0, self.size, step)]

    def part_crc32cs(self) -> list[int]:
        return self.part_values(CRC32C)


def same_object(head: dict[str, Any] | None, local: LocalFacts) -> str | None:
    """The made-up answers are HeadObject's, read as ``Remote.head`` reads them."""
    return skip.same_object(None if head is None else object_info(head), local)


def _crc32_b64(data: bytes) -> str:
    return base64.b64encode(zlib.crc32(data).to_bytes(4, "big")).decode()


def test_nothing_stored_or_another_size_is_uploaded() -> None:
    facts = Facts()
    assert same_object(None, facts) is None
    assert same_object({"ContentLength": 999}, facts) is None
    assert facts.checked == []  # nothing read, not even a stat


def test_whole_object_crc32c() -> None:
    head = {"ContentLength": len(DATA), "ChecksumCRC32C": crc32c_b64(crc32c(DATA))}
    facts = Facts()
    assert same_object(head, facts) == "exists with the same size and CRC32C"
    assert facts.checked == [True]
    assert same_object({**head, "ChecksumCRC32C": crc32c_b64(1)}, Facts()) is None


def test_single_part_composite() -> None:
    head = {"ContentLength": len(DATA), "ChecksumCRC32C": composite_crc32c_b64([crc32c(DATA)])}
    assert same_object(head, Facts()) == "exists with the same size and CRC32C"


def test_multipart_composite_with_the_same_plan_only() -> None:
    facts = Facts(part=300)
    head = {
        "ContentLength": len(DATA),
        "ChecksumCRC32C": composite_crc32c_b64(facts.part_crc32cs()),
    }
    assert same_object(head, facts) == "exists with the same size and CRC32C"
    assert same_object(head, Facts(part=400)) is None  # another part count: upload again
    assert same_object(head, Facts()) is None


def test_full_object_crc32_and_md5_etag() -> None:
    head = {"ContentLength": len(DATA), "ChecksumCRC32": _crc32_b64(DATA)}
    assert same_object(head, Facts()) == "exists with the same size and CRC32"
    assert same_object({**head, "ChecksumCRC32": _crc32_b64(b"x")}, Facts()) is None
    assert same_object({**head, "ChecksumCRC32": "abc-2"}, Facts()) is None
    md5 = hashlib.md5(DATA).hexdigest()
    assert same_object({"ContentLength": len(DATA), "ETag": f'"{md5}"'}, Facts()) == (
        "exists with the same size and MD5"
    )
    assert same_object({"ContentLength": len(DATA), "ETag": '"' + "0" * 32 + '"'}, Facts()) is None


def test_full_object_crc64nvme_and_crc32c_of_a_multipart_object_need_no_part_plan() -> None:
    wire = base64.b64encode(crc64nvme(DATA).to_bytes(8, "big")).decode()
    head = {"ContentLength": len(DATA), "ChecksumCRC64NVME": wire, "ChecksumType": "FULL_OBJECT"}
    # Any part plan: a full-object checksum is the whole file's.
    assert same_object(head, Facts(part=400)) == "exists with the same size and CRC64NVME"
    assert same_object({**head, "ChecksumCRC64NVME": CRC64NVME.wire(1)}, Facts()) is None
    full = {"ContentLength": len(DATA), "ChecksumCRC32C": crc32c_b64(crc32c(DATA))}
    full["ChecksumType"] = "FULL_OBJECT"
    assert same_object(full, Facts(part=300)) == "exists with the same size and CRC32C"
    # CRC64NVME is looked at first: a wrong one is not outvoted by a right CRC32C.
    both = {**full, "ChecksumCRC64NVME": CRC64NVME.wire(1)}
    assert same_object(both, Facts(part=300)) is None


def test_composite_sha256_and_a_multipart_md5_etag_with_the_same_plan() -> None:
    facts = Facts(part=300)
    head = {
        "ContentLength": len(DATA),
        "ChecksumSHA256": SHA256.composite(facts.part_values(SHA256)),
    }
    assert same_object(head, facts) == "exists with the same size and SHA256"
    assert same_object(head, Facts(part=400)) is None
    parts = [hashlib.md5(DATA[i : i + 300]).digest() for i in range(0, len(DATA), 300)]
    etag = hashlib.md5(b"".join(parts)).hexdigest() + "-4"
    md5 = {"ContentLength": len(DATA), "ETag": f'"{etag}"'}
    assert same_object(md5, facts) == "exists with the same size and MD5"
    assert same_object({**md5, "ETag": '"' + "0" * 32 + '-4"'}, facts) is None
    assert same_object(md5, Facts(part=400)) == (  # another plan: no comparison, as before
        "exists with the same size (no checksum to compare)"
    )


def test_no_checksum_at_all_is_size_alone() -> None:
    head = {"ContentLength": len(DATA), "ETag": '"abc-3"'}
    facts = Facts()
    assert same_object(head, facts) == "exists with the same size (no checksum to compare)"
    assert facts.checked == [True]  # the file is still what was listed


def test_file_facts_read_the_file(tmp_path: Path) -> None:
    p = tmp_path / "f"
    p.write_bytes(DATA)
    facts = FileFacts(str(p), len(DATA), [(0, 600), (600, 400)], lambda: None)
    assert facts.nparts == 2
    assert facts.value(CRC32C) == crc32c(DATA)
    assert facts.part_values(CRC32C) == [crc32c(DATA[:600]), crc32c(DATA[600:])]
    assert facts.value(CRC64NVME) == crc64nvme(DATA)
    assert facts.part_values(SHA256) == [
        int.from_bytes(hashlib.sha256(DATA[a:b]).digest(), "big")
        for a, b in ((0, 600), (600, 1000))
    ]
