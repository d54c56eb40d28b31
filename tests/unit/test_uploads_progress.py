"""`s3tui uploads`' progress line: on a terminal, for listings long enough to wonder about."""

from __future__ import annotations

import io

from s3tui.uploads import _Progress


class _Tty(io.StringIO):
    def isatty(self) -> bool:
        return True


def test_progress_shows_on_a_terminal_once_a_listing_takes_a_while() -> None:
    now = [100.0]
    tty = _Tty()
    p = _Progress("listing parts", tty, clock=lambda: now[0])
    p.update(1, 400)
    assert tty.getvalue() == "", "a quick listing stays quiet"
    now[0] += 1.0
    p.update(120, 400)
    assert tty.getvalue() == "\r\033[Klisting parts: 120/400"
    now[0] += 0.01
    p.update(121, 400)
    assert tty.getvalue().count("listing parts") == 1, "redrawn at most 10 times a second"
    p.update(400, 400)
    assert tty.getvalue().endswith("listing parts: 400/400"), "the last count is always drawn"
    p.close()
    assert tty.getvalue().endswith("\r\033[K"), "the line is cleared for the table"


def test_no_progress_when_stderr_is_not_a_terminal() -> None:
    now = [0.0]
    log = io.StringIO()
    p = _Progress("listing parts", log, clock=lambda: now[0])
    now[0] += 10
    p.update(5, 10)
    p.close()
    assert log.getvalue() == ""
