"""Wall-clock deadlines for whole requests, whatever phase they are stuck in.

botocore's ``read_timeout`` is per socket read, so a trickling or stalled request never times
out, and once a server stops reading, ``sendall`` blocks with no Python code left to check a
clock. So the S3 module registers each request's socket with a :class:`Guard`, and one watchdog
thread shuts the socket down when the guard's deadline passes: every blocked ``send``/``recv``
fails at once, urllib3 discards the connection, and the attempt is retried on a fresh one.
"""

from __future__ import annotations

import contextlib
import heapq
import itertools
import socket
import threading
import time
from collections.abc import Iterator
from typing import Any

_current = threading.local()


class Guard:
    """One attempt's deadline; ``fired`` says the deadline cut it, not the server."""

    def __init__(self, seconds: float) -> None:
        self.seconds = seconds
        self.expires = time.monotonic() + seconds
        self.fired = False
        self._sock: socket.socket | None = None
        self.conn: Any = None  # the HTTP connection carrying the request (for zero-copy sends)
        self._lock = threading.Lock()
        self._cut = threading.Event()  # set by fire(): wakes sleep()

    def attach(self, sock: socket.socket | None, conn: Any = None) -> None:
        if sock is None:
            return
        with self._lock:
            self._sock = sock
            self.conn = conn
            if self.fired:
                _shutdown(sock)

    def fire(self) -> None:
        self._cut.set()
        with self._lock:
            self.fired = True
            if self._sock is not None:
                _shutdown(self._sock)

    def detach(self) -> None:
        with self._lock:
            self._sock = None
            self.conn = None

    def check(self) -> None:
        """For code paths that can look (a body's ``read``): fail fast once expired."""
        if self.fired or time.monotonic() > self.expires:
            self.fired = True
            raise DeadlineExceeded(self.seconds)

    def sleep(self, seconds: float) -> None:
        """Wait ``seconds`` (the ``--bwlimit`` pause), but end the moment the guard fires, at
        its deadline or on the stop path (``Watchdog.fire_all``): a plain sleep of a low rate's
        block (16 s at 64 KiB/s) kept a stopping job waiting for it."""
        self.check()
        if self._cut.wait(seconds):
            self.check()


def sleep(seconds: float) -> None:
    """Sleep ``seconds``; in a request under a guard, :meth:`Guard.sleep` (woken by a cut)."""
    guard = current_guard()
    if guard is None:
        time.sleep(seconds)
    else:
        guard.sleep(seconds)


class DeadlineExceeded(Exception):
    def __init__(self, seconds: float) -> None:
        super().__init__(f"deadline of {seconds:.1f}s exceeded")
        self.seconds = seconds


def _shutdown(sock: socket.socket) -> None:
    # shutdown, not close: the owning thread closes the fd, so it can never be reused under it.
    with contextlib.suppress(OSError):
        sock.shutdown(socket.SHUT_RDWR)


def current_guard() -> Guard | None:
    return getattr(_current, "guard", None)


def note_socket(sock: socket.socket | None, conn: Any = None) -> None:
    """Called by the S3 module's connection class whenever a request starts on a socket."""
    guard = current_guard()
    if guard is not None:
        guard.attach(sock, conn)


class Watchdog:
    """One thread for all guards of the process; sleeps until the earliest deadline."""

    def __init__(self) -> None:
        self._heap: list[tuple[float, int, Guard]] = []
        self._seq = itertools.count()
        self._cond = threading.Condition()
        self._thread: threading.Thread | None = None
        self._stopped = False
        self._generation = 0

    def _run(self, generation: int) -> None:
        with self._cond:
            while not self._stopped and self._generation == generation:
                now = time.monotonic()
                while self._heap and self._heap[0][0] <= now:
                    _, _, guard = heapq.heappop(self._heap)
                    guard.fire()
                timeout = self._heap[0][0] - now if self._heap else None
                self._cond.wait(timeout)

    @contextlib.contextmanager
    def guard(self, seconds: float) -> Iterator[Guard]:
        g = Guard(seconds)
        entry = (g.expires, next(self._seq), g)
        with self._cond:
            if self._thread is None or self._stopped:
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
            heapq.heappush(self._heap, entry)
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
            with self._cond, contextlib.suppress(ValueError):
                self._heap.remove(entry)
                heapq.heapify(self._heap)

    def fire_all(self) -> None:
        """Cut every request in flight now (the stop path: cancel, fatal error)."""
        with self._cond:
            guards = [g for _, _, g in self._heap]
        for g in guards:
            g.fire()

    def stop(self) -> None:
        with self._cond:
            self._stopped = True
            self._cond.notify()
