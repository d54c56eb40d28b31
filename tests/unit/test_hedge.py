"""Hedged requests: when a copy of a straggler goes out, who wins, and what the budget allows.

The policy runs on numbers alone; the pool tests run real worker threads, with attempts that
wait on events instead of a network (no sleeping on a guess: each waits for what it needs)."""

from __future__ import annotations

import threading
from typing import Any

from s3tui.engine.config import UploadConfig
from s3tui.engine.gate import ConcurrencyGate
from s3tui.engine.hedge import HedgePolicy, HedgeRules
from s3tui.engine.progress import EventKind, Progress
from s3tui.engine.remote import Failure
from s3tui.engine.transfer import Task, Transfer
from s3tui.engine.watchdog import current_guard

MiB = 1 << 20


def _policy(**kw: Any) -> HedgePolicy:
    return HedgePolicy(HedgeRules(**kw))


def test_no_hedge_before_enough_peers_finished() -> None:
    p = _policy(min_peers=4)
    for _ in range(3):
        p.finished(8 * MiB, 1.0)
    assert p.wait_for(8 * MiB) is None
    p.finished(8 * MiB, 1.0)
    assert p.wait_for(8 * MiB) is not None


def test_a_straggler_is_past_factor_times_the_peers_p95_scaled_to_its_size() -> None:
    p = _policy(factor=1.5, min_wait=0.5, min_peers=4)
    for seconds in [1.0] * 19 + [2.0]:  # p95 of 20 samples: the 19th smallest, 1.0 s
        p.finished(8 * MiB, seconds)
    assert abs((p.wait_for(8 * MiB) or 0) - 1.5) < 1e-9
    assert abs((p.wait_for(16 * MiB) or 0) - 3.0) < 1e-9  # twice the bytes, twice the time
    assert p.wait_for(64 * 1024) == 0.5  # never sooner than min_wait


def test_budget_outside_the_tail_is_a_share_of_requests_and_bytes() -> None:
    p = _policy(share=0.05)
    for _ in range(19):
        p.request_started(8 * MiB)
    assert not p.allows(8 * MiB, tail=False)  # 1 hedge of 19 requests is over 5%
    p.request_started(8 * MiB)
    assert p.allows(8 * MiB, tail=False)  # 1 of 20
    assert not p.allows(16 * MiB, tail=False)  # but not twice the bytes of one request
    p.hedged(8 * MiB)
    assert not p.allows(8 * MiB, tail=False)
    assert p.allows(8 * MiB, tail=True)  # in the tail a straggler always gets its copy


class _Straggler:
    """A part whose first copy hangs until its guard cuts it; every other copy answers."""

    def __init__(self) -> None:
        self.calls = 0
        self.lock = threading.Lock()
        self.first_cut = threading.Event()

    def attempt(self, sent: Any) -> str:
        with self.lock:
            self.calls += 1
            n = self.calls
        sent(MiB)
        if n == 1:
            guard = current_guard()
            assert guard is not None
            guard._cut.wait(30)  # hangs until cut: by its copy's win (or the 30 s deadline)
            self.first_cut.set()
            raise ConnectionResetError("cut")
        return f"etag-{n}"


def _transfer(concurrency: int = 4, hedge: bool = True) -> Transfer:
    cfg = UploadConfig(concurrency=concurrency, hedge=hedge, initial_bandwidth=1e9)
    t = Transfer(cfg, Progress("src", "dst"), classify=lambda e: Failure(True, False, "x", str(e)))
    t.hedger.policy.rules = HedgeRules(min_wait=0.05, min_peers=4)
    for _ in range(4):
        t.hedger.finished(2 * MiB, 0.01)  # peers that took 10 ms
    return t


def test_a_stuck_part_is_hedged_and_the_copy_answers_once() -> None:
    t = _transfer()
    s = _Straggler()
    answers: list[str] = []
    failures: list[Failure] = []
    t.start()
    try:
        ok = t.run_task(
            Task("part 3", 2 * MiB, s.attempt, answers.append, failures.append, part=3, hedge=True)
        )
    finally:
        t.shutdown()
        t.close()
    assert ok and answers == ["etag-2"] and not failures  # the copy's answer, once
    assert s.first_cut.is_set()  # the slow copy was cut, not left running
    assert t.hedger.count == 1 and t.hedger.policy.won == 1
    rows = [(r.hedge, r.ok, r.error) for r in t.records]
    assert sorted(rows, key=str) == sorted(
        [(True, True, None), (False, False, "overtaken by its hedge")], key=str
    )
    events = [e.kind for e in t.progress.snapshot().events]
    assert EventKind.HEDGE in events and EventKind.RETRY not in events
    assert t.gate.active == 0  # both slots given back


def test_no_hedge_for_a_task_that_does_not_allow_it_nor_when_hedging_is_off() -> None:
    for task_hedge, cfg_hedge in ((False, True), (True, False)):
        t = _transfer(hedge=cfg_hedge)
        s = _Straggler()
        t.start()
        done = threading.Event()

        def run(
            t: Transfer = t, s: _Straggler = s, hedge: bool = task_hedge, done: Any = done
        ) -> None:
            t.run_task(Task("put", 2 * MiB, s.attempt, lambda r: None, lambda f: None, hedge=hedge))
            done.set()

        threading.Thread(target=run, daemon=True).start()
        # Not hedged: the first copy hangs; give the hedger many of its rounds, then cut it.
        assert not done.wait(1.0)
        assert s.calls == 1 and t.hedger.count == 0
        t.stop.set()
        t.watchdog.fire_all()
        assert done.wait(10)
        t.shutdown()
        t.close()


def test_a_hedge_never_takes_a_slot_work_is_waiting_for() -> None:
    gate = ConcurrencyGate(2)
    stop = threading.Event()
    assert gate.acquire(stop)
    assert gate.try_acquire()  # a free slot, nobody waiting: the hedge may take it
    gate.release(True)
    assert gate.acquire(stop)
    assert not gate.try_acquire()  # full
    gate.release(True)
    gate._heavy_waiting = 1  # a part waits for the slot
    assert not gate.try_acquire()
