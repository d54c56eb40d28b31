"""Where running uploads publish their state, and how watchers find and read it.

One directory per upload under the user's state dir (``~/.local/state/s3tui/live``):
``<id>/state.json``, rewritten atomically about once a second by
the upload's publisher thread, and ``<id>/cmd-*.json``, commands a watcher leaves for it
(pause, resume, concurrency). Every directory is 0700 and every file 0600, so only the same
user on the same host can list, read or steer an upload. Nothing published holds a
credential: sources and destinations are labels (``s3://bucket/key``), the endpoint has no
``user:password@``.
"""

from __future__ import annotations

import contextlib
import json
import os
import secrets
import shutil
import stat
import tempfile
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import platformdirs

from s3tui.engine.journal import _boot_id, _start_ticks

STATE_FILE = "state.json"
COMMAND_PREFIX = "cmd-"
# Finished (and dead) entries stay listed by `ps --all` this long, then the next put prunes them.
KEEP_FINISHED = 3 * 24 * 3600.0
VERSION = 1


def base_dir() -> Path:
    """The per-user directory holding one directory per upload.

    The state dir, not the runtime dir: ``$XDG_RUNTIME_DIR`` is set in a login session and not
    under cron, so an upload from cron and ``s3tui ps`` in an ssh session would look in two
    places; and logind removes ``/run/user/UID`` at the user's last logout, under an upload
    left running in a detached tmux. A reboot is told by the boot id each entry carries.
    """
    return Path(platformdirs.user_state_dir("s3tui")) / "live"


def _private_dir(path: Path) -> None:
    """Make ``path`` (and its missing parents) 0700, and refuse one that is not ours."""
    missing = []
    p = path
    while not p.exists() and p != p.parent:
        missing.append(p)
        p = p.parent
    for d in reversed(missing):
        with contextlib.suppress(FileExistsError):
            d.mkdir(mode=0o700)
    st = os.lstat(path)
    if not stat.S_ISDIR(st.st_mode) or st.st_uid != os.getuid():
        raise PermissionError(f"{path} is not a directory of this user")
    if stat.S_IMODE(st.st_mode) & 0o077:
        os.chmod(path, 0o700)


def ensure_base(base: Path | None = None) -> Path:
    base = base or base_dir()
    _private_dir(base.parent)
    _private_dir(base)
    return base


def new_id() -> str:
    return secrets.token_hex(4)


def write_json(path: Path, data: Any) -> None:
    """Atomically: a 0600 temp file in the same dir, then ``os.replace``."""
    fd, tmp = tempfile.mkstemp(dir=path.parent, prefix=".", suffix=".tmp")  # 0600
    try:
        with os.fdopen(fd, "w") as f:
            # One C-encoded string and one write: json.dump writes chunk by chunk (~2.5x the
            # CPU for a 2,000-file tree's state).
            f.write(json.dumps(data, separators=(",", ":")))
        os.replace(tmp, path)
    except BaseException:
        with contextlib.suppress(OSError):
            os.unlink(tmp)
        raise


def process_alive(pid: int, start_ticks: str, boot_id: str) -> bool:
    """Is the process that wrote an entry still running (not a reused pid, not a past boot)?"""
    if boot_id and boot_id != _boot_id():
        return False
    if start_ticks:
        return _start_ticks(pid) == start_ticks
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True
    return True


@dataclass
class Entry:
    """One published upload as a watcher sees it."""

    id: str
    path: Path  # its directory
    state: dict[str, Any]

    @property
    def result(self) -> dict[str, Any] | None:
        return self.state.get("result")

    @property
    def finished(self) -> bool:
        return self.result is not None

    def alive(self) -> bool:
        s = self.state
        return process_alive(int(s.get("pid", 0)), s.get("start_ticks", ""), s.get("boot_id", ""))

    @property
    def status(self) -> str:
        """ "running", "finished" or "dead" (the process is gone and left no result)."""
        if self.finished:
            return "finished"
        return "running" if self.alive() else "dead"

    def reload(self) -> bool:
        """Read the state again; False when the entry is gone or unreadable right now."""
        state = read_state(self.path)
        if state is None:
            return False
        self.state = state
        return True

    def send(self, command: str, **args: Any) -> None:
        """Leave a command for the upload's publisher (read within ~0.25 s)."""
        name = f"{COMMAND_PREFIX}{time.time_ns()}-{secrets.token_hex(2)}.json"
        write_json(self.path / name, {"cmd": command, **args, "time": time.time()})


def read_state(path: Path) -> dict[str, Any] | None:
    with contextlib.suppress(OSError, ValueError):
        data = json.loads((path / STATE_FILE).read_text())
        if isinstance(data, dict) and data.get("id"):
            return data
    return None


def entries(base: Path | None = None) -> list[Entry]:
    """Every published upload (running, finished, dead), oldest first."""
    base = base or base_dir()
    try:
        names = os.listdir(base)
    except OSError:
        return []
    found = []
    for name in names:
        if name.startswith("."):
            continue
        state = read_state(base / name)
        if state is not None:
            found.append(Entry(name, base / name, state))
    found.sort(key=lambda e: float(e.state.get("started", 0.0)))
    return found


def prune(base: Path, keep: float = KEEP_FINISHED, now: float | None = None) -> int:
    """Delete entries that finished or died more than ``keep`` seconds ago; returns how many."""
    now = time.time() if now is None else now
    removed = 0
    try:
        names = os.listdir(base)
    except OSError:
        return 0
    for name in names:
        path = base / name
        if name.startswith(".") or not path.is_dir() or path.is_symlink():
            continue
        state = read_state(path)
        if state is None:
            with contextlib.suppress(OSError):
                if now - path.stat().st_mtime > keep:  # a half-made entry
                    shutil.rmtree(path)
                    removed += 1
            continue
        e = Entry(name, path, state)
        if now - float(state.get("updated", 0.0)) > keep and e.status != "running":
            with contextlib.suppress(OSError):
                shutil.rmtree(path)
                removed += 1
    return removed
