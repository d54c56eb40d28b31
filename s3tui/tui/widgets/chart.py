"""Throughput over the last minutes: measured on the wire, the EWMA estimate, the --bwlimit cap.

History lives in a bounded deque owned by this widget, sampled from the dashboard's tick;
drawing copies nothing global and redraws at any size.
"""

from __future__ import annotations

import math
from collections import deque
from dataclasses import dataclass

from textual.content import Content

from s3tui.tui.frame import Frame
from s3tui.tui.widgets.braille import Series, nice_ceiling, plot
from s3tui.tui.widgets.view import FrameView

LEGEND = (
    "[$primary]━[/] measured  [$warning]━[/] estimate per request (sets deadlines)"
    "  [$error]┄[/] --bwlimit"
)
_STYLES = ("$primary 80%", "$warning", "$error")
_LABEL_WIDTH = 10


@dataclass(frozen=True)
class Sample:
    t: float
    measured: float
    estimate: float
    bwlimit: float | None


def rate_label(value: float) -> str:
    mb = value / 1e6
    return f"{mb:.0f} MB/s" if mb >= 10 or mb == 0 else f"{mb:.1f} MB/s"


def span_label(seconds: float) -> str:
    return f"-{seconds / 60:g}m" if seconds >= 60 else f"-{seconds:g}s"


def _runs(row: list[tuple[str, int | None]]) -> list[tuple[str, str]]:
    """A row of plotted cells as runs of one style: a few spans instead of one per cell."""
    runs: list[tuple[str, str]] = []
    text: list[str] = []
    current: int | None = None
    for ch, owner in row:
        if owner != current and text:
            runs.append(("".join(text), _STYLES[current] if current is not None else ""))
            text = []
        current = owner
        text.append(ch)
    if text:
        runs.append(("".join(text), _STYLES[current] if current is not None else ""))
    return runs


class ThroughputChart(FrameView):
    DEFAULT_CSS = "ThroughputChart { height: 11; }"

    def __init__(
        self,
        *,
        window: float = 120.0,
        interval: float = 0.5,
        redraw: float = 1.0,
        id: str | None = None,
    ) -> None:
        super().__init__(id=id)
        self.window = window
        self.interval = interval
        # Repainting 9 rows of braille is the dashboard's dearest paint: once a second is
        # plenty for a two-minute window (each redraw scrolls it by about one dot).
        self.redraw = redraw
        self._drawn_at: float | None = None
        # Room for five minutes, so a wider window can be shown without losing history.
        self._samples: deque[Sample] = deque(maxlen=int(300 / interval))
        self._now = 0.0

    def on_mount(self) -> None:
        self.border_subtitle = LEGEND

    def show(self, frame: Frame) -> None:
        """Record a sample when ``interval`` has passed on the progress clock."""
        if self._samples and frame.now - self._samples[-1].t < self.interval:
            return
        s = frame.snapshot
        self._samples.append(Sample(frame.now, frame.rate, s.estimate, s.bwlimit))
        if self._drawn_at is not None and frame.now - self._drawn_at < self.redraw:
            return  # recorded; drawn with the next redraw
        self._drawn_at = frame.now
        self._now = frame.now
        self.refresh()

    def seed(self, samples: list[Sample]) -> None:
        """History from before this chart existed (`s3tui watch`: since the upload started),
        oldest first, on the same clock as the frames to come."""
        first = self._samples[0].t if self._samples else float("inf")
        self._samples.extendleft(reversed([x for x in samples if x.t < first]))
        if self._samples:
            self._now = max(self._now, self._samples[-1].t)
        self.refresh()

    def span(self) -> float:
        """Seconds shown: the history so far rounded up to 30 s, at most ``window``, so the
        first minute of an upload fills the chart instead of a sliver at its right edge."""
        if not self._samples:
            return min(30.0, self.window)
        history = self._now - self._samples[0].t
        return min(self.window, max(30.0, math.ceil(history / 30.0) * 30.0))

    def _dots(self, samples: tuple[Sample, ...], count: int, pick: str) -> list[float | None]:
        """Average the samples that fall in each dot's slice of the span; bridge short gaps."""
        span = self.span()
        start = self._now - span
        step = span / count
        sums = [0.0] * count
        hits = [0] * count
        for sample in samples:
            value = getattr(sample, pick)
            if value is None or sample.t <= start:
                continue
            i = min(int((sample.t - start) / step), count - 1)
            sums[i] += value
            hits[i] += 1
        values: list[float | None] = [sums[i] / hits[i] if hits[i] else None for i in range(count)]
        bridge = max(1, round(self.interval * 2 / step))
        last: float | None = None
        gap = 0
        for i, v in enumerate(values):
            if v is None:
                gap += 1
                if last is not None and gap <= bridge:
                    values[i] = last
            else:
                last, gap = v, 0
        # Bridging past the newest sample would invent data.
        newest = int((samples[-1].t - start) / step) if samples else -1
        for i in range(max(newest + 1, 0), count):
            values[i] = None
        return values

    def render(self) -> Content:
        width, height = self.content_size.width, self.content_size.height
        plot_w, plot_h = width - _LABEL_WIDTH - 1, height - 2
        if plot_w < 4 or plot_h < 1:
            return Content("")
        # Samples recorded since the last redraw wait for the next one (a resize between the two
        # must not draw them past "now").
        samples = tuple(x for x in self._samples if x.t <= self._now)
        measured = self._dots(samples, plot_w * 2, "measured")
        estimate = self._dots(samples, plot_w * 2, "estimate")
        limit = self._dots(samples, plot_w * 2, "bwlimit")
        peak = max((v for v in (*measured, *estimate, *limit) if v is not None), default=0.0)
        y_max = nice_ceiling(peak * 1.05) if peak > 0 else 1e6
        grid = plot(
            [Series(measured, fill=True), Series(estimate), Series(limit, dashed=True)],
            plot_w,
            plot_h,
            y_max,
        )
        labels = {0: rate_label(y_max), plot_h // 2: rate_label(y_max / 2), plot_h - 1: ""}
        if plot_h > 2:
            labels[plot_h - 1] = rate_label(0)
        lines = []
        for r, row in enumerate(grid):
            label = labels.get(r, "").rjust(_LABEL_WIDTH)
            tick = "┤" if labels.get(r) else "│"
            lines.append(Content.assemble((label + tick, "$text-muted"), *_runs(row)))
        axis = " " * _LABEL_WIDTH + "└" + "─" * plot_w
        span = self.span()
        ticks = [span_label(span), span_label(span / 2), "now"]
        mid = plot_w // 2 - len(ticks[1]) // 2
        footer = ticks[0].ljust(mid) + ticks[1] + " " * (plot_w - mid - len(ticks[1]) - 3) + "now"
        lines.append(Content.styled(axis, "$text-muted"))
        lines.append(Content.styled(" " * (_LABEL_WIDTH + 1) + footer, "$text-muted"))
        return Content("\n").join(lines)
