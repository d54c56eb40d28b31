"""Temp disk: spooled chunk bytes against --max-spool, chunk files, and room left on the disk."""

from __future__ import annotations

from textual.content import Content

from s3tui.tui.fmt import bar, format_size
from s3tui.tui.frame import Frame
from s3tui.tui.widgets.panel import Panel

# At this share of --max-spool the reader is about to wait for uploads (backpressure).
NEAR_LIMIT = 0.9
# Below this much free space a single chunk may no longer fit.
DISK_LOW = 256 * 1024**2


class TempDiskPanel(Panel):
    def draw(self, frame: Frame, width: int) -> Content:
        s = frame.snapshot
        if not s.spool_dir and not s.spool_limit:
            self.set_class(False, "-warning", "-error")
            return Content.styled("not used: files are read in place", "$text-muted")
        fraction = s.spool_bytes / s.spool_limit if s.spool_limit else 0.0
        near_cap = fraction >= NEAR_LIMIT
        free = frame.spool_free
        room_left = max(s.spool_limit - s.spool_bytes, 0)
        disk_error = free is not None and free < DISK_LOW
        disk_warn = free is not None and free < room_left
        self.set_class(near_cap or disk_warn, "-warning")
        self.set_class(disk_error, "-error")

        bar_style = "$warning" if near_cap else "$primary"
        label = f"{format_size(s.spool_bytes)} of {format_size(s.spool_limit)}"
        bar_width = max(4, width - len(label) - 12)
        filled, empty = bar(fraction, bar_width)
        lines = [
            Content.assemble(
                ("spool ", "$text-muted"),
                label,
                " ",
                (filled, f"{bar_style} on $panel"),
                (empty, "on $panel"),
                (f" {fraction * 100:3.0f}%", bar_style if near_cap else ""),
            ),
            Content.assemble(
                ("chunks ", "$text-muted"),
                f"{s.spool_files} file{'s' if s.spool_files != 1 else ''}",
            ),
        ]
        if free is None:
            lines.append(Content.styled("free space unknown", "$text-muted"))
        else:
            free_style = "bold $error" if disk_error else "$warning" if disk_warn else ""
            lines.append(
                Content.assemble(("free ", "$text-muted"), (format_size(free), free_style))
            )
        if near_cap:
            lines.append(Content.styled("at the cap: reading waits for uploads", "$warning"))
        elif disk_warn:
            lines.append(Content.styled("the disk may fill before the cap", "$warning"))
        lines.append(Content.styled(s.spool_dir, "$text-muted").truncate(width, ellipsis=True))
        return Content("\n").join(lines)
