"""The lines that tell how an upload ended, shown in the dashboard and then left in scrollback."""

from __future__ import annotations

import contextlib
import sys
from typing import TextIO

from s3tui.engine.job import Result
from s3tui.tui.fmt import count, duration, format_rate, format_size


def outcome_title(result: Result) -> str:
    if result.ok:
        return "Upload complete"
    if result.exit_code in (130, 143):
        return "Upload cancelled"
    return "Upload failed"


def outcome_lines(result: Result, source: str, dest: str) -> list[str]:
    """Plain text, no markup: the same lines go to the terminal after the dashboard closes."""
    lines = [f"s3tui: {outcome_title(result).lower()}: {source} → {dest}"]
    rate = result.size / result.seconds if result.seconds > 0 else 0.0
    stats = [
        f"{format_size(result.size)} in {duration(result.seconds)}",
        format_rate(rate),
        f"{count(result.parts)} part{'s' if result.parts != 1 else ''}",
        f"{count(result.retries)} retr{'ies' if result.retries != 1 else 'y'}",
    ]
    lines.append("  " + " · ".join(stats))
    if result.etag or result.checksum:
        ident = []
        if result.etag:
            ident.append(f"ETag {result.etag}")
        if result.checksum:
            ident.append(f"checksum {result.checksum}")
        lines.append("  " + " · ".join(ident))
    for path, reason in result.failed_files:
        lines.append(f"  failed: {path}: {reason}")
    if result.message:
        lines.append(f"  {result.message}")
    return lines


def print_outcome(result: Result, source: str, dest: str, out: TextIO | None = None) -> None:
    """Leave the outcome in the terminal's scrollback once the dashboard has closed."""
    with contextlib.suppress(OSError):  # the terminal may be gone (SIGHUP)
        for line in outcome_lines(result, source, dest):
            print(line, file=out or sys.stderr)
