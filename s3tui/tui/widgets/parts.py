"""Parts in flight: one row per request, with a live bar fed by the bytes actually sent."""

from __future__ import annotations

from textual.content import Content

from s3tui.engine.progress import FINISHED_LINGER, PartState, PartView
from s3tui.tui.fmt import bar, count, format_size, short_rate
from s3tui.tui.frame import Frame
from s3tui.tui.widgets.panel import Panel

_STATE_STYLE = {
    PartState.SPOOLING: "$text-muted",
    PartState.QUEUED: "$text-muted",
    PartState.UPLOADING: "$accent",
    PartState.RETRYING: "bold $warning",
    PartState.DONE: "$success",
    PartState.FAILED: "bold $error",
}
# Who gets a row first when they do not all fit: what is moving, what went wrong, what just
# finished (fading out beside the active rows), then what waits.
_ORDER = {
    PartState.UPLOADING: 0,
    PartState.RETRYING: 0,
    PartState.FAILED: 1,
    PartState.DONE: 2,
    PartState.QUEUED: 3,
    PartState.SPOOLING: 3,
}
# Cells taken by every column but the bar: label, size, %, state, try, speed, time (+ gaps).
_LABEL = 12
_FIXED = (_LABEL + 1) + 9 + 6 + 10 + 4 + 10 + 10


def tail(text: str, width: int) -> str:
    """Keep the end of a long label: the file name and part number are what tell parts apart."""
    return text if len(text) <= width else "…" + text[-(width - 1) :]


def _sort_key(p: PartView) -> tuple[int, int, str]:
    return (_ORDER[p.state], p.number if p.number is not None else 0, p.label)


class PartsPanel(Panel):
    """Finished parts stay for a few seconds (the engine's linger) and fade as they age."""

    DEFAULT_CSS = "PartsPanel { height: 1fr; text-wrap: nowrap; text-overflow: clip; }"

    def draw(self, frame: Frame, width: int) -> Content:
        s = frame.snapshot
        # Spare width goes first to the label (file paths), then to the bar.
        label = _LABEL + max(0, min(16, width - _FIXED - 24))
        bar_width = max(4, width - _FIXED - (label - _LABEL))
        header = Content.assemble(
            "part".ljust(label + 1),
            "size".rjust(8) + " ",
            "sent".ljust(bar_width),
            "    % ",
            "state".ljust(10),
            "try ",
            "speed".rjust(9) + " ",
            "time/limit"[:10].rjust(10),
        ).stylize("bold $text-muted")
        rows = sorted(s.parts, key=_sort_key)
        room = max(self.content_size.height - 1, 1)
        hidden = 0
        if len(rows) > room:
            hidden = len(rows) - (room - 1)
            rows = rows[: room - 1]
        lines = [header]
        if not rows:
            waiting = "paused: no new requests start" if s.paused else "waiting for data…"
            lines.append(Content.styled(waiting, "$text-muted"))
        for p in rows:
            lines.append(self._row(p, frame.now, label, bar_width))
        if hidden:
            lines.append(Content.styled(f"… {count(hidden)} more not shown", "$text-muted"))
        return Content("\n").join(lines)

    def _row(self, p: PartView, now: float, label: int, bar_width: int) -> Content:
        fraction = p.sent / p.size if p.size else 0.0
        filled, empty = bar(fraction, bar_width)
        state_style = _STATE_STYLE[p.state]
        text_style = ""
        bar_style = "$primary" if p.state == PartState.UPLOADING else state_style
        if p.state == PartState.DONE:
            age = max(0.0, now - p.finished) if p.finished else 0.0
            alpha = max(30, 100 - int(70 * min(age / FINISHED_LINGER, 1.0)) // 10 * 10)
            text_style = f"$text {alpha}%"
            state_style = bar_style = f"$success {alpha}%"
        active = p.state in (PartState.UPLOADING, PartState.RETRYING)
        speed = short_rate(p.speed(now)) if p.state == PartState.UPLOADING else ""
        timing = ""
        timing_style = text_style
        if active and p.deadline:
            used = max(0.0, now - p.started)
            timing = f"{used:.1f}/{p.deadline:.1f}s"
            if used > 0.75 * p.deadline:
                timing_style = "$warning"
        return Content.assemble(
            (tail(p.label, label).ljust(label) + " ", text_style),
            (format_size(p.size).rjust(8) + " ", text_style),
            (filled, f"{bar_style} on $panel"),
            (empty, "on $panel"),
            (f" {fraction * 100:3.0f}% ", text_style),
            (p.state.value.ljust(9) + " ", state_style),
            ((f"#{p.attempt}" if p.attempt else "").ljust(3) + " ", text_style),
            (speed.rjust(9) + " ", text_style),
            (timing.rjust(10), timing_style),
        )
