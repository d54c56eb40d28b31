"""The one way to make and run the dashboard, shared by the CLI, the tests and the screenshots.

Nothing here imports Textual at module level: the job starts on its own thread first, and only
then is Textual loaded and the app built.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from s3tui.engine.job import Result, UploadJob
from s3tui.errors import EXIT_FAILED, EXIT_SIGINT
from s3tui.tui.runner import JobRunner

if TYPE_CHECKING:
    from s3tui.tui.app import SpoolFreeFn, UploadApp


def start_app(
    job: UploadJob, *, spool_free_fn: SpoolFreeFn | None = None, handle_signals: bool = False
) -> UploadApp:
    """Start ``job`` on a :class:`JobRunner`, then build the app that shows it (not yet run).

    The upload starts first because importing Textual and mounting the app takes ~0.2 s of CPU
    that the upload need not wait for. ``handle_signals`` routes SIGINT/SIGTERM into the app's
    stop path while it runs; only the CLI wants that (a test must not take the process's
    signals). ``spool_free_fn`` replaces the free-space probe (fixed pictures in tests).
    """
    runner = JobRunner(job).start()
    from s3tui.tui.app import UploadApp

    return UploadApp(runner, spool_free_fn=spool_free_fn, handle_signals=handle_signals)


def run_dashboard(job: UploadJob) -> Result:
    """Run the dashboard until the upload ends and return the job's :class:`Result`.

    The caller keeps SIGINT/SIGTERM on the job's cancel path around this call
    (:func:`s3tui.drive.signals_cancel`): the app takes them over only while it runs.
    """
    app = start_app(job, handle_signals=True)
    result = app.run()
    if result is None:
        # The app ended without the job's result (it crashed): cancel the upload (already done
        # if the app got as far as unmounting) and wait for its cleanup so no multipart upload
        # is left behind.
        if not app.runner.done.is_set():
            job.cancel(EXIT_SIGINT, "dashboard closed")
        app.runner.wait(timeout=60)
        result = app.outcome or Result(
            EXIT_FAILED, "the dashboard stopped unexpectedly; upload aborted"
        )
    return result
