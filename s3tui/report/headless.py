"""Headless progress for cron and CI: a line on stderr every second (terminal) or ~10 s (file).

Retries and failures are printed as they happen, so a log shows them in order. ``--json`` turns
every line into one JSON object for log collectors.
"""

from __future__ import annotations

import json
import sys
import threading
import time
from collections.abc import Sequence
from typing import TextIO

from s3tui.engine.job import Result
from s3tui.engine.outage import since_text
from s3tui.engine.progress import (
    STDERR_EVENT,
    Event,
    EventKind,
    Phase,
    Progress,
    RateMeter,
    Snapshot,
)
from s3tui.engine.stats import AttemptRecord, FileStat, percentile
from s3tui.sizes import format_rate, format_size


class HeadlessReporter:
    def __init__(
        self,
        progress: Progress,
        stream: TextIO | None = None,
        json_lines: bool = False,
        interval: float | None = None,
        quiet: bool = False,
    ) -> None:
        self.progress = progress
        # None when s3tui was started with fd 2 closed (`2>&-`): then there is nowhere to write.
        self.out: TextIO | None = stream or sys.stderr
        self._dead = self.out is None
        self.json = json_lines
        self.tty = bool(getattr(self.out, "isatty", lambda: False)()) and not json_lines
        self.interval = interval if interval is not None else (1.0 if self.tty else 10.0)
        self.quiet = quiet
        self._meter = RateMeter(window=max(5.0, self.interval * 2))
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._loop, name="s3tui-report", daemon=True)
        self._lock = threading.Lock()
        self._line_open = False
        progress.subscribe(self._on_event)

    def start(self) -> None:
        self._meter.add(time.monotonic(), self.progress.snapshot().bytes_sent)
        if not self.quiet:
            self._thread.start()

    def stop(self) -> None:
        self._stop.set()
        if self._thread.is_alive():
            self._thread.join(2)
        self._end_line()

    # --- output ---
    def _write(self, text: str, transient: bool = False) -> None:
        """Never raises: a closed or broken stderr must not fail the upload (this runs in the
        engine's threads) nor turn a stored object into exit 1; output just stops."""
        with self._lock:
            if self._dead or self.out is None:
                return
            try:
                if self._line_open:
                    self.out.write("\r\x1b[K")
                    self._line_open = False
                if transient and self.tty:
                    self.out.write(text)
                    self._line_open = True
                else:
                    self.out.write(text + "\n")
                self.out.flush()
            except (OSError, ValueError):
                self._dead = True

    def _end_line(self) -> None:
        with self._lock:
            if self._line_open and not self._dead and self.out is not None:
                self._line_open = False
                try:
                    self.out.write("\r\x1b[K")
                    self.out.flush()
                except (OSError, ValueError):
                    self._dead = True

    def _loop(self) -> None:
        while not self._stop.wait(self.interval):
            self.print_progress()

    def print_progress(self) -> None:
        snap = self.progress.snapshot()
        rate = self._meter.add(time.monotonic(), snap.bytes_sent)
        if self.json:
            self._write(json.dumps(progress_dict(snap, rate)))
        elif snap.outage is not None:
            # Nothing moves during an outage: a log gets the outage's own lines (when it
            # starts, once a minute, when it ends), a terminal the countdown to the next try.
            if self.tty:
                self._write(f"s3tui: {since_text(snap.outage, time.time())}", transient=True)
        else:
            self._write(progress_line(snap, rate), transient=True)

    def _on_event(self, ev: Event) -> None:
        if ev.kind == STDERR_EVENT:
            # The --from command's own stderr: passed through as it was written, even with -q
            # (it is where a failing command says why).
            self._write(
                json.dumps({"type": "stderr", "line": ev.reason}) if self.json else ev.reason
            )
            return
        # A final failure is reported once, by the summary; retries and warnings as they happen.
        if ev.kind == EventKind.FAILED or (self.quiet and ev.kind != EventKind.WARNING):
            return
        if ev.kind == EventKind.OUTAGE and not self.json:
            self._write(f"s3tui: {ev.reason}; {ev.next}")
            return
        if ev.kind == EventKind.CONCURRENCY and not self.json:
            return  # the progress line shows the number and why; a line per move is noise
        if self.json:
            self._write(
                json.dumps(
                    {
                        "type": "event",
                        "kind": ev.kind,
                        "label": ev.label,
                        "attempt": ev.attempt,
                        "reason": ev.reason,
                        "deadline_s": round(ev.deadline, 2),
                        "next": ev.next,
                    }
                )
            )
        else:
            detail = f" attempt {ev.attempt}" if ev.attempt else ""
            deadline = f" (deadline {ev.deadline:.1f}s)" if ev.deadline else ""
            nxt = f"; {ev.next}" if ev.next else ""
            self._write(f"s3tui: {ev.kind} {ev.label}{detail}: {ev.reason}{deadline}{nxt}")

    def summary(
        self,
        result: Result,
        records: Sequence[AttemptRecord],
        files: Sequence[FileStat] = (),
    ) -> None:
        """The final lines. For a tree: the failed files with reasons and the per-file stats
        table for up to ``MAX_FILE_ROWS`` files (``--stats-file`` has every file)."""
        self._end_line()
        times = [
            r.success_ms
            for r in records
            if r.ok and r.success_ms is not None and (r.part is not None or r.file is not None)
        ]
        snap = self.progress.snapshot()
        data = summary_dict(result, times, snap.hedges)
        if snap.files_total:
            data.update(
                files_total=snap.files_total,
                files_done=snap.files_done,
                files_failed=snap.files_failed,
                files_skipped=snap.files_skipped,
            )
        if self.json:
            self._write(json.dumps(data))
            return
        lines: list[str] = []
        if not result.ok:
            lines.append(f"s3tui: error: {result.message}")
            lines.extend(failed_lines(result.failed_files))
        elif not self.quiet:
            lines.append(f"s3tui: {result.message}")
            if times:
                lines.append(
                    f"  part time p50 {data['part_ms_p50'] / 1000:.2f}s, "
                    f"p95 {data['part_ms_p95'] / 1000:.2f}s, "
                    f"max {data['part_ms_max'] / 1000:.2f}s"
                    + (f", {snap.hedges} hedged" if snap.hedges else "")
                )
            if result.etag or result.checksum:
                lines.append(
                    f"  ETag {result.etag or '-'}  "
                    f"{result.checksum_algorithm} {result.checksum or '-'}"
                )
        finished = [f for f in files if f.state != "unfinished"]
        if len(files) > 1 and finished and not self.quiet:
            lines.extend(file_table(files))
        for line in lines:
            self._write(line)


MAX_FILE_ROWS = 50


def failed_lines(failed: Sequence[tuple[str, str]], limit: int = MAX_FILE_ROWS) -> list[str]:
    lines = [f"  failed: {path}: {reason}" for path, reason in failed[:limit]]
    if len(failed) > limit:
        lines.append(f"  ... and {len(failed) - limit} more failed files")
    return lines


def file_table(files: Sequence[FileStat], limit: int = MAX_FILE_ROWS) -> list[str]:
    """The per-file stats columns (as in ``--stats-file``), one row per file, in listing order."""
    head = (
        f"  {'attempts':>8} {'bytes':>12} {'success_ms':>10} {'total_ms':>10} "
        f"{'MBps':>10} {'MBps_est':>10}  {'state':<10} key"
    )
    rows = [head]
    for f in files[:limit]:
        success = f"{f.success_ms:.1f}" if f.success_ms is not None else "-"
        rows.append(
            f"  {f.attempts:>8} {f.bytes:>12} {success:>10} {f.total_ms:>10.1f} "
            f"{f.MBps:>10.5f} {f.MBps_est:>10.5f}  {f.state:<10} {f.key}"
        )
    if len(files) > limit:
        rows.append(
            f"  ... {len(files) - limit} more files not shown (--stats-file keeps every file)"
        )
    return rows


def eta_seconds(snap: Snapshot, rate: float) -> float | None:
    """Seconds left at ``rate`` when the size is known (--expected-size, files, trees)."""
    total = snap.total_size or snap.expected_size
    if not total or rate <= 0 or snap.phase not in (Phase.STARTING, Phase.RUNNING):
        return None
    return max(0.0, (total - snap.bytes_uploaded) / rate)


def format_eta(seconds: float) -> str:
    """``"42s"``, ``"3m05s"``, ``"2h03m"`` (as the dashboard's durations)."""
    if seconds < 60:
        return f"{seconds:.0f}s"
    if seconds < 3600:
        m, sec = divmod(int(seconds), 60)
        return f"{m}m{sec:02d}s"
    h, rem = divmod(int(seconds), 3600)
    return f"{h}h{rem // 60:02d}m"


def progress_line(snap: Snapshot, rate: float) -> str:
    total = snap.total_size or snap.expected_size
    pct = f" ({snap.bytes_uploaded / total:.0%})" if total else ""
    parts = f"{snap.parts_done}/{snap.parts_total}" if snap.parts_total else f"{snap.parts_done}"
    files = ""
    if snap.files_total:
        files = (
            f"files {snap.files_done}/{snap.files_total} done, {snap.files_failed} failed, "
            f"{snap.files_skipped} skipped  "
        )
    spool = (
        f"  spool {format_size(snap.spool_bytes)}/{format_size(snap.spool_limit)}"
        if snap.spool_limit
        else ""
    )
    eta = eta_seconds(snap, rate)
    left = f"  ETA {format_eta(eta)}" if eta is not None else ""
    return (
        f"s3tui: {files}read {format_size(snap.bytes_read)}  "
        f"uploaded {format_size(snap.bytes_uploaded)}{pct}  parts {parts}  "
        f"{format_rate(rate)}  est {format_rate(snap.estimate)}/req{spool}  "
        f"retries {snap.retries}{_concurrency(snap)}  {snap.elapsed:.0f}s{left}"
    )


def _concurrency(snap: Snapshot) -> str:
    """``  conc 16 (why it moved)``, and the hedges sent, once there are any."""
    why = f" ({snap.concurrency_why})" if snap.concurrency_why else ""
    hedges = f"  hedges {snap.hedges}" if snap.hedges else ""
    return f"  conc {snap.concurrency_ceiling}{why}{hedges}" if snap.concurrency_ceiling else hedges


def progress_dict(snap: Snapshot, rate: float) -> dict[str, object]:
    d: dict[str, object] = {
        "type": "progress",
        "elapsed_s": round(snap.elapsed, 2),
        "bytes_read": snap.bytes_read,
        "bytes_uploaded": snap.bytes_uploaded,
        "parts_done": snap.parts_done,
        "parts_total": snap.parts_total,
        "MBps": round(rate / 1e6, 3),
        "MBps_est": round(snap.estimate / 1e6, 3),
        "spool_bytes": snap.spool_bytes,
        "spool_limit": snap.spool_limit,
        "retries": snap.retries,
        "concurrency": snap.concurrency_ceiling,
        "concurrency_why": snap.concurrency_why,
        "hedges": snap.hedges,
    }
    eta = eta_seconds(snap, rate)
    if eta is not None:
        d["eta_s"] = round(eta, 1)
    if snap.outage is not None:
        d["outage"] = {
            "since": round(snap.outage.since, 3),  # Unix time
            "next_try_s": round(max(0.0, snap.outage.next_try - time.time()), 1),
            "reason": snap.outage.reason,
            "probes": snap.outage.probes,
        }
    if snap.files_total:
        d.update(
            files_total=snap.files_total,
            files_done=snap.files_done,
            files_failed=snap.files_failed,
            files_skipped=snap.files_skipped,
        )
    return d


def summary_dict(result: Result, part_ms: list[float], hedges: int = 0) -> dict[str, object]:
    return {
        "type": "summary",
        "ok": result.ok,
        "exit_code": result.exit_code,
        "message": result.message,
        "bytes": result.size,
        "seconds": round(result.seconds, 3),
        "MBps": round(result.size / result.seconds / 1e6, 3) if result.seconds else 0.0,
        "parts": result.parts,
        "retries": result.retries,
        "hedges": hedges,
        "etag": result.etag,
        "crc32c": result.checksum if result.checksum_algorithm == "CRC32C" else None,
        "checksum": result.checksum,
        "checksum_algorithm": result.checksum_algorithm,
        "part_ms_p50": percentile(part_ms, 50),
        "part_ms_p95": percentile(part_ms, 95),
        "part_ms_max": max(part_ms, default=0.0),
        "failed_files": [{"path": p, "reason": r} for p, r in result.failed_files],
    }
