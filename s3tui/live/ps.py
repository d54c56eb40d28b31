"""`s3tui ps`: the uploads of this user on this host, one line each (``--json`` for scripts)."""

from __future__ import annotations

import datetime as dt
import json
import sys
import time
from typing import Any, TextIO

import humanize

from s3tui.live import store
from s3tui.live.model import percent
from s3tui.sizes import format_rate, format_size

DEAD_HINT = (
    "its process is gone without a result (killed?): `s3tui cleanup` aborts the multipart "
    "upload it may have left open"
)


def state_label(e: store.Entry, status: str) -> str:
    s = e.state
    if status == "dead":
        return "dead"
    if status == "finished":
        r = e.result or {}
        return "done" if r.get("exit_code") == 0 else f"failed({r.get('exit_code')})"
    if s.get("paused"):
        return "paused"
    return "unreachable" if s.get("outage") else str(s.get("phase", "running"))


def row(e: store.Entry, now: float | None = None) -> dict[str, Any]:
    """What `ps --json` says of one upload."""
    s = e.state
    status = e.status
    running = status == "running"
    d: dict[str, Any] = {
        "id": e.id,
        "status": status,
        "state": state_label(e, status),
        "source": s.get("source"),
        "dest": s.get("dest"),
        "endpoint": s.get("endpoint"),
        "bytes_read": s.get("bytes_read", 0),
        "bytes_uploaded": s.get("bytes_uploaded", 0),
        "total_size": s.get("total_size") or s.get("expected_size"),
        "percent": None if (p := percent(s)) is None else round(100 * p, 1),
        "rate": s.get("rate", 0.0) if running else None,
        "eta_s": s.get("eta") if running else None,
        "retries": s.get("retries", 0),
        "paused": bool(s.get("paused")),
        "concurrency": s.get("concurrency_ceiling"),
        "pid": s.get("pid"),
        "started": s.get("started"),
        "updated": s.get("updated"),
    }
    if status == "finished":
        r = e.result or {}
        d["exit_code"] = r.get("exit_code")
        d["message"] = r.get("message", "")
    elif status == "dead":
        d["exit_code"] = None
        d["message"] = DEAD_HINT
    return d


def _ago(t: float | None, now: float) -> str:
    if not t:
        return "-"
    return humanize.naturaltime(dt.timedelta(seconds=max(0.0, now - t)))


def _fit(text: str, width: int) -> str:
    text = text or "-"
    return text if len(text) <= width else "…" + text[-(width - 1) :]


# The columns of `ps` (and of `watch`'s picker): title, width, aligned right.
COLUMNS: tuple[tuple[str, int, bool], ...] = (
    ("ID", 8, False),
    ("SOURCE", 24, False),
    ("DESTINATION", 32, False),
    ("STATE", 10, False),
    ("UPLOADED / TOTAL", 21, True),
    ("%", 4, True),
    ("RATE", 10, True),
    ("ETA", 10, True),
    ("RETRIES", 7, True),
    ("PID", 7, True),
    ("STARTED", 0, False),
)


def cells(r: dict[str, Any], now: float) -> list[str]:
    """One row of `ps` as the text of each column."""
    total = format_size(r["total_size"]) if r["total_size"] else "?"
    return [
        r["id"],
        _fit(r["source"], 24),
        _fit(r["dest"], 32),
        r["state"],
        f"{format_size(r['bytes_uploaded'])} / {total}",
        f"{r['percent']:.0f}%" if r["percent"] is not None else "-",
        format_rate(r["rate"]) if r["rate"] is not None else "-",
        humanize.naturaldelta(r["eta_s"]) if r["eta_s"] is not None else "-",
        str(r["retries"]),
        str(r["pid"]),
        _ago(r["started"], now),
    ]


def _line(texts: list[str]) -> str:
    return "  ".join(
        f"{t:>{w}}" if right else f"{t:<{w}}"
        for t, (_, w, right) in zip(texts, COLUMNS, strict=True)
    )


def table(rows: list[dict[str, Any]], with_result: bool, now: float) -> list[str]:
    head = _line([title for title, _, _ in COLUMNS])
    lines = [head + ("  EXIT  MESSAGE" if with_result else "")]
    for r in rows:
        line = _line(cells(r, now))
        if with_result and r["status"] != "running":
            code = r.get("exit_code")
            line += f"  {'-' if code is None else code:>4}  {r.get('message', '')}"
        lines.append(line)
    return lines


def run_ps(*, show_all: bool = False, as_json: bool = False, out: TextIO | None = None) -> int:
    out = out or sys.stdout
    now = time.time()
    rows = [row(e) for e in store.entries()]
    if not show_all:
        rows = [r for r in rows if r["status"] != "finished"]
    if as_json:
        out.write(json.dumps(rows, indent=None) + "\n")
        return 0
    if not rows:
        print(
            "s3tui: no upload is running" + ("" if show_all else " (--all adds finished ones)"),
            file=sys.stderr,
        )
        return 0
    for line in table(rows, show_all, now):
        out.write(line + "\n")
    dead = [r["id"] for r in rows if r["status"] == "dead"]
    if dead:
        print(
            f"s3tui: {', '.join(dead)}: {DEAD_HINT}",
            file=sys.stderr,
        )
    return 0
