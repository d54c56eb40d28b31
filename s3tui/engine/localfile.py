"""Reading local files for an upload, never torn: every read is checked against the listing.

A file's size and mtime as listed (:class:`~s3tui.engine.walk.Entry`) are what gets uploaded; a
file that moved away from them fails with "changed while being uploaded". Local errors become a
:class:`FileProblem` (that file fails, nothing is retried as if the network had failed).

A file listed with size 0 may still have content: procfs and many kernel files report 0 and
produce their bytes when read. Such a file is read to its end (up to :data:`PSEUDO_MAX`) and
those bytes are what is sent; it cannot be compared to a listed size, so the check is that its
fstat still says size 0 and the listed mtime (a real empty file written meanwhile grows). sysfs
attributes list as 4096 bytes and hold a few: one that ends early with its fstat unchanged and
no block allocated is sent as read, not failed as "changed".
"""

from __future__ import annotations

import os
from collections.abc import Callable, Iterator
from typing import Any

from s3tui.engine.body import FileRangeBody
from s3tui.engine.crc import crc32c
from s3tui.engine.walk import Entry
from s3tui.sizes import MiB, format_size

READ_BLOCK = 1024 * 1024
PSEUDO_MAX = 16 * MiB  # the most read from a file whose size says 0 (/proc/kallsyms: ~5 MiB)
CHANGED = "changed while being uploaded"


class FileProblem(Exception):
    """Something about the local file (or its object); fails that file without a retry."""

    def __init__(self, reason: str, message: str) -> None:
        super().__init__(message)
        self.reason = reason


def local_problem(err: OSError) -> FileProblem:
    """A local error as the file's own failure (never retried as if the network had failed)."""
    if isinstance(err, FileNotFoundError):
        return FileProblem("vanished", "vanished before it was uploaded")
    return FileProblem("unreadable", f"cannot read: {err.strerror}")


def changed(how: str) -> FileProblem:
    return FileProblem("changed", f"{CHANGED} ({how}): nothing was stored for it")


def require_listed(e: Entry, st: os.stat_result) -> None:
    """The file must still have the size and mtime it was listed with."""
    if st.st_size != e.size:
        raise changed(f"size {e.size} -> {st.st_size}")
    if st.st_mtime_ns != e.mtime_ns:
        raise changed("modified")


def open_file(path: str) -> int:
    try:
        return os.open(path, os.O_RDONLY | getattr(os, "O_CLOEXEC", 0))
    except OSError as err:
        raise local_problem(err) from None


def blocks(path: str, offset: int, length: int) -> Iterator[bytes]:
    """``length`` bytes of ``path`` from ``offset`` in 1 MiB blocks; local errors become
    :class:`FileProblem`."""
    fd = open_file(path)
    try:
        pos, end = offset, offset + length
        while pos < end:
            try:
                data = os.pread(fd, min(READ_BLOCK, end - pos), pos)
            except OSError as err:
                raise local_problem(err) from None
            if not data:
                raise changed("it shrank")
            pos += len(data)
            yield data
    finally:
        os.close(fd)


def read_unchanged(e: Entry) -> bytes:
    """The whole of a small file, if it is still what was listed when the read ended.

    One ``fstat`` after the read (on the same descriptor) covers a change before the read and
    during it: either moves the size or the mtime away from the listing's. Open, read, fstat,
    close: four syscalls where a stat before and one after the upload made five, and on a tree
    of small files each is a GIL hand-off between the workers. A file listed with size 0 is
    read to its end (see the module docstring).
    """
    fd = open_file(e.path)
    try:
        chunks: list[bytes] = []
        got = 0
        if e.size == 0:
            chunks, got = _read_to_end(fd)
        while got < e.size:
            data = os.pread(fd, e.size - got, got)
            if not data:
                break
            chunks.append(data)
            got += len(data)
        st = os.fstat(fd)
    except OSError as err:
        raise local_problem(err) from None
    finally:
        os.close(fd)
    require_listed(e, st)
    if got < e.size and not _size_is_nominal(st):
        raise changed("modified")  # shrank and grew back to its listed size while read
    return chunks[0] if len(chunks) == 1 else b"".join(chunks)


def _size_is_nominal(st: os.stat_result) -> bool:
    """A file that ended before its size with its size and mtime unchanged and no block on disk:
    a sysfs attribute (size 4096, a few bytes of content), not a file that changed (a regular
    file cannot end early without its size or mtime moving, and one with data has blocks)."""
    return st.st_blocks == 0 and st.st_size <= READ_BLOCK


def _read_to_end(fd: int) -> tuple[list[bytes], int]:
    """A file whose size says 0, read sequentially (as kernel files expect) to its end."""
    chunks: list[bytes] = []
    got = 0
    while data := os.read(fd, min(READ_BLOCK, PSEUDO_MAX + 1 - got)):
        chunks.append(data)
        got += len(data)
        if got > PSEUDO_MAX:
            raise FileProblem(
                "unreadable",
                f"its size says 0 but it holds more than {format_size(PSEUDO_MAX)} (a /proc or "
                "/sys file?): too much to hold in memory; copy it to a regular file first",
            )
    return chunks, got


def crc32c_range(path: str, offset: int, length: int) -> int:
    crc = 0
    for block in blocks(path, offset, length):
        crc = crc32c(block, crc)
    return crc


def open_body(
    path: str, offset: int, length: int, sent: Callable[[int], None], limiter: Any
) -> FileRangeBody:
    try:
        return FileRangeBody(path, offset, length, sent, limiter)
    except OSError as err:
        raise local_problem(err) from None
