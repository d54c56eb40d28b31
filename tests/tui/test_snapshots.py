"""Pictures of the main states, compared with stored SVGs (``pytest --snapshot-update`` to
accept a deliberate change). Deterministic: fake monotonic and wall clocks, fixed free space."""

from __future__ import annotations

import pytest
from textual.pilot import Pilot

from s3tui.tui.app import UploadApp, build_app

from .conftest import SIZE
from .fakes import FakeJob, fixed_spool_free, play, stream_job, tree_job


@pytest.fixture
def stream() -> FakeJob:
    return stream_job()


@pytest.fixture
def tree() -> FakeJob:
    return tree_job()


def make(job: FakeJob) -> UploadApp:
    return build_app(job, spool_free_fn=fixed_spool_free)


def until(job: FakeJob, step: str | None):
    async def run_before(pilot: Pilot) -> None:
        play(pilot.app, job, step)
        await pilot.app.workers.wait_for_complete() if step is None else None
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
