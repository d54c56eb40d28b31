"""Reading the stream into chunk files, as cheaply as the source allows.

From a pipe (the usual ``dump | gzip | s3tui``) the bytes go pipe -> page cache with ``splice``
(one kernel copy instead of read + write), and the chunk's CRC32C is computed afterwards over an
``mmap`` of the file, which reads the page cache without copying it. Other sources (a file or a
terminal on stdin) use a plain read/CRC/write loop with one reused buffer.

Every wait is a ``poll`` with a short timeout, so the stop flag is seen within 0.2 s even when
the producer is silent for hours.
"""

from __future__ import annotations

import contextlib
import errno
import fcntl
import mmap
import os
import select
import stat
import threading
from collections.abc import Callable

from s3tui.engine.checksums import CRC32C, Algorithm

READ_BLOCK = 1024 * 1024
PIPE_SIZE = 1024 * 1024
POLL_MS = 200
# splice() reports both ends' errors; these can only come from writing the chunk file.
_WRITE_SIDE = frozenset({errno.ENOSPC, errno.EDQUOT, errno.EFBIG})


class SourceError(Exception):
    """The source could not be read (the message says which and why)."""


class Stopped(Exception):
    """The stop flag was raised while waiting for data."""


def file_checksum(fd: int, length: int, algorithm: Algorithm = CRC32C) -> int:
    """The checksum value of the first ``length`` bytes of an open file, read through an mmap."""
    if length == 0 or not algorithm.sends:
        return algorithm.of(b"")
    flags = mmap.MAP_SHARED | getattr(mmap, "MAP_POPULATE", 0)
    with mmap.mmap(fd, length, flags=flags, prot=mmap.PROT_READ) as view:
        return algorithm.of(view)


def file_crc32c(fd: int, length: int) -> int:
    """CRC32C of the first ``length`` bytes of an open file, read through an mmap."""
    return file_checksum(fd, length, CRC32C)


class StreamSource:
    def __init__(
        self, fd: int, name: str, stop: threading.Event, on_read: Callable[[int], None]
    ) -> None:
        self.fd = fd
        self.name = name
        self._stop = stop
        self._on_read = on_read
        self._poller = select.poll()
        self._poller.register(fd, select.POLLIN | select.POLLHUP | select.POLLERR)
        try:
            self.is_pipe = stat.S_ISFIFO(os.fstat(fd).st_mode) and hasattr(os, "splice")
        except OSError as e:
            raise SourceError(f"cannot read {name}: {e.strerror}") from e
        self._buf = memoryview(bytearray(READ_BLOCK))
        if self.is_pipe and hasattr(fcntl, "F_SETPIPE_SZ"):
            # A 1 MiB pipe (default 64 KiB) lets the producer run ahead between our splices:
            # fewer wake-ups and context switches for both.
            with contextlib.suppress(OSError):
                fcntl.fcntl(fd, fcntl.F_SETPIPE_SZ, PIPE_SIZE)

    def fill(self, out_fd: int, size: int, algorithm: Algorithm = CRC32C) -> tuple[int, int, bool]:
        """Move up to ``size`` bytes into ``out_fd`` (opened read-write at offset 0).

        Returns ``(bytes, checksum value of algorithm, eof)``.
        """
        if self.is_pipe:
            written, eof = self._fill_splice(out_fd, size)
            return written, file_checksum(out_fd, written, algorithm), eof
        return self._fill_copy(out_fd, size, algorithm)

    def _wait_readable(self) -> None:
        while not self._poller.poll(POLL_MS):
            if self._stop.is_set():
                raise Stopped
        if self._stop.is_set():
            raise Stopped

    def _fill_splice(self, out_fd: int, size: int) -> tuple[int, bool]:
        written = 0
        while written < size:
            self._wait_readable()
            try:
                n = os.splice(self.fd, out_fd, min(READ_BLOCK, size - written))
            except OSError as e:
                if e.errno in _WRITE_SIDE:
                    raise  # the spool file's error, not the source's: the job says "disk full"
                raise SourceError(f"cannot read {self.name}: {e.strerror}") from e
            if n == 0:
                return written, True
            written += n
            self._on_read(n)
        return written, False

    def _fill_copy(self, out_fd: int, size: int, algorithm: Algorithm) -> tuple[int, int, bool]:
        written, hasher = 0, algorithm.hasher()
        while written < size:
            self._wait_readable()
            try:
                n = os.readv(self.fd, [self._buf[: min(READ_BLOCK, size - written)]])
            except OSError as e:
                raise SourceError(f"cannot read {self.name}: {e.strerror}") from e
            if n == 0:
                return written, hasher.value(), True
            chunk = self._buf[:n]
            hasher.update(chunk)
            while chunk:
                chunk = chunk[os.write(out_fd, chunk) :]
            written += n
            self._on_read(n)
        return written, hasher.value(), False
