"""The user's private cache dir and whole-file writes into it.

Two caches live there: parsed botocore models (:mod:`models`) and learned PutObject templates
(:mod:`templates`). Both are only ever a saving: a dir that is missing, not ours, or open to
others is not used, and a failed write is ignored.
"""

from __future__ import annotations

import contextlib
import os
import tempfile
from pathlib import Path

import platformdirs


def cache_root() -> Path:
    return Path(platformdirs.user_cache_dir("s3tui"))


def usable(directory: Path) -> bool:
    """Create ``directory`` (0700) if needed; usable only if it is ours and private."""
    try:
        directory.mkdir(mode=0o700, parents=True, exist_ok=True)
        st = directory.stat()
    except OSError:
        return False
    return st.st_uid == os.getuid() and (st.st_mode & 0o077) == 0


def write_whole(path: Path, blob: bytes) -> None:
    """Write ``blob`` to ``path`` (0600) by rename, so a reader never sees half of it."""
    with contextlib.suppress(OSError):
        fd, tmp = tempfile.mkstemp(dir=path.parent, prefix=".tmp-")  # 0600
        try:
            with os.fdopen(fd, "wb") as f:
                f.write(blob)
            os.replace(tmp, path)
        except OSError:
            with contextlib.suppress(OSError):
                os.unlink(tmp)
