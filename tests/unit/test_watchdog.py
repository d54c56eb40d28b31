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
