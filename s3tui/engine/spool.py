"""Chunk files on disk for streamed data: private, bounded, and always cleaned up.

Each upload gets its own directory (0700) under the spool base; each chunk is one file (0600),
deleted as soon as its part is stored. Space is *reserved* before a chunk is written, so the sum
of reservations never passes ``limit``: the reader waits (backpressure) until a part is stored.
A single chunk larger than the limit is still allowed when nothing else is spooled, so a
growing part size can never deadlock the stream.
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

    def shrink(self, reserved: int, actual: int) -> None:
        """A chunk ended short (end of stream): give back what it will never use."""
        with self._cond:
            self._reserved -= reserved - actual
            self._cond.notify_all()

    # --- files ---
    def create(self, name: str) -> tuple[int, Path]:
        """A new chunk file, 0600, opened read-write (the CRC is read back via mmap)."""
        path = self.dir / name
        fd = os.open(path, os.O_RDWR | os.O_CREAT | os.O_EXCL | getattr(os, "O_CLOEXEC", 0), 0o600)
        with self._cond:
            self._files += 1
        return fd, path

    def remove(self, path: Path, reserved: int) -> None:
        """Delete a stored chunk and free its reservation."""
        with contextlib.suppress(FileNotFoundError):
            path.unlink()
        with self._cond:
            self._files -= 1
            self._reserved -= reserved
            self._cond.notify_all()

    def usage(self) -> tuple[int, int, int, str]:
        return self._reserved, self._files, self.limit, str(self.dir)

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
            self._cond.notify_all()
