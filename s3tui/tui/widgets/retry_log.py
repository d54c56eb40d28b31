"""The retry log: each retry, failure or slow-down the engine reported, newest at the bottom."""

from __future__ import annotations

from collections import deque

from textual.app import ComposeResult
from textual.containers import VerticalScroll
from textual.content import Content
from textual.widgets import Static

from s3tui.engine.progress import Event
from s3tui.tui.fmt import clock_time

_KIND_STYLE = {
    "retry": "bold $warning",
    "slowdown": "bold $warning",
    "warning": "bold $warning",
    "failed": "bold $error",
    "info": "$text-muted",
    "outage": "bold $error",
    "stderr": "bold $text-muted",  # a line of the --from command's stderr
}


def event_content(ev: Event) -> Content:
    """Two lines: when, what and which attempt; then why, the deadline used, and what is next."""
    head = Content.assemble(
        (clock_time(ev.time), "$text-muted"),
        " ",
        (ev.kind, _KIND_STYLE.get(ev.kind, "bold")),
        " ",
        (ev.label, "bold"),
        (f" attempt {ev.attempt}" if ev.attempt else "", "$text-muted"),
    )
    detail: list[tuple[str, str] | str] = ["  "]
    if ev.reason:
        detail.append(ev.reason)
    if ev.deadline:
        detail.append((f" · deadline {ev.deadline:.1f}s", "$text-muted"))
    if ev.next:
        detail.append((f" → {ev.next}", "$accent"))
    return Content("\n").join([head, Content.assemble(*detail)])


class RetryLog(VerticalScroll):
    """Events arrive as messages (not by polling) so none is missed between two ticks."""

    DEFAULT_CSS = """
    RetryLog { height: 1fr; }
    RetryLog > Static { width: 1fr; }
    """

    def __init__(self, *, max_events: int = 500, id: str | None = None) -> None:
        super().__init__(id=id)
        self._events: deque[Event] = deque(maxlen=max_events)
        self._lines = Static(Content.styled("no retries yet", "$text-muted"))

    def compose(self) -> ComposeResult:
        yield self._lines

    @property
    def events(self) -> tuple[Event, ...]:
        return tuple(self._events)

    def add(self, ev: Event) -> None:
        follow = self.scroll_offset.y >= self.max_scroll_y
        self._events.append(ev)
        self._lines.update(Content("\n").join(event_content(e) for e in self._events))
        self.border_subtitle = f"{len(self._events)} event{'s' if len(self._events) != 1 else ''}"
        if follow:
            self.call_after_refresh(self.scroll_end, animate=False)
