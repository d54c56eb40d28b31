"""`s3tui watch`: the dashboard `s3tui put` shows, on an upload running in another process.

The same app and widgets, fed by a :class:`~s3tui.live.remote_job.RemoteJob` (the published
state as a job). What differs is what leaving means: ``q`` (and ctrl+c, a signal) detaches and
the upload goes on; stopping the upload is ``s``, after a confirmation.
"""

from __future__ import annotations

import itertools
import sys
from typing import Any, ClassVar

from textual.app import ComposeResult
from textual.binding import Binding, BindingType
from textual.containers import Horizontal, Vertical
from textual.content import Content
from textual.widgets import Button, Static

from s3tui.engine.job import Result
from s3tui.live.model import model_now
from s3tui.live.remote_job import DETACHED, RemoteJob
from s3tui.tui.app import UploadApp
from s3tui.tui.runner import JobRunner
from s3tui.tui.screens import ConfirmAbort, HelpScreen
from s3tui.tui.widgets import ThroughputChart
from s3tui.tui.widgets.chart import Sample

WATCH_HELP = """\
[b]Keys[/b]
  [b]q[/b]        detach: this window closes, the upload goes on (`s3tui watch` comes back)
  [b]s[/b]        stop the upload: asks first, then it aborts (nothing partial is left in S3)
  [b]p[/b]        pause / resume the upload: no new request starts; requests in flight finish
  [b]+[/b] / [b]-[/b]    more / fewer requests in flight
  [b]?[/b]        this help

The upload runs in another process (its pid is in the title); what is shown here is what it
publishes about once a second.

Press any key to close."""


class WatchHelp(HelpScreen):
    def compose(self) -> ComposeResult:
        with Vertical(id="dialog", classes="help"):
            yield Static("s3tui watch", id="dialog-title")
            yield Static(Content.from_markup(WATCH_HELP), id="dialog-body")


class ConfirmStop(ConfirmAbort):
    def compose(self) -> ComposeResult:
        with Vertical(id="dialog"):
            yield Static("Stop the upload?", id="dialog-title")
            yield Static(
                "The upload (in another process) stops every request and aborts the "
                "multipart upload, so S3 keeps no partial object; it exits 130. To leave it "
                "running, press n, then q to detach.",
                id="dialog-body",
            )
            with Horizontal(id="dialog-buttons"):
                yield Button("Stop upload (y)", variant="error", id="abort")
                yield Button("Keep uploading (n)", variant="primary", id="keep")


class WatchApp(UploadApp):
    TITLE = "s3tui watch"
    BINDINGS: ClassVar[list[BindingType]] = [
        Binding("q", "quit", "Detach (the upload goes on)"),
        Binding("p", "toggle_pause", "Pause/resume"),
        Binding("plus", "concurrency(1)", "More", key_display="+"),
        Binding("equals_sign", "concurrency(1)", "More", show=False),
        Binding("minus", "concurrency(-1)", "Fewer", key_display="-"),
        Binding("s", "stop_upload", "Stop upload"),
        Binding("question_mark", "dashboard_help", "Help", key_display="?"),
        Binding("ctrl+c", "abort", "Detach", show=False, priority=True),
    ]

    job: RemoteJob  # type: ignore[assignment]

    def on_mount(self) -> None:
        # Textual runs UploadApp.on_mount too (after this one: handlers go down the MRO).
        state = self.job.entry.state
        self.sub_title = f"upload {self.job.entry.id} · pid {state.get('pid')}"
        self.query_one(ThroughputChart).seed(history_samples(state))

    def action_dashboard_help(self) -> None:
        if not isinstance(self.screen, HelpScreen):
            self.push_screen(WatchHelp())

    async def action_quit(self) -> None:
        self.detach()

    def action_abort(self) -> None:
        self.detach()

    def stop(self, exit_code: int, reason: str) -> None:
        """A signal to the watcher (SIGINT, SIGTERM, SIGHUP) detaches too."""
        self.detach()

    def detach(self) -> None:
        if self.outcome is not None:
            self.exit(self.outcome)
            return
        self._stopping = True  # exit as soon as the runner returns (at once: it polls)
        self.job.cancel(0, DETACHED)

    def action_stop_upload(self) -> None:
        if self.outcome is None and not isinstance(self.screen, ConfirmAbort):
            self.push_screen(ConfirmStop(), callback=self._stop_confirmed)

    def _stop_confirmed(self, stop: bool | None) -> None:
        if stop:
            self.job.stop_upload()
            self.notify("Stopping the upload: it aborts the multipart upload…", timeout=10)


def history_samples(state: dict[str, Any]) -> list[Sample]:
    """The published throughput history as chart samples on the upload's clock."""
    history = state.get("history") or []
    now = model_now(state)
    elapsed = float(state.get("elapsed", 0.0))
    bwlimit = state.get("bwlimit")
    samples = []
    for (e0, s0, *_), (e1, s1, _, est, *_) in itertools.pairwise(history):
        if e1 > e0:
            t = now - (elapsed - e1)
            samples.append(Sample(t, (s1 - s0) / (e1 - e0), float(est), bwlimit))
    return samples


def make_watch_app(job: RemoteJob, handle_signals: bool = False) -> WatchApp:
    return WatchApp(JobRunner(job).start(), handle_signals=handle_signals)


def run_watch_app(job: RemoteJob) -> Result:
    app = make_watch_app(job, handle_signals=True)
    result = app.run()
    if result is None:
        job.cancel(0, DETACHED)
        app.runner.wait(5)
        result = app.outcome or Result(0, DETACHED)
    return result


def watch_dashboard(ident: str | None) -> int:
    """The dashboard on the upload ``ident`` names (with several to choose from, a picker
    first); its exit code once it ends, 0 when detached or when none was chosen."""
    from s3tui.live.follow import SeveralUploads, pick
    from s3tui.tui.outcome import print_outcome

    try:
        entry = pick(ident)
    except SeveralUploads as e:
        from s3tui.tui.picker import choose_upload

        chosen = choose_upload(e.entries)
        if chosen is None:
            print("s3tui: no upload chosen; they go on", file=sys.stderr)
            return 0
        entry = chosen
    job = RemoteJob(entry)
    result = run_watch_app(job)
    if result.message == DETACHED:
        print(
            f"s3tui: detached from upload {entry.id}; it goes on (`s3tui watch {entry.id}`)",
            file=sys.stderr,
        )
        return 0
    print_outcome(result, job.progress.source, job.progress.dest)
    return result.exit_code
