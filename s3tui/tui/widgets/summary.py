"""The header: what goes where, how far along, how fast, and how many parts and retries."""

from __future__ import annotations

import time

from textual.content import Content

from s3tui.engine.outage import since_text
from s3tui.engine.progress import Phase
from s3tui.tui.fmt import bar, count, duration, eta, format_rate, format_size, percent
from s3tui.tui.frame import Frame
from s3tui.tui.widgets.panel import Panel

_PHASE_STYLE = {
    Phase.STARTING: "$text-muted",
    Phase.RUNNING: "$accent",
    Phase.COMPLETING: "$accent",
    Phase.DONE: "$success",
    Phase.FAILED: "$error",
    Phase.CANCELLED: "$warning",
}


class SummaryPanel(Panel):
    def draw(self, frame: Frame, width: int) -> Content:
        s = frame.snapshot
        phase = "paused" if s.paused and s.phase == Phase.RUNNING else s.phase.value
        waiting = s.outage is not None and s.phase in (Phase.RUNNING, Phase.COMPLETING)
        phase = "waiting" if waiting else phase
        phase_style = "$warning" if phase in ("paused", "waiting") else _PHASE_STYLE[s.phase]
        right = Content.assemble(
            (f" {phase.upper()} ", f"bold reverse {phase_style}"),
            ("  elapsed ", "$text-muted"),
            duration(s.elapsed),
        )
        route = Content.assemble((s.source, "bold"), (" → ", "$text-muted"), (s.dest, "bold"))
        route = route.truncate(max(width - right.cell_length - 1, 8), ellipsis=True)
        line1 = Content.assemble(
            route, " " * (width - route.cell_length - right.cell_length), right
        )

        total = s.total_size or s.expected_size
        pct = percent(s.bytes_uploaded, total)
        counts = Content.assemble(
            ("read ", "$text-muted"),
            format_size(s.bytes_read),
            ("  uploaded ", "$text-muted"),
            format_size(s.bytes_uploaded),
        )
        if total:
            word = "of" if s.total_size else "of ~"
            counts = Content.assemble(counts, (f" {word} ", "$text-muted"), format_size(total))
        else:
            counts = Content.assemble(
                counts, ("  size unknown until the stream ends", "$text-muted")
            )
        line2 = counts
        if pct is not None:
            rate = frame.rate or (s.bytes_sent / s.elapsed if s.elapsed > 0 else 0.0)
            tail = Content.assemble(
                f"  {pct:5.1f}% ",
                ("ETA ", "$text-muted"),
                eta((total or 0) - s.bytes_uploaded, rate) if s.phase != Phase.DONE else "—",
            )
            room = width - counts.cell_length - tail.cell_length - 2
            if room >= 10:
                filled, empty = bar(pct / 100, room)
                line2 = Content.assemble(
                    counts, "  ", (filled, "$primary on $panel"), (empty, "on $panel"), tail
                )
            else:
                line2 = Content.assemble(counts, tail)

        avg = s.bytes_sent / s.elapsed if s.elapsed > 0 else 0.0
        # A stream adds parts as it reads: a total is only worth showing once the size is known.
        parts_total = f" of {count(s.parts_total)}" if s.parts_total and s.total_size else ""
        retry_style = "$warning" if s.retries else ""
        ended = s.phase in (Phase.DONE, Phase.FAILED, Phase.CANCELLED)
        pieces: list[Content | tuple[str, str] | str] = [
            ("avg " if ended else "now ", "$text-muted"),
            (format_rate(avg if ended else frame.rate), "bold"),
            ("" if ended else "  avg ", "$text-muted"),
            "" if ended else format_rate(avg),
            ("  parts ", "$text-muted"),
            f"{count(s.parts_done)} done{parts_total}, {s.parts_in_flight} in flight",
            ("  retries ", "$text-muted"),
            (count(s.retries), retry_style),
            ("  concurrency ", "$text-muted"),
            f"{s.concurrency}/{s.concurrency_ceiling}",
            (f" ({s.concurrency_why})" if s.concurrency_why else "", "$text-muted"),
        ]
        if s.hedges:
            pieces += [("  hedged ", "$text-muted"), count(s.hedges)]
        if s.files_total:
            pieces += [
                ("  files ", "$text-muted"),
                f"{count(s.files_done + s.files_skipped)}/{count(s.files_total)}",
            ]
        line3 = Content.assemble(*pieces)
        lines = [line1, line2, line3]
        if s.outage is not None and waiting:
            lines.append(
                Content.styled(
                    f"{since_text(s.outage, time.time())}; reading paused, nothing is lost",
                    "bold $warning",
                )
            )
        if s.message:
            style = "$error" if s.phase == Phase.FAILED else "$text-muted"
            lines.append(Content.styled(s.message, style))
        return Content("\n").join(lines)
