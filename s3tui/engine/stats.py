"""Per-attempt statistics: the columns of the s3-upload seed's ``perf_data``, for every attempt."""

from __future__ import annotations

import json
import threading
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import IO

from s3tui.engine.redact import without_userinfo


@dataclass(frozen=True)
class AttemptRecord:
    """One attempt of one request. ``success_ms`` is None for a failed attempt."""

    label: str
    part: int | None
    file: str | None
    bytes: int
    attempt: int
    success_ms: float | None  # duration of this (successful) attempt
    total_ms: float  # since the first attempt of this request began, earlier attempts included
    MBps: float  # this attempt's throughput, decimal MB/s
    MBps_est: float  # the bandwidth estimate after this attempt
    deadline_s: float
    ok: bool
    error: str | None = None
    hedge: bool = False  # a second copy of a straggling request (engine/hedge.py)

    def __post_init__(self) -> None:
        if self.error:  # to the stats file and the retry log: no URL's user:password@
            object.__setattr__(self, "error", without_userinfo(self.error))

    def to_json(self) -> str:
        return json.dumps(asdict(self), separators=(",", ":"))


@dataclass(frozen=True)
class FileStat:
    """One file of a tree upload: the s3-upload seed's ``perf_data`` row, whatever its parts.

    ``attempts`` counts every data request (parts and PutObject) including retries, so a file
    of 4 parts sent without a retry has 4; ``success_ms`` spans its successful data requests
    (for a single PutObject: the last attempt, as in the seed) and ``total_ms`` runs from its
    first request to its end, retries and create/complete included.
    """

    file: str
    key: str
    state: str  # done, failed, skipped, or unfinished (the job stopped first)
    bytes: int
    parts: int
    attempts: int
    success_ms: float | None
    total_ms: float
    MBps: float
    MBps_est: float
    reason: str = ""

    def __post_init__(self) -> None:
        if self.reason:
            object.__setattr__(self, "reason", without_userinfo(self.reason))

    def to_json(self) -> str:
        return json.dumps({"type": "file", **asdict(self)}, separators=(",", ":"))


def percentile(values: list[float], q: float) -> float:
    """Nearest-rank percentile; 0 for no values."""
    if not values:
        return 0.0
    ordered = sorted(values)
    k = max(0, min(len(ordered) - 1, round(q / 100 * (len(ordered) - 1))))
    return ordered[k]


class StatsFile:
    """JSON lines, one per attempt (and one per file of a tree upload, ``"type": "file"``),
    flushed as they come so a crash loses nothing written.

    A write that fails (disk full) never reaches the upload: the callback runs inside the
    request path, where an OSError was taken for the spool disk being full and left the
    preflight's multipart upload open. The first error is kept in ``error``, later records are
    dropped, and the caller reports it.
    """

    def __init__(self, path: Path) -> None:
        self.path = path
        self.error: str | None = None
        self._fh: IO[str] = open(path, "a", encoding="utf-8")  # noqa: SIM115
        self._lock = threading.Lock()

    def __call__(self, record: AttemptRecord | FileStat) -> None:
        with self._lock:
            if self.error is not None:
                return
            try:
                self._fh.write(record.to_json() + "\n")
                self._fh.flush()
            except OSError as e:
                self.error = e.strerror or str(e)

    def close(self) -> None:
        with self._lock:
            try:
                self._fh.close()
            except OSError as e:
                self.error = self.error or e.strerror or str(e)
