"""A request body that reads a byte range of a file and says how much of it was sent.

botocore may rewind a body (``seek(0)``) before sending it; the progress count restarts on each
rewind so it never counts bytes twice. Blocks are large (1 MiB, whatever size http.client asks
for) because per-call overhead dominates Python's send loop.

Zero-copy: once the request's headers are on the wire (the S3 module's connection says so) and
the socket is plain TCP, the body sends itself with ``sendfile`` from the page cache and then
reports end-of-body to urllib3. Memory copies are most of the client's CPU
(``copy_to_iter``/``copy_from_iter``), and this removes two of them per byte. Over TLS, or when
anything reads the body before the send (a checksum pass), the plain ``read`` path is used.
"""

from __future__ import annotations

import io
import os
import select
import socket
from collections.abc import Callable

from s3tui.engine import watchdog
from s3tui.engine.bandwidth import RateLimiter

BLOCK = 1024 * 1024
REPORT_EVERY = 256 * 1024


class FileRangeBody(io.RawIOBase):
    def __init__(
        self,
        path: str | os.PathLike[str],
        offset: int,
        length: int,
        on_sent: Callable[[int], None] | None = None,
        limiter: RateLimiter | None = None,
        zero_copy: bool = True,
    ) -> None:
        super().__init__()
        self._fd = os.open(path, os.O_RDONLY | getattr(os, "O_CLOEXEC", 0))
        self._offset = offset
        self._length = length
        self._pos = 0
        self._on_sent = on_sent
        self._limiter = limiter
        self._reported = 0  # bytes already reported for this pass over the body
        self._pending = 0
        self.zero_copy = zero_copy

    def readable(self) -> bool:
        return True

    def seekable(self) -> bool:
        return True

    def __len__(self) -> int:
        return self._length

    def tell(self) -> int:
        return self._pos

    def seek(self, pos: int, whence: int = io.SEEK_SET) -> int:
        base = {io.SEEK_SET: 0, io.SEEK_CUR: self._pos, io.SEEK_END: self._length}[whence]
        self._pos = max(0, min(self._length, base + pos))
        if self._pos == 0 and (self._reported or self._pending):
            # A rewind: whatever was counted for the previous pass was not really sent.
            if self._on_sent and self._reported:
                self._on_sent(-self._reported)
            self._reported = self._pending = 0
        return self._pos

    def read(self, size: int = -1) -> bytes:
        guard = watchdog.current_guard()
        if guard is not None:
            guard.check()
            if self.zero_copy and self._pos < self._length:
                sock = _direct_socket(guard)
                if sock is not None:
                    self._send_direct(sock, guard)
                    return b""
        remaining = self._length - self._pos
        if remaining <= 0:
            self._flush()
            return b""
        n = remaining if size is None or size < 0 else min(max(size, BLOCK), remaining)
        data = os.pread(self._fd, n, self._offset + self._pos)
        if not data:
            raise OSError(f"file shrank while being read (at byte {self._offset + self._pos})")
        self._pos += len(data)
        if self._limiter is not None:
            self._limiter.throttle(len(data))
        self._pending += len(data)
        if self._pending >= REPORT_EVERY or self._pos >= self._length:
            self._flush()
        return data

    def _send_direct(self, sock: socket.socket, guard: watchdog.Guard) -> None:
        """Send the rest of the range straight from the file to the socket."""
        while self._pos < self._length:
            guard.check()
            n = min(BLOCK, self._length - self._pos)
            if self._limiter is not None:
                self._limiter.throttle(n)
            sent = _sendfile(sock, self._fd, self._offset + self._pos, n, guard.touch)
            if sent == 0:
                raise OSError(f"file shrank while being sent (at byte {self._offset + self._pos})")
            self._pos += sent
            # Report what left the machine, not what the kernel queued: a socket buffer holds
            # megabytes, and a bar fed by sendfile alone would run seconds ahead of the link.
            on_wire = self._pos - watchdog.unsent(sock)
            self._pending = max(0, on_wire - self._reported)
            if self._pending >= REPORT_EVERY:
                self._flush()
        self._pending = self._pos - self._reported
        self._flush()

    def readinto(self, b: bytearray | memoryview) -> int:  # type: ignore[override]
        data = self.read(len(b))
        b[: len(data)] = data
        return len(data)

    def _flush(self) -> None:
        if self._pending and self._on_sent:
            self._on_sent(self._pending)
        self._reported += self._pending
        self._pending = 0

    def close(self) -> None:
        if not self.closed:
            os.close(self._fd)
        super().close()


def _sendfile(
    sock: socket.socket,
    fd: int,
    offset: int,
    count: int,
    progress: Callable[[], None] | None = None,
) -> int:
    """``os.sendfile`` until ``count`` bytes went out or the file ended; returns bytes sent.
    ``progress`` is called whenever the socket took bytes (room freed: the link moves), so the
    request's guard sees progress within a block, not once per block.

    Not ``socket.sendfile``: on an error before the first byte it silently falls back to a
    read/send loop that needs a seekable file object, which hides the real error (a reset).
    A socket with a timeout is non-blocking underneath, so wait for it with poll, with no
    timeout of its own: the request's guard is the clock, and its cut (a shutdown of the
    socket) ends the wait at once.
    """
    sockno = sock.fileno()
    poller = select.poll()
    poller.register(sockno, select.POLLOUT)
    total = 0
    while total < count:
        try:
            n = os.sendfile(sockno, fd, offset + total, count - total)
        except BlockingIOError:
            poller.poll()
            continue
        if n == 0:
            break
        total += n
        if progress is not None:
            progress()
    return total


def _direct_socket(guard: watchdog.Guard) -> socket.socket | None:
    """The request's socket, if the body may be sent on it directly right now."""
    conn = guard.conn
    if conn is None or not getattr(conn, "body_phase", False):
        return None  # headers not sent yet: this read is a checksum pass or similar
    if getattr(conn, "_response_received", True):
        # The server already answered (e.g. refused the 100-continue), or botocore no longer
        # has this private attribute and cannot tell: botocore sends the body itself.
        return None
    sock = getattr(conn, "sock", None)
    return sock if type(sock) is socket.socket else None  # not over TLS
