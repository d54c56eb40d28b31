"""Incomplete uploads across a bucket, on the S3 double: what each holds, whose it is, and an
abort that is repeated until ListParts shows the parts gone."""

from __future__ import annotations

import dataclasses
import time

from s3tui.engine.crc import crc32c
from s3tui.engine.journal import Entry
from s3tui.engine.remote import PartInfo
from s3tui.engine.uploads import OpenUpload, abort_confirmed, survey, writers
from tests.s3double import S3Double, s3_error


class KeepsCopies(S3Double):
    """A store that, like SeaweedFS, lists a part sent twice twice (both copies are stored)."""

    def list_parts(self, key: str, upload_id: str) -> list[PartInfo]:
        parts = super().list_parts(key, upload_id)
        return sorted(parts + [p for p in parts if p.number == 1], key=lambda p: p.number)


def _part(s3: S3Double, key: str, up: str, n: int, size: int) -> None:
    data = bytes([n]) * size
    s3.upload_part(key, up, n, data, size, crc32c(data))  # type: ignore[arg-type]


def test_survey_counts_distinct_parts_and_every_stored_copy() -> None:
    s3 = KeepsCopies()
    s3.clock = lambda: 1000.0
    up = s3.create_multipart("db/a", {})
    s3.uploads[up].initiated = 400.0
    _part(s3, "db/a", up, 1, 10)
    _part(s3, "db/a", up, 2, 4)
    empty = s3.create_multipart("db/b", {})
    s3.uploads[empty].initiated = 990.0
    s3.create_multipart("photos/c", {})

    found = survey(s3, "db/")
    assert [(u.key, u.parts, u.part_copies, u.stored_bytes, u.age) for u in found.uploads] == [
        ("db/a", 2, 3, 24, 600.0),
        ("db/b", 0, 0, 0, 10.0),
    ]
    assert found.server_time == 1000.0


def test_an_upload_gone_before_its_parts_are_listed_is_left_out() -> None:
    s3 = S3Double()
    s3.create_multipart("a", {})
    gone = s3.create_multipart("b", {})
    s3.inject("list_parts", s3_error("NoSuchUpload", 404), key="b")
    assert [u.key for u in survey(s3, "").uploads] == ["a"]
    assert gone in s3.uploads


def test_parts_that_cannot_be_listed_are_unknown_not_zero() -> None:
    s3 = S3Double()
    s3.create_multipart("a", {})
    s3.inject("list_parts", s3_error("AccessDenied", 403), key="a")
    (u,) = survey(s3, "").uploads
    assert u.parts is None and u.stored_bytes is None
    assert u.error is not None and "access denied" in u.error


def test_a_transient_failure_of_listparts_is_tried_again() -> None:
    s3 = S3Double()
    up = s3.create_multipart("a", {})
    _part(s3, "a", up, 1, 7)
    s3.inject("list_parts", s3_error("InternalError", 500), key="a")
    (u,) = survey(s3, "").uploads
    assert (u.parts, u.stored_bytes, u.error) == (1, 7, None)


def test_survey_reports_progress_for_every_upload() -> None:
    s3 = S3Double()
    for i in range(20):
        s3.create_multipart(f"k{i:02}", {})
    seen: list[tuple[int, int]] = []
    survey(s3, "", on_progress=lambda done, total: seen.append((done, total)))
    assert sorted(seen) == [(n, 20) for n in range(1, 21)]


class AbortLeavesParts(S3Double):
    """An abort that answers success while the parts are still there (a part in flight during
    the abort landed after it): AWS says to abort again until ListParts shows none."""

    def __init__(self, ignored: int) -> None:
        super().__init__()
        self.ignored = ignored

    def abort(self, key: str, upload_id: str) -> bool:
        if self.ignored:
            self.ignored -= 1
            self.calls.append(("abort", key, upload_id))
            return True
        return super().abort(key, upload_id)


def _one(s3: S3Double, key: str = "k") -> OpenUpload:
    up = s3.create_multipart(key, {})
    _part(s3, key, up, 1, 5)
    (u,) = survey(s3, "").uploads
    return u


def test_abort_is_repeated_while_listparts_still_shows_parts() -> None:
    s3 = AbortLeavesParts(ignored=1)
    outcome = abort_confirmed(s3, _one(s3))
    assert outcome.confirmed and outcome.aborts == 2 and outcome.error is None
    assert s3.uploads == {}


def test_an_abort_that_never_frees_the_parts_fails_and_says_so() -> None:
    s3 = AbortLeavesParts(ignored=10)
    outcome = abort_confirmed(s3, _one(s3), tries=2)
    assert not outcome.confirmed and outcome.aborts == 2
    assert outcome.error == "1 part still listed after 2 aborts"


def test_a_refused_abort_fails_at_once() -> None:
    s3 = S3Double()
    u = _one(s3)
    s3.inject("abort", s3_error("AccessDenied", 403))
    outcome = abort_confirmed(s3, u)
    assert not outcome.confirmed and outcome.aborts == 1
    assert outcome.error is not None and "access denied" in outcome.error
    assert len(s3.uploads) == 1


def _entry(**change: object) -> Entry:
    e = Entry("bkt", "k", "up-1", "http://s3.lan:9000", None, None, None, 1, "", "", time.time())
    return dataclasses.replace(e, **change)  # type: ignore[arg-type]


def test_this_hosts_uploads_match_on_endpoint_bucket_and_id() -> None:
    entries = [
        _entry(),
        _entry(upload_id="up-2", bucket="other"),
        _entry(upload_id="up-3", endpoint="http://elsewhere:9000"),
        _entry(upload_id="", pending=True),
    ]
    found = writers(entries, "http://user:pw@s3.lan:9000/", "bkt")
    assert list(found) == ["up-1"]
    aws = writers([_entry(endpoint=None)], None, "bkt")
    assert list(aws) == ["up-1"]
    assert writers([_entry(endpoint=None)], "http://s3.lan:9000", "bkt") == {}
