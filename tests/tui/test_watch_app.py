"""Pilot tests of `s3tui watch`'s dashboard on a REAL headless put running in a subprocess:
it sees bytes advance and parts come and go, `p` pauses the upload (no bytes move), `+` raises
its concurrency, `q` detaches and the upload completes byte-exact."""

from __future__ import annotations

import fcntl
import os
import select
import struct
import subprocess
import termios
import time
from pathlib import Path
from typing import Any

import pytest

from s3tui.live.follow import pick
from s3tui.live.remote_job import DETACHED, RemoteJob
from s3tui.tui.watch_app import make_watch_app
from s3tui.tui.widgets import RetryLog, ThroughputChart
from tests.helpers import MiB, assert_object_landed, random_bytes
from tests.integration.test_watch import _feed, _start_put, _wait_listed

from .conftest import SIZE

pytestmark = pytest.mark.timeout(120)


async def _until(pilot: Any, check: Any, timeout: float = 10.0) -> None:
    end = time.monotonic() + timeout
    while time.monotonic() < end:
        if check():
            return
        await pilot.pause(0.2)
    raise AssertionError("never happened")


async def test_watch_dashboard_steers_a_real_upload_and_q_detaches(
    local_s3: Any, s3_client: Any, bucket: str, s3_env: dict[str, str], tmp_path: Path
) -> None:
    data = random_bytes(45 * MiB, seed=21)
    spool = tmp_path / "spool"
    put = _start_put(
        f"s3://{bucket}/watched.bin", s3_env, local_s3.endpoint_url, spool,
        "--concurrency", "1", "--bwlimit", "4MB",
    )  # fmt: skip
    _feed(put, data, 1 * MiB, 0.0)
    ident = _wait_listed(s3_env)["id"]
    time.sleep(4)  # some history before attaching
    job = RemoteJob(pick(ident))
    app = make_watch_app(job)
    async with app.run_test(size=SIZE) as pilot:
        chart = app.query_one(ThroughputChart)
        # Seeded with the history since the upload started, not only since attaching.
        assert len(chart._samples) >= 2
        assert chart._samples[0].t < app.frame.now - 1.5
        # The retry log has each published event once.
        assert len(app.query_one(RetryLog).events) == len(job.entry.state["events"])
        first = app.frame.snapshot.bytes_sent if app.frame else 0
        await _until(pilot, lambda: app.frame and app.frame.snapshot.bytes_sent > first)
        await _until(pilot, lambda: app.frame and app.frame.snapshot.parts_in_flight > 0)
        await pilot.press("p")
        await _until(pilot, lambda: app.frame.snapshot.paused)
        await _until(pilot, lambda: app.frame.snapshot.parts_in_flight == 0)
        await pilot.pause(1.5)
        still = app.frame.snapshot.bytes_sent
        await pilot.pause(2.5)
        assert app.frame.snapshot.bytes_sent == still < len(data)  # nothing moves
        await pilot.press("plus")
        await _until(pilot, lambda: app.frame.snapshot.concurrency_ceiling == 2)
        await pilot.press("p")
        await _until(pilot, lambda: app.frame.snapshot.bytes_sent > still)
        assert not app.frame.snapshot.paused
        await pilot.press("q")
        await pilot.pause(1.0)
    assert app.return_value is not None and app.return_value.message == DETACHED
    assert put.poll() is None  # detaching left it running
    assert put.wait(60) == 0, put.stderr.read().decode() if put.stderr else ""
    assert_object_landed(s3_client, bucket, "watched.bin", data, spool)


async def test_watch_dashboard_shows_the_end_of_the_upload(
    local_s3: Any, s3_client: Any, bucket: str, s3_env: dict[str, str], tmp_path: Path
) -> None:
    from s3tui.tui.screens import SummaryScreen

    data = random_bytes(8 * MiB, seed=22)
    put = _start_put(f"s3://{bucket}/end.bin", s3_env, local_s3.endpoint_url, tmp_path / "s")
    feeder = _feed(put, data, 512 * 1024, 0.2)
    ident = _wait_listed(s3_env)["id"]
    app = make_watch_app(RemoteJob(pick(ident)))
    async with app.run_test(size=SIZE) as pilot:
        await _until(pilot, lambda: isinstance(app.screen, SummaryScreen), timeout=30)
        assert app.outcome is not None and app.outcome.ok
        await pilot.press("x")
        await pilot.pause(0.5)
    feeder.join(5)
    assert put.wait(10) == 0
    assert app.return_value is not None and app.return_value.exit_code == 0


def test_s3tui_watch_in_a_terminal_opens_the_dashboard_and_q_detaches(
    local_s3: Any, s3_client: Any, bucket: str, s3_env: dict[str, str], tmp_path: Path
) -> None:
    """The CLI's own path (`s3tui watch` under a real pseudo-terminal), not only the app."""
    from tests.integration.cli_runner import s3tui_cmd
    from tests.tui.test_tui_pty import _ANSI, COLS, ROWS, _become_tty_owner

    data = random_bytes(20 * MiB, seed=24)
    spool = tmp_path / "spool"
    put = _start_put(
        f"s3://{bucket}/tty.bin", s3_env, local_s3.endpoint_url, spool, "--bwlimit", "3MB"
    )
    _feed(put, data, 1 * MiB, 0.0)
    ident = _wait_listed(s3_env)["id"]
    master, slave = os.openpty()
    fcntl.ioctl(slave, termios.TIOCSWINSZ, struct.pack("HHHH", ROWS, COLS, 0, 0))
    watch = subprocess.Popen(
        s3tui_cmd("watch"),
        stdin=slave,
        stdout=slave,
        stderr=slave,
        env=s3_env,
        start_new_session=True,
        preexec_fn=_become_tty_owner,
    )
    os.close(slave)
    out = bytearray()

    def screen() -> str:
        while select.select([master], [], [], 0.05)[0]:
            try:
                out.extend(os.read(master, 65536))
            except OSError:
                break
        return _ANSI.sub(b"", bytes(out)).decode("utf-8", errors="replace")

    try:
        deadline = time.monotonic() + 30
        while "Detach" not in screen() or "Parts in flight" not in screen():
            assert watch.poll() is None, screen()[-2000:]
            assert time.monotonic() < deadline, screen()[-2000:]
        time.sleep(1.0)
        os.write(master, b"q")
        deadline = time.monotonic() + 15
        while watch.poll() is None:
            screen()
            assert time.monotonic() < deadline, screen()[-2000:]
        text = screen()
    finally:
        if watch.poll() is None:
            watch.kill()
        os.close(master)
    assert watch.returncode == 0, text[-2000:]
    assert f"detached from upload {ident}; it goes on" in text
    assert put.poll() is None  # still uploading
    assert put.wait(60) == 0
    assert_object_landed(s3_client, bucket, "tty.bin", data, spool)


async def test_stopping_the_upload_from_the_dashboard_asks_first(
    local_s3: Any, s3_client: Any, bucket: str, s3_env: dict[str, str], tmp_path: Path
) -> None:
    from s3tui.tui.watch_app import ConfirmStop
    from tests.helpers import assert_no_incomplete_uploads, assert_spool_empty

    spool = tmp_path / "spool"
    put = _start_put(
        f"s3://{bucket}/stop.bin", s3_env, local_s3.endpoint_url, spool,
        "--concurrency", "1", "--bwlimit", "3MB",
    )  # fmt: skip
    _feed(put, random_bytes(40 * MiB, seed=25), 1 * MiB, 0.0)
    ident = _wait_listed(s3_env)["id"]
    job = RemoteJob(pick(ident))
    app = make_watch_app(job)
    async with app.run_test(size=SIZE) as pilot:
        await _until(pilot, lambda: app.frame and app.frame.snapshot.bytes_sent > 0)
        await pilot.press("s")
        assert isinstance(app.screen, ConfirmStop)
        await pilot.press("n")  # changed its mind: nothing is sent
        assert not isinstance(app.screen, ConfirmStop)
        assert not list(job.entry.path.glob("cmd-*"))
        await pilot.pause(1.0)
        assert put.poll() is None
        await pilot.press("s")
        await pilot.press("y")
        await _until(pilot, lambda: app.outcome is not None, timeout=30)
        assert app.outcome.exit_code == 130 and "stopped from a watcher" in app.outcome.message
    assert put.wait(30) == 130
    assert_no_incomplete_uploads(s3_client, bucket)
    assert_spool_empty(spool)


async def test_the_dashboard_says_when_the_upload_process_dies(
    local_s3: Any, bucket: str, s3_env: dict[str, str], tmp_path: Path
) -> None:
    import signal

    from s3tui.tui.screens import SummaryScreen

    put = _start_put(f"s3://{bucket}/dies.bin", s3_env, local_s3.endpoint_url, tmp_path / "sp")
    _feed(put, random_bytes(8 * MiB, seed=26), 256 * 1024, 0.25)
    ident = _wait_listed(s3_env)["id"]
    app = make_watch_app(RemoteJob(pick(ident)))
    async with app.run_test(size=SIZE) as pilot:
        await _until(pilot, lambda: app.frame and app.frame.snapshot.bytes_read > 0)
        put.send_signal(signal.SIGKILL)
        put.wait(10)
        await _until(pilot, lambda: app.outcome is not None, timeout=15)
        assert app.outcome.exit_code == 1
        assert "process is gone" in app.outcome.message
        assert "s3tui cleanup" in app.outcome.message
        await _until(pilot, lambda: isinstance(app.screen, SummaryScreen))
        shown = " ".join(str(w.render()) for w in app.screen.query("Static"))
        assert "process is gone" in shown


async def test_watching_a_tree_shows_its_files() -> None:
    """The files view of a directory upload, fed from what the tree's put publishes."""
    import threading

    from s3tui.live import store
    from s3tui.live.publish import Publisher
    from s3tui.tui.widgets import FilesPanel
    from tests.tui.fakes import tree_job

    job = tree_job()
    threading.Thread(target=job.run, daemon=True).start()
    while job.step_name != "busy":
        job.advance()
    pub = Publisher(job).start()
    try:
        app = make_watch_app(RemoteJob(pick(pub.id)))
        async with app.run_test(size=SIZE) as pilot:
            await _until(pilot, lambda: app.frame is not None)
            panel = app.query_one(FilesPanel)
            assert panel.display and app.frame.snapshot.files_total > 0
            shown = str(panel.draw(app.frame, 100))
            assert "videos/holiday-2025.mp4" in shown and "uploading" in shown
            assert "IMG_0104.jpg" in shown and "file changed while it was read" in shown
            await pilot.press("q")
    finally:
        job.cancel(130, "test over")
        pub.finish(None)
        assert store.entries()[0].result is not None
