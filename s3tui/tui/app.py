"""The dashboard: shows an :class:`~s3tui.engine.job.UploadJob` live while it runs.

The engine never waits on the UI: ``job.run()`` runs on its own thread (a :class:`JobRunner`,
started before Textual is loaded: :func:`s3tui.tui.dashboard.start_app`), the screen reads
``job.progress.snapshot()`` on a timer (a few times a second), and discrete engine events (a
retry, a failure) arrive as messages posted from the engine's threads. Every way out of the app
(``q`` + confirm, ctrl+c, SIGINT/SIGTERM, the window closing) goes through ``job.cancel``.
"""

from __future__ import annotations

import asyncio
import contextlib
import shutil
import time
from collections.abc import Callable, Iterable
from pathlib import PurePath
from typing import ClassVar

from textual.app import App, ComposeResult, SystemCommand
from textual.binding import Binding, BindingType
from textual.containers import Horizontal, Vertical
from textual.message import Message
from textual.screen import Screen
from textual.timer import Timer
from textual.widgets import Footer

from s3tui.engine.job import Result
from s3tui.engine.progress import Event, RateMeter
from s3tui.errors import EXIT_SIGINT, STOP_SIGNALS
from s3tui.tui import hangup
from s3tui.tui.frame import Frame
from s3tui.tui.runner import JobRunner
from s3tui.tui.screens import ConfirmAbort, HelpScreen, SummaryScreen
from s3tui.tui.styles import stylesheet_paths
from s3tui.tui.widgets import (
    FilesPanel,
    FrameView,
    PartsPanel,
    RetryLog,
    SummaryPanel,
    TempDiskPanel,
    ThroughputChart,
)

SpoolFreeFn = Callable[[str], int | None]

# How often the screen reads the progress model. Every repaint is CPU the upload (and, on a
# small machine, the S3 server) goes without: a frame of this dashboard costs Textual ~15 ms of
# CPU at 132x40. 2 Hz is rclone's progress rate and keeps the numbers readable while they change.
POLL_INTERVAL = 1 / 2
# Free space on the spool's disk is a syscall: ask at most this often (seconds).
DISK_SAMPLE_INTERVAL = 1.0
# "Throughput now" averages over this many seconds, enough to smooth per-part bursts.
RATE_WINDOW = 3.0


def disk_free(path: str) -> int | None:
    """Free bytes on the filesystem holding ``path``; None when it cannot be told."""
    if not path:
        return None
    try:
        return shutil.disk_usage(path).free
    except OSError:
        return None


class UploadApp(App[Result]):
    """Live view of one upload; ``run()`` returns the job's :class:`Result`."""

    CSS_PATH: ClassVar[list[str | PurePath]] = [str(p) for p in stylesheet_paths()]
    TITLE = "s3tui"
    BINDINGS: ClassVar[list[BindingType]] = [
        Binding("q", "quit", "Quit"),
        Binding("p", "toggle_pause", "Pause/resume"),
        Binding("plus", "concurrency(1)", "More", key_display="+"),
        Binding("equals_sign", "concurrency(1)", "More", show=False),
        Binding("minus", "concurrency(-1)", "Fewer", key_display="-"),
        Binding("question_mark", "dashboard_help", "Help", key_display="?"),
        # Replaces Textual's "press ctrl+q to quit" hint: ctrl+c is the shell's way to stop.
        Binding("ctrl+c", "abort", "Abort", show=False, priority=True),
    ]

    class EngineEvent(Message):
        """An engine event (retry, failure...) posted from an engine thread."""

        def __init__(self, event: Event) -> None:
            super().__init__()
            self.event = event

    class JobDone(Message):
        """``job.run()`` returned on the :class:`JobRunner`'s thread."""

        def __init__(self, result: Result) -> None:
            super().__init__()
            self.result = result

    def __init__(
        self,
        runner: JobRunner,
        *,
        spool_free_fn: SpoolFreeFn | None = None,
        poll_interval: float = POLL_INTERVAL,
        handle_signals: bool = False,
    ) -> None:
        """``runner``: the job, already running on its own thread. Made by
        :func:`s3tui.tui.dashboard.start_app`, which says what the options are for.

        Times come from the progress model (``Snapshot.now``), so a fake clock there is all a
        test needs.
        """
        # The real CLI's terminal may hang up under it (SIGHUP); tests run headless drivers.
        super().__init__(driver_class=hangup.driver_class() if handle_signals else None)
        self.runner = runner
        self.job = runner.job
        self.progress = runner.job.progress
        self._spool_free_fn = spool_free_fn or disk_free
        self._poll_interval = poll_interval
        self._handle_signals = handle_signals
        self._meter = RateMeter(window=RATE_WINDOW)
        self._meter_t: float | None = None
        self._rate = 0.0
        self._disk_checked = -DISK_SAMPLE_INTERVAL
        self._spool_free: int | None = None
        self._paused = False
        self._stopping = False
        self._listening = False
        self._preseeded: set[Event] = set()
        self._timer: Timer | None = None
        self._signals: list[int] = []
        self._views: list[FrameView] = []
        self.frame: Frame | None = None
        self.outcome: Result | None = None

    # --- layout ---
    def compose(self) -> ComposeResult:
        yield SummaryPanel(id="summary")
        with Horizontal(id="middle"):
            with Vertical(id="work"):
                yield FilesPanel(id="files")
                yield PartsPanel(id="parts")
            with Vertical(id="side"):
                yield TempDiskPanel(id="temp-disk")
                yield RetryLog(id="retry-log")
        yield ThroughputChart(id="chart")
        yield Footer()

    def on_mount(self) -> None:
        titles = {
            "#parts": "Parts in flight",
            "#temp-disk": "Temp disk",
            "#retry-log": "Retry log",
            "#chart": "Throughput",
        }
        for selector, title in titles.items():
            self.query_one(selector).border_title = title
        self._views = list(self.query(FrameView))
        self._listening = True
        self.progress.subscribe(self._on_engine_event)
        log = self.query_one(RetryLog)
        # Events from before the app started; those also posted meanwhile are skipped later.
        for ev in self.progress.snapshot().events:
            self._preseeded.add(ev)
            log.add(ev)
        self.poll()
        self._timer = self.set_interval(self._poll_interval, self.poll)
        if self._handle_signals:
            self._install_signal_handlers()
        self.runner.on_done(self._job_finished)

    def on_unmount(self) -> None:
        self._listening = False
        self.progress.unsubscribe(self._on_engine_event)
        if self.outcome is None and not self._stopping:
            # The app is going away with the upload still running: stop it cleanly.
            self.job.cancel(EXIT_SIGINT, "dashboard closed")
        loop = asyncio.get_running_loop()
        for sig in self._signals:
            loop.remove_signal_handler(sig)

    # --- the upload thread ---
    def _job_finished(self, result: Result) -> None:
        """The runner's callback, on the job's thread (or this one if it had already ended)."""
        if self._listening:
            self.post_message(self.JobDone(result))

    def on_upload_app_job_done(self, message: JobDone) -> None:
        if self.outcome is None:
            self._finish(message.result)

    def _finish(self, result: Result) -> None:
        self.outcome = result
        self.poll()
        if self._timer is not None:
            self._timer.stop()
        if self._stopping:
            self.exit(result)
            return
        while isinstance(self.screen, ConfirmAbort | HelpScreen):
            self.pop_screen()
        self.push_screen(
            SummaryScreen(result, self.progress.source, self.progress.dest),
            callback=lambda _: self.exit(result),
        )

    # --- reading the model ---
    def _on_engine_event(self, ev: Event) -> None:
        """Runs on an engine thread: post and return at once (post_message is thread-safe)."""
        if self._listening:
            self.post_message(self.EngineEvent(ev))

    def on_upload_app_engine_event(self, message: EngineEvent) -> None:
        if message.event in self._preseeded:
            self._preseeded.discard(message.event)
            return
        for log in self.query(RetryLog):  # none while shutting down
            log.add(message.event)

    def poll(self) -> None:
        """Read one snapshot and hand it to every panel."""
        snap = self.progress.snapshot()
        now = snap.now
        if self._meter_t is None or now > self._meter_t:
            self._rate = self._meter.add(now, snap.bytes_sent)
            self._meter_t = now
        real = time.monotonic()
        if snap.spool_dir and real - self._disk_checked >= DISK_SAMPLE_INTERVAL:
            self._disk_checked = real
            free = self._spool_free_fn(snap.spool_dir)
            if free is not None:  # the spool dir goes away at the end: keep the last reading
                self._spool_free = free
        self._paused = snap.paused
        self.frame = Frame(snap, now, self._rate, self._spool_free)
        # Found once at mount (a CSS query per tick adds up). A tick may land while the app
        # shuts down and the widgets are already gone; then there is nothing to show, no error.
        for view in self._views:
            if view.is_attached:
                view.show(self.frame)

    # --- steering ---
    def action_toggle_pause(self) -> None:
        if self.outcome is not None:
            return
        self._paused = not self._paused
        self.job.set_paused(self._paused)
        self.notify(
            "Paused: no new request starts; requests in flight finish."
            if self._paused
            else "Resumed.",
            timeout=3,
        )
        self.poll()

    def action_concurrency(self, delta: int) -> None:
        if self.outcome is not None:
            return
        current = self.frame.snapshot.concurrency_ceiling if self.frame else 1
        wanted = max(1, current + delta)
        got = self.job.set_concurrency(wanted)
        self.notify(f"Up to {got} request{'s' if got != 1 else ''} in flight (pinned).", timeout=3)
        self.poll()

    def action_dashboard_help(self) -> None:
        if not isinstance(self.screen, HelpScreen):
            self.push_screen(HelpScreen())

    async def action_quit(self) -> None:
        """``q``, ctrl+q and the palette's Quit: ask first, since quitting aborts the upload."""
        if self.outcome is not None:
            self.exit(self.outcome)
        elif self._stopping:
            self.notify("Still aborting the upload…", timeout=3)
        elif not isinstance(self.screen, ConfirmAbort):
            self.push_screen(ConfirmAbort(), callback=self._quit_confirmed)

    def _quit_confirmed(self, abort: bool | None) -> None:
        if abort:
            self.stop(EXIT_SIGINT, "cancelled by user")

    def action_abort(self) -> None:
        """ctrl+c: the same stop as a confirmed quit, without asking."""
        if self.outcome is not None:
            self.exit(self.outcome)
        else:
            self.stop(EXIT_SIGINT, "cancelled by user")

    def stop(self, exit_code: int, reason: str) -> None:
        """The one stop path: cancel the job; the app exits when ``run()`` has returned."""
        if self._stopping or self.outcome is not None:
            return
        self._stopping = True
        self.job.cancel(exit_code, reason)
        while isinstance(self.screen, ConfirmAbort | HelpScreen):
            self.pop_screen()
        self.notify(
            "Aborting: stopping requests and aborting the multipart upload…",
            severity="warning",
            timeout=30,
        )

    def _install_signal_handlers(self) -> None:
        loop = asyncio.get_running_loop()
        for sig, (code, reason) in STOP_SIGNALS.items():
            with contextlib.suppress(NotImplementedError, RuntimeError, ValueError):
                loop.add_signal_handler(sig, self.stop, code, reason)
                self._signals.append(sig)

    def get_system_commands(self, screen: Screen) -> Iterable[SystemCommand]:
        yield from super().get_system_commands(screen)
        yield SystemCommand(
            "Pause / resume", "Stop or restart starting new requests", self.action_toggle_pause
        )
        yield SystemCommand(
            "More concurrency",
            "Allow one more request in flight",
            lambda: self.action_concurrency(1),
        )
        yield SystemCommand(
            "Less concurrency",
            "Allow one fewer request in flight",
            lambda: self.action_concurrency(-1),
        )
        yield SystemCommand("Abort upload", "Stop and abort the multipart upload", self.action_quit)
        yield SystemCommand("Dashboard help", "Keys and panels", self.action_dashboard_help)
