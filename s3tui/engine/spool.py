"""Chunk files on disk for streamed data: private, bounded, and always cleaned up.

Each upload gets its own directory (0700) under the spool base; each chunk is one file (0600).
Space is *reserved* before a chunk is written, so the sum of reservations never passes
``limit``: the reader waits (backpressure) until a part is stored. A single chunk larger than the
limit is still allowed when nothing else is spooled, so a growing part size can never deadlock
the stream.

A stored chunk's file is *recycled*: renamed for the next chunk and overwritten in place, as long
as the idle files and the reservations together stay under ``limit``; the rest are deleted at
once, and all of them when the upload ends. Why: allocating a chunk's page cache and freeing it
again at unlink costs about a third of spooling's CPU, which the server on the same machine
needs; overwriting cached pages costs neither.
"""

from __future__ import annotations

import contextlib
import os
import shutil
import tempfile
import threading
from pathlib import Path

import platformdirs

from s3tui.errors import UploadError


def default_spool_base() -> Path:
    """``$TMPDIR`` when the user set it, else the per-user cache dir (disk, not a RAM tmpfs)."""
    if os.environ.get("TMPDIR"):
        return Path(os.environ["TMPDIR"])
    return Path(platformdirs.user_cache_dir("s3tui")) / "spool"


class Spool:
    def __init__(self, base: Path | None, limit: int) -> None:
        base = Path(base) if base else default_spool_base()
        try:
            base.mkdir(parents=True, exist_ok=True, mode=0o700)
            # mkdtemp creates the directory 0700 whatever the umask.
            self.dir = Path(tempfile.mkdtemp(prefix="s3tui-", dir=base))
        except OSError as e:
            raise UploadError(
                f"cannot use spool dir {base}: {e.strerror}; "
                "pass --spool-dir DIR with a writable directory"
            ) from e
        self.limit = limit
        self._reserved = 0
        self._files = 0
        self._idle: list[tuple[Path, int]] = []  # stored chunks' files kept for reuse, and sizes
        self._idle_bytes = 0
        self._recycle = True
        self._cond = threading.Condition()

    # --- space ---
    def reserve(self, nbytes: int, stop: threading.Event) -> bool:
        """Block until ``nbytes`` fit under the limit; False if ``stop`` was set meanwhile."""
        with self._cond:
            while self._reserved and self._reserved + nbytes > self.limit:
                if stop.is_set():
                    return False
                self._cond.wait(0.2)
            if stop.is_set():
                return False
            self._reserved += nbytes
            return True

    def shrink(self, reserved: int, actual: int, fd: int | None = None) -> None:
        """A chunk ended at ``actual`` bytes: give back the rest of its reservation, and cut its
        file (``fd``) to what it wrote, in case it is a recycled file that held a longer one."""
        if fd is not None:
            os.ftruncate(fd, actual)
        with self._cond:
            self._reserved -= reserved - actual
            self._cond.notify_all()

    # --- files ---
    def create(self, name: str) -> tuple[int, Path]:
        """A chunk file, 0600, opened read-write (the CRC is read back via mmap): a stored
        chunk's file renamed and written over from offset 0, or a new one."""
        path = self.dir / name
        flags = os.O_RDWR | getattr(os, "O_CLOEXEC", 0)
        with self._cond:
            old = self._idle.pop() if self._idle else None
            if old is not None:
                self._idle_bytes -= old[1]
            # This chunk is reserved already; idle files that no longer fit beside it go.
            surplus: list[Path] = []
            while self._idle and self._reserved + self._idle_bytes > self.limit:
                gone, nbytes = self._idle.pop(0)
                self._idle_bytes -= nbytes
                surplus.append(gone)
            self._files += 1
        for gone in surplus:
            with contextlib.suppress(FileNotFoundError):
                gone.unlink()
        if old is not None:
            try:
                os.rename(old[0], path)
                return os.open(path, flags), path
            except OSError:
                with contextlib.suppress(OSError):
                    old[0].unlink()
        try:
            return os.open(path, flags | os.O_CREAT | os.O_EXCL, 0o600), path
        except OSError:
            with self._cond:
                self._files -= 1
            raise

    def remove(self, path: Path, reserved: int) -> None:
        """A chunk is stored: free its reservation, and keep its file for the next chunk if
        the idle files still fit under the limit beside what is reserved (else delete it)."""
        try:
            size = path.stat().st_size
        except OSError:
            size = None
        with self._cond:
            self._files -= 1
            self._reserved -= reserved
            keep = (
                self._recycle
                and size is not None
                and self._reserved + self._idle_bytes + size <= self.limit
            )
            if keep:
                assert size is not None
                self._idle.append((path, size))
                self._idle_bytes += size
            self._cond.notify_all()
        if not keep:
            with contextlib.suppress(FileNotFoundError):
                path.unlink()

    def last_chunk_written(self) -> None:
        """No chunk will come: delete the idle files, and each chunk's file once it is stored."""
        with self._cond:
            self._recycle = False
            idle, self._idle, self._idle_bytes = self._idle, [], 0
        for path, _ in idle:
            with contextlib.suppress(FileNotFoundError):
                path.unlink()

    def usage(self) -> tuple[int, int, int, str]:
        """Bytes and files on disk (chunks being spooled or sent, and idle ones), limit, dir."""
        with self._cond:
            return (
                self._reserved + self._idle_bytes,
                self._files + len(self._idle),
                self.limit,
                str(self.dir),
            )

    def free_space(self) -> int:
        try:
            return shutil.disk_usage(self.dir).free
        except OSError:
            return 0

    def cleanup(self) -> None:
        """Remove every chunk and the directory; safe to call more than once."""
        shutil.rmtree(self.dir, ignore_errors=True)
        with self._cond:
            self._reserved = 0
            self._files = 0
            self._idle, self._idle_bytes = [], 0
            self._cond.notify_all()
