"""What every upload (stream, file, tree) offers to whoever drives it: CLI, dashboard or library.

A driver calls :meth:`UploadJob.run` in a thread of its own and watches ``job.progress``; it steers
with ``cancel``/``set_paused``/``set_concurrency``. All of these are safe from any thread.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Protocol

from s3tui.engine.progress import Progress


@dataclass(frozen=True)
class Result:
    """How an upload ended. ``exit_code`` follows the CLI's codes (0, 1, 130, 143)."""

    exit_code: int
    message: str  # one line: what happened, or what went wrong and what to do
    size: int = 0
    seconds: float = 0.0
    parts: int = 0
    retries: int = 0
    etag: str | None = None
    checksum: str | None = None
    failed_files: tuple[tuple[str, str], ...] = field(default_factory=tuple)

    @property
    def ok(self) -> bool:
        return self.exit_code == 0


class UploadJob(Protocol):
    progress: Progress

    def run(self) -> Result: ...

    def cancel(self, exit_code: int, reason: str) -> None: ...

    def set_paused(self, paused: bool) -> None: ...

    def set_concurrency(self, n: int) -> int: ...
