"""Pilot tests of the dashboard on REAL uploads: a StreamUpload reading a paced pipe into the
local SeaweedFS, sometimes through the fault proxy. Each test checks what landed (or that
nothing did), that no multipart upload is left, and that the spool is empty."""

from __future__ import annotations

import os
import select
import threading
import time
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import pytest
from textual.pilot import Pilot
from textual.widgets import Static

from s3tui.engine.config import UploadConfig
from s3tui.engine.job import Result
from s3tui.engine.progress import PartState, Phase
from s3tui.engine.remote import Remote, make_client
from s3tui.engine.stats import AttemptRecord
from s3tui.engine.stream import StreamUpload
from s3tui.lab import FaultProxy, LocalS3
from s3tui.lab.faultproxy import Fault
from s3tui.tui.app import UploadApp
from s3tui.tui.dashboard import start_app
from s3tui.tui.screens import ConfirmAbort, SummaryScreen
from s3tui.tui.widgets import Panel, PartsPanel, RetryLog, SummaryPanel
from tests.helpers import (
    MiB,
    assert_no_incomplete_uploads,
    assert_object_landed,
    assert_spool_empty,
    random_bytes,
)

from .conftest import SIZE

KEY = "dash/obj"


class Feeder(threading.Thread):
    """Writes ``data`` into a pipe at about ``rate`` bytes/s, then closes it (end of stream).

    The write end is non-blocking so :meth:`stop` always ends the thread, even when the upload
    stopped reading (an abort)."""

    def __init__(self, data: bytes, rate: float, block: int = 256 * 1024) -> None:
        super().__init__(daemon=True, name="feeder")
        self.data = data
        self.rate = rate
        self.block = block
        self.read_fd, self.write_fd = os.pipe()
        os.set_blocking(self.write_fd, False)
        self.sent = 0
        self._halt = threading.Event()

    def run(self) -> None:
        t0 = time.monotonic()
        view = memoryview(self.data)
        try:
            while self.sent < len(self.data) and not self._halt.is_set():
                if not select.select([], [self.write_fd], [], 0.1)[1]:
                    continue
                try:
                    self.sent += os.write(self.write_fd, view[self.sent : self.sent + self.block])
                except BlockingIOError:
                    continue
                except BrokenPipeError:
                    return
                ahead = self.sent / self.rate - (time.monotonic() - t0)
                if ahead > 0:
                    self._halt.wait(ahead)
        finally:
            os.close(self.write_fd)

    def stop(self) -> None:
        self._halt.set()
        self.join(5)


class Upload:
    """One real job, its feeder and what the test needs to check afterwards."""

    def __init__(
        self,
        endpoint: str,
        local_s3: LocalS3,
        bucket: str,
        tmp_path: Path,
        data: bytes,
        rate: float,
        concurrency: int = 3,
    ) -> None:
        self.data = data
        self.bucket = bucket
        self.spool_dir = tmp_path / "spool"
        self.records: list[AttemptRecord] = []
        self.feeder = Feeder(data, rate)
        client = make_client(
            endpoint,
            "us-east-1",
            credentials=(local_s3.access_key, local_s3.secret_key),
            max_connections=concurrency + 6,
        )
        cfg = UploadConfig(
            chunk_size=5 * MiB,
            spool_dir=self.spool_dir,
            concurrency=concurrency,
            max_spool=64 * MiB,
            retry_base_delay=0.1,
            retry_max_delay=0.5,
        )
        self.job = StreamUpload(
            self.feeder.read_fd, Remote(client, bucket), KEY, cfg, on_record=[self.records.append]
        )
        self.app: UploadApp = start_app(self.job)
        self._open = True

    def close(self) -> None:
        self.feeder.stop()
        if self._open:
            self._open = False
            os.close(self.feeder.read_fd)

    def check_landed(self, s3_client: Any) -> None:
        assert_object_landed(s3_client, self.bucket, KEY, self.data, self.spool_dir)

    def check_nothing_left(self, s3_client: Any) -> None:
        listed = s3_client.list_objects_v2(Bucket=self.bucket).get("Contents", [])
        assert not listed, f"objects left behind: {[o['Key'] for o in listed]}"
        assert_no_incomplete_uploads(s3_client, self.bucket)
        assert_spool_empty(self.spool_dir)


@pytest.fixture
def upload_factory(
    local_s3: LocalS3, bucket: str, tmp_path: Path
) -> Iterator[Callable[..., Upload]]:
    made: list[Upload] = []

    def make(
        data: bytes, rate: float, *, endpoint: str | None = None, concurrency: int = 3
    ) -> Upload:
        up = Upload(
            endpoint or local_s3.endpoint_url,
            local_s3,
            bucket,
            tmp_path,
            data,
            rate,
            concurrency=concurrency,
        )
        made.append(up)
        return up

    yield make
    for up in made:
        # A test that failed half-way: make sure the job is stopped and cleaned up.
        up.job.cancel(130, "test teardown")
        up.close()


def text(panel: Panel) -> str:
    return panel.render().plain


async def wait_until(
    pilot: Pilot, cond: Callable[[], bool], timeout: float = 20.0, what: str = ""
) -> None:
    deadline = time.monotonic() + timeout
    while not cond():
        if time.monotonic() > deadline:
            raise AssertionError(f"timed out waiting for {what or cond}")
        await pilot.pause(0.05)


async def finish(pilot: Pilot, up: Upload) -> Result:
    """Wait for the summary screen, close it with a key, return the job's result."""
    app = up.app
    await wait_until(pilot, lambda: isinstance(app.screen, SummaryScreen), what="the summary")
    assert app.is_running  # the summary waits for a key
    await pilot.press("space")
    await pilot.pause()
    result = app.return_value
    assert isinstance(result, Result)
    return result


async def test_progress_advances_parts_appear_and_finish(upload_factory, s3_client) -> None:
    data = random_bytes(22 * MiB, seed=1)  # 4 full parts and a 2 MiB tail
    up = upload_factory(data, rate=10 * MiB)
    app = up.app
    read_seen: list[int] = []
    rows_seen: set[str] = set()
    async with app.run_test(size=SIZE) as pilot:
        up.feeder.start()

        def sample() -> bool:
            snap = app.frame.snapshot if app.frame else None
            if snap is None:
                return False
            read_seen.append(snap.bytes_read)
            shown = text(app.query_one(PartsPanel))
            for p in snap.parts:
                if p.number is not None and f"{p.label} " in shown:
                    rows_seen.add(f"{p.label}:{p.state.value}")
            return snap.parts_done >= 2

        await wait_until(pilot, sample, what="two parts done")
        # Mid-stream: progress advanced but is not finished.
        assert up.feeder.is_alive()
        assert 0 < read_seen[-1] < len(data)
        assert read_seen == sorted(read_seen) and len(set(read_seen)) > 2
        assert "part 1:done" in rows_seen  # a finished part stays on screen a while
        assert any(r.endswith((":uploading", ":spooling", ":queued")) for r in rows_seen)
        summary = text(app.query_one(SummaryPanel))
        assert "RUNNING" in summary and "read " in summary

        result = await finish(pilot, up)
    assert result.ok, result.message
    assert result.size == len(data) and result.parts == 5
    assert app.frame is not None and app.frame.snapshot.phase == Phase.DONE
    assert app.frame.snapshot.parts_done == 5
    up.close()
    up.check_landed(s3_client)


async def test_retry_appears_in_the_log(upload_factory, s3_client, fault_proxy: FaultProxy) -> None:
    fault_proxy.add_rule(Fault.internal_error(), path=r"partNumber=", nth=2)
    data = random_bytes(16 * MiB, seed=2)
    up = upload_factory(data, rate=20 * MiB, endpoint=fault_proxy.url)
    app = up.app
    async with app.run_test(size=SIZE) as pilot:
        up.feeder.start()
        log = app.query_one(RetryLog)
        await wait_until(
            pilot, lambda: any(e.kind == "retry" for e in log.events), what="a retry event"
        )
        await pilot.pause()
        retry = next(e for e in log.events if e.kind == "retry")
        assert retry.label.startswith("part ") and retry.attempt == 1
        shown = str(log.query_one(Static).render())
        assert f"retry {retry.label} attempt 1" in shown
        assert "→ attempt 2 in" in shown
        summary = app.query_one(SummaryPanel)
        await wait_until(pilot, lambda: "retries 1" in text(summary), what="the retry count")
        result = await finish(pilot, up)
    assert len(fault_proxy.faults) == 1
    assert result.ok, result.message
    assert result.retries == 1
    up.close()
    up.check_landed(s3_client)


async def test_p_pauses_and_resumes(upload_factory, s3_client) -> None:
    data = random_bytes(26 * MiB, seed=3)
    up = upload_factory(data, rate=16 * MiB)
    app, job = up.app, up.job
    async with app.run_test(size=SIZE) as pilot:
        up.feeder.start()
        await wait_until(pilot, lambda: job.progress.snapshot().parts_done >= 1, what="a part")
        await pilot.press("p")
        assert job.transfer.gate.paused
        assert app.frame is not None and app.frame.snapshot.paused
        assert "PAUSED" in text(app.query_one(SummaryPanel))
        # Requests already in flight may finish; then nothing new may start.
        await wait_until(
            pilot,
            lambda: job.transfer.gate.active == 0 and job.progress.snapshot().parts_in_flight == 0,
            what="in-flight requests to drain",
        )
        attempts, done = len(up.records), job.progress.snapshot().parts_done
        for _ in range(16):  # ~0.8 s paused, while the reader keeps spooling
            await pilot.pause(0.05)
            snap = job.progress.snapshot()
            assert job.transfer.gate.active == 0
            assert not [p.label for p in snap.parts if p.state == PartState.UPLOADING]
            assert snap.parts_done == done and len(up.records) == attempts
        snap = job.progress.snapshot()
        assert any(p.state == PartState.QUEUED for p in snap.parts), "nothing was held back"
        assert snap.bytes_read > snap.bytes_uploaded
        await pilot.press("p")
        assert not job.transfer.gate.paused
        await wait_until(
            pilot, lambda: job.progress.snapshot().parts_done > done, what="progress after resume"
        )
        result = await finish(pilot, up)
    assert result.ok, result.message
    up.close()
    up.check_landed(s3_client)


async def test_plus_raises_concurrency_live(upload_factory, s3_client, local_s3: LocalS3) -> None:
    data = random_bytes(20 * MiB, seed=4)
    # A ~5 MB/s link per connection: a part takes about a second, long enough to see overlap.
    with FaultProxy(local_s3.endpoint_url, bandwidth=5e6) as slow:
        up = upload_factory(data, rate=40 * MiB, endpoint=slow.url, concurrency=1)
        app, job = up.app, up.job
        in_flight: list[int] = []
        async with app.run_test(size=SIZE) as pilot:
            up.feeder.start()
            await wait_until(
                pilot,
                lambda: job.progress.snapshot().parts_in_flight == 1,
                what="the first part in flight",
            )
            assert job.progress.snapshot().concurrency_ceiling == 1
            await pilot.press("plus")
            assert app.frame is not None
            assert app.frame.snapshot.concurrency_ceiling == 2
            assert job.transfer.gate.ceiling == 2
            assert "concurrency 2/2" in text(app.query_one(SummaryPanel))

            def two_at_once() -> bool:
                in_flight.append(job.progress.snapshot().parts_in_flight)
                return max(in_flight) >= 2

            await wait_until(pilot, two_at_once, what="two parts in flight")
            result = await finish(pilot, up)
    assert result.ok, result.message
    assert max(in_flight) == 2
    up.close()
    up.check_landed(s3_client)


async def test_q_and_confirm_abort_leaves_nothing(upload_factory, s3_client) -> None:
    data = random_bytes(40 * MiB, seed=5)
    up = upload_factory(data, rate=8 * MiB)  # ~5 s of stream: the abort lands mid-way
    app, job = up.app, up.job
    async with app.run_test(size=SIZE) as pilot:
        up.feeder.start()
        await wait_until(pilot, lambda: job.progress.snapshot().parts_done >= 2, what="2 parts")
        await pilot.press("q")
        assert isinstance(app.screen, ConfirmAbort)
        await pilot.press("y")
        await wait_until(pilot, lambda: not app.is_running, what="the app to exit")
    result = app.return_value
    assert isinstance(result, Result)
    assert result.exit_code == 130
    assert up.feeder.sent < len(data)
    assert job.progress.phase == Phase.CANCELLED
    up.close()
    up.check_nothing_left(s3_client)


@pytest.fixture(autouse=True)
def _no_leftover_threads() -> Iterator[None]:
    """Upload workers are daemons, but a test must not leave any running into the next one."""
    yield
    deadline = time.monotonic() + 10
    while time.monotonic() < deadline:
        alive = [t.name for t in threading.enumerate() if t.name.startswith("s3tui-worker")]
        if not alive:
            return
        time.sleep(0.05)
    pytest.fail(f"upload worker threads still alive: {alive}")
