"""Plain formatting helpers shared by the widgets and the final summary (no Textual here).

Kept pure so the final lines printed to the terminal and the dashboard say the same thing.
Sizes and rates come from :mod:`s3tui.sizes`, shared with the engine's and the headless
messages; ``humanize`` is used only here, on the dashboard's side, so the headless path never
imports it.
"""

from __future__ import annotations

import time

import humanize

from s3tui.sizes import format_rate, format_size

__all__ = [
    "bar",
    "clock_time",
    "count",
    "duration",
    "eta",
    "format_rate",
    "format_size",
    "percent",
]

# Eighth blocks give a progress bar 8x the resolution of its width.
_EIGHTHS = " ▏▎▍▌▋▊▉"


def count(n: int) -> str:
    """A count with thousands separators (``"10,000"``): parts and files run into thousands."""
    return humanize.intcomma(n)


def duration(seconds: float) -> str:
    """``"42s"``, ``"3m05s"``, ``"2h03m"``: short, and stable in width for a live display."""
    seconds = max(0.0, seconds)
    if seconds < 60:
        return f"{seconds:.0f}s"
    if seconds < 3600:
        m, s = divmod(int(seconds), 60)
        return f"{m}m{s:02d}s"
    h, rem = divmod(int(seconds), 3600)
    return f"{h}h{rem // 60:02d}m"


def eta(remaining_bytes: float, rate: float) -> str:
    """Time left at ``rate``; a dash when it cannot be told (no rate yet)."""
    if rate <= 0 or remaining_bytes < 0:
        return "—"
    return duration(remaining_bytes / rate)


def percent(done: float, total: float | None) -> float | None:
    """0-100, or None when the total is unknown (a stream still arriving)."""
    if not total:
        return None
    return max(0.0, min(100.0, 100.0 * done / total))


def bar(fraction: float, width: int) -> tuple[str, str]:
    """A bar as (filled, empty) strings so the caller can style the two halves differently."""
    fraction = max(0.0, min(1.0, fraction))
    eighths = round(fraction * width * 8)
    full, part = divmod(eighths, 8)
    filled = "█" * full + (_EIGHTHS[part] if part and full < width else "")
    return filled, " " * (width - len(filled))


def clock_time(wall: float) -> str:
    """Local wall-clock time of an event, as a person compares it with other logs."""
    return time.strftime("%H:%M:%S", time.localtime(wall))


def short_rate(bytes_per_second: float) -> str:
    """Like format_rate but at most 9 cells (``"123 MB/s"``), for table columns."""
    mb = bytes_per_second / 1e6
    return f"{mb:.0f} MB/s" if mb >= 99.95 else f"{mb:.1f} MB/s"
