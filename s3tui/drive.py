"""Drive one upload job to its end: the dashboard or the headless reporter, and signals.

Shared by ``s3tui put`` and ``s3tui demo``. SIGINT, SIGTERM and SIGHUP never raise into the
engine; they call ``job.cancel``: the one stop path that aborts, cleans the spool and sets the
exit code.
"""

from __future__ import annotations

import contextlib
import gc
import signal
from collections.abc import Callable, Iterator
from typing import TYPE_CHECKING

from s3tui.engine.job import Result, UploadJob
from s3tui.errors import STOP_SIGNALS

if TYPE_CHECKING:
    pass


@contextlib.contextmanager
def signals_cancel(job: UploadJob) -> Iterator[None]:
    def handler(signum: int, frame: object) -> None:
        code, name = STOP_SIGNALS[signum]
        job.cancel(code, name)  # the job adds what the stop left behind

    saved = {sig: signal.signal(sig, handler) for sig in STOP_SIGNALS}
    try:
        yield
    finally:
        for sig, old in saved.items():
            signal.signal(sig, old)


def drive_job(
    job: UploadJob,
    *,
    tui: bool | None,
    json_lines: bool = False,
    quiet: bool = False,
    on_done: Callable[[Result], None] | None = None,
    on_start: Callable[[], None] | None = None,
) -> int:
    """Run ``job`` headless (``tui`` false) or in the dashboard; returns the exit code.

    ``on_start`` runs once the output listens to ``job.progress``, just before the job: ``put
    --from`` starts its command there, so none of the command's stderr lines is missed.
    """
    # Everything alive now (botocore's service model, the client) lives to the end: keep the
    # cyclic GC from walking it on every collection (perf: ~3% of a stream's CPU). The CLI
    # kept the GC off during start-up; from here on it runs, over what is new.
    gc.freeze()
    gc.enable()
    # Every upload can be watched (`s3tui ps`, `s3tui watch`): its state is published by a
    # thread of its own; a failure there never reaches the upload.
    from s3tui.live import publish

    publisher = publish.start(job)
    result: Result | None = None
    try:
        result = _drive(job, tui, json_lines, quiet, on_start)
    finally:
        if publisher is not None:
            publisher.finish(result)
    assert result is not None
    if on_done is not None:
        on_done(result)
    return result.exit_code


def _drive(
    job: UploadJob,
    tui: bool | None,
    json_lines: bool,
    quiet: bool,
    on_start: Callable[[], None] | None,
) -> Result:
    if tui:
        from s3tui.tui.dashboard import run_dashboard  # Textual is imported only here
        from s3tui.tui.outcome import print_outcome

        # Until the app takes the signals over (and again after it lets go), the stop signals
        # cancel the job rather than raise into this thread with the upload running.
        with signals_cancel(job):
            if on_start is not None:
                on_start()  # the dashboard shows the events that came before it was mounted
            result = run_dashboard(job)
        print_outcome(result, job.progress.source, job.progress.dest)
    else:
        from s3tui.report.headless import HeadlessReporter

        reporter = HeadlessReporter(job.progress, json_lines=json_lines, quiet=quiet)
        with signals_cancel(job):
            reporter.start()
            try:
                if on_start is not None:
                    on_start()
                result = job.run()
            finally:
                reporter.stop()
        reporter.summary(result, job.records, files=job.file_stats)
    return result
