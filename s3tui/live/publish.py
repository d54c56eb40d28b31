"""Every upload publishes its live state, so that `s3tui ps` and `s3tui watch` can see it.

A daemon thread of its own reads ``job.progress.snapshot()`` about once a second and rewrites
``state.json`` atomically; it also picks up the commands watchers leave (pause, resume,
concurrency, stop) every ~0.25 s. The upload's threads never wait on it: the only thing they
do for it is append each event to a bounded deque (a listener, as the headless reporter is).
A disk that is slow or full only makes the published state late or stale; any failure here
ends publishing, never the upload.
"""

from __future__ import annotations

import contextlib
import json
import os
import socket
import threading
import time
from collections import deque
from dataclasses import asdict
from pathlib import Path
from typing import Any

from s3tui.engine.job import Result, UploadJob
from s3tui.engine.journal import _boot_id, _start_ticks
from s3tui.engine.progress import Event, Phase, RateMeter
from s3tui.engine.redact import without_userinfo
from s3tui.errors import EXIT_SIGINT
from s3tui.live import store
from s3tui.report.headless import eta_seconds, summary_dict

PUBLISH_EVERY = 1.0
COMMAND_POLL = 0.25
MAX_EVENTS = 1000
MAX_HISTORY = 600  # samples; past this the history is halved and sampled half as often
MAX_PARTS = 64


class History:
    """Throughput since the start: ``(elapsed_s, bytes_sent, bytes_uploaded, estimate)`` (the
    per-request estimate, bytes/s), one sample per ``step`` seconds, halved (and ``step``
    doubled) whenever it reaches ``limit``."""

    def __init__(self, limit: int = MAX_HISTORY, step: float = 1.0) -> None:
        self.limit = limit
        self.step = step
        self.samples: list[tuple[float, int, int, int]] = []

    def add(
        self, elapsed: float, sent: int, uploaded: int, estimate: float, last: bool = False
    ) -> None:
        """``last``: the final sample, kept however soon after the one before."""
        if self.samples and elapsed - self.samples[-1][0] < self.step * 0.95:
            if not last:
                return
            self.samples.pop()
        self.samples.append((round(elapsed, 2), sent, uploaded, round(estimate)))
        if len(self.samples) >= self.limit:
            self.samples = self.samples[::2]
            self.step *= 2


def _endpoint(job: UploadJob) -> str | None:
    remote = getattr(job, "remote", None)
    endpoint = getattr(remote, "endpoint", None)
    return without_userinfo(endpoint) if isinstance(endpoint, str) and endpoint else None


def event_dict(seq: int, ev: Event) -> dict[str, Any]:
    d = asdict(ev)
    d["seq"] = seq
    d["reason"] = without_userinfo(d["reason"])
    return d


def part_dict(p: Any) -> dict[str, Any]:
    return {
        "label": p.label,
        "size": p.size,
        "number": p.number,
        "file": p.file,
        "sent": p.sent,
        "state": str(p.state),
        "attempt": p.attempt,
        "started": round(p.started, 3),
        "deadline": round(p.deadline, 3),
        "finished": round(p.finished, 3),
    }


def file_dict(f: Any) -> dict[str, Any]:
    return {
        "path": f.path,
        "key": f.key,
        "size": f.size,
        "sent": f.sent,
        "state": str(f.state),
        "reason": without_userinfo(f.reason),
    }


class Publisher:
    def __init__(self, job: UploadJob, base: Path | None = None) -> None:
        self.job = job
        self.progress = job.progress
        self.base = store.ensure_base(base)
        self.id = store.new_id()
        self.dir = self.base / self.id
        self.dir.mkdir(mode=0o700)
        pid = os.getpid()
        self._fixed: dict[str, Any] = {
            "version": store.VERSION,
            "id": self.id,
            "pid": pid,
            "start_ticks": _start_ticks(pid),
            "boot_id": _boot_id(),
            "host": socket.gethostname(),
            "source": without_userinfo(self.progress.source),
            "dest": without_userinfo(self.progress.dest),
            "endpoint": _endpoint(job),
            "started": time.time(),
        }
        self._events: deque[tuple[int, Event]] = deque(maxlen=MAX_EVENTS)
        self._event_dicts: deque[dict[str, Any]] = deque(maxlen=MAX_EVENTS)
        self._dicts_seq = 0  # the last event already in _event_dicts
        self._seq = 0
        self._events_lock = threading.Lock()
        self._history = History()
        self._meter = RateMeter(window=5.0)
        self._steered: deque[dict[str, Any]] = deque(maxlen=20)
        self._stop = threading.Event()
        self._write_lock = threading.Lock()
        self._finished = False
        self.cpu_seconds = 0.0  # the thread's own CPU time (time.thread_time), for measuring
        self.writes = 0
        self.failures = 0  # writes that failed (the state is stale meanwhile)
        for ev in self.progress.snapshot().events:  # what happened before we listened
            self._on_event(ev)
        self.progress.subscribe(self._on_event)
        self._thread = threading.Thread(target=self._loop, name="s3tui-publish", daemon=True)

    # --- on the engine's threads: one append, nothing else ---
    def _on_event(self, ev: Event) -> None:
        with self._events_lock:
            self._seq += 1
            self._events.append((self._seq, ev))

    # --- the publisher's own thread ---
    def start(self) -> Publisher:
        try:
            self.publish()  # listed at once; the thread rewrites it from now on
        except Exception:  # a full disk now may not be full in a second
            self.failures += 1
        self._thread.start()
        return self

    def _loop(self) -> None:
        next_publish = time.monotonic() + PUBLISH_EVERY
        with contextlib.suppress(Exception):
            store.prune(self.base)
        while not self._stop.wait(COMMAND_POLL):
            t0 = time.thread_time()
            try:
                steered = self._commands()
                if steered or time.monotonic() >= next_publish:
                    next_publish = time.monotonic() + PUBLISH_EVERY
                    self.publish()
            except Exception:  # a full or vanished disk: the next tick tries again
                self.failures += 1
            self.cpu_seconds += time.thread_time() - t0

    def _commands(self) -> bool:
        try:
            names = sorted(n for n in os.listdir(self.dir) if n.startswith(store.COMMAND_PREFIX))
        except OSError:
            return False
        for name in names:
            path = self.dir / name
            try:
                cmd = json.loads(path.read_text())
            except (OSError, ValueError):
                continue  # not fully there yet (never: it is renamed in), or garbage
            finally:
                with contextlib.suppress(OSError):
                    path.unlink()
            if isinstance(cmd, dict):
                self.apply(cmd)
        return bool(names)

    def apply(self, cmd: dict[str, Any]) -> str:
        """Carry out one watcher's command; returns what was done (also in the event log)."""
        what = cmd.get("cmd")
        if self._finished or self.progress.phase not in (Phase.STARTING, Phase.RUNNING):
            done = f"{what}: ignored, the upload is ending"
        elif what == "pause":
            self.job.set_paused(True)
            done = "paused from a watcher: no new request starts; requests in flight finish"
        elif what == "resume":
            self.job.set_paused(False)
            done = "resumed from a watcher"
        elif what == "concurrency":  # {"n": N} sets it, {"delta": +-1} moves it
            _, ceiling, _ = self.progress.gate_fn()
            try:
                wanted = int(cmd["n"]) if "n" in cmd else ceiling + int(cmd.get("delta", 0))
            except (TypeError, ValueError):
                wanted = ceiling
            got = self.job.set_concurrency(max(1, wanted))
            done = f"up to {got} request{'s' if got != 1 else ''} in flight (from a watcher)"
        elif what == "stop":
            self.job.cancel(EXIT_SIGINT, "stopped from a watcher")
            done = "stopping: requested from a watcher"
        else:
            done = f"unknown command {what!r} ignored"
        self._steered.append({"time": time.time(), "cmd": what, "done": done})
        self.progress.event("info", "watch", reason=done)
        return done

    def state(self, result: dict[str, Any] | None = None) -> dict[str, Any]:
        snap = self.progress.snapshot()
        rate = self._meter.add(snap.now, snap.bytes_sent)
        self._history.add(
            snap.elapsed,
            snap.bytes_sent,
            snap.bytes_uploaded,
            snap.estimate,
            last=result is not None,
        )
        with self._events_lock:
            fresh = [(seq, ev) for seq, ev in self._events if seq > self._dicts_seq]
        # Events never change once logged: each is turned into a dict once, on this thread.
        for seq, ev in fresh:
            self._event_dicts.append(event_dict(seq, ev))
            self._dicts_seq = seq
        parts = sorted(snap.parts, key=lambda p: (p.finished != 0, p.number or 0))[:MAX_PARTS]
        state = dict(self._fixed)
        state.update(
            updated=time.time(),
            now=round(snap.now, 3),
            phase=str(snap.phase),
            paused=snap.paused,
            elapsed=round(snap.elapsed, 2),
            bytes_read=snap.bytes_read,
            bytes_uploaded=snap.bytes_uploaded,
            bytes_sent=snap.bytes_sent,
            expected_size=snap.expected_size,
            total_size=snap.total_size,
            parts_done=snap.parts_done,
            parts_total=snap.parts_total,
            retries=snap.retries,
            estimate=snap.estimate,
            bwlimit=snap.bwlimit,
            concurrency=snap.concurrency,
            concurrency_ceiling=snap.concurrency_ceiling,
            concurrency_why=snap.concurrency_why,
            hedges=snap.hedges,
            spool_bytes=snap.spool_bytes,
            spool_files=snap.spool_files,
            spool_limit=snap.spool_limit,
            spool_dir=snap.spool_dir,
            files_done=snap.files_done,
            files_failed=snap.files_failed,
            files_skipped=snap.files_skipped,
            files_total=snap.files_total,
            message=without_userinfo(snap.message),
            # Wall-clock times, so a watcher on this host reads them as they are.
            outage=None if snap.outage is None else asdict(snap.outage),
            rate=rate,
            eta=eta_seconds(snap, rate),
            history_step=self._history.step,
            history=self._history.samples,
            events=list(self._event_dicts),
            parts=[part_dict(p) for p in parts],
            files=[file_dict(f) for f in snap.files],
            steered=list(self._steered),
            # What publishing cost so far: this thread's CPU seconds (time.thread_time).
            publisher_cpu_s=round(self.cpu_seconds, 4),
            publisher_writes=self.writes,
            result=result,
        )
        return state

    def publish(self, result: dict[str, Any] | None = None) -> None:
        with self._write_lock:
            if self._finished:
                return
            t0 = time.thread_time()
            store.write_json(self.dir / store.STATE_FILE, self.state(result))
            self.writes += 1
            if threading.current_thread() is not self._thread:  # the first and last writes
                self.cpu_seconds += time.thread_time() - t0
            if result is not None:
                self._finished = True

    def finish(self, result: Result | None) -> None:
        """The last state, with the result; called by the driver once ``run`` returned."""
        self._stop.set()
        self.progress.unsubscribe(self._on_event)
        if self._thread.is_alive():
            self._thread.join(2)
        data = result_dict(self.job, result)
        with contextlib.suppress(Exception):
            self.publish(data)


def result_dict(job: UploadJob, result: Result | None) -> dict[str, Any]:
    if result is None:
        return {"exit_code": 1, "ok": False, "message": "s3tui ended without a result"}
    try:
        times = [
            r.success_ms
            for r in job.records
            if r.ok and r.success_ms is not None and (r.part is not None or r.file is not None)
        ]
    except Exception:
        times = []
    data = summary_dict(result, times)
    data["finished"] = time.time()
    return data


def start(job: UploadJob, base: Path | None = None) -> Publisher | None:
    """Start publishing ``job``; None (and the upload goes on) when it cannot be."""
    try:
        return Publisher(job, base).start()
    except Exception:
        return None
