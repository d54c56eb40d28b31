"""One keep-alive HTTP/1.1 connection that sends a request with an in-memory body.

Why not ``http.client``: on a tree of small files it was half of the direct path's CPU (~0.13 ms
per request, mostly parsing response headers through the ``email`` package). What a PutObject
answer needs is small: a status line, headers, and a body framed by Content-Length, chunked
encoding or the end of the connection. That is all this does; anything unexpected closes the
connection and raises ``ConnectionError``, which the caller retries like a reset.

The socket is registered with the current watchdog guard before every request, so a stalled
exchange is cut at its deadline like botocore's.
"""

from __future__ import annotations

import select
import socket
import struct
import sys
from typing import TYPE_CHECKING, BinaryIO

from s3tui.engine import watchdog

if TYPE_CHECKING:
    import ssl  # imported by whoever passes a TLS context

MAX_HEADER_LINES = 200
MAX_LINE = 65536
MAX_BODY = 16 << 20  # an error document or an empty success: anything larger is not S3 talking


class Response:
    __slots__ = ("body", "headers", "status")

    def __init__(self, status: int, headers: dict[str, str], body: bytes) -> None:
        self.status = status
        self.headers = headers  # names lowercased; a repeated header keeps its last value
        self.body = body


def _set_backstop(sock: socket.socket, seconds: float) -> None:
    """A blocking socket whose backstop timeout the kernel keeps (SO_RCVTIMEO/SO_SNDTIMEO).

    Why: with ``settimeout()`` Python polls before every send and recv, two more syscalls (and
    GIL hand-offs between the workers) per request: 2,000 small files made ~6,000 polls, now
    ~2,000. The watchdog's ``shutdown()`` still cuts the socket at its deadline in any phase.
    Elsewhere than Linux the timeval layout differs, so there Python's timeout stays.
    """
    if not sys.platform.startswith("linux"):
        sock.settimeout(seconds)
        return
    sock.settimeout(None)
    backstop = struct.pack("ll", int(seconds), int(seconds % 1 * 1_000_000))
    sock.setsockopt(socket.SOL_SOCKET, socket.SO_RCVTIMEO, backstop)
    sock.setsockopt(socket.SOL_SOCKET, socket.SO_SNDTIMEO, backstop)


class Connection:
    def __init__(
        self,
        host: str,
        port: int,
        connect_timeout: float,
        read_timeout: float,
        tls: ssl.SSLContext | None = None,
    ) -> None:
        self.host = host
        self.port = port
        self._connect_timeout = connect_timeout
        self._read_timeout = read_timeout
        self._tls = tls
        self.sock: socket.socket | None = None
        self._reader: BinaryIO | None = None

    def close(self) -> None:
        if self._reader is not None:
            self._reader.close()
        if self.sock is not None:
            self.sock.close()
        self.sock = self._reader = None

    def _connect(self) -> None:
        sock = socket.create_connection((self.host, self.port), timeout=self._connect_timeout)
        try:
            sock.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
            sock.setsockopt(socket.SOL_SOCKET, socket.SO_KEEPALIVE, 1)
            if self._tls is not None:
                sock = self._tls.wrap_socket(sock, server_hostname=self.host)
            _set_backstop(sock, self._read_timeout)
        except BaseException:
            sock.close()
            raise
        self.sock = sock
        self._reader = sock.makefile("rb")

    def _stale(self) -> bool:
        """An idle keep-alive socket that is readable was closed (or spoken to) by the server."""
        assert self.sock is not None
        if self._tls is not None and self.sock.pending():  # type: ignore[attr-defined]
            return True
        poller = select.poll()
        poller.register(self.sock, select.POLLIN)
        return bool(poller.poll(0))

    def request(self, method: str, target: str, headers: dict[str, str], body: bytes) -> Response:
        """Send one request and read its response; any failure leaves the connection closed."""
        if self.sock is not None and self._stale():
            self.close()
        if self.sock is None:
            self._connect()
        assert self.sock is not None and self._reader is not None
        watchdog.note_socket(self.sock, self)
        lines = [f"{method} {target} HTTP/1.1"]
        for name, value in headers.items():
            if "\r" in value or "\n" in value:
                raise ValueError(f"header {name} holds a line break")
            lines.append(f"{name}: {value}")
        head = ("\r\n".join(lines) + "\r\n\r\n").encode("latin-1")
        try:
            self.sock.sendall(head + body if len(body) < 65536 else head)
            if len(body) >= 65536:
                self.sock.sendall(body)
            response, keep = self._read_response(method)
        except (ValueError, IndexError) as e:
            self.close()
            raise ConnectionError(f"malformed HTTP response: {e}") from None
        except BaseException:
            self.close()
            raise
        if not keep:
            self.close()
        return response

    def _line(self) -> bytes:
        assert self._reader is not None
        line = self._reader.readline(MAX_LINE + 1)
        if not line:
            raise ConnectionError("connection closed by the server")
        if len(line) > MAX_LINE:
            raise ValueError("line too long")
        return line

    def _read_response(self, method: str) -> tuple[Response, bool]:
        while True:
            version, status_text, _ = self._line().decode("latin-1").split(" ", 2)
            if not version.startswith("HTTP/1."):
                raise ValueError(f"not HTTP/1.x: {version!r}")
            status = int(status_text)
            headers = self._headers()
            if status >= 200 or status == 101:
                break  # 1xx (e.g. an unasked-for 100 Continue) precede the real answer
        keep = version != "HTTP/1.0" and headers.get("connection", "").lower() != "close"
        if method == "HEAD" or status in (204, 304):
            return Response(status, headers, b""), keep
        if "chunked" in headers.get("transfer-encoding", "").lower():
            return Response(status, headers, self._chunked()), keep
        if "content-length" in headers:
            n = int(headers["content-length"])
            if n < 0 or n > MAX_BODY:
                raise ValueError(f"Content-Length {n}")
            return Response(status, headers, self._exactly(n)), keep
        assert self._reader is not None
        return Response(status, headers, self._reader.read(MAX_BODY)), False  # until close

    def _headers(self) -> dict[str, str]:
        headers: dict[str, str] = {}
        for _ in range(MAX_HEADER_LINES):
            line = self._line()
            if line in (b"\r\n", b"\n"):
                return headers
            name, sep, value = line.decode("latin-1").partition(":")
            if not sep:
                raise ValueError(f"header line without a colon: {line[:80]!r}")
            headers[name.strip().lower()] = value.strip()
        raise ValueError("too many header lines")

    def _exactly(self, n: int) -> bytes:
        assert self._reader is not None
        data = self._reader.read(n) if n else b""
        if len(data) != n:
            raise ConnectionError(f"connection closed after {len(data)} of {n} body bytes")
        return data

    def _chunked(self) -> bytes:
        body = bytearray()
        while True:
            size = int(self._line().split(b";", 1)[0].strip(), 16)
            if size == 0:
                self._headers()  # trailers, up to the blank line
                return bytes(body)
            if len(body) + size > MAX_BODY:
                raise ValueError("chunked body too large")
            body += self._exactly(size)
            self._line()  # the CRLF after each chunk
