"""`s3tui watch --no-tui [ID]`: follow an upload of another process as headless progress lines
(the same lines and ``--json`` objects as ``put --no-tui``), and end with its exit code."""

from __future__ import annotations

import contextlib
import json
import signal
import sys
import threading
from typing import Any, TextIO

from s3tui.errors import EXIT_FAILED, EXIT_SIGINT, EXIT_USAGE, S3tuiError
from s3tui.live import store
from s3tui.live.model import RemoteProgress, result_from
from s3tui.live.ps import DEAD_HINT, row, table

POLL = 0.5


class NoUpload(S3tuiError):
    """Nothing to watch (exit 1)."""


class SeveralUploads(S3tuiError):
    """No ID (or a prefix of several) while several uploads run: ``entries`` are the choice."""

    exit_code = EXIT_USAGE

    def __init__(self, message: str, entries: list[store.Entry]) -> None:
        super().__init__(message)
        self.entries = entries


def pick(ident: str | None) -> store.Entry:
    """The upload ``ident`` names (an id or a unique prefix of one), or the only one running."""
    found = store.entries()
    if ident:
        matches = [e for e in found if e.id == ident] or [
            e for e in found if e.id.startswith(ident)
        ]
        if not matches:
            raise NoUpload(f"no upload {ident!r} (`s3tui ps --all` lists them)")
        if len(matches) > 1:
            raise SeveralUploads(
                f"{ident!r} names {len(matches)} uploads: give more of the id", matches
            )
        return matches[0]
    running = [e for e in found if e.status == "running"]
    if len(running) == 1:
        return running[0]
    if not running:
        raise NoUpload("no upload is running (`s3tui ps --all` lists finished ones)")
    ids = ", ".join(e.id for e in running)
    raise SeveralUploads(
        f"{len(running)} uploads are running ({ids}): name one, `s3tui watch ID`", running
    )


def print_choices(err: SeveralUploads, json_lines: bool, out: TextIO | None = None) -> None:
    """The uploads to choose from, as `ps` lists them (one JSON object with ``--json``)."""
    import time

    out = out or sys.stderr
    rows = [row(e) for e in err.entries]
    if json_lines:
        print(json.dumps({"type": "uploads", "uploads": rows}), file=out)
        return
    for line in table(rows, False, time.time()):
        print(line, file=out)


def _reporter_class() -> Any:
    from s3tui.report.headless import HeadlessReporter, progress_dict, progress_line

    class RemoteReporter(HeadlessReporter):
        """put's headless lines, with the rate the upload measured (not the watcher's)."""

        def print_progress(self) -> None:
            snap = self.progress.snapshot()
            rate = float(self.progress.entry.state.get("rate", 0.0))  # type: ignore[attr-defined]
            if self.json:
                self._write(json.dumps(progress_dict(snap, rate)))
            else:
                self._write(progress_line(snap, rate), transient=True)

    return RemoteReporter


def follow(
    entry: store.Entry,
    *,
    json_lines: bool = False,
    quiet: bool = False,
    stream: TextIO | None = None,
    interval: float | None = None,
    stop: threading.Event | None = None,
) -> int:
    """Print the upload's progress until it ends; its exit code, or 1 if its process died."""
    out = stream or sys.stderr
    progress = RemoteProgress(entry)
    reporter = _reporter_class()(
        progress,  # type: ignore[arg-type]
        stream=out,
        json_lines=json_lines,
        interval=interval,
        quiet=quiet,
    )
    stop = stop or threading.Event()
    reporter.start()
    try:
        if not quiet:
            reporter.print_progress()
        while True:
            if not progress.refresh() and not entry.path.exists():
                reporter.stop()
                _say(reporter, json_lines, f"upload {entry.id} is no longer published")
                return EXIT_FAILED
            result = entry.result
            if result is not None:
                reporter.stop()
                if json_lines:
                    reporter._write(json.dumps({**result, "id": entry.id}))
                else:
                    reporter.summary(result_from(result), [])
                return int(result.get("exit_code", EXIT_FAILED))
            if not entry.alive():
                reporter.stop()
                pid = entry.state.get("pid")
                _say(reporter, json_lines, f"upload {entry.id} (pid {pid}): {DEAD_HINT}")
                return EXIT_FAILED
            if stop.wait(POLL):
                reporter.stop()
                _say(reporter, json_lines, f"detached; upload {entry.id} goes on", kind="info")
                return EXIT_SIGINT
    finally:
        reporter.stop()


def _say(reporter: Any, json_lines: bool, text: str, kind: str = "error") -> None:
    if json_lines:
        reporter._write(json.dumps({"type": kind, "message": text}))
    else:
        reporter._write(f"s3tui: {kind}: {text}" if kind == "error" else f"s3tui: {text}")


def run_watch(ident: str | None, *, json_lines: bool, quiet: bool) -> int:
    """``s3tui watch --no-tui``: follow the upload as headless lines until it ends."""
    try:
        entry = pick(ident)
    except SeveralUploads as e:
        print_choices(e, json_lines)
        raise
    # Ctrl-C detaches: the upload is another process and goes on.
    stop = threading.Event()

    def handler(signum: int, frame: object) -> None:
        stop.set()

    saved = {}
    for sig in (signal.SIGINT, signal.SIGTERM, signal.SIGHUP):
        with contextlib.suppress(ValueError, OSError):
            saved[sig] = signal.signal(sig, handler)
    try:
        return follow(entry, json_lines=json_lines, quiet=quiet, stop=stop)
    finally:
        for sig, old in saved.items():
            signal.signal(sig, old)
