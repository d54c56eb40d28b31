"""The Textual dashboard. ``s3tui.engine`` never imports this package; it never imports boto3.

Importing ``s3tui.tui`` is cheap (Textual is loaded only when a dashboard is built), so the
CLI can import :mod:`s3tui.tui.terminal` and decide on headless mode without paying for it.
"""

from __future__ import annotations

import contextlib
import sys
from typing import TYPE_CHECKING, TextIO

from s3tui.engine.job import Result
from s3tui.errors import EXIT_SIGINT
from s3tui.tui.outcome import outcome_lines

if TYPE_CHECKING:
    from s3tui.engine.job import UploadJob
    from s3tui.tui.app import UploadApp

__all__ = ["build_app", "run_dashboard"]


def build_app(job: UploadJob, **kwargs: object) -> UploadApp:
    """See :func:`s3tui.tui.app.build_app`."""
    from s3tui.tui.app import build_app as _build_app

    return _build_app(job, **kwargs)  # type: ignore[arg-type]


def run_dashboard(job: UploadJob, *, out: TextIO | None = None) -> Result:
    """Run the dashboard until the upload ends, then print how it ended into the scrollback.

    Returns the job's :class:`Result`; its ``exit_code`` is the process's exit code.
    """
    from s3tui.drive import signals_cancel
    from s3tui.tui.runner import JobRunner

    # The upload starts first: loading Textual and mounting the app would otherwise delay it.
    # Until the app takes the signals over (and again after it lets go), SIGINT/SIGTERM
    # cancel the job rather than raise into this thread with the upload running.
    with signals_cancel(job):
        runner = JobRunner(job).start()
        from s3tui.tui.app import build_app as _build_app

        app = _build_app(job, handle_signals=True, runner=runner)
        result = app.run()
        if result is None:
            # The app ended without the job's result (it crashed): cancel the upload (already
            # done if the app got as far as unmounting) and wait for its cleanup so no
            # multipart upload is left behind.
            if not runner.done.is_set():
                job.cancel(EXIT_SIGINT, "dashboard closed")
            runner.wait(timeout=60)
            result = app.outcome or Result(1, "the dashboard stopped unexpectedly; upload aborted")
    with contextlib.suppress(OSError):  # the terminal may be gone (SIGHUP)
        for line in outcome_lines(result, job.progress.source, job.progress.dest):
            print(line, file=out or sys.stderr)
    return result
