"""Which stored copies prove to be the local bytes."""

from __future__ import annotations

import hashlib

from s3tui.engine.crc import crc32c
from s3tui.engine.remote import PartInfo, crc32c_b64
from s3tui.engine.resume import LocalPart, copies_by_number, matching_copy, part_plan, provable


def _copy(
    number: int, data: bytes, *, listed_crc: bool = False, etag: str | None = None
) -> PartInfo:
    return PartInfo(
        number,
        len(data),
        etag if etag is not None else hashlib.md5(data).hexdigest(),
        crc32c_b64(crc32c(data)) if listed_crc else None,
    )


def test_the_copy_with_the_local_bytes_is_chosen_among_several() -> None:
    old, new = b"a" * 100, b"b" * 100
    copies = [_copy(1, old), _copy(1, new)]
    assert matching_copy(copies, LocalPart.of(1, new)) == copies[1]
    assert matching_copy(copies, LocalPart.of(1, old)) == copies[0]
    assert matching_copy(copies, LocalPart.of(1, b"c" * 100)) is None


def test_size_number_and_listed_crc_must_agree_too() -> None:
    data = b"x" * 64
    assert matching_copy([_copy(2, data)], LocalPart.of(1, data)) is None
    truncated = PartInfo(1, 63, hashlib.md5(data).hexdigest(), None)
    assert matching_copy([truncated], LocalPart.of(1, data)) is None
    wrong_crc = PartInfo(1, 64, hashlib.md5(data).hexdigest(), crc32c_b64(crc32c(b"y")))
    assert matching_copy([wrong_crc], LocalPart.of(1, data)) is None
    assert matching_copy([_copy(1, data, listed_crc=True)], LocalPart.of(1, data)) is not None


def test_an_etag_that_is_not_an_md5_proves_nothing() -> None:
    data = b"z" * 10
    kms = _copy(1, data, etag="0123456789abcdef0123456789abcdef-1")
    assert not provable(kms)
    assert matching_copy([kms], LocalPart.of(1, data)) is None
    # A listed CRC32C alone (32 bits) is not enough either.
    crc_only = PartInfo(1, 10, None, crc32c_b64(crc32c(data)))
    assert matching_copy([crc_only], LocalPart.of(1, data)) is None


def test_upper_case_etags_compare_as_hex() -> None:
    data = b"q" * 5
    upper = _copy(1, data, etag=hashlib.md5(data).hexdigest().upper())
    assert matching_copy([upper], LocalPart.of(1, data)) == upper


def test_part_plan_runs_until_a_gap_or_an_ambiguous_size() -> None:
    listed = [_copy(1, b"a" * 8), _copy(2, b"b" * 8), _copy(3, b"c" * 16), _copy(5, b"d")]
    assert part_plan(copies_by_number(listed)) == [8, 8, 16]
    listed = [_copy(1, b"a" * 8), _copy(2, b"b" * 8), _copy(2, b"b" * 9), _copy(3, b"c")]
    assert part_plan(copies_by_number(listed)) == [8]
    assert part_plan({}) == []
