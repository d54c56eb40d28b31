"""The live state a put publishes (s3tui/live), on scripted fake jobs: no server needed."""

from __future__ import annotations

import json
import os
import shutil
import stat
import subprocess
import tempfile
import threading
import time
from pathlib import Path

import pytest

from s3tui.engine.job import Result
from s3tui.live import store
from s3tui.live.model import RemoteProgress, snapshot_from
from s3tui.live.publish import History, Publisher
from tests.tui.fakes import stream_job, tree_job


def _running(job):  # type: ignore[no-untyped-def]
    threading.Thread(target=job.run, daemon=True).start()
    return job


def _wait(check, timeout: float = 5.0) -> None:  # type: ignore[no-untyped-def]
    end = time.monotonic() + timeout
    while time.monotonic() < end:
        if check():
            return
        time.sleep(0.02)
    raise AssertionError("never happened")


def test_state_round_trips_into_a_snapshot_and_commands_steer(tmp_path: Path) -> None:
    job = _running(stream_job())
    job.advance(12)
    pub = Publisher(job, base=tmp_path / "uploads").start()
    try:
        (entry,) = store.entries(tmp_path / "uploads")
        assert entry.status == "running" and entry.state["pid"] == os.getpid()
        local, remote = job.progress.snapshot(), snapshot_from(entry.state)
        for name in ("source", "dest", "phase", "bytes_read", "bytes_uploaded", "bytes_sent"):
            assert getattr(remote, name) == getattr(local, name), name
        assert {p.label for p in remote.parts} == {p.label for p in local.parts}
        entry.send("pause")
        _wait(lambda: job.pause_calls == [True])
        entry.send("concurrency", delta=1)
        _wait(lambda: job.concurrency_calls == [5])
        entry.send("concurrency", n=2)
        _wait(lambda: job.concurrency_calls == [5, 2])
        entry.send("resume")
        _wait(lambda: job.pause_calls == [True, False])
        _wait(lambda: entry.reload() and len(entry.state["steered"]) == 4)
        assert not list(entry.path.glob("cmd-*"))
        # The event log carries the steering, with sequence numbers a watcher follows.
        watcher = RemoteProgress(entry, replay_events=True)
        seen: list[str] = []
        watcher.subscribe(lambda ev: seen.append(ev.reason))
        assert watcher.refresh()
        assert any("paused from a watcher" in r for r in seen)
    finally:
        job.cancel(130, "test over")
        pub.finish(Result(0, "uploaded it", size=10))
    entry.reload()
    assert entry.status == "finished" and entry.result is not None
    assert entry.result["exit_code"] == 0 and entry.result["message"] == "uploaded it"
    assert stat.S_IMODE((entry.path / "state.json").stat().st_mode) == 0o600
    assert stat.S_IMODE(entry.path.stat().st_mode) == 0o700
    before = entry.path.joinpath("state.json").read_text()
    pub.publish()  # nothing is written after the result
    assert entry.path.joinpath("state.json").read_text() == before


def test_a_tree_publishes_its_files(tmp_path: Path) -> None:
    job = _running(tree_job())
    while job.step_name != "busy":
        job.advance()
    pub = Publisher(job, base=tmp_path / "u").start()
    job.cancel(130, "test over")
    pub.finish(None)
    (entry,) = store.entries(tmp_path / "u")
    snap = snapshot_from(entry.state)
    assert snap.files_total == job.progress.snapshot().files_total > 0
    assert {f.path for f in snap.files} == {f.path for f in job.progress.snapshot().files}
    assert entry.result == {"exit_code": 1, "ok": False, "message": "s3tui ended without a result"}


def test_an_outage_reaches_the_watchers_model_and_ps(tmp_path: Path) -> None:
    """A watcher's header and `ps` say the endpoint is unreachable, as the put's own do."""
    from s3tui.engine.outage import OutageView
    from s3tui.live.ps import row

    job = _running(stream_job())
    job.advance(12)
    view = OutageView(since=time.time() - 90, next_try=time.time() + 40, reason="refused", probes=3)
    job.progress.outage_fn = lambda: view
    pub = Publisher(job, base=tmp_path / "uploads").start()
    try:
        (entry,) = store.entries(tmp_path / "uploads")
        assert snapshot_from(entry.state).outage == view
        assert row(entry)["state"] == "unreachable"
        job.progress.outage_fn = lambda: None
        pub.publish()
        entry.reload()
        assert snapshot_from(entry.state).outage is None
        assert row(entry)["state"] == "running"
    finally:
        job.cancel(130, "test over")
        pub.finish(None)


def test_history_is_bounded_and_keeps_the_last_sample() -> None:
    h = History(limit=10)
    for i in range(100):
        h.add(float(i), i * 100, i * 50, 1e6)
    assert len(h.samples) < 10 and h.step >= 8
    assert h.samples[0][0] == 0.0  # still from the start
    h.add(99.5, 9999, 9999, 1e6, last=True)
    assert h.samples[-1][:3] == (99.5, 9999, 9999)


def test_base_dir_is_made_private_and_prune_keeps_running_ones(tmp_path: Path) -> None:
    base = tmp_path / "rt" / "s3tui" / "uploads"
    base.mkdir(parents=True, mode=0o755)
    os.chmod(base, 0o755)
    store.ensure_base(base)
    assert stat.S_IMODE(base.stat().st_mode) == 0o700
    assert stat.S_IMODE(base.parent.stat().st_mode) == 0o700
    old = time.time() - store.KEEP_FINISHED - 60
    states = {
        "running1": {"pid": os.getpid(), "updated": old},  # alive: kept however old
        "finished": {"pid": os.getpid(), "updated": old, "result": {"exit_code": 0}},
        "deadone1": {"pid": 2**22 + 1, "start_ticks": "1", "updated": old},
        "recentok": {"pid": 2**22 + 1, "updated": time.time(), "result": {"exit_code": 0}},
    }
    for ident, state in states.items():
        (base / ident).mkdir(mode=0o700)
        store.write_json(base / ident / "state.json", {"id": ident, **state})
    assert store.prune(base) == 2
    assert sorted(os.listdir(base)) == ["recentok", "running1"]
    kinds = {e.id: e.status for e in store.entries(base)}
    assert kinds == {"recentok": "finished", "running1": "running"}


def test_nothing_published_holds_the_endpoints_password(tmp_path: Path) -> None:
    job = _running(stream_job())
    job.advance(5)

    class Remote:
        endpoint = "http://user:hunter2@127.0.0.1:9000"

    job.remote = Remote()  # type: ignore[attr-defined]
    job.progress.event("warning", "x", reason="failed at http://user:hunter2@host/b")
    pub = Publisher(job, base=tmp_path / "u").start()
    job.cancel(130, "test over")
    pub.finish(Result(1, "could not reach http://user:hunter2@127.0.0.1:9000/b"))
    text = next((tmp_path / "u").iterdir()).joinpath("state.json").read_text()
    assert "hunter2" not in text
    assert json.loads(text)["endpoint"] == "http://127.0.0.1:9000"


def test_a_failing_disk_never_stops_publishing_for_good(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    job = _running(stream_job())
    job.advance(3)
    pub = Publisher(job, base=tmp_path / "u").start()
    real = store.write_json
    calls = {"n": 0}

    def full_disk_twice(path: Path, data: object) -> None:
        calls["n"] += 1
        if calls["n"] <= 2:
            raise OSError(28, "No space left on device")
        real(path, data)

    monkeypatch.setattr(store, "write_json", full_disk_twice)
    try:
        _wait(lambda: pub.failures == 2 and pub.writes >= 2, timeout=6)
        assert pub._thread.is_alive()
    finally:
        job.cancel(130, "test over")
        pub.finish(None)
    assert json.loads((pub.dir / "state.json").read_text())["result"]["exit_code"] == 1


@pytest.mark.skipif(os.getuid() != 0, reason="needs root to act as another user")
def test_another_user_can_neither_list_read_nor_steer(tmp_path: Path) -> None:
    # A world-readable path down to the state dir: only s3tui's own 0700 dirs keep others out.
    root = Path(tempfile.mkdtemp(prefix="s3tui-perm-"))
    try:
        os.chmod(root, 0o755)
        base = root / "s3tui" / "uploads"
        job = _running(stream_job())
        job.advance(3)
        pub = Publisher(job, base=base).start()
        read_fd, write_fd = os.pipe()
        pid = os.fork()
        if pid == 0:  # the child: user nobody, then tries everything a watcher does
            verdict = "?"
            try:
                os.setgid(65534)
                os.setuid(65534)
                listed = store.entries(base)
                state = store.read_state(pub.dir)
                try:
                    store.Entry(pub.id, pub.dir, {}).send("pause")
                    sent = True
                except OSError:
                    sent = False
                verdict = f"{len(listed)} {state is not None} {sent}"
            finally:
                os.write(write_fd, verdict.encode())
                os._exit(0)
        os.close(write_fd)
        os.waitpid(pid, 0)
        assert os.read(read_fd, 100).decode() == "0 False False"
        os.close(read_fd)
        assert job.pause_calls == []
        job.cancel(130, "test over")
        pub.finish(None)
    finally:
        shutil.rmtree(root, ignore_errors=True)


def test_remote_job_ends_on_the_result_on_death_and_on_detach(tmp_path: Path) -> None:
    from s3tui.live.remote_job import DETACHED, RemoteJob

    base = store.ensure_base(tmp_path / "live")
    gone = subprocess.Popen(["true"])
    gone.wait()
    me = os.getpid()
    states = {
        "dead0001": {"pid": gone.pid},
        "done0001": {"pid": me, "result": {"exit_code": 3, "message": "it failed", "bytes": 5}},
        "live0001": {"pid": me},
    }
    for ident, state in states.items():
        (base / ident).mkdir(mode=0o700)
        store.write_json(base / ident / "state.json", {"id": ident, "source": "s", **state})
    jobs = {e.id: RemoteJob(e, poll=0.05) for e in store.entries(base)}
    dead = jobs["dead0001"].run()
    assert dead.exit_code == 1 and "process is gone" in dead.message and jobs["dead0001"].dead
    done = jobs["done0001"].run()
    assert (done.exit_code, done.message, done.size) == (3, "it failed", 5)
    live = jobs["live0001"]
    threading.Timer(0.3, live.cancel, args=(130, "q")).start()
    assert live.run().message == DETACHED
    assert not list((base / "live0001").glob("cmd-*"))  # detaching sends nothing
