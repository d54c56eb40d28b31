"""Wall-clock deadlines for whole requests, whatever phase they are stuck in, and stalls.

botocore's ``read_timeout`` is per socket read, so a trickling or stalled request never times
out, and once a server stops reading, ``sendall`` blocks with no Python code left to check a
clock. So the S3 module registers each request's socket with a :class:`Guard`, and one watchdog
thread shuts the socket down when the guard's deadline passes: every blocked ``send``/``recv``
fails at once, urllib3 discards the connection, and the attempt is retried on a fresh one.

A guard with a :class:`StallRule` is also cut when its request stops making progress, long
before its deadline: a deadline must allow for a slow link, a stall is seen by its silence.
Progress is what the body reports (:meth:`Guard.touch`: bytes that left the socket) and what
the watchdog itself sees on the socket when it looks (TCP_INFO: bytes the peer acknowledged,
bytes of the answer received). While the socket holds bytes the peer has not acknowledged, the
request is *sending*, and a silence longer than ``StallRule.sending`` is a stall. Once the socket
is idle (the body is out, or not started), the request waits for the server: that wait may last
until the estimate's predicted end of the whole request plus ``StallRule.answer``. A request
sleeping in the ``--bwlimit`` limiter is never stalled.
"""

from __future__ import annotations

import contextlib
import fcntl
import heapq
import itertools
import socket
import struct
import termios
import threading
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from typing import Any

_current = threading.local()

Clock = Callable[[], float]
# What the watchdog reads off a request's socket: ((bytes acknowledged by the peer, bytes
# received), or None where unknown; bytes sent and not yet acknowledged).
Probe = Callable[[Any], tuple[tuple[int, int] | None, int]]

# struct tcp_info (Linux >= 4.1): tcpi_bytes_acked and tcpi_bytes_received, u64 each.
_TCP_INFO_LEN = 256
_BYTES_ACKED_AT = 120
_BYTES_RECEIVED_AT = 128


@dataclass(frozen=True)
class StallRule:
    """How long a request may go without progress before it counts as stalled (seconds).

    ``sending``: the longest silence while the socket holds unacknowledged bytes. ``answer``:
    once the socket is idle, how long past ``max(last progress, predicted end)`` the server may
    take to answer. ``predicted``: what the estimate predicts for the whole request.
    """

    sending: float
    answer: float
    predicted: float = 0.0

    @property
    def probe(self) -> float:
        """How often the watchdog looks at a guarded socket: a stall is cut at most this much
        later than ``sending`` after the last progress."""
        return max(0.05, min(0.5, self.sending / 4))


class Guard:
    """One attempt's deadline; ``fired`` says the guard cut it, not the server, and ``cause``
    why: ``"deadline"``, ``"stalled"`` or ``"stopped"`` (:meth:`Watchdog.fire_all`)."""

    def __init__(
        self,
        seconds: float,
        stall: StallRule | None = None,
        clock: Clock = time.monotonic,
        probe: Probe | None = None,
    ) -> None:
        self.seconds = seconds
        self.stall = stall
        self._clock = clock
        self._probe = probe or probe_socket
        self.started = clock()
        self.expires = self.started + seconds
        self.fired = False
        self.cause: str | None = None
        # Progress: last time bytes moved (the body said so, or the socket showed it).
        self.last_progress = self.started
        self.silent_for = 0.0  # at a stall cut: how long nothing had moved
        self._sleeping = 0  # > 0 while waiting in the --bwlimit limiter
        self._seen: tuple[int, int] | None = None  # last (acked, received) read off the socket
        self._sock: socket.socket | None = None
        self.conn: Any = None  # the HTTP connection carrying the request (for zero-copy sends)
        self._lock = threading.Lock()
        self._cut = threading.Event()  # set by fire(): wakes sleep()
        self._entry: list[Any] | None = None  # the watchdog's heap entry (under its lock)

    def attach(self, sock: socket.socket | None, conn: Any = None) -> None:
        if sock is None:
            return
        with self._lock:
            self._sock = sock
            self.conn = conn
            self._seen = None
            if self.fired:
                _shutdown(sock)

    def touch(self) -> None:
        """Progress seen (bytes left the socket): called by the body as it sends."""
        self.last_progress = self._clock()

    def fire(self, cause: str = "stopped") -> None:
        self._cut.set()
        with self._lock:
            if not self.fired:
                self.cause = cause
            self.fired = True
            if self._sock is not None:
                _shutdown(self._sock)

    def detach(self) -> None:
        with self._lock:
            self._sock = None
            self.conn = None

    def check(self) -> None:
        """For code paths that can look (a body's ``read``): fail fast once expired."""
        if not self.fired and self._clock() > self.expires:
            self.fire("deadline")
        if self.fired:
            raise DeadlineExceeded(self.seconds, self.cause == "stalled")

    def sleep(self, seconds: float) -> None:
        """Wait ``seconds`` (the ``--bwlimit`` pause), but end the moment the guard fires, at
        its deadline or on the stop path (``Watchdog.fire_all``): a plain sleep of a low rate's
        block (16 s at 64 KiB/s) kept a stopping job waiting for it. A request waiting here is
        not stalled: the wait is progress as far as the stall rule goes."""
        self.check()
        self.touch()
        self._sleeping += 1
        try:
            cut = self._cut.wait(seconds)
        finally:
            self._sleeping -= 1
            self.touch()
        if cut:
            self.check()

    # --- what the watchdog asks ---
    def verdict(self, now: float) -> tuple[str | None, float]:
        """Whether to cut the request now (``"deadline"``/``"stalled"``) and, if not, when to
        look again."""
        if now >= self.expires:
            return "deadline", now
        rule = self.stall
        if rule is None:
            return None, self.expires
        sending = self._observe(now)
        if self._sleeping:
            self.last_progress = now
        if sending:
            cut_at = self.last_progress + rule.sending
        else:
            cut_at = max(self.last_progress, self.started + rule.predicted) + rule.answer
        if now >= cut_at:
            self.silent_for = now - self.last_progress
            return "stalled", now
        return None, min(self.expires, cut_at, now + rule.probe)

    def _observe(self, now: float) -> bool:
        """Read the socket: progress if the peer acknowledged or sent bytes since the last look.
        True while the socket holds bytes not yet acknowledged (the request is sending)."""
        with self._lock:
            sock = self._sock
            if sock is None:
                return False
            seen, unacked = self._probe(sock)
            if seen is not None:
                if self._seen is not None and seen != self._seen:
                    self.last_progress = now
                self._seen = seen
        return unacked > 0


def sleep(seconds: float) -> None:
    """Sleep ``seconds``; in a request under a guard, :meth:`Guard.sleep` (woken by a cut)."""
    guard = current_guard()
    if guard is None:
        time.sleep(seconds)
    else:
        guard.sleep(seconds)


class DeadlineExceeded(Exception):
    def __init__(self, seconds: float, stalled: bool = False) -> None:
        what = "stalled: no progress" if stalled else f"deadline of {seconds:.1f}s exceeded"
        super().__init__(what)
        self.seconds = seconds
        self.stalled = stalled


def _shutdown(sock: socket.socket) -> None:
    # shutdown, not close: the owning thread closes the fd, so it can never be reused under it.
    with contextlib.suppress(OSError):
        sock.shutdown(socket.SHUT_RDWR)


def probe_socket(sock: socket.socket) -> tuple[tuple[int, int] | None, int]:
    """What a guard reads off its request's socket (see ``Probe``)."""
    return _socket_counters(sock), unsent(sock)


def _socket_counters(sock: socket.socket) -> tuple[int, int] | None:
    """(bytes the peer acknowledged, bytes received) of a TCP socket; None where unknown."""
    try:
        info = sock.getsockopt(socket.IPPROTO_TCP, socket.TCP_INFO, _TCP_INFO_LEN)
    except (OSError, AttributeError, ValueError):
        return None
    if len(info) < _BYTES_RECEIVED_AT + 8:
        return None
    return struct.unpack_from("QQ", info, _BYTES_ACKED_AT)  # type: ignore[return-value]


def unsent(sock: socket.socket) -> int:
    """Bytes in the socket's send queue not yet acknowledged (Linux SIOCOUTQ); 0 if unknown."""
    try:
        return struct.unpack("i", fcntl.ioctl(sock.fileno(), termios.TIOCOUTQ, b"\0\0\0\0"))[0]
    except (OSError, AttributeError, ValueError):
        return 0


def current_guard() -> Guard | None:
    return getattr(_current, "guard", None)


def note_socket(sock: socket.socket | None, conn: Any = None) -> None:
    """Called by the S3 module's connection class whenever a request starts on a socket."""
    guard = current_guard()
    if guard is not None:
        guard.attach(sock, conn)


class Watchdog:
    """One thread for all guards of the process; sleeps until the next guard is due.

    ``clock``, ``thread=False`` and ``probe`` are for tests: with no thread, :meth:`tick` does
    the thread's work.
    """

    def __init__(
        self, clock: Clock = time.monotonic, thread: bool = True, probe: Probe | None = None
    ) -> None:
        self._probe = probe
        self._heap: list[list[Any]] = []  # [when, seq, guard]
        self._seq = itertools.count()
        self._cond = threading.Condition()
        self._clock = clock
        self._use_thread = thread
        self._thread: threading.Thread | None = None
        self._stopped = False
        self._generation = 0

    def _run(self, generation: int) -> None:
        with self._cond:
            while not self._stopped and self._generation == generation:
                self._cond.wait(self._tick_locked(self._clock()))

    def tick(self) -> float | None:
        """Cut the guards that are due; seconds until the next one is (None: no guard)."""
        with self._cond:
            return self._tick_locked(self._clock())

    def _tick_locked(self, now: float) -> float | None:
        while self._heap and self._heap[0][0] <= now:
            entry = heapq.heappop(self._heap)
            guard: Guard = entry[2]
            cause, when = guard.verdict(now)
            if cause is not None:
                guard._entry = None
                guard.fire(cause)
            else:
                self._push(guard, when)
        return max(0.0, self._heap[0][0] - now) if self._heap else None

    def _push(self, guard: Guard, when: float) -> list[Any]:
        entry = [when, next(self._seq), guard]
        guard._entry = entry
        heapq.heappush(self._heap, entry)
        return entry

    @contextlib.contextmanager
    def guard(self, seconds: float, stall: StallRule | None = None) -> Iterator[Guard]:
        g = Guard(seconds, stall, self._clock, self._probe)
        first = g.expires if stall is None else min(g.expires, g.started + stall.probe)
        with self._cond:
            if self._use_thread and (self._thread is None or self._stopped):
                # Also after stop(): a guard whose deadline nobody watches would never fire.
                self._stopped = False
                self._generation += 1
                self._thread = threading.Thread(
                    target=self._run,
                    args=(self._generation,),
                    name="s3tui-watchdog",
                    daemon=True,
                )
                self._thread.start()
            entry = self._push(g, first)
            if self._heap[0] is entry:  # sooner than what the thread sleeps towards
                self._cond.notify()
        _current.guard = g
        try:
            yield g
        finally:
            _current.guard = None
            g.detach()
            # Lazy removal would keep dead guards until their deadline; a direct remove is
            # O(n) but n is the number of requests in flight (tens at most).
            with self._cond:
                if g._entry is not None:
                    with contextlib.suppress(ValueError):
                        self._heap.remove(g._entry)
                        heapq.heapify(self._heap)
                    g._entry = None

    def fire_all(self) -> None:
        """Cut every request in flight now (the stop path: cancel, fatal error)."""
        with self._cond:
            guards = [entry[2] for entry in self._heap]
        for g in guards:
            g.fire("stopped")

    def stop(self) -> None:
        with self._cond:
            self._stopped = True
            self._cond.notify()
