"""Modal screens: confirm an abort, the key help, and the final summary."""

from __future__ import annotations

from typing import ClassVar

from textual import events
from textual.app import ComposeResult
from textual.binding import Binding, BindingType
from textual.containers import Horizontal, Vertical
from textual.content import Content
from textual.screen import ModalScreen
from textual.widgets import Button, Static

from s3tui.engine.job import Result
from s3tui.tui.outcome import outcome_lines, outcome_title


class ConfirmAbort(ModalScreen[bool]):
    """Quitting mid-upload throws the uploaded parts away; say so before doing it."""

    BINDINGS: ClassVar[list[BindingType]] = [
        Binding("y", "answer(True)", "Abort upload"),
        Binding("n,escape", "answer(False)", "Keep uploading"),
    ]

    def compose(self) -> ComposeResult:
        with Vertical(id="dialog"):
            yield Static("Abort the upload?", id="dialog-title")
            yield Static(
                "Quitting stops every request, aborts the multipart upload so S3 keeps no "
                "partial object, and deletes the spooled chunks. Data not yet uploaded is lost.",
                id="dialog-body",
            )
            with Horizontal(id="dialog-buttons"):
                yield Button("Abort upload (y)", variant="error", id="abort")
                yield Button("Keep uploading (n)", variant="primary", id="keep")

    def on_mount(self) -> None:
        self.query_one("#keep", Button).focus()

    def on_button_pressed(self, event: Button.Pressed) -> None:
        self.dismiss(event.button.id == "abort")

    def action_answer(self, abort: bool) -> None:
        self.dismiss(abort)


HELP = """\
[b]Keys[/b]
  [b]q[/b]        quit: asks first, then aborts the upload (nothing partial is left in S3)
  [b]ctrl+c[/b]   abort at once, the same clean stop without asking (exit code 130)
  [b]p[/b]        pause / resume: no new request starts; requests in flight finish
  [b]+[/b] / [b]-[/b]    more / fewer requests in flight
  [b]ctrl+p[/b]   command palette
  [b]?[/b]        this help

[b]Panels[/b]
  [b]Parts in flight[/b]  each request: bytes sent, state, attempt, speed, time used of its deadline
  [b]Throughput[/b]       measured on the wire, and the per-request estimate that sets deadlines
  [b]Retry log[/b]        each retry: why, the deadline it had, and what happens next
  [b]Temp disk[/b]        spooled chunks against --max-spool, and free space on that disk

Press any key to close."""


class _AnyKeyCloses(ModalScreen[None]):
    """A dialog that any key or click closes, once: a terminal read can hold several keys, and
    a second dismiss would find the screen already popped (Textual raises ScreenStackError)."""

    _close_asked = False

    def on_key(self, event: events.Key) -> None:
        event.stop()
        self._close()

    def on_click(self) -> None:
        self._close()

    def _close(self) -> None:
        if not self._close_asked:
            self._close_asked = True
            self.dismiss()


class HelpScreen(_AnyKeyCloses):
    def compose(self) -> ComposeResult:
        with Vertical(id="dialog", classes="help"):
            yield Static("s3tui dashboard", id="dialog-title")
            yield Static(Content.from_markup(HELP), id="dialog-body")


class SummaryScreen(_AnyKeyCloses):
    """Stays until a key is pressed, so the end of a long upload is not missed."""

    def __init__(self, result: Result, source: str, dest: str) -> None:
        super().__init__()
        self.result = result
        self.source = source
        self.dest = dest

    def compose(self) -> ComposeResult:
        kind = "ok" if self.result.ok else "failed"
        lines = outcome_lines(self.result, self.source, self.dest)[1:]
        with Vertical(id="dialog", classes=f"summary -{kind}"):
            mark = "✔" if self.result.ok else "✘"
            yield Static(f"{mark} {outcome_title(self.result)}", id="dialog-title")
            yield Static(Content(f"{self.source} → {self.dest}"), id="dialog-route")
            yield Static(Content("\n".join(line.strip() for line in lines)), id="dialog-body")
            yield Static("Press any key to close", id="dialog-hint")
