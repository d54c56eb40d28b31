"""Directory uploads: one row per file with its progress, or why it failed or was skipped."""

from __future__ import annotations

from textual.content import Content

from s3tui.engine.progress import FileState, FileView
from s3tui.tui.fmt import bar, count, format_size
from s3tui.tui.frame import Frame
from s3tui.tui.widgets.panel import Panel
from s3tui.tui.widgets.parts import tail

_STATE_STYLE = {
    FileState.QUEUED: "$text-muted",
    FileState.UPLOADING: "$accent",
    FileState.DONE: "$success",
    FileState.FAILED: "bold $error",
    FileState.SKIPPED: "$text-muted",
}
_ORDER = {
    FileState.UPLOADING: 0,
    FileState.FAILED: 1,
    FileState.QUEUED: 2,
    FileState.DONE: 3,
    FileState.SKIPPED: 4,
}
_MARK = {
    FileState.QUEUED: "·",
    FileState.UPLOADING: "↑",
    FileState.DONE: "✔",
    FileState.FAILED: "✘",
    FileState.SKIPPED: "↷",
}


class FilesPanel(Panel):
    """Active and failed files first: those are what a person scans the list for."""

    DEFAULT_CSS = "FilesPanel { height: 1fr; }"

    _subtitle = ""

    def on_mount(self) -> None:
        self.border_title = "Files"

    def show(self, frame: Frame) -> None:
        s = frame.snapshot
        visible = s.files_total > 0
        if self.display != visible:
            self.display = visible
        subtitle = (
            f"{count(s.files_done)} done · {count(s.files_failed)} failed"
            f" · {count(s.files_skipped)} skipped · {count(s.files_total)} in all"
        )
        # Setting a border title repaints the widget even when the text is the same.
        if subtitle != self._subtitle:
            self._subtitle = subtitle
            self.border_subtitle = subtitle
        super().show(frame)

    def draw(self, frame: Frame, width: int) -> Content:
        files = sorted(frame.snapshot.files, key=lambda f: _ORDER[f.state])
        name_width = max(12, min(40, width // 3))
        bar_width = max(6, min(30, width - name_width - 28))
        room = max(self.content_size.height, 1)
        hidden = files[room - 1 :] if len(files) > room else []
        if hidden:
            files = files[: room - 1]
        lines = [self._row(f, name_width, bar_width).truncate(width, ellipsis=True) for f in files]
        if hidden:
            counts: dict[str, int] = {}
            for f in hidden:
                counts[f.state.value] = counts.get(f.state.value, 0) + 1
            detail = ", ".join(f"{n} {state}" for state, n in counts.items())
            lines.append(Content.styled(f"… {count(len(hidden))} more: {detail}", "$text-muted"))
        return Content("\n").join(lines)

    def _row(self, f: FileView, name_width: int, bar_width: int) -> Content:
        style = _STATE_STYLE[f.state]
        head = Content.assemble(
            (_MARK[f.state] + " ", style),
            (tail(f.path, name_width).ljust(name_width) + " ", ""),
            (format_size(f.size).rjust(9) + " ", "$text-muted"),
        )
        if f.state in (FileState.FAILED, FileState.SKIPPED):
            # No bar for these: the reason is what a person needs, give it the room.
            return Content.assemble(head, (f"{f.state.value}: {f.reason}", style))
        fraction = f.sent / f.size if f.size else (1.0 if f.state == FileState.DONE else 0.0)
        filled, empty = bar(fraction, bar_width)
        bar_style = "$primary" if f.state == FileState.UPLOADING else style
        return Content.assemble(
            head,
            (filled, f"{bar_style} on $panel"),
            (empty, "on $panel"),
            (f" {fraction * 100:3.0f}% ", ""),
            (f.state.value, style),
        )
