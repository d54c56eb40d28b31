"""Pictures of the main states, compared with stored SVGs (``pytest --snapshot-update`` to
accept a deliberate change). Deterministic: fake clock, frozen event times, fixed free space."""

from __future__ import annotations

from collections.abc import Iterator

import pytest
from textual.pilot import Pilot

from s3tui.tui.app import UploadApp, build_app

from .conftest import SIZE
from .fakes import FakeJob, fixed_spool_free, frozen_wall_clock, play, stream_job, tree_job


@pytest.fixture
def stream() -> Iterator[FakeJob]:
    job = stream_job()
    with frozen_wall_clock(job.clock):
        yield job


@pytest.fixture
def tree() -> Iterator[FakeJob]:
    job = tree_job()
    with frozen_wall_clock(job.clock):
        yield job


def make(job: FakeJob) -> UploadApp:
    return build_app(job, spool_free_fn=fixed_spool_free, clock=job.clock)


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
