"""The dashboard's header while the endpoint is unreachable: says so, and when it tries again."""

from __future__ import annotations

import dataclasses
import time

from s3tui.engine.outage import OutageView
from s3tui.engine.progress import Phase, Progress
from s3tui.tui.frame import Frame
from s3tui.tui.widgets import SummaryPanel


def _header(outage: OutageView | None) -> str:
    progress = Progress("stdin", "s3://b/k")
    progress.set_phase(Phase.RUNNING)
    snap = dataclasses.replace(progress.snapshot(), outage=outage)
    frame = Frame(snapshot=snap, now=snap.now, rate=0.0, spool_free=None)
    return SummaryPanel().draw(frame, 120).plain


def test_the_header_says_since_when_and_the_next_try() -> None:
    now = time.time()
    view = OutageView(since=now - 300, next_try=now + 40, reason="connection refused", probes=6)
    text = _header(view)
    since = time.strftime("%H:%M", time.localtime(now - 300))
    assert f"endpoint unreachable since {since} (connection refused)" in text
    assert "next try in 40 s" in text or "next try in 39 s" in text
    assert "WAITING" in text
    assert "unreachable" not in _header(None) and "RUNNING" in _header(None)
