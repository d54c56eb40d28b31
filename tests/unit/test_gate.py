import threading
import time

from s3tui.engine.gate import ConcurrencyGate


def test_slowdown_halves_then_climbs_after_hold() -> None:
    now = [0.0]
    gate = ConcurrencyGate(8, hold=5.0, clock=lambda: now[0])
    stop = threading.Event()
    gate.slow_down()
    assert gate.limit == 4
    gate.slow_down()
    assert gate.limit == 2
    assert gate.acquire(stop)
    gate.release(success=True)
    assert gate.limit == 2  # still held
    now[0] = 6.0
    for expected in (3, 4, 5):
        assert gate.acquire(stop)
        gate.release(success=True)
        assert gate.limit == expected
    for _ in range(10):
        gate.acquire(stop)
        gate.release(success=True)
    assert gate.limit == 8  # never past the ceiling


def test_limit_blocks_until_release_and_stop_unblocks() -> None:
    gate = ConcurrencyGate(1)
    stop = threading.Event()
    assert gate.acquire(stop)
    got: list[bool] = []
    t = threading.Thread(target=lambda: got.append(gate.acquire(stop)))
    t.start()
    t.join(0.3)
    assert t.is_alive()  # waiting for a slot
    stop.set()
    t.join(2)
    assert got == [False]


def test_pause_and_ceiling() -> None:
    gate = ConcurrencyGate(2)
    stop = threading.Event()
    gate.set_paused(True)
    got: list[bool] = []
    t = threading.Thread(target=lambda: got.append(gate.acquire(stop)))
    t.start()
    t.join(0.3)
    assert t.is_alive() and not got
    gate.set_paused(False)
    t.join(2)
    assert got == [True]
    assert gate.set_ceiling(5) == 5 and gate.limit == 5
    assert gate.set_ceiling(1) == 1 and gate.limit == 1


def test_light_requests_take_a_quarter_slot_and_parts_have_priority() -> None:
    """Small files fill 4 per slot; a waiting part is admitted before more small files."""
    stop = threading.Event()
    gate = ConcurrencyGate(2)
    assert all(gate.acquire(stop, light=True) for _ in range(8))
    assert gate.active == 2

    light = threading.Thread(
        target=lambda: got.append(("light", gate.acquire(stop, True))), daemon=True
    )
    got: list[tuple[str, bool]] = []
    heavy = threading.Thread(target=lambda: got.append(("part", gate.acquire(stop))), daemon=True)
    heavy.start()
    time.sleep(0.05)
    light.start()
    time.sleep(0.05)
    assert got == []  # full: 8 quarters of 8
    for _ in range(4):  # four small files finish: one slot's worth
        gate.release(True, light=True)
    heavy.join(2)
    assert got[0] == ("part", True)
    time.sleep(0.05)
    assert len(got) == 1  # 4 light + 1 part = the limit of 2 slots
    gate.release(True, light=True)
    light.join(2)
    assert got[1] == ("light", True)
    stop.set()


def test_a_part_alone_is_admitted_under_a_limit_of_one() -> None:
    stop = threading.Event()
    gate = ConcurrencyGate(1)
    assert gate.acquire(stop)
    assert gate.active == 1
    gate.release(True)
    assert gate.acquire(stop, light=True) and gate.acquire(stop, light=True)
    assert gate.active == 1
