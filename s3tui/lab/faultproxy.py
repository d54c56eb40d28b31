"""A fault-injecting HTTP/1.1 proxy for loopback tests: stalls, resets, S3 errors, slow links.

It sits between an S3 client and a local server and breaks requests on purpose, so the retry,
deadline and abort paths of s3tui run against real sockets instead of mocks. The client->server
direction is parsed (request line, headers, Content-Length or chunked body) so faults can hit one
kind of request mid-body; the server->client direction is pumped as plain bytes.

Stdlib only, and loopback only: it refuses to listen on or forward to any other address.
"""

from __future__ import annotations

import contextlib
import ipaddress
import random
import re
import select
import socket
import struct
import threading
import time
from collections.abc import Callable, Collection
from dataclasses import dataclass, field
from typing import Literal, NamedTuple, Protocol
from urllib.parse import urlsplit

FaultKind = Literal[
    "stall", "stall_response", "lose_response", "reset", "respond", "corrupt", "drop", "pause"
]

_RECV = 256 * 1024  # large buffers: an unthrottled proxy must not be the bottleneck
_MAX_HEAD = 64 * 1024
_POLL_HUP = select.POLLHUP | select.POLLERR | getattr(select, "POLLRDHUP", 0x2000)
_REASONS = {
    400: "Bad Request",
    403: "Forbidden",
    404: "Not Found",
    408: "Request Timeout",
    409: "Conflict",
    500: "Internal Server Error",
    501: "Not Implemented",
    502: "Bad Gateway",
    503: "Service Unavailable",
    504: "Gateway Timeout",
}


@dataclass(frozen=True)
class Fault:
    """What to do to a selected request. Build with the classmethods."""

    kind: FaultKind
    after_bytes: int = 0
    status: int = 0
    code: str = ""
    message: str = ""
    seconds: float = 0.0

    @classmethod
    def stall(cls, after_bytes: int = 0) -> Fault:
        """Forward headers + after_bytes of body, then stop reading and forwarding: the client's
        send blocks once socket buffers fill (what a per-read timeout cannot catch)."""
        return cls("stall", after_bytes=after_bytes)

    @classmethod
    def stall_response(cls) -> Fault:
        """Forward the whole request but never return the response."""
        return cls("stall_response")

    @classmethod
    def pause(cls, seconds: float, after_bytes: int = 0) -> Fault:
        """Forward headers + after_bytes of body, read nothing for ``seconds``, then go on: a
        link that stops for a while (a handover, a congested hop) and comes back. The client's
        send blocks meanwhile, however short its socket timeout."""
        return cls("pause", after_bytes=after_bytes, seconds=seconds)

    @classmethod
    def drop(cls) -> Fault:
        """Take the request and never forward or answer it: a network that lost it on the way
        (the server never acts, the client waits until it gives up)."""
        return cls("drop")

    @classmethod
    def lose_response(cls) -> Fault:
        """Forward the whole request, let the server answer, then reset the client's connection
        without a byte of that answer: the request took effect, the client cannot know."""
        return cls("lose_response")

    @classmethod
    def reset(cls, after_bytes: int = 0) -> Fault:
        """Forward headers + after_bytes of body, then RST the client connection."""
        return cls("reset", after_bytes=after_bytes)

    @classmethod
    def corrupt(cls, at_byte: int = 0) -> Fault:
        """Forward the request with one body byte flipped (at ``at_byte``): bit rot on the
        wire, which only an end-to-end checksum the server verifies can catch. The fault counts
        as injected when the request is selected: one whose body is shorter than ``at_byte``
        passes intact, so select a request that is long enough."""
        return cls("corrupt", after_bytes=at_byte)

    @classmethod
    def respond(cls, status: int, code: str, message: str = "") -> Fault:
        """Answer with an S3 XML error without forwarding, then close."""
        return cls("respond", status=status, code=code, message=message or code)

    @classmethod
    def slow_down(cls) -> Fault:
        return cls.respond(503, "SlowDown", "Please reduce your request rate.")

    @classmethod
    def internal_error(cls) -> Fault:
        return cls.respond(
            500, "InternalError", "We encountered an internal error. Please try again."
        )


# Module-level shorthands: proxy.add_rule(stall(1 << 20), path="partNumber=")
stall = Fault.stall
stall_response = Fault.stall_response
lose_response = Fault.lose_response
drop = Fault.drop
reset = Fault.reset
respond = Fault.respond
slow_down = Fault.slow_down
internal_error = Fault.internal_error


@dataclass
class Rule:
    """Which requests get a fault: a matcher (method, regex searched in path+query, regex
    searched in the request head's header lines) and a selector (every match / probability with
    a seeded RNG / the nth matches), capped by times.

    Counters are updated under the proxy's lock; read them after the traffic is done.
    """

    fault: Fault
    method: str | None = None
    path: str | None = None
    probability: float | None = None
    nth: int | Collection[int] | None = None
    times: int | None = None
    seed: int = 0
    header: str | None = None
    matched: int = field(default=0, init=False)
    injected: int = field(default=0, init=False)

    def __post_init__(self) -> None:
        self._re = re.compile(self.path) if self.path else None
        self._header_re = (
            re.compile(self.header, re.IGNORECASE | re.MULTILINE) if self.header else None
        )
        self._rng = random.Random(self.seed)
        self._nth = {self.nth} if isinstance(self.nth, int) else set(self.nth or ())
        if self.method:
            self.method = self.method.upper()

    def _select(self, method: str, target: str, head: str = "") -> bool:
        """Count a matching request and decide whether it gets the fault (caller holds lock)."""
        if self.method and method != self.method:
            return False
        if self._re and not self._re.search(target):
            return False
        if self._header_re and not self._header_re.search(head.partition("\r\n")[2]):
            return False
        self.matched += 1
        if self.times is not None and self.injected >= self.times:
            return False
        if self._nth and self.matched not in self._nth:
            return False
        if self.probability is not None and self._rng.random() >= self.probability:
            return False
        self.injected += 1
        return True


class InjectedFault(NamedTuple):
    time: float
    kind: FaultKind
    method: str
    path: str


class _Request(NamedTuple):
    head: bytes
    method: str
    target: str
    length: int | None  # Content-Length; None with chunked
    chunked: bool
    expect_continue: bool
    headers: tuple[str, ...] = ()  # the names, lowercased


class _LimitReached(Exception):
    pass


def _loopback(host: str) -> tuple[socket.AddressFamily, str]:
    """Resolve host and insist it is a loopback address (this tool must never reach out)."""
    infos = socket.getaddrinfo(host, None, proto=socket.IPPROTO_TCP)
    infos.sort(key=lambda info: info[0] != socket.AF_INET)  # "localhost": prefer 127.0.0.1
    for family, _, _, _, addr in infos:
        ip = addr[0]
        if ipaddress.ip_address(ip).is_loopback:
            return family, ip
    raise ValueError(f"FaultProxy is loopback-only; {host!r} is not a loopback address")


def _parse_head(head: bytes) -> _Request:
    lines = head.decode("latin-1").split("\r\n")
    method, target, _version = lines[0].split(" ", 2)
    length: int | None = 0
    chunked = expect = False
    names: list[str] = []
    for line in lines[1:]:
        if not line:
            continue
        name, _, value = line.partition(":")
        name = name.strip().lower()
        names.append(name)
        value = value.strip()
        if name == "content-length":
            length = int(value)
        elif name == "transfer-encoding" and "chunked" in value.lower():
            chunked = True
        elif name == "expect" and value.lower() == "100-continue":
            expect = True
    if chunked:
        length = None
    return _Request(head, method.upper(), target, length, chunked, expect, tuple(names))


class _Reader:
    """Buffered reads from the client socket, with zero-copy body chunks."""

    def __init__(self, sock: socket.socket) -> None:
        self.sock = sock
        self.buf = bytearray()
        self._rbuf = bytearray(_RECV)
        self._mv = memoryview(self._rbuf)

    def read_head(self) -> bytes | None:
        """The next request head, or None on a clean close between requests."""
        start = 0
        while True:
            i = self.buf.find(b"\r\n\r\n", start)
            if i >= 0:
                head = bytes(self.buf[: i + 4])
                del self.buf[: i + 4]
                return head
            if len(self.buf) > _MAX_HEAD:
                raise ConnectionError("request head too large")
            start = max(0, len(self.buf) - 3)
            n = self.sock.recv_into(self._rbuf)
            if n == 0:
                if self.buf.strip():
                    raise ConnectionError("client closed mid-head")
                return None
            self.buf += self._mv[:n]

    def read_line(self) -> bytes:
        while True:
            i = self.buf.find(b"\r\n")
            if i >= 0:
                line = bytes(self.buf[: i + 2])
                del self.buf[: i + 2]
                return line
            if len(self.buf) > _MAX_HEAD:
                raise ConnectionError("line too long")
            n = self.sock.recv_into(self._rbuf)
            if n == 0:
                raise ConnectionError("client closed mid-body")
            self.buf += self._mv[:n]

    def read_some(self, maxn: int) -> memoryview | bytes:
        """Up to maxn bytes (valid until the next call); raises on EOF."""
        if self.buf:
            k = min(maxn, len(self.buf))
            out = bytes(self.buf[:k])
            del self.buf[:k]
            return out
        n = self.sock.recv_into(self._rbuf, min(maxn, _RECV))
        if n == 0:
            raise ConnectionError("client closed mid-body")
        return self._mv[:n]


class _Conn:
    """State shared by one client connection's handler and its upstream pump."""

    def __init__(self, client: socket.socket) -> None:
        self.client = client
        self.upstream: socket.socket | None = None
        self.pump: threading.Thread | None = None
        self.hold = False  # swallow everything the server sends from now on
        self.swallowed = 0  # bytes of answers swallowed while holding
        self.delay_next_response = False
        self.upstream_eof = False
        self.active = False  # a request is in flight on it (counted in FaultProxy.in_flight)
        self.body_done = False  # its last bytes are forwarded: the next answer ends it


class FaultProxy:
    """Threaded loopback TCP proxy in front of an S3 server that injects faults per request.

    `bandwidth` (bytes/s per connection, upload direction) and `latency` (seconds before each
    request is forwarded and before each response's first bytes) may be changed while running.
    `total_bandwidth` caps the upload direction of all connections together (a link's capacity
    that they share). `max_in_flight` is the most requests seen in flight at once: a request
    counts from its head's arrival to the first bytes of its answer (or its connection's end),
    a window inside the client's own, so it never counts more than the client had in flight.
    """

    def __init__(
        self,
        upstream: str | tuple[str, int],
        *,
        host: str = "127.0.0.1",
        port: int = 0,
        bandwidth: float | None = None,
        latency: float = 0.0,
        total_bandwidth: float | None = None,
    ) -> None:
        if isinstance(upstream, str):
            parts = urlsplit(upstream if "//" in upstream else f"http://{upstream}")
            if parts.scheme != "http" or not parts.hostname or not parts.port:
                raise ValueError(f"upstream must be http://host:port, got {upstream!r}")
            upstream = (parts.hostname, parts.port)
        _, up_ip = _loopback(upstream[0])
        self.upstream = (up_ip, int(upstream[1]))
        self._family, self.host = _loopback(host)
        self._want_port = port
        self.port = 0
        self.bandwidth = bandwidth
        self.latency = latency
        self.total_bandwidth = total_bandwidth
        self._total_next = 0.0  # when the shared link is free again (total_bandwidth)
        self.in_flight = 0
        self.max_in_flight = 0
        self._rules: list[Rule] = []
        self._faults: list[InjectedFault] = []
        self._requests: list[tuple[str, str]] = []
        self._lock = threading.Lock()
        self._fault_cond = threading.Condition(self._lock)
        self._stop = threading.Event()
        self._listener: socket.socket | None = None
        self._accepting: threading.Thread | None = None
        self._down = False  # go_down(): refusing connections, no listener
        self._resetting = False  # go_down(refuse=False): every new connection is reset
        self._socks: set[socket.socket] = set()
        self._threads: set[threading.Thread] = set()

    # -- configuration ---------------------------------------------------------------------

    def add_rule(
        self,
        fault: Fault,
        *,
        method: str | None = None,
        path: str | None = None,
        probability: float | None = None,
        nth: int | Collection[int] | None = None,
        times: int | None = None,
        seed: int = 0,
        header: str | None = None,
    ) -> Rule:
        """Add a rule (first matching rule that fires wins) and return it for its counters.
        ``header``: a regex searched (case-insensitive, ``^`` at each line) in the request's
        header lines: the access key in ``Authorization: AWS4-HMAC-SHA256 Credential=KEY/...``,
        or a header's name, ``^x-amz-checksum-`` (a store that refuses some headers)."""
        rule = Rule(fault, method, path, probability, nth, times, seed, header)
        with self._lock:
            self._rules.append(rule)
        return rule

    def remove_rule(self, rule: Rule) -> None:
        with self._lock:
            self._rules.remove(rule)

    def clear_rules(self) -> None:
        with self._lock:
            self._rules.clear()

    # -- observation -----------------------------------------------------------------------

    @property
    def url(self) -> str:
        host = f"[{self.host}]" if ":" in self.host else self.host
        return f"http://{host}:{self.port}"

    @property
    def faults(self) -> list[InjectedFault]:
        """Every fault injected so far: (time, kind, method, path)."""
        with self._lock:
            return list(self._faults)

    @property
    def requests(self) -> list[tuple[str, str]]:
        """Every request seen: (method, path+query)."""
        with self._lock:
            return list(self._requests)

    @property
    def requests_seen(self) -> int:
        with self._lock:
            return len(self._requests)

    def reset_in_flight_max(self) -> None:
        with self._lock:
            self.max_in_flight = self.in_flight

    def _request_began(self, conn: _Conn) -> None:
        self._request_ended(conn)
        with self._lock:
            conn.active, conn.body_done = True, False
            self.in_flight += 1
            self.max_in_flight = max(self.max_in_flight, self.in_flight)

    def _request_ended(self, conn: _Conn) -> None:
        with self._lock:
            if conn.active:
                conn.active = False
                self.in_flight -= 1

    def _share_link(self, n: int) -> None:
        """Wait for this connection's turn on the shared link (total_bandwidth)."""
        total = self.total_bandwidth
        if not total:
            return
        with self._lock:
            now = time.monotonic()
            self._total_next = max(self._total_next, now) + n / total
            wait = self._total_next - now
        self._sleep(wait)

    def wait_for_faults(self, count: int = 1, timeout: float = 10.0) -> bool:
        """Block until at least count faults were injected (True) or timeout (False)."""
        with self._fault_cond:
            return self._fault_cond.wait_for(lambda: len(self._faults) >= count, timeout)

    # -- lifecycle -------------------------------------------------------------------------

    def start(self) -> FaultProxy:
        if self._listener is not None:
            raise RuntimeError("FaultProxy already started")
        self._stop.clear()
        self._listen(self._want_port)
        return self

    def _listen(self, port: int) -> None:
        lsock = socket.socket(self._family, socket.SOCK_STREAM)
        lsock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        lsock.bind((self.host, port))
        lsock.listen(128)
        self._listener = lsock
        self.port = lsock.getsockname()[1]
        self._accepting = self._spawn(self._accept_loop, "faultproxy-accept", lsock)

    # -- outages ---------------------------------------------------------------------------

    def go_down(self, refuse: bool = True) -> None:
        """The endpoint vanishes: every open connection is reset, and new ones are refused
        (the listener closes, as when the server is gone) or, with ``refuse=False``, accepted
        and reset at once (a firewall or load balancer in front of a dead server). Undo with
        :meth:`come_back`, which listens on the same port again."""
        with self._lock:
            if self._down or self._resetting or self._listener is None:
                return
            socks = list(self._socks)
            if not refuse:
                self._resetting = True
            else:
                self._down = True
                lsock, self._listener = self._listener, None
                accepting = self._accepting
        if refuse:
            with contextlib.suppress(OSError):
                lsock.shutdown(socket.SHUT_RDWR)  # wakes accept() on Linux
            lsock.close()
            if accepting is not None:
                accepting.join(5)
        for s in socks:
            with contextlib.suppress(OSError):
                s.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER, struct.pack("ii", 1, 0))
                s.shutdown(socket.SHUT_RDWR)

    def come_back(self) -> None:
        """Listen again on the same port after :meth:`go_down`."""
        with self._lock:
            self._resetting = False
            if not self._down:
                return
            self._down = False
        deadline = time.monotonic() + 10
        while True:
            try:
                self._listen(self.port)
                return
            except OSError:
                if time.monotonic() > deadline:
                    raise
                time.sleep(0.1)

    @property
    def down(self) -> bool:
        with self._lock:
            return self._down or self._resetting

    def stop(self) -> None:
        """Close the listener and every connection (stalled ones too) and join all threads."""
        self._stop.set()
        lsock, self._listener = self._listener, None
        if lsock is not None:
            with contextlib.suppress(OSError):
                lsock.shutdown(socket.SHUT_RDWR)  # wakes accept() on Linux
            lsock.close()
        with self._lock:
            socks = list(self._socks)
        for s in socks:
            with contextlib.suppress(OSError):
                s.shutdown(socket.SHUT_RDWR)
        deadline = time.monotonic() + 10
        while True:
            with self._lock:
                threads = [t for t in self._threads if t is not threading.current_thread()]
            if not threads or time.monotonic() > deadline:
                break
            for t in threads:
                t.join(max(0.0, deadline - time.monotonic()))
        with self._lock:
            socks = list(self._socks)
            self._socks.clear()
        for s in socks:
            s.close()

    def __enter__(self) -> FaultProxy:
        return self.start() if self._listener is None else self

    def __exit__(self, *exc: object) -> None:
        self.stop()

    def __repr__(self) -> str:
        return f"FaultProxy({self.url} -> {self.upstream[0]}:{self.upstream[1]})"

    # -- internals -------------------------------------------------------------------------

    def _spawn(self, target: Callable[..., None], name: str, *args: object) -> threading.Thread:
        def run() -> None:
            try:
                target(*args)
            finally:
                with self._lock:
                    self._threads.discard(threading.current_thread())

        t = threading.Thread(target=run, name=name, daemon=True)
        with self._lock:
            self._threads.add(t)
        t.start()
        return t

    def _track(self, s: socket.socket) -> socket.socket:
        with self._lock:
            self._socks.add(s)
        if self._stop.is_set():  # raced with stop(): don't leave it open
            with contextlib.suppress(OSError):
                s.shutdown(socket.SHUT_RDWR)
        return s

    def _close(self, s: socket.socket | None, *, rst: bool = False) -> None:
        if s is None:
            return
        with contextlib.suppress(OSError):
            if rst:
                s.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER, struct.pack("ii", 1, 0))
            else:
                s.shutdown(socket.SHUT_RDWR)
        s.close()
        with self._lock:
            self._socks.discard(s)

    def _accept_loop(self, lsock: socket.socket) -> None:
        while not self._stop.is_set():
            try:
                client, _ = lsock.accept()
            except OSError:
                if self._stop.is_set() or lsock.fileno() < 0 or self._listener is not lsock:
                    return
                time.sleep(0.01)
                continue
            if self._resetting:
                with contextlib.suppress(OSError):
                    client.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER, struct.pack("ii", 1, 0))
                client.close()
                continue
            client.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
            self._track(client)
            self._spawn(self._serve, "faultproxy-conn", client)

    def _pick_fault(self, method: str, target: str, head: str = "") -> Fault | None:
        with self._lock:
            self._requests.append((method, target))
            for rule in self._rules:
                if rule._select(method, target, head):
                    self._faults.append(InjectedFault(time.time(), rule.fault.kind, method, target))
                    self._fault_cond.notify_all()
                    return rule.fault
        return None

    def _sleep(self, seconds: float) -> None:
        if seconds > 0:
            self._stop.wait(seconds)

    def _serve(self, client: socket.socket) -> None:
        conn = _Conn(client)
        reader = _Reader(client)
        try:
            while not self._stop.is_set():
                head = reader.read_head()
                if head is None:
                    break
                req = _parse_head(head)
                self._request_began(conn)
                fault = self._pick_fault(req.method, req.target, head.decode("latin-1"))
                self._sleep(self.latency)
                if fault is not None and fault.kind == "respond":
                    self._respond(client, reader, req, fault)
                    break
                if fault is not None and fault.kind == "drop":
                    self._hold_until_closed(client)
                    break
                if conn.upstream is None:
                    self._connect_upstream(conn)
                elif conn.upstream_eof:
                    break  # server closed this connection; the client must open a new one
                if not self._forward(conn, reader, req, fault):
                    break
        except (OSError, ValueError, ConnectionError):
            pass
        finally:
            self._request_ended(conn)
            conn.hold = True
            self._close(conn.upstream)
            self._close(client)
            if conn.pump is not None and conn.pump is not threading.current_thread():
                conn.pump.join(5)

    def _connect_upstream(self, conn: _Conn) -> None:
        up = socket.create_connection(self.upstream, timeout=10)
        up.settimeout(None)
        up.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
        conn.upstream = self._track(up)
        conn.pump = self._spawn(self._pump, "faultproxy-pump", conn)

    def _forward(self, conn: _Conn, reader: _Reader, req: _Request, fault: Fault | None) -> bool:
        """Forward one request (maybe cut short by the fault); False ends the connection."""
        up = conn.upstream
        assert up is not None
        kind = fault.kind if fault else None
        limit = fault.after_bytes if fault and kind in ("stall", "reset") else None
        total = req.length
        if limit is not None and total is not None:
            total = min(total, limit)

        def before_last() -> None:
            # Called just before the last bytes we will forward: the server cannot answer the
            # request before that, yet an earlier "100 Continue" still reaches the client.
            conn.delay_next_response = True
            conn.body_done = True
            if kind in ("stall", "stall_response", "lose_response", "reset"):
                conn.hold = True

        head_is_last = total == 0 or (req.chunked and kind not in (None, "corrupt"))
        if head_is_last:
            before_last()
        conn.delay_next_response = True  # latency before the first answer (maybe a 100)
        up.sendall(req.head)
        if not head_is_last or req.chunked:
            flip = fault.after_bytes if fault and kind == "corrupt" else None
            with contextlib.suppress(_LimitReached):
                pause = (fault.after_bytes, fault.seconds) if fault and kind == "pause" else None
                self._forward_body(up, reader, req, limit, before_last, flip, pause)
            if req.chunked:
                conn.delay_next_response = True
        if kind == "reset":
            self._close(conn.client, rst=True)
            return False
        if kind in ("stall", "stall_response"):
            self._hold_until_closed(conn.client)
            return False
        if kind == "lose_response":
            deadline = time.monotonic() + 30
            while conn.swallowed == 0 and not conn.upstream_eof and time.monotonic() < deadline:
                self._sleep(0.01)  # the server's answer is being swallowed: it acted
            self._close(conn.client, rst=True)
            return False
        return True

    def _forward_body(
        self,
        up: _Sink,
        reader: _Reader,
        req: _Request,
        limit: int | None,
        before_last: Callable[[], None],
        flip: int | None = None,
        pause: tuple[int, float] | None = None,
    ) -> None:
        sent = 0
        next_at = time.monotonic()
        known = req.length if not req.chunked else None
        last = known if limit is None or known is None else min(known, limit)

        def send(data: memoryview | bytes) -> None:
            nonlocal sent, next_at
            n = len(data)
            if limit is not None and sent + n >= limit:
                data = data[: limit - sent]
                n = len(data)
            if last is not None and sent + n >= last:
                before_last()
            if flip is not None and sent <= flip < sent + n:
                data = bytearray(data)
                data[flip - sent] ^= 0xFF
            up.sendall(data)
            sent += n
            nonlocal pause
            if pause is not None and sent >= pause[0]:
                self._sleep(pause[1])
                pause = None
            if limit is not None and sent >= limit:
                raise _LimitReached()
            bw = self.bandwidth
            if bw:
                next_at = max(next_at, time.monotonic()) + n / bw
                self._sleep(next_at - time.monotonic())
            self._share_link(n)

        def chunk_size() -> int:
            bw = self.bandwidth
            return _RECV if not bw else int(min(64 * 1024, max(1024, bw / 20)))

        if not req.chunked:
            remaining = req.length or 0
            while remaining > 0:
                data = reader.read_some(min(remaining, chunk_size()))
                remaining -= len(data)
                send(data)
            return
        while True:  # chunked: relay the framing as-is, count every byte
            line = reader.read_line()
            send(line)
            size = int(line.split(b";", 1)[0].strip(), 16)
            if size == 0:
                while (trailer := reader.read_line()) != b"\r\n":
                    send(trailer)
                send(b"\r\n")
                return
            remaining = size + 2
            while remaining > 0:
                data = reader.read_some(min(remaining, chunk_size()))
                remaining -= len(data)
                send(data)

    def _pump(self, conn: _Conn) -> None:
        """Server -> client as plain bytes; swallowed once the handler set conn.hold."""
        up, client = conn.upstream, conn.client
        assert up is not None
        buf = bytearray(_RECV)
        mv = memoryview(buf)
        try:
            while True:
                n = up.recv_into(buf)
                if n == 0:
                    break
                if conn.delay_next_response:
                    conn.delay_next_response = False
                    self._sleep(self.latency)
                if conn.hold or self._stop.is_set():
                    conn.swallowed += n
                    continue
                client.sendall(mv[:n])
                if conn.body_done:
                    self._request_ended(conn)
        except OSError:
            pass
        conn.upstream_eof = True
        if not conn.hold:
            # The server closed: let the client see EOF so it drops this connection.
            with contextlib.suppress(OSError):
                client.shutdown(socket.SHUT_WR)

    def _hold_until_closed(self, client: socket.socket) -> None:
        """Keep a stalled connection open, reading nothing, until the client hangs up or we stop."""
        poller = select.poll()
        poller.register(client, _POLL_HUP)
        while not self._stop.is_set():
            if poller.poll(200):
                return

    def _respond(self, client: socket.socket, reader: _Reader, req: _Request, fault: Fault) -> None:
        if not req.expect_continue:  # the client sends the body first: consume it
            with contextlib.suppress(_LimitReached):
                self._forward_body(_Discard(), reader, req, None, lambda: None)
        path = req.target.split("?", 1)[0]
        rid = f"faultproxy-{id(req):x}"
        body = (
            '<?xml version="1.0" encoding="UTF-8"?>\n'
            f"<Error><Code>{_xml(fault.code)}</Code><Message>{_xml(fault.message)}</Message>"
            f"<Resource>{_xml(path)}</Resource><RequestId>{rid}</RequestId></Error>"
        ).encode()
        reason = _REASONS.get(fault.status, "Error")
        head = (
            f"HTTP/1.1 {fault.status} {reason}\r\n"
            "Content-Type: application/xml\r\n"
            f"Content-Length: {len(body)}\r\n"
            f"x-amz-request-id: {rid}\r\n"
            f"Date: {time.strftime('%a, %d %b %Y %H:%M:%S GMT', time.gmtime())}\r\n"
            "Server: s3tui-faultproxy\r\n"
            "Connection: close\r\n\r\n"
        ).encode()
        client.sendall(head if req.method == "HEAD" else head + body)
        # Lingering close: if the client is still sending (it ignored or never sent Expect),
        # closing with unread data would RST and could destroy the answer before it is read.
        client.shutdown(socket.SHUT_WR)
        client.settimeout(2)
        with contextlib.suppress(OSError):
            while client.recv(_RECV):
                if self._stop.is_set():
                    break


class _Sink(Protocol):
    def sendall(self, data: bytes | memoryview, /) -> None: ...


class _Discard:
    """A socket stand-in whose sendall drops the data (to consume a body we do not forward)."""

    def sendall(self, data: bytes | memoryview, /) -> None:
        pass


def _xml(text: str) -> str:
    return text.replace("&", "&amp;").replace("<", "&lt;").replace(">", "&gt;")
