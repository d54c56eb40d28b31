"""--object-lock-mode, --retain-until, --retain-for and --legal-hold -> ObjectOptions and the
headers of PutObject / CreateMultipartUpload."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest

from s3tui.args import build_parser
from s3tui.errors import UsageError
from s3tui.put_args import check_put


def _options(*argv: str):  # type: ignore[no-untyped-def]
    return check_put(
        build_parser().parse_args(["put", "-", "s3://bkt/k", "--no-tui", *argv])
    ).options


def test_retain_for_and_legal_hold_become_headers() -> None:
    before = datetime.now(UTC)
    opts = _options("--object-lock-mode", "governance", "--retain-for", "30d", "--legal-hold")
    args = opts.to_s3_args()
    assert args["ObjectLockMode"] == "GOVERNANCE"
    assert args["ObjectLockLegalHoldStatus"] == "ON"
    until = args["ObjectLockRetainUntilDate"]
    assert isinstance(until, datetime)
    assert timedelta(days=30) <= until - before < timedelta(days=30, minutes=5)
    assert opts.object_lock


@pytest.mark.parametrize(
    ("span", "delta"), [("36h", timedelta(hours=36)), ("1w2d", timedelta(days=9))]
)
def test_retain_for_reads_spans_as_other_durations_do(span: str, delta: timedelta) -> None:
    before = datetime.now(UTC)
    until = _options("--object-lock-mode", "GOVERNANCE", "--retain-for", span).retain_until
    assert until is not None and delta <= until - before < delta + timedelta(minutes=5)


def test_retain_until_takes_iso_8601_and_a_date_without_zone_is_utc() -> None:
    opts = _options("--object-lock-mode", "COMPLIANCE", "--retain-until", "2031-05-06")
    assert opts.retain_until == datetime(2031, 5, 6, tzinfo=UTC)
    opts = _options("--object-lock-mode", "COMPLIANCE", "--retain-until", "2031-05-06T10:00+02:00")
    assert opts.retain_until == datetime(2031, 5, 6, 8, tzinfo=UTC)


def test_no_lock_sends_no_lock_headers() -> None:
    opts = _options()
    assert not opts.object_lock
    assert not any(k.startswith("ObjectLock") for k in opts.to_s3_args())


@pytest.mark.parametrize(
    ("argv", "words"),
    [
        (("--retain-for", "3d"), "needs --object-lock-mode"),
        (("--object-lock-mode", "GOVERNANCE"), "needs --retain-until DATE or --retain-for"),
        (("--object-lock-mode", "GOVERNANCE", "--retain-for", "3 days"), "e.g. 30d"),
        (("--object-lock-mode", "GOVERNANCE", "--retain-for", "30"), "e.g. 30d"),
        (("--object-lock-mode", "GOVERNANCE", "--retain-for", "0d"), "future"),
        (("--object-lock-mode", "GOVERNANCE", "--retain-until", "next week"), "ISO 8601"),
        (("--object-lock-mode", "GOVERNANCE", "--retain-until", "2001-01-01"), "future"),
        (
            ("--object-lock-mode", "GOVERNANCE", "--retain-for", "1d", "--retain-until", "2040"),
            "give one",
        ),
    ],
)
def test_bad_retention_is_one_usage_line(argv: tuple[str, ...], words: str) -> None:
    with pytest.raises(UsageError, match=words):
        _options(*argv)


def test_the_servers_refusal_of_a_lock_is_the_same_clear_line() -> None:
    """When the bucket's configuration could not be read first, AWS's (and moto's) answer to
    the PutObject is told in the same words, and stops the whole job."""
    from s3tui.engine.remote import Scope, classify
    from tests.s3double import s3_error

    f = classify(
        s3_error("InvalidRequest", 400, "Bucket is missing ObjectLockConfiguration"), "bkt"
    )
    assert f.scope is Scope.JOB and not f.retryable
    assert f.message.startswith("bucket bkt does not have object lock enabled")
