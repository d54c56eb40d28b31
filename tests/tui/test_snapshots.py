"""Pictures of the main states, compared with stored SVGs (``pytest --snapshot-update`` to
accept a deliberate change). Deterministic: fake monotonic and wall clocks, fixed free space."""

from __future__ import annotations

import pytest
from textual.pilot import Pilot

from s3tui.tui.app import UploadApp
from s3tui.tui.dashboard import start_app

from .conftest import SIZE
from .fakes import FakeJob, fixed_spool_free, job_ended, play, stream_job, tree_job


@pytest.fixture
def stream() -> FakeJob:
    return stream_job()


@pytest.fixture
def tree() -> FakeJob:
    return tree_job()


def make(job: FakeJob) -> UploadApp:
    return start_app(job, spool_free_fn=fixed_spool_free)


def until(job: FakeJob, step: str | None):
    async def run_before(pilot: Pilot) -> None:
        app = pilot.app
        assert isinstance(app, UploadApp)
        play(app, job, step)
        if step is None:
            await job_ended(app)
        await pilot.pause()

    return run_before


class TestStream:
    def test_in_progress_with_a_retry(self, snap_compare, stream: FakeJob) -> None:
        assert snap_compare(make(stream), terminal_size=SIZE, run_before=until(stream, "t40"))

    def test_finished_summary(self, snap_compare, stream: FakeJob) -> None:
        assert snap_compare(make(stream), terminal_size=SIZE, run_before=until(stream, None))


class TestDirectory:
    def test_files_view(self, snap_compare, tree: FakeJob) -> None:
        assert snap_compare(make(tree), terminal_size=SIZE, run_before=until(tree, "busy"))
