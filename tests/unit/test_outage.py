"""Waiting out an unreachable endpoint: the state machine on a fake clock, and the real stream
job on the S3 double with refused connections, failing probes, a patience that runs out, and
credentials that expire."""

from __future__ import annotations

import contextlib
import os
import threading
from pathlib import Path

import pytest

from s3tui.engine import outage as outage_mod
from s3tui.engine.config import UploadConfig
from s3tui.engine.outage import (
    MAX_PROBE_DELAY,
    OUTAGE_AFTER,
    OUTAGE_FAILURES,
    Outage,
    OutageView,
    Step,
    since_text,
)
from s3tui.engine.progress import EventKind
from s3tui.engine.stream import StreamUpload
from s3tui.errors import EXIT_FAILED
from tests.s3double import S3Double, s3_error

MiB = 1024 * 1024
PART = 5 * MiB


class FakeClock:
    def __init__(self) -> None:
        self.now = 1000.0

    def __call__(self) -> float:
        return self.now


def _outage(patience: float = 600.0) -> tuple[Outage, FakeClock]:
    clock = FakeClock()
    return Outage(patience, clock=clock, wall=lambda: clock.now + 1e9), clock


def test_an_endpoint_never_answered_is_no_outage_a_wrong_url_fails_on_the_count() -> None:
    o, clock = _outage()
    assert not o.unanswered("connection refused", connect_failed=True)
    clock.now += 3600
    assert not o.unanswered("connection refused", connect_failed=True)
    assert not o.on


def test_a_refused_connection_is_an_outage_at_once_probes_back_off_to_a_minute() -> None:
    o, clock = _outage()
    o.answered()  # the endpoint was reached once
    assert o.unanswered("connection refused", connect_failed=True)
    assert o.on
    # One worker probes (after a second), the others wait for its answer.
    assert o.next_step() == (Step.PROBE, 1.0)
    assert o.next_step()[0] is Step.WAIT
    delays = []
    for _ in range(14):
        o.probe_failed("connection refused")
        step, delay = o.next_step()
        assert step is Step.PROBE
        delays.append(round(delay, 2))
    assert delays[:4] == [1.5, 2.25, 3.38, 5.06]
    assert delays[-4:] == [MAX_PROBE_DELAY] * 4
    assert delays == sorted(delays)
    view = o.view()
    assert view is not None and view.probes == 14 and view.reason == "connection refused"
    # Any answer ends it and says how long it lasted; parked workers go on.
    clock.now += 100
    assert o.answered() == pytest.approx(100.0)
    assert o.next_step() == (Step.OVER, 0.0) and o.view() is None


def test_resets_and_timeouts_count_only_after_a_while_with_nothing_answered() -> None:
    o, clock = _outage()
    o.answered()
    assert not o.unanswered("connection reset", connect_failed=False)
    clock.now += OUTAGE_AFTER / 2
    assert not o.unanswered("timeout", connect_failed=False)
    o.answered()  # a 503, a success: the endpoint is there, the clock starts over
    clock.now += OUTAGE_AFTER / 2
    assert not o.unanswered("connection reset", connect_failed=False)
    clock.now += OUTAGE_AFTER
    started = clock.now - OUTAGE_AFTER
    assert o.unanswered("deadline", connect_failed=False)
    view = o.view()
    assert view is not None and view.since == pytest.approx(started + 1e9)  # since the first


def test_a_burst_of_resets_is_an_outage_before_ten_seconds() -> None:
    o, clock = _outage()
    o.answered()
    for _ in range(OUTAGE_FAILURES - 1):
        assert not o.unanswered("connection reset", connect_failed=False)
        clock.now += 0.1
    assert o.unanswered("connection reset", connect_failed=False)


def test_only_an_outage_that_outlived_a_probe_gives_tasks_their_attempts_back() -> None:
    o, _ = _outage()
    o.answered()
    o.unanswered("connection refused", connect_failed=True)
    o.answered()  # the first probe was answered: a blip
    assert not o.was_real()
    o.unanswered("connection refused", connect_failed=True)
    o.probe_failed("connection refused")
    o.answered()
    assert o.was_real()


def test_patience_bounds_the_wait_from_the_outage_start() -> None:
    o, clock = _outage(patience=30.0)
    o.answered()
    o.unanswered("connection refused", connect_failed=True)
    clock.now += 29
    step, delay = o.next_step()
    assert step is Step.PROBE and delay == pytest.approx(0.0)  # the probe was due after 1 s
    o.probe_failed("connection refused")
    assert o.next_step() == (Step.PROBE, pytest.approx(1.0))  # not past the patience
    clock.now += 1.5
    assert o.next_step() == (Step.GIVE_UP, 0.0)
    assert o.waited() == pytest.approx(30.5)


def test_reports_once_at_the_start_then_once_a_minute() -> None:
    o, clock = _outage()
    assert not o.due_report()  # no outage
    o.answered()
    o.unanswered("connection refused", connect_failed=True)
    assert o.due_report()
    clock.now += 30
    assert not o.due_report()
    clock.now += 31
    assert o.due_report()


def test_since_text() -> None:
    import time

    since = time.mktime((2026, 12, 4, 14, 2, 0, 0, 0, -1))
    view = OutageView(since=since, next_try=since + 100, reason="connection refused", probes=3)
    assert since_text(view, since + 60) == (
        "endpoint unreachable since 14:02 (connection refused), next try in 40 s"
    )


# --- the real stream job on the double -------------------------------------------------------


@pytest.fixture
def quick_probes(monkeypatch: pytest.MonkeyPatch) -> None:
    """Probe every few ms instead of 1 s, 2 s, 4 s ...: the logic is the same."""
    monkeypatch.setattr(outage_mod, "FIRST_PROBE_DELAY", 0.01)
    monkeypatch.setattr(outage_mod, "MAX_PROBE_DELAY", 0.05)


def _down_until_probe(s3: S3Double, n: int, error: type[OSError], method: str) -> None:
    """The endpoint is down (``method`` and probes fail with ``error``) until probe ``n``,
    which is answered, as is everything after it."""
    probes = [0]

    def request() -> None:
        if probes[0] < n:
            raise error(111, "down")

    def probe() -> None:
        probes[0] += 1
        request()

    for k in range(1, 200):
        s3.inject(method, request, nth=k)
        s3.inject("probe", probe, nth=k)


def _cfg(tmp_path: Path, **kw: object) -> UploadConfig:
    base: dict[str, object] = {
        "concurrency": 2,
        "chunk_size": PART,
        "initial_bandwidth": 1e9,
        "retry_base_delay": 0.001,
        "retry_max_delay": 0.005,
        "max_attempts": 2,
        "spool_dir": tmp_path / "spool",
    }
    base.update(kw)
    return UploadConfig(**base)  # type: ignore[arg-type]


def _stream(s3: S3Double, data: bytes, cfg: UploadConfig) -> tuple[StreamUpload, object]:
    read_fd, write_fd = os.pipe()

    def feed() -> None:
        with contextlib.suppress(BrokenPipeError), os.fdopen(write_fd, "wb") as w:
            w.write(data)  # a failed job stops reading

    feeder = threading.Thread(target=feed, daemon=True)
    feeder.start()
    job = StreamUpload(read_fd, s3, "s", cfg)
    try:
        result = job.run()
    finally:
        os.close(read_fd)
    return job, result


def test_refused_connections_do_not_spend_a_parts_attempts(
    tmp_path: Path, quick_probes: None
) -> None:
    """Parts refused until the 4th probe, with a limit of 2 attempts: the pool waits it out
    with probes (three of which are refused too) and the upload completes."""
    data = os.urandom(2 * PART + 10)
    s3 = S3Double()
    _down_until_probe(s3, 4, ConnectionRefusedError, "upload_part")
    job, result = _stream(s3, data, _cfg(tmp_path))
    assert result.exit_code == 0, result.message  # type: ignore[attr-defined]
    assert s3.objects["s"].data == data
    assert len(s3.called("probe")) >= 4  # three refused, then the answer that released them
    outage = [e for e in job.progress.snapshot().events if e.kind is EventKind.OUTAGE]
    assert outage[0].reason.startswith("endpoint unreachable since")
    assert "connection refused" in outage[0].reason
    assert outage[-1].reason.startswith("endpoint reachable again")
    assert job.progress.snapshot().outage is None


def test_past_the_patience_the_upload_fails_and_is_aborted(
    tmp_path: Path, quick_probes: None
) -> None:
    data = os.urandom(2 * PART + 10)
    s3 = S3Double()
    for n in range(1, 1000):
        s3.inject("upload_part", ConnectionRefusedError(111, "Connection refused"), nth=n)
        s3.inject("probe", ConnectionRefusedError(111, "Connection refused"), nth=n)
    _, result = _stream(s3, data, _cfg(tmp_path, patience=0.5, max_attempts=100))
    assert result.exit_code == EXIT_FAILED  # type: ignore[attr-defined]
    message = result.message  # type: ignore[attr-defined]
    assert "the endpoint was unreachable for" in message and "--patience" in message, message
    assert "s" not in s3.objects and not s3.uploads  # aborted (the double answers aborts)
    assert not list((tmp_path / "spool").glob("**/part-*"))
    # The patience, not the 100 attempts, ended it: far fewer attempts than that were made.
    assert len(s3.called("upload_part")) < 20


def test_server_errors_keep_the_count(tmp_path: Path, quick_probes: None) -> None:
    """A 500 is an answer: no outage, the part's two attempts and then the upload fails."""
    s3 = S3Double()
    for n in range(1, 10):
        s3.inject("upload_part", s3_error("InternalError", 500), nth=n)
    _, result = _stream(s3, os.urandom(2 * PART + 10), _cfg(tmp_path))
    assert result.exit_code == EXIT_FAILED  # type: ignore[attr-defined]
    assert "gave up after 2 attempts" in result.message  # type: ignore[attr-defined]
    assert s3.called("probe") == []


def test_expired_credentials_are_renewed_once_for_all_workers(tmp_path: Path) -> None:
    data = os.urandom(3 * PART + 10)
    s3 = S3Double()
    s3.fresh_credentials = 5
    for n in (1, 2):  # two parts told at once: one renewal serves both
        s3.inject("upload_part", s3_error("ExpiredToken", 400), nth=n)
    job, result = _stream(s3, data, _cfg(tmp_path, max_attempts=1))
    assert result.exit_code == 0, result.message  # type: ignore[attr-defined]
    assert s3.objects["s"].data == data
    assert s3.generation in (1, 2)  # both may have begun before the first renewal
    infos = [e for e in job.progress.snapshot().events if "loaded fresh ones" in e.reason]
    assert 1 <= len(infos) <= s3.generation


def test_expired_credentials_with_nothing_newer_fail_with_the_renewal_message(
    tmp_path: Path,
) -> None:
    s3 = S3Double()
    s3.inject("upload_part", s3_error("ExpiredToken", 400), nth=1)
    _, result = _stream(s3, os.urandom(2 * PART + 10), _cfg(tmp_path))
    assert result.exit_code == EXIT_FAILED  # type: ignore[attr-defined]
    assert "nothing newer was found" in result.message  # type: ignore[attr-defined]
    assert not s3.uploads


def test_a_request_that_never_works_still_fails_when_the_endpoint_answers(
    tmp_path: Path, quick_probes: None
) -> None:
    """Every attempt of the parts is reset, yet the endpoint answers its probes (a middlebox
    that cuts big bodies): the parts spend their attempts and the upload fails, no loop."""
    s3 = S3Double()
    for n in range(1, 200):
        s3.inject("upload_part", ConnectionResetError(104, "Connection reset by peer"), nth=n)
    _, result = _stream(s3, os.urandom(2 * PART + 10), _cfg(tmp_path, max_attempts=3))
    assert result.exit_code == EXIT_FAILED  # type: ignore[attr-defined]
    assert "gave up after 3 attempts" in result.message  # type: ignore[attr-defined]
    assert len(s3.called("upload_part")) <= 3 * 3
    assert len(s3.called("probe")) >= 1


def test_a_lone_part_at_its_last_attempt_asks_the_endpoint_first(
    tmp_path: Path, quick_probes: None
) -> None:
    """One part in flight, resets (not refusals: no outage is declared at once), a limit of 2
    attempts: before giving up it probes; the probes get no answer either, so it is an outage,
    waited out, and the part has its attempts back when the endpoint returns."""
    data = os.urandom(PART + 10)
    s3 = S3Double()
    _down_until_probe(s3, 3, ConnectionResetError, "upload_part")
    _, result = _stream(s3, data, _cfg(tmp_path, concurrency=1))
    assert result.exit_code == 0, result.message  # type: ignore[attr-defined]
    assert s3.objects["s"].data == data
    assert len(s3.called("probe")) >= 3
