"""Braille plotting: 2x4 dots per terminal cell, several series, no global state.

Written here rather than taken from plotext: a few dozen lines, one plot per widget instance
(plotext keeps a module-global figure), and the colours come straight from the Textual theme.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import dataclass

# Bit of each dot in a braille cell, indexed [x][y] with y counted from the top.
_BITS = ((0x01, 0x02, 0x04, 0x40), (0x08, 0x10, 0x20, 0x80))
_BLANK = 0x2800


@dataclass(frozen=True)
class Series:
    """One line on the plot: a value per horizontal dot (None = no data there)."""

    values: Sequence[float | None]
    fill: bool = False  # shade the area under the line (the measured throughput)
    dashed: bool = False  # draw every other dot (a limit, not a measurement)


def plot(
    series: Sequence[Series], width: int, height: int, y_max: float
) -> list[list[tuple[str, int | None]]]:
    """Rows of ``(char, series index)`` cells, top row first; the index picks the colour.

    Where series share a cell the later one wins the colour, so lines drawn over a filled
    area stay visible.
    """
    rows_dots = height * 4
    masks = [[0] * width for _ in range(height)]
    owner: list[list[int | None]] = [[None] * width for _ in range(height)]
    if width <= 0 or height <= 0 or y_max <= 0:
        return [[(" ", None)] * max(width, 0) for _ in range(max(height, 0))]

    def dot(x: int, y: int, index: int) -> None:
        # y is counted from the bottom in dots.
        if not (0 <= x < width * 2 and 0 <= y < rows_dots):
            return
        row = height - 1 - y // 4
        col = x // 2
        masks[row][col] |= _BITS[x % 2][3 - y % 4]
        owner[row][col] = index

    for index, s in enumerate(series):
        previous: int | None = None
        for x, value in enumerate(s.values[: width * 2]):
            if value is None or math.isnan(value):
                previous = None
                continue
            y = round(max(0.0, min(value, y_max)) / y_max * (rows_dots - 1))
            if s.dashed and x % 4 >= 2:
                previous = y
                continue
            if s.fill:
                for yy in range(0, y + 1):
                    dot(x, yy, index)
            else:
                # Join a step from the previous dot so a steep change still reads as a line.
                lo, hi = (y, y) if previous is None else (min(y, previous), max(y, previous))
                for yy in range(lo, hi + 1):
                    dot(x, yy, index)
            previous = y
    return [
        [(chr(_BLANK + m) if m else " ", owner[r][c]) for c, m in enumerate(masks[r])]
        for r in range(height)
    ]


def nice_ceiling(value: float) -> float:
    """The next 1, 2, 2.5 or 5 x 10^n above ``value``, so axis labels read as round numbers."""
    if value <= 0:
        return 1.0
    exp = math.floor(math.log10(value))
    base = 10**exp
    for step in (1, 2, 2.5, 5, 10):
        if value <= step * base:
            return step * base
    return 10 * base
