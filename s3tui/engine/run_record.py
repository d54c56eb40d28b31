"""Which files a tree upload has completed, so that a rerun after an interruption sends only the
rest, without a request per file.

Why a record of its own: the journal notes uploads that are open, and a completed file leaves
nothing open. A run of ``put DIR DEST`` keeps one small append-only file in the state dir (one
JSON line per completed file: path, key, size, mtime) named after what it uploads (endpoint,
bucket, destination, sources). The next run of the same command whose writer is gone (SIGKILL,
a failure, a stop) takes the files whose size and mtime are still as recorded as done. The
record is deleted when a run ends with every file uploaded: a rerun after a successful run
uploads everything again, as before.

No credential is written (the endpoint without ``user:password@``); files are 0600 in a 0700
dir; a line cut by a kill is ignored on reading.
"""

from __future__ import annotations

import contextlib
import hashlib
import json
import os
import tempfile
import threading
import time
import uuid
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path

import platformdirs

from s3tui.engine.journal import _boot_id, _start_ticks, writer_alive
from s3tui.engine.redact import without_userinfo


def default_dir() -> Path:
    return Path(platformdirs.user_state_dir("s3tui")) / "runs"


@dataclass(frozen=True)
class Done:
    """One completed file as recorded."""

    path: str
    key: str
    size: int
    mtime_ns: int


def run_name(endpoint: str | None, bucket: str, dest: str, sources: Sequence[str]) -> str:
    """What a record is named after: the same command (same endpoint, bucket, destination and
    sources) finds it again, from any working directory."""
    where = without_userinfo(endpoint) if endpoint else ""
    what = [where, bucket, dest, *sorted(os.path.abspath(s) for s in sources)]
    return hashlib.sha256("\0".join(what).encode()).hexdigest()[:24]


class RunRecord:
    """The record of this run; :meth:`earlier` is what interrupted runs of the same command left.

    Written lazily: a run that completes nothing writes nothing, unless it carries an earlier
    record forward (:meth:`carry`)."""

    def __init__(
        self,
        endpoint: str | None,
        bucket: str,
        dest: str,
        sources: Sequence[str],
        directory: Path | None = None,
    ) -> None:
        self.directory = directory or default_dir()
        self.name = run_name(endpoint, bucket, dest, sources)
        self._header = {
            "endpoint": without_userinfo(endpoint) if endpoint else None,
            "bucket": bucket,
            "dest": dest,
            "sources": [os.path.abspath(s) for s in sources],
            "pid": os.getpid(),
            "start_ticks": _start_ticks(os.getpid()),
            "boot_id": _boot_id(),
            "started": time.time(),
        }
        self.path = self.directory / f"{self.name}-{uuid.uuid4().hex[:12]}.jsonl"
        self._fd: int | None = None
        self._lock = threading.Lock()
        self._earlier: list[Path] = []

    # --- what interrupted runs left ---
    def earlier(self) -> dict[str, Done]:
        """The files recorded by interrupted runs of this command (writers gone), by path. A
        record whose writer still runs (the same command running now) is left alone."""
        found: dict[str, Done] = {}
        self._earlier = []
        try:
            names = sorted(os.listdir(self.directory))
        except OSError:
            return found
        for name in names:
            if not name.startswith(f"{self.name}-") or not name.endswith(".jsonl"):
                continue
            path = self.directory / name
            done = _read(path)
            if done is None:
                continue
            self._earlier.append(path)
            for d in done:
                found[d.path] = d
        return found

    def carry(self, done: Sequence[Done]) -> None:
        """Start this run's record with what is still true of the earlier ones, and delete
        them: one record per command, written atomically."""
        with self._lock:
            if done:
                self._open_locked(done)
            for path in self._earlier:
                if path != self.path:
                    with contextlib.suppress(OSError):
                        path.unlink()
            self._earlier = []

    def forget_earlier(self) -> None:
        """``--no-resume``: the earlier records are not used, and not kept."""
        self.carry(())

    # --- this run ---
    def completed(self, d: Done) -> None:
        """Note a completed file. Best effort: a record that cannot be written never fails an
        upload (a rerun then sends that file again)."""
        line = (json.dumps(d.__dict__, ensure_ascii=False) + "\n").encode()
        with self._lock, contextlib.suppress(OSError):
            if self._fd is None:
                self._open_locked(())
            if self._fd is not None:
                os.write(self._fd, line)  # O_APPEND: one write, one line

    def finished(self) -> None:
        """Every file was uploaded: nothing is left to resume."""
        with self._lock:
            self._close_locked()
            with contextlib.suppress(OSError):
                self.path.unlink()

    def close(self) -> None:
        """The run ended with files left (failed, stopped): the record stays for the rerun."""
        with self._lock:
            self._close_locked()

    def _open_locked(self, done: Sequence[Done]) -> None:
        self._close_locked()
        with contextlib.suppress(OSError):
            self.directory.mkdir(parents=True, exist_ok=True, mode=0o700)
            fd, tmp = tempfile.mkstemp(dir=self.directory, prefix=".", suffix=".tmp")  # 0600
            with os.fdopen(fd, "w") as f:
                f.write(json.dumps(self._header) + "\n")
                for d in done:
                    f.write(json.dumps(d.__dict__, ensure_ascii=False) + "\n")
            os.replace(tmp, self.path)
            self._fd = os.open(self.path, os.O_WRONLY | os.O_APPEND | os.O_CLOEXEC)

    def _close_locked(self) -> None:
        if self._fd is not None:
            with contextlib.suppress(OSError):
                os.close(self._fd)
            self._fd = None


def _read(path: Path) -> list[Done] | None:
    """A record's files; None when its writer still runs or it cannot be read."""
    try:
        lines = path.read_text(errors="replace").splitlines()
        header = json.loads(lines[0])
        if writer_alive(int(header["pid"]), header["start_ticks"], header["boot_id"]):
            return None
    except (OSError, ValueError, KeyError, IndexError, TypeError):
        return None
    done = []
    for line in lines[1:]:
        with contextlib.suppress(ValueError, TypeError, KeyError):
            d = json.loads(line)
            done.append(Done(str(d["path"]), str(d["key"]), int(d["size"]), int(d["mtime_ns"])))
    return done
