"""The upload's own thread for the dashboard, started before Textual is even imported.

Importing Textual and mounting the app takes ~0.2 s of CPU; the upload does not wait for it.
The app watches the runner (:meth:`JobRunner.on_done`) in the CLI, the tests and the screenshot
script alike. Nothing here imports Textual.
"""

from __future__ import annotations

import threading
from collections.abc import Callable

from s3tui.engine.job import Result, UploadJob
from s3tui.errors import EXIT_FAILED


class JobRunner:
    """Runs ``job.run()`` on a thread; whoever watches it is told the result once, on any
    thread (the job's, or the caller's when it has already finished)."""

    def __init__(self, job: UploadJob) -> None:
        self.job = job
        self.result: Result | None = None
        self.done = threading.Event()
        self._lock = threading.Lock()
        self._callbacks: list[Callable[[Result], None]] = []
        # Not a daemon: like Textual's thread workers, the interpreter waits for the job's
        # cleanup (abort, spool removal) before it exits.
        self._thread = threading.Thread(target=self._run, name="s3tui-job")

    def start(self) -> JobRunner:
        self._thread.start()
        return self

    def _run(self) -> None:
        try:
            result = self.job.run()
        except Exception as e:  # the same outcome a crashed Textual worker gave
            result = Result(EXIT_FAILED, f"internal error: {e!r}")
        with self._lock:
            self.result = result
            self.done.set()
            callbacks, self._callbacks = self._callbacks, []
        for callback in callbacks:
            callback(result)

    def on_done(self, callback: Callable[[Result], None]) -> None:
        with self._lock:
            if self.result is None:
                self._callbacks.append(callback)
                return
            result = self.result
        callback(result)

    def wait(self, timeout: float | None = None) -> bool:
        return self.done.wait(timeout)
