"""An upload running in another process, as an :class:`~s3tui.engine.job.UploadJob`: what the
dashboard needs (``progress``, ``run``, steering), so `s3tui watch` shows it with the very
widgets `s3tui put` uses.

``run`` follows the published state until the upload ends (its result), its process dies, or
the watcher detaches (``cancel``: a watcher never stops the upload by leaving). Steering is
sent to the upload's publisher (:meth:`s3tui.live.store.Entry.send`).
"""

from __future__ import annotations

import threading
from collections.abc import Sequence
from typing import Any

from s3tui.engine.job import Result
from s3tui.errors import EXIT_FAILED
from s3tui.live import store
from s3tui.live.model import RemoteProgress, result_from
from s3tui.live.ps import DEAD_HINT

POLL = 0.5
DETACHED = "detached"


class RemoteJob:
    def __init__(self, entry: store.Entry, poll: float = POLL) -> None:
        self.entry = entry
        self.progress = RemoteProgress(entry)
        self.poll = poll
        self.detached = threading.Event()
        self.dead = False

    @property
    def records(self) -> Sequence[Any]:
        return ()

    @property
    def file_stats(self) -> Sequence[Any]:
        return ()

    def run(self) -> Result:
        while True:
            readable = self.progress.refresh()
            if not readable and not self.entry.path.exists():
                return Result(EXIT_FAILED, f"upload {self.entry.id} is no longer published")
            if self.entry.result is not None:
                return result_from(self.entry.result)
            if not self.entry.alive():
                self.dead = True
                pid = self.entry.state.get("pid")
                return Result(EXIT_FAILED, f"the upload (pid {pid}): {DEAD_HINT}")
            if self.detached.wait(self.poll):
                return Result(0, DETACHED)

    def cancel(self, exit_code: int, reason: str) -> None:
        """Leave the upload alone: only this watcher stops (``stop`` ends the upload)."""
        self.detached.set()

    def stop_upload(self) -> None:
        self.entry.send("stop")

    def set_paused(self, paused: bool) -> None:
        self.entry.send("pause" if paused else "resume")

    def set_concurrency(self, n: int) -> int:
        self.entry.send("concurrency", n=n)
        return n
