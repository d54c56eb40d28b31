import socket
import threading
import time

from s3tui.engine import watchdog


def test_guard_cuts_a_blocked_send_at_its_deadline() -> None:
    """The case botocore's timeouts miss: the peer stops reading and sendall blocks."""
    a, b = socket.socketpair()
    a.setsockopt(socket.SOL_SOCKET, socket.SO_SNDBUF, 4096)
    wd = watchdog.Watchdog()
    errors: list[BaseException] = []

    def sender() -> None:
        with wd.guard(0.5) as g:
            watchdog.note_socket(a)
            try:
                a.sendall(b"x" * (64 * 1024 * 1024))  # b never reads
            except OSError as e:
                errors.append(e)
            assert g.fired

    t0 = time.monotonic()
    t = threading.Thread(target=sender)
    t.start()
    t.join(5)
    elapsed = time.monotonic() - t0
    wd.stop()
    a.close()
    b.close()
    assert not t.is_alive()
    assert errors, "sendall should have been cut"
    assert 0.4 < elapsed < 3


def test_guard_that_finishes_in_time_does_not_fire() -> None:
    wd = watchdog.Watchdog()
    with wd.guard(0.2) as g:
        pass
    time.sleep(0.4)
    assert not g.fired
    wd.stop()


def test_fire_all_cuts_every_guard() -> None:
    wd = watchdog.Watchdog()
    with wd.guard(100) as g1, wd.guard(100) as g2:
        wd.fire_all()
        assert g1.fired and g2.fired
    wd.stop()


def test_a_rate_limit_wait_ends_when_its_guard_is_cut() -> None:
    """--bwlimit: a body waiting for tokens (16 s for 1 MiB at 64 KiB/s) slept it out, so a
    SIGTERM waited ~30 s for the workers; the wait now ends with the cut."""
    from s3tui.engine.bandwidth import RateLimiter

    wd = watchdog.Watchdog()
    limiter = RateLimiter(64 * 1024, burst=1)
    outcome: list[tuple[str, float]] = []

    def body() -> None:
        t0 = time.monotonic()
        with wd.guard(600):
            try:
                limiter.throttle(1024 * 1024)
                outcome.append(("slept", time.monotonic() - t0))
            except watchdog.DeadlineExceeded:
                outcome.append(("cut", time.monotonic() - t0))

    t = threading.Thread(target=body)
    t.start()
    time.sleep(0.2)
    wd.fire_all()  # the stop path
    t.join(5)
    assert outcome and outcome[0][0] == "cut" and outcome[0][1] < 1.0, outcome
    # And at its own deadline, with nobody stopping the job.
    with wd.guard(0.3):
        t0 = time.monotonic()
        try:
            limiter.throttle(1024 * 1024)
            raise AssertionError("the wait outlived its guard")
        except watchdog.DeadlineExceeded:
            assert time.monotonic() - t0 < 1.0
    wd.stop()


def test_a_rate_limit_wait_outside_a_request_is_a_plain_sleep() -> None:
    from s3tui.engine.bandwidth import RateLimiter

    limiter = RateLimiter(1024 * 1024, burst=1)
    t0 = time.monotonic()
    limiter.throttle(100 * 1024)  # ~0.1 s, no guard: nothing to cut it
    assert 0.05 < time.monotonic() - t0 < 1.0
