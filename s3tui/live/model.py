"""A published upload's state turned back into the engine's own views (:class:`Snapshot`,
:class:`Event`), so that watchers reuse the reporters ``put`` has (headless lines, summary)."""

from __future__ import annotations

import dataclasses
import time
from typing import Any

from s3tui.engine.job import Result
from s3tui.engine.outage import OutageView
from s3tui.engine.progress import (
    Event,
    FileState,
    FileView,
    PartState,
    PartView,
    Phase,
    Snapshot,
)
from s3tui.errors import EXIT_FAILED


def event_from(d: dict[str, Any]) -> Event:
    return Event(
        time=float(d.get("time", 0.0)),
        kind=str(d.get("kind", "info")),
        label=str(d.get("label", "")),
        attempt=int(d.get("attempt", 0)),
        reason=str(d.get("reason", "")),
        deadline=float(d.get("deadline", 0.0)),
        next=str(d.get("next", "")),
    )


def _part(d: dict[str, Any]) -> PartView:
    return PartView(
        label=d["label"],
        size=int(d["size"]),
        number=d.get("number"),
        file=d.get("file"),
        sent=int(d.get("sent", 0)),
        state=PartState(d.get("state", "queued")),
        attempt=int(d.get("attempt", 0)),
        started=float(d.get("started", 0.0)),
        deadline=float(d.get("deadline", 0.0)),
        finished=float(d.get("finished", 0.0)),
    )


def _file(d: dict[str, Any]) -> FileView:
    return FileView(
        path=d["path"],
        key=d["key"],
        size=int(d["size"]),
        sent=int(d.get("sent", 0)),
        state=FileState(d.get("state", "queued")),
        reason=d.get("reason", ""),
    )


def model_now(state: dict[str, Any], wall: float | None = None) -> float:
    """The upload's clock now, as best a watcher can tell: its last ``now`` plus the wall
    time since that state was written (part ages and deadlines are on that clock)."""
    wall = time.time() if wall is None else wall
    if state.get("result") is not None:
        return float(state.get("now", 0.0))
    return float(state.get("now", 0.0)) + max(0.0, wall - float(state.get("updated", wall)))


def snapshot_from(
    state: dict[str, Any], wall: float | None = None, max_events: int = 100
) -> Snapshot:
    return Snapshot(
        now=model_now(state, wall),
        source=state.get("source", ""),
        dest=state.get("dest", ""),
        phase=Phase(state.get("phase", "running")),
        elapsed=float(state.get("elapsed", 0.0)),
        bytes_read=int(state.get("bytes_read", 0)),
        bytes_uploaded=int(state.get("bytes_uploaded", 0)),
        bytes_sent=int(state.get("bytes_sent", 0)),
        expected_size=state.get("expected_size"),
        total_size=state.get("total_size"),
        parts_done=int(state.get("parts_done", 0)),
        parts_total=state.get("parts_total"),
        retries=int(state.get("retries", 0)),
        estimate=float(state.get("estimate", 0.0)),
        bwlimit=state.get("bwlimit"),
        concurrency=int(state.get("concurrency", 0)),
        concurrency_ceiling=int(state.get("concurrency_ceiling", 0)),
        concurrency_why=str(state.get("concurrency_why", "")),
        hedges=int(state.get("hedges", 0)),
        paused=bool(state.get("paused", False)),
        spool_bytes=int(state.get("spool_bytes", 0)),
        spool_files=int(state.get("spool_files", 0)),
        spool_limit=int(state.get("spool_limit", 0)),
        spool_dir=state.get("spool_dir", ""),
        parts=tuple(_part(p) for p in state.get("parts", ())),
        events=tuple(event_from(e) for e in state.get("events", ())[-max_events:]),
        files=tuple(_file(f) for f in state.get("files", ())),
        files_done=int(state.get("files_done", 0)),
        files_failed=int(state.get("files_failed", 0)),
        files_skipped=int(state.get("files_skipped", 0)),
        files_total=int(state.get("files_total", 0)),
        message=state.get("message", ""),
        outage=_outage(state.get("outage")),
    )


def _outage(d: dict[str, Any] | None) -> OutageView | None:
    if not d:
        return None
    return OutageView(float(d["since"]), float(d["next_try"]), str(d["reason"]), int(d["probes"]))


def percent(state: dict[str, Any]) -> float | None:
    total = state.get("total_size") or state.get("expected_size")
    if not total:
        return None
    return min(1.0, int(state.get("bytes_uploaded", 0)) / int(total))


class RemoteProgress:
    """What reporters read of a :class:`~s3tui.engine.progress.Progress`, for an upload in
    another process: ``snapshot()``, ``source``/``dest``, ``phase`` and event listeners.

    :meth:`refresh` (called by the watcher's loop) rereads the published state and hands the
    events that are new since the last refresh to the listeners.
    """

    def __init__(self, entry: Any, replay_events: bool = False) -> None:
        self.entry = entry
        self.source = entry.state.get("source", "")
        self.dest = entry.state.get("dest", "")
        self._listeners: list[Any] = []
        self._cached: tuple[dict[str, Any], Snapshot] | None = None
        events = entry.state.get("events", ())
        self._seq = 0 if replay_events or not events else int(events[-1].get("seq", 0))

    def subscribe(self, fn: Any) -> None:
        self._listeners.append(fn)

    def unsubscribe(self, fn: Any) -> None:
        if fn in self._listeners:
            self._listeners.remove(fn)

    @property
    def phase(self) -> Phase:
        return Phase(self.entry.state.get("phase", "running"))

    def snapshot(self, max_files: int = 200) -> Snapshot:
        """The last published state, its clock moved on to now; with the whole event log."""
        state = self.entry.state
        cached = self._cached
        if cached is None or cached[0] is not state:
            cached = self._cached = (state, snapshot_from(state, max_events=100_000))
        return dataclasses.replace(cached[1], now=model_now(state))

    def refresh(self) -> bool:
        """Reread the state; False when it cannot be read (gone, or replaced this instant)."""
        if not self.entry.reload():
            return False
        new = [e for e in self.entry.state.get("events", ()) if int(e.get("seq", 0)) > self._seq]
        if new:
            self._seq = int(new[-1].get("seq", 0))
        for d in new:
            ev = event_from(d)
            for fn in list(self._listeners):
                try:
                    fn(ev)
                except Exception:
                    self.unsubscribe(fn)
        return True


def result_from(d: dict[str, Any]) -> Result:
    """The published result of an upload that ended, as the Result its process returned."""
    return Result(
        exit_code=int(d.get("exit_code", EXIT_FAILED)),
        message=str(d.get("message", "")),
        size=int(d.get("bytes", 0) or 0),
        seconds=float(d.get("seconds", 0.0) or 0.0),
        parts=int(d.get("parts", 0) or 0),
        retries=int(d.get("retries", 0) or 0),
        etag=d.get("etag"),
        checksum=d.get("checksum", d.get("crc32c")),
        checksum_algorithm=str(d.get("checksum_algorithm", "CRC32C")),
        failed_files=tuple((f["path"], f["reason"]) for f in d.get("failed_files", ())),
    )
