"""Pure pieces of the dashboard: formatting, the braille plot, the final lines, stylesheets."""

from __future__ import annotations

from s3tui.engine.job import Result
from s3tui.tui.fmt import bar, count, duration, eta, percent, short_rate
from s3tui.tui.outcome import outcome_lines
from s3tui.tui.styles import stylesheet_paths
from s3tui.tui.widgets.braille import Series, nice_ceiling, plot


def test_duration_and_eta() -> None:
    assert duration(42.4) == "42s"
    assert duration(185) == "3m05s"
    assert duration(7380) == "2h03m"
    assert eta(100, 0) == "—"
    assert eta(600e6, 10e6) == "1m00s"


def test_percent_and_bar() -> None:
    assert percent(5, None) is None
    assert percent(50, 200) == 25.0
    filled, empty = bar(0.5, 10)
    assert filled == "█" * 5 and empty == " " * 5
    filled, empty = bar(0.55, 10)
    assert len(filled + empty) == 10 and filled.endswith("▌")
    assert bar(1.0, 4) == ("████", "")


def test_count_separates_thousands() -> None:
    assert count(48) == "48"
    assert count(10_000) == "10,000"


def test_short_rate_fits_a_column() -> None:
    assert short_rate(4.94e6) == "4.9 MB/s"
    assert short_rate(1234e6) == "1234 MB/s"
    assert len(short_rate(250e6)) <= 9


def test_plot_draws_fill_and_line() -> None:
    rows = plot([Series([1.0, 1.0, 1.0, 1.0], fill=True), Series([0.0] * 4)], 2, 2, 1.0)
    assert len(rows) == 2 and all(len(r) == 2 for r in rows)
    # A full-height filled series fills every dot except where the line claims the colour.
    assert rows[0][0] == ("⣿", 0)
    assert rows[1][0][1] == 1  # the bottom row carries the later series' colour
    assert plot([], 0, 0, 1.0) == []


def test_plot_skips_missing_values() -> None:
    rows = plot([Series([None, None, 0.5, None])], 2, 1, 1.0)
    assert rows[0][0] == (" ", None)
    assert rows[0][1][0] != " "


def test_nice_ceiling() -> None:
    assert nice_ceiling(17e6) == 20e6
    assert nice_ceiling(2.2) == 2.5
    assert nice_ceiling(0) == 1.0


def test_outcome_lines() -> None:
    ok = Result(0, "stored", size=2 * 1024**3, seconds=100, parts=32, retries=1, etag='"e-32"')
    lines = outcome_lines(ok, "stdin", "s3://b/k")
    assert lines[0] == "s3tui: upload complete: stdin → s3://b/k"
    assert "2 GiB in 1m40s · 21.5 MB/s · 32 parts · 1 retry" in lines[1]
    failed = Result(1, "gave up", failed_files=(("a.txt", "AccessDenied"),))
    lines = outcome_lines(failed, "./d", "s3://b/p/")
    assert lines[0].startswith("s3tui: upload failed")
    assert "  failed: a.txt: AccessDenied" in lines
    assert outcome_lines(Result(130, "cancelled by user"), "x", "y")[0].startswith(
        "s3tui: upload cancelled"
    )


def test_stylesheets_are_found() -> None:
    names = [p.name for p in stylesheet_paths()]
    assert names == ["dashboard.tcss", "screens.tcss"]
