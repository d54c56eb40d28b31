"""Open multipart uploads on disk, so that one left behind by a killed run can be aborted later.

Why: an upload that is neither completed nor aborted keeps its parts (and their storage bill) on
the server until a lifecycle rule removes them, and SIGKILL (the OOM killer, a reboot,
``kill -9``) gives s3tui no chance to abort. So each open upload is one small JSON file in the
state dir, written as soon as CreateMultipartUpload answered and deleted once the upload was
completed or aborted. ``s3tui cleanup`` aborts the ones whose process is gone and deletes the
spool directory they left.

No credential is ever written: an entry holds the endpoint, region and profile name, the bucket,
key and upload id, the spool directory, and which process wrote it; for a file, also what a rerun
needs to resume it (the local path, its size and mtime, the part size used). Files are 0600 in a
0700 dir.
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
from dataclasses import asdict, dataclass, replace
from pathlib import Path

import platformdirs

from s3tui.engine.redact import without_userinfo


def default_dir() -> Path:
    return Path(platformdirs.user_state_dir("s3tui")) / "open-uploads"


def _boot_id() -> str:
    with contextlib.suppress(OSError):
        return Path("/proc/sys/kernel/random/boot_id").read_text().strip()
    return ""


def _start_ticks(pid: int) -> str:
    """When the process started (clock ticks since boot): tells a reused pid from the writer."""
    with contextlib.suppress(OSError, IndexError):
        stat = Path(f"/proc/{pid}/stat").read_text()
        return stat.rsplit(")", 1)[1].split()[19]
    return ""


def writer_alive(pid: int, start_ticks: str, boot_id: str) -> bool:
    """Whether the process that wrote a note (``pid``, started at ``start_ticks`` in boot
    ``boot_id``) still runs: a reused pid or a reboot does not count."""
    if boot_id and boot_id != _boot_id():
        return False  # written before the last reboot
    if start_ticks:
        return _start_ticks(pid) == start_ticks
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True
    return True


@dataclass(frozen=True)
class Source:
    """The local file an upload is made of, as it was when the upload was opened: a rerun
    resumes the upload only while the file still has this size and mtime, and cuts it with
    this part size."""

    path: str
    size: int
    mtime_ns: int
    part_size: int
    options: str = ""  # a fingerprint of the object's headers the upload was opened with


@dataclass(frozen=True)
class Entry:
    bucket: str
    key: str
    upload_id: str
    endpoint: str | None
    region: str | None
    profile: str | None
    spool_dir: str | None
    pid: int
    start_ticks: str
    boot_id: str
    opened: float  # wall clock
    # A CreateMultipartUpload was sent and its answer never came (upload_id is ""): an upload
    # may exist that nobody knows the id of. Resolved by listing the key's uploads.
    pending: bool = False
    # The local file of a file upload (see Source); None for a stream and in older entries.
    path: str | None = None
    size: int | None = None
    mtime_ns: int | None = None
    part_size: int | None = None
    options: str | None = None

    def writer_alive(self) -> bool:
        return writer_alive(self.pid, self.start_ticks, self.boot_id)

    @property
    def source(self) -> Source | None:
        if self.path is None or self.size is None or self.mtime_ns is None:
            return None
        return Source(self.path, self.size, self.mtime_ns, self.part_size or 0, self.options or "")


class Journal:
    """Where this process notes the multipart uploads it has open."""

    def __init__(
        self,
        directory: Path | None = None,
        endpoint: str | None = None,
        region: str | None = None,
        profile: str | None = None,
    ) -> None:
        self.directory = directory or default_dir()
        self._endpoint = without_userinfo(endpoint) if endpoint else endpoint
        self._region = region
        self._profile = profile
        self._pid = os.getpid()
        self._start = _start_ticks(self._pid)
        self._boot = _boot_id()
        self._sources: dict[tuple[str, str], Source] = {}
        self._lock = threading.Lock()

    @property
    def endpoint(self) -> str | None:
        """The endpoint entries are noted with (no ``user:password@``)."""
        return self._endpoint

    def describe(self, bucket: str, key: str, source: Source) -> None:
        """What the upload of ``key`` about to be opened (or adopted) is made of: noted with
        it by :meth:`opened`, so that a rerun can tell whether the file is still the same."""
        with self._lock:
            self._sources[(bucket, key)] = source

    def _path(self, upload_id: str) -> Path:
        return self.directory / f"{hashlib.sha256(upload_id.encode()).hexdigest()[:24]}.json"

    def opened(self, bucket: str, key: str, upload_id: str, spool_dir: str | None = None) -> None:
        """Note an open upload. Best effort: a journal that cannot be written never stops one."""
        self._write(self._path(upload_id), self._entry(bucket, key, upload_id, spool_dir))

    def creating(self, bucket: str, key: str, started: float) -> str:
        """Note a CreateMultipartUpload whose answer was lost (sent at wall time ``started``);
        returns the name to pass to :meth:`closed` once the key's uploads were looked at."""
        name = f"pending-{uuid.uuid4().hex}"
        entry = replace(self._entry(bucket, key, "", None), opened=started, pending=True)
        self._write(self._path(name), entry)
        return name

    def _entry(self, bucket: str, key: str, upload_id: str, spool_dir: str | None) -> Entry:
        with self._lock:
            source = self._sources.get((bucket, key))
        about = {}
        if source is not None and upload_id:
            about = {
                "path": source.path,
                "size": source.size,
                "mtime_ns": source.mtime_ns,
                "part_size": source.part_size,
                "options": source.options,
            }
        return Entry(
            bucket,
            key,
            upload_id,
            self._endpoint,
            self._region,
            self._profile,
            spool_dir,
            self._pid,
            self._start,
            self._boot,
            time.time(),
            **about,
        )

    def _write(self, path: Path, entry: Entry) -> None:
        with contextlib.suppress(OSError):
            self.directory.mkdir(parents=True, exist_ok=True, mode=0o700)
            fd, tmp = tempfile.mkstemp(dir=self.directory, prefix=".", suffix=".tmp")  # 0600
            with os.fdopen(fd, "w") as f:
                json.dump(asdict(entry), f)
            os.replace(tmp, path)

    def closed(self, upload_id: str) -> None:
        """The upload was completed or aborted: nothing is left to clean."""
        with contextlib.suppress(OSError):
            self._path(upload_id).unlink()


def entries(directory: Path | None = None) -> list[tuple[Path, Entry]]:
    """Every noted upload (of live and dead processes); unreadable files are skipped."""
    directory = directory or default_dir()
    found = []
    try:
        names = sorted(os.listdir(directory))
    except OSError:
        return []
    for name in names:
        if not name.endswith(".json") or name.startswith("."):
            continue
        path = directory / name
        with contextlib.suppress(OSError, ValueError, TypeError):
            found.append((path, Entry(**json.loads(path.read_text()))))
    return found


def orphans(directory: Path | None = None) -> list[tuple[Path, Entry]]:
    """Uploads noted by processes that are gone: nobody will complete or abort them."""
    return [(path, e) for path, e in entries(directory) if not e.writer_alive()]


def open_by_key(
    endpoint: str | None, bucket: str, directory: Path | None = None
) -> tuple[dict[str, list[Entry]], set[str]]:
    """The uploads dead runs left open in ``bucket`` on this endpoint, by key, newest first (what
    a rerun may resume), and the ids of uploads whose writer still runs (never to be touched).
    One pass over the journal for a whole tree."""
    where = without_userinfo(endpoint) if endpoint else endpoint
    dead: dict[str, list[Entry]] = {}
    live: set[str] = set()
    for _, e in entries(directory):
        if e.pending or not e.upload_id:
            continue
        if e.writer_alive():
            live.add(e.upload_id)
        elif (e.endpoint, e.bucket) == (where, bucket):
            dead.setdefault(e.key, []).append(e)
    for found in dead.values():
        found.sort(key=lambda e: e.opened, reverse=True)
    return dead, live


def left_open(
    endpoint: str | None, bucket: str, key: str, directory: Path | None = None
) -> list[tuple[Path, Entry]]:
    """The uploads of ``key`` that dead runs left open on this endpoint, newest first: what a
    rerun may resume. Pending entries (no upload id) are not among them."""
    where = without_userinfo(endpoint) if endpoint else endpoint
    found = [
        (path, e)
        for path, e in orphans(directory)
        if not e.pending and e.upload_id and (e.endpoint, e.bucket, e.key) == (where, bucket, key)
    ]
    return sorted(found, key=lambda pe: pe[1].opened, reverse=True)


def remove_spool(spool_dir: str | None) -> None:
    """Delete a dead run's spool directory: only one s3tui made (``s3tui-*``), only its files."""
    if not spool_dir:
        return
    path = Path(spool_dir)
    if not path.name.startswith("s3tui-") or not path.is_dir() or path.is_symlink():
        return
    with contextlib.suppress(OSError):
        for child in path.iterdir():
            if child.is_file() and not child.is_symlink():
                child.unlink()
        path.rmdir()
