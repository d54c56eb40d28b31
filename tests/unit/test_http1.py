"""The direct path's HTTP/1.1 exchange against a scripted loopback server: every framing S3 (or a
proxy in front of it) may use, and the broken answers that must become a retryable error."""

from __future__ import annotations

import shutil
import socket
import ssl
import subprocess
import threading
import time
from collections.abc import Iterator
from pathlib import Path

import pytest

from s3tui.engine.remote.fast.http1 import Connection


class Scripted:
    """Accepts connections; answers each request with the next canned reply (then maybe closes)."""

    def __init__(
        self, replies: list[tuple[bytes, bool]], tls: ssl.SSLContext | None = None
    ) -> None:
        self.replies = list(replies)
        self.tls = tls
        self.requests: list[bytes] = []
        self.connections = 0
        self.sock = socket.create_server(("127.0.0.1", 0))
        self.port = self.sock.getsockname()[1]
        threading.Thread(target=self._serve, daemon=True).start()

    def _serve(self) -> None:
        while self.replies:
            try:
                conn, _ = self.sock.accept()
            except OSError:
                return
            self.connections += 1
            if self.tls is not None:
                conn = self.tls.wrap_socket(conn, server_side=True)
            with conn:
                while self.replies:
                    request = self._read_request(conn)
                    if request is None:
                        break
                    self.requests.append(request)
                    reply, close = self.replies.pop(0)
                    conn.sendall(reply)
                    if close:
                        break

    @staticmethod
    def _read_request(conn: socket.socket) -> bytes | None:
        data = b""
        while b"\r\n\r\n" not in data:
            chunk = conn.recv(65536)
            if not chunk:
                return None
            data += chunk
        head, _, body = data.partition(b"\r\n\r\n")
        length = next(
            int(line.split(b":")[1])
            for line in head.split(b"\r\n")
            if line.lower().startswith(b"content-length")
        )
        while len(body) < length:
            body += conn.recv(65536)
        return head + b"\r\n\r\n" + body


@pytest.fixture
def server(request: pytest.FixtureRequest) -> Iterator[Scripted]:
    s = Scripted(request.param)
    yield s
    s.sock.close()


def _conn(server: Scripted) -> Connection:
    return Connection("127.0.0.1", server.port, 5.0, 5.0)


def _put(conn: Connection, body: bytes = b"hello") -> tuple[int, dict[str, str], bytes]:
    r = conn.request("PUT", "/b/k%20x", {"Host": "h", "Content-Length": str(len(body))}, body)
    return r.status, r.headers, r.body


OK = b'HTTP/1.1 200 OK\r\nETag: "abc"\r\nContent-Length: 0\r\n\r\n'
ERROR_XML = b"<Error><Code>SlowDown</Code><Message>slow</Message></Error>"


@pytest.mark.parametrize(
    "server",
    [
        [
            (OK, False),
            (
                b"HTTP/1.1 503 Slow Down\r\nContent-Length: %d\r\n\r\n" % len(ERROR_XML)
                + ERROR_XML,
                False,
            ),
            (
                b"HTTP/1.1 100 Continue\r\n\r\n"
                b"HTTP/1.1 500 Oops\r\nTransfer-Encoding: chunked\r\n\r\n"
                b"5;ext=1\r\n<Erro\r\n3\r\nr/>\r\n0\r\nX-Trailer: t\r\n\r\n",
                False,
            ),
            (OK, False),
        ]
    ],
    indirect=True,
)
def test_framings_on_one_keep_alive_connection(server: Scripted) -> None:
    conn = _conn(server)
    assert _put(conn) == (200, {"etag": '"abc"', "content-length": "0"}, b"")
    status, _, body = _put(conn)
    assert (status, body) == (503, ERROR_XML)
    status, _, body = _put(conn)
    assert (status, body) == (500, b"<Error/>")
    big = bytes(range(256)) * 1024  # sent in two writes
    assert _put(conn, big)[0] == 200
    assert server.connections == 1
    assert server.requests[0].startswith(b"PUT /b/k%20x HTTP/1.1\r\nHost: h\r\n")
    assert server.requests[3].endswith(big)


@pytest.mark.parametrize(
    "server",
    [[(b"HTTP/1.0 200 OK\r\n\r\nuntil close", True), (OK, True), (OK, False)]],
    indirect=True,
)
def test_close_delimited_and_connection_close_answers_reconnect(server: Scripted) -> None:
    conn = _conn(server)
    assert _put(conn)[2] == b"until close"
    assert conn.sock is None
    assert _put(conn)[0] == 200  # the server closed after this one, without saying so
    time.sleep(0.2)  # (a request racing the close would be reset: a retry, as with urllib3)
    assert _put(conn)[0] == 200  # seen as stale before reuse: a new connection, no error
    assert server.connections == 3


@pytest.mark.parametrize(
    "server",
    [
        [(b"HTTP/1.1 200 OK\r\nContent-Length: 10\r\n\r\nshort", True)],
        [(b"garbage\r\n\r\n", True)],
        [(b"HTTP/1.1 200 OK\r\nno colon here\r\n\r\n", True)],
        [(b"", True)],
    ],
    indirect=True,
)
def test_broken_answers_raise_connection_error_and_close(server: Scripted) -> None:
    conn = _conn(server)
    with pytest.raises(ConnectionError):
        _put(conn)
    assert conn.sock is None


@pytest.mark.parametrize("server", [[(OK, False)]], indirect=True)
def test_line_breaks_in_header_values_are_refused(server: Scripted) -> None:
    with pytest.raises(ValueError, match="line break"):
        _conn(server).request("PUT", "/b/k", {"X-Evil": "a\r\nInjected: 1"}, b"")


def test_a_server_that_never_answers_hits_the_kernel_backstop() -> None:
    """The socket blocks without Python's timeout (no poll per send/recv); the backstop is the
    kernel's SO_RCVTIMEO, so even with no watchdog a silent server cannot hang a worker."""
    silent = socket.create_server(("127.0.0.1", 0))
    held: list[socket.socket] = []
    threading.Thread(target=lambda: held.append(silent.accept()[0]), daemon=True).start()
    conn = Connection("127.0.0.1", silent.getsockname()[1], 5.0, 1.0)
    raised: list[BaseException] = []

    def put() -> None:
        try:
            _put(conn)
        except BaseException as e:
            raised.append(e)

    t0 = time.monotonic()
    worker = threading.Thread(target=put, daemon=True)
    worker.start()
    worker.join(10.0)
    try:
        assert not worker.is_alive(), "no backstop: the request still waits after 10 s"
        assert len(raised) == 1 and isinstance(raised[0], OSError), raised
        assert time.monotonic() - t0 >= 0.9
        assert conn.sock is None  # closed: the next request starts on a new connection
    finally:
        for s in held:
            s.close()
        silent.close()


def test_tls_keep_alive_and_a_server_closed_connection_reconnects(tmp_path: Path) -> None:
    """https endpoints: the TLS socket is kept alive, and one the server closed while idle is
    seen as stale (``pending()`` / readable) and replaced before the next request."""
    if shutil.which("openssl") is None:
        pytest.skip("openssl CLI not installed")
    cert, key = tmp_path / "cert.pem", tmp_path / "key.pem"
    subprocess.run(
        [
            *("openssl", "req", "-x509", "-newkey", "rsa:2048", "-nodes", "-days", "1"),
            *("-keyout", str(key), "-out", str(cert), "-subj", "/CN=127.0.0.1"),
            *("-addext", "subjectAltName=IP:127.0.0.1"),
        ],
        check=True,
        capture_output=True,
    )
    server_ctx = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
    server_ctx.load_cert_chain(cert, key)
    s = Scripted([(OK, False), (OK, True), (OK, False)], tls=server_ctx)
    try:
        client_ctx = ssl.create_default_context(cafile=str(cert))
        conn = Connection("127.0.0.1", s.port, 5.0, 5.0, client_ctx)
        assert _put(conn)[0] == 200
        assert _put(conn)[0] == 200
        assert s.connections == 1
        time.sleep(0.2)  # the server has closed the connection after its second answer
        assert _put(conn, b"third")[0] == 200
        assert s.connections == 2
        assert s.requests[2].endswith(b"third")
        conn.close()
    finally:
        s.sock.close()
