"""Drive one upload job to its end: the dashboard or the headless reporter, and signals.

Shared by ``s3tui put`` and ``s3tui demo``. SIGINT and SIGTERM never raise into the engine; they
call ``job.cancel`` — the one stop path that aborts, cleans the spool and sets the exit code.
"""

from __future__ import annotations

import contextlib
import gc
import signal
from collections.abc import Callable, Iterator, Sequence
from typing import TYPE_CHECKING

from s3tui.engine.job import Result, UploadJob
from s3tui.errors import EXIT_SIGINT, EXIT_SIGTERM

if TYPE_CHECKING:
    from s3tui.engine.stats import AttemptRecord


@contextlib.contextmanager
def signals_cancel(job: UploadJob) -> Iterator[None]:
    def handler(signum: int, frame: object) -> None:
        code = EXIT_SIGINT if signum == signal.SIGINT else EXIT_SIGTERM
        name = "interrupted (Ctrl-C)" if signum == signal.SIGINT else "terminated (SIGTERM)"
        # A job may say what a stop leaves behind (a tree keeps the files already uploaded).
        what = getattr(job, "cancel_note", "the upload was aborted, nothing was stored")
        job.cancel(code, f"{name}: {what}")

    saved = {sig: signal.signal(sig, handler) for sig in (signal.SIGINT, signal.SIGTERM)}
    try:
        yield
    finally:
        for sig, old in saved.items():
            signal.signal(sig, old)


def _records(job: UploadJob) -> Sequence[AttemptRecord]:
    """``job.records``; the stream and tree jobs keep theirs on their ``transfer`` instead."""
    if hasattr(job, "records"):
        return job.records
    transfer = getattr(job, "transfer", None)
    return transfer.records if transfer is not None else ()


def drive_job(
    job: UploadJob,
    *,
    tui: bool | None,
    json_lines: bool = False,
    quiet: bool = False,
    on_done: Callable[[Result], None] | None = None,
) -> int:
    """Run ``job`` headless (``tui`` false) or in the dashboard; returns the exit code."""
    # Everything alive now (botocore's service model, the client) lives to the end: keep the
    # cyclic GC from walking it on every collection (perf: ~3% of a stream's CPU). The CLI
    # kept the GC off during start-up; from here on it runs, over what is new.
    gc.freeze()
    gc.enable()
    if tui:
        from s3tui.tui.dashboard import run_dashboard  # Textual is imported only here
        from s3tui.tui.outcome import print_outcome

        # Until the app takes the signals over (and again after it lets go), SIGINT/SIGTERM
        # cancel the job rather than raise into this thread with the upload running.
        with signals_cancel(job):
            result = run_dashboard(job)
        print_outcome(result, job.progress.source, job.progress.dest)
    else:
        from s3tui.report.headless import HeadlessReporter

        reporter = HeadlessReporter(job.progress, json_lines=json_lines, quiet=quiet)
        with signals_cancel(job):
            reporter.start()
            try:
                result = job.run()
            finally:
                reporter.stop()
        # A job without file_stats (a stream) has no per-file rows: the protocol's empty default.
        files = job.file_stats if hasattr(job, "file_stats") else ()
        reporter.summary(result, _records(job), files=files)
    if on_done is not None:
        on_done(result)
    return result.exit_code
