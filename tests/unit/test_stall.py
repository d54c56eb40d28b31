"""The stall rule: a request whose bytes stop moving is cut long before its deadline,
a slow-but-moving one keeps it, and a retry's deadline grows only on evidence against the
estimate. Everything here runs on a fake clock and a fake socket: no sleeping, no network."""

from __future__ import annotations

import threading
from typing import Any

import pytest

from s3tui.engine import watchdog
from s3tui.engine.bandwidth import stall_rule_for
from s3tui.engine.config import UploadConfig
from s3tui.engine.progress import Progress
from s3tui.engine.remote import Failure
from s3tui.engine.transfer import Task, Transfer
from s3tui.engine.watchdog import StallRule, Watchdog

MB = 1_000_000
MiB = 1 << 20


class Clock:
    def __init__(self) -> None:
        self.now = 1000.0

    def __call__(self) -> float:
        return self.now


class Link:
    """A request's socket as the watchdog sees it: bytes acknowledged, received, in flight."""

    def __init__(self, counters: bool = True) -> None:
        self.acked = 1
        self.received = 0
        self.unacked = 4 * MiB  # a full send buffer: the request is sending
        self.counters = counters
        self.cut = False

    def probe(self, sock: Any) -> tuple[tuple[int, int] | None, int]:
        assert sock is self
        return ((self.acked, self.received) if self.counters else None), self.unacked

    def shutdown(self, how: int) -> None:
        self.cut = True


def run(
    wd: Watchdog,
    clock: Clock,
    g: watchdog.Guard,
    until: float,
    step: float = 0.05,
    each: Any = None,
) -> float | None:
    """Advance the fake clock by ``step`` to ``until`` (seconds since the guard started),
    ticking the watchdog; the time since start at which the guard fired, or None."""
    start = g.started
    while clock.now - start < until:
        clock.now = round(clock.now + step, 6)
        if each is not None:
            each(clock.now - start)
        wd.tick()
        if g.fired:
            return clock.now - start
    return None


# A request on the link: 8 MiB at ~8 MB/s, deadline ~9 s.
RULE = StallRule(sending=1.5, answer=3.5, predicted=1.05)


def make(seconds: float = 9.0, rule: StallRule | None = RULE, counters: bool = True):
    clock = Clock()
    link = Link(counters)
    wd = Watchdog(clock=clock, thread=False, probe=link.probe)
    return clock, link, wd, wd.guard(seconds, rule)


def test_a_send_that_stops_moving_is_cut_after_the_sending_allowance() -> None:
    clock, link, wd, ctx = make()
    with ctx as g:
        g.attach(link)  # type: ignore[arg-type]

        def moving_until_2s(t: float) -> None:
            if t <= 2.0:
                link.acked += 20_000

        fired = run(wd, clock, g, 20, each=moving_until_2s)
    assert g.cause == "stalled" and link.cut
    # Last progress seen at ~2.0 s; allowance 1.5 s; the watchdog looks every 0.375 s.
    assert fired is not None and 3.5 <= fired <= 3.5 + RULE.probe + 0.1, fired
    assert 1.5 <= g.silent_for <= 1.5 + RULE.probe + 0.1


def test_a_slow_but_moving_request_keeps_its_deadline() -> None:
    """Progress every 1.2 s (well under the 1.5 s allowance): never a stall, cut at 9 s."""
    clock, link, wd, ctx = make()
    with ctx as g:
        g.attach(link)  # type: ignore[arg-type]

        def trickle(t: float) -> None:
            if round(t / 0.05) % 24 == 0:
                link.acked += 1460

        fired = run(wd, clock, g, 20, each=trickle)
    assert g.cause == "deadline" and fired == pytest.approx(9.0, abs=0.06)


def test_the_body_reports_are_progress_where_the_socket_cannot_say() -> None:
    """No TCP_INFO (another OS): touch() from the body's sent callbacks is the evidence."""
    clock, link, wd, ctx = make(counters=False)
    with ctx as g:
        g.attach(link)  # type: ignore[arg-type]
        fired = run(wd, clock, g, 6, each=lambda t: g.touch() if round(t / 0.05) % 20 == 0 else 0)
        assert fired is None and not g.fired  # touched every 1.0 s: fine for 6 s
        fired = run(wd, clock, g, 20)  # then silence
    assert g.cause == "stalled"
    assert fired is not None and 6 + 1.5 <= fired <= 6 + 1.5 + RULE.probe + 0.1


def test_waiting_for_the_answer_gets_the_predicted_end_plus_the_answer_allowance() -> None:
    """The body is out (nothing unacknowledged): the server may take latency + floor."""
    rule = StallRule(sending=1.5, answer=3.5, predicted=4.0)
    clock, link, wd, ctx = make(seconds=20.0, rule=rule)
    with ctx as g:
        g.attach(link)  # type: ignore[arg-type]

        def body_out_at_1s(t: float) -> None:
            if t < 1.0:
                link.acked += 100_000
            else:
                link.unacked = 0

        fired = run(wd, clock, g, 30, each=body_out_at_1s)
    # Not at 1 + 1.5 (the sending allowance), not at 1 + 3.5: at predicted end 4 + 3.5.
    assert g.cause == "stalled" and fired is not None
    assert 7.5 <= fired <= 7.5 + rule.probe + 0.1, fired


def test_answer_bytes_arriving_are_progress() -> None:
    clock, link, wd, ctx = make(seconds=12.0)
    link.unacked = 0
    with ctx as g:
        g.attach(link)  # type: ignore[arg-type]

        def trickling_answer(t: float) -> None:
            if round(t / 0.05) % 40 == 0:
                link.received += 10

        fired = run(wd, clock, g, 20, each=trickling_answer)
    assert g.cause == "deadline" and fired == pytest.approx(12.0, abs=0.06)


def test_no_socket_yet_counts_as_waiting_for_the_server() -> None:
    """Connecting (no socket registered): the answer allowance, from the predicted end."""
    clock, _link, wd, ctx = make()
    with ctx as g:
        fired = run(wd, clock, g, 20)
    assert g.cause == "stalled" and fired is not None
    due = RULE.predicted + RULE.answer
    assert due - 1e-6 <= fired <= due + RULE.probe + 0.1, fired


def test_without_a_stall_rule_only_the_deadline_cuts() -> None:
    """Requests without a body (create, complete, abort) keep only their deadline."""
    clock, link, wd, ctx = make(rule=None)
    with ctx as g:
        g.attach(link)  # type: ignore[arg-type]
        fired = run(wd, clock, g, 20)
    assert g.cause == "deadline" and fired == pytest.approx(9.0, abs=0.06)


def test_a_request_sleeping_in_the_rate_limiter_is_not_stalled() -> None:
    clock, link, wd, ctx = make(seconds=60.0)
    with ctx as g:
        g.attach(link)  # type: ignore[arg-type]
        outcome: list[str] = []

        def sleeper() -> None:
            try:
                g.sleep(3600)  # a real wait, ended by the cut below
                outcome.append("woke")
            except watchdog.DeadlineExceeded:
                outcome.append("cut")

        t = threading.Thread(target=sleeper)
        t.start()
        while not g._sleeping:
            threading.Event().wait(0.001)
        assert run(wd, clock, g, 30) is None and not g.fired  # 30 s of fake silence, asleep
        wd.fire_all()
        t.join(5)
        assert outcome == ["cut"] and g.cause == "stopped"


def test_the_rule_follows_the_estimate() -> None:
    cfg = UploadConfig()
    fast = stall_rule_for(8 * MiB, 8 * MB, cfg)
    assert fast is not None
    assert fast.sending == 1.5  # 3 x 1 MiB at 8 MB/s = 0.39 s: the floor
    assert fast.answer == 3.5  # floor + latency allowance
    assert fast.predicted == pytest.approx(8 * MiB / (8 * MB))
    slow = stall_rule_for(8 * MiB, 300_000, cfg)
    assert slow is not None and slow.sending == pytest.approx(3 * MiB / 300_000)  # 10.5 s
    # After evidence against the estimate (nothing completes: the link may be down), the
    # allowances grow with the deadline, so an outage does not burn the attempts in seconds.
    grown = stall_rule_for(8 * MiB, 8 * MB, cfg, grown=2)
    assert grown is not None and grown.sending == 6.0 and grown.answer == 14.0
    assert stall_rule_for(0, 8 * MB, cfg) is None  # no body: deadline only
    assert stall_rule_for(8 * MiB, 8 * MB, UploadConfig(stall_floor=0)) is None  # off


# --- retry deadlines follow the evidence ---
def transfer() -> Transfer:
    return Transfer(
        UploadConfig(),
        Progress("src", "dst"),
        lambda e: Failure(True, False, "error", str(e)),
    )


def cut(cause: str, seconds: float = 9.0) -> watchdog.Guard:
    g = watchdog.Guard(seconds, RULE, Clock())
    g.fire(cause)
    return g


def task(label: str = "part 7") -> Task:
    return Task(label, 8 * MiB, lambda sent: None, lambda r: None, lambda f: None)


def test_a_stall_while_others_complete_keeps_the_normal_deadline() -> None:
    tr = transfer()
    me = task()
    tr._last_ok = 100.0  # another part completed 0.5 s ago
    assert not tr._deadline_grows(me, cut("stalled"), 1.9, None, now=100.5)


def test_a_deadline_while_others_complete_keeps_the_normal_deadline_once() -> None:
    tr = transfer()
    me = task()
    tr._last_ok = 100.0
    assert not tr._deadline_grows(me, cut("deadline"), 9.0, None, now=101.0)
    # ... but running out of its deadline twice in a row is evidence too.
    assert tr._deadline_grows(me, cut("deadline"), 9.0, "deadline", now=101.0)


def test_nothing_completed_within_the_attempt_grows_the_deadline() -> None:
    tr = transfer()
    me = task()
    assert tr._deadline_grows(me, cut("stalled"), 1.9, None, now=100.0)  # nothing ever did
    tr._last_ok = 80.0  # 20 s ago: longer than the attempt's 9 s deadline
    assert tr._deadline_grows(me, cut("stalled"), 1.9, None, now=100.0)


def test_others_running_out_of_time_grows_the_deadline() -> None:
    tr = transfer()
    me, other = task(), task("part 3")
    tr._last_ok = 99.9
    tr._late.append((97.0, other))
    assert tr._deadline_grows(me, cut("stalled"), 1.9, None, now=100.0)
    assert not tr._deadline_grows(other, cut("stalled"), 1.9, None, now=100.0)  # its own
    tr._late.clear()
    tr._late.append((80.0, other))  # long ago: not recent
    assert not tr._deadline_grows(me, cut("stalled"), 1.9, None, now=100.0)
