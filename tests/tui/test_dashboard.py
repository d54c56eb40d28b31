"""Pilot tests: the real app driven by a scripted fake job (UI logic; real uploads live in
tests/integration)."""

from __future__ import annotations

from textual import events
from textual.pilot import Pilot
from textual.widgets import Static

from s3tui.engine.job import Result
from s3tui.engine.progress import PartState
from s3tui.tui.app import UploadApp
from s3tui.tui.dashboard import start_app
from s3tui.tui.screens import ConfirmAbort, HelpScreen, SummaryScreen
from s3tui.tui.widgets import (
    FilesPanel,
    Panel,
    PartsPanel,
    RetryLog,
    SummaryPanel,
    TempDiskPanel,
)

from .conftest import SIZE
from .fakes import FakeJob, fixed_spool_free, job_ended, play, stream_job, tree_job


def make(job: FakeJob) -> UploadApp:
    return start_app(job, spool_free_fn=fixed_spool_free)


def text(panel: Panel) -> str:
    return panel.render().plain


async def test_parts_appear_and_finish() -> None:
    job = stream_job()
    app = make(job)
    async with app.run_test(size=SIZE) as pilot:
        play(app, job, "t3")
        await pilot.pause()
        parts = app.query_one(PartsPanel)
        assert "part 1 " in text(parts)
        assert "uploading" in text(parts)
        assert any(p.state == PartState.UPLOADING for p in app.frame.snapshot.parts)

        play(app, job, "t6")
        assert app.frame.snapshot.parts_done >= 1
        assert "done" in text(parts)  # still shown, fading out

        play(app, job, "t14")
        labels = {p.label for p in app.frame.snapshot.parts}
        assert "part 1" not in labels  # gone once the linger is over
        assert "part 1 " not in text(parts)
        summary = text(app.query_one(SummaryPanel))
        assert "stdin → s3://backups/db/2026-01-01.sql.gz" in summary
        assert "%" in summary and "ETA" in summary


async def test_retry_shows_in_the_log() -> None:
    job = stream_job()
    app = make(job)
    async with app.run_test(size=SIZE) as pilot:
        play(app, job, "t25")
        await pilot.pause()
        log = app.query_one(RetryLog)
        retries = [e for e in log.events if e.kind == "retry"]
        assert len(retries) == 1
        assert retries[0].label == "part 3"
        shown = str(log.query_one(Static).render())
        assert "retry part 3 attempt 1" in shown
        assert "→ attempt 2 in 1.2s" in shown
        assert "deadline 9.9s" in shown
        assert "retries 1" in text(app.query_one(SummaryPanel))


async def test_p_pauses_and_resumes() -> None:
    job = stream_job()
    app = make(job)
    async with app.run_test(size=SIZE) as pilot:
        play(app, job, "t2")
        await pilot.press("p")
        assert job.pause_calls == [True]
        assert "PAUSED" in text(app.query_one(SummaryPanel))
        await pilot.press("p")
        assert job.pause_calls == [True, False]


async def test_plus_and_minus_change_concurrency() -> None:
    job = stream_job()
    app = make(job)
    async with app.run_test(size=SIZE) as pilot:
        play(app, job, "t2")
        await pilot.press("plus")
        assert job.concurrency_calls == [5]
        assert "concurrency 5/5" in text(app.query_one(SummaryPanel))
        await pilot.press("minus", "minus")
        assert job.concurrency_calls == [5, 4, 3]


async def test_q_asks_then_aborts_with_130() -> None:
    job = stream_job()
    app = make(job)
    async with app.run_test(size=SIZE) as pilot:
        play(app, job, "t5")
        await pilot.press("q")
        assert isinstance(app.screen, ConfirmAbort)
        assert "aborts the multipart upload" in str(app.screen.query_one("#dialog-body").render())
        assert job.cancelled is None
        await pilot.press("y")
        await job_ended(app)
        await pilot.pause()
    assert job.cancelled == (130, "cancelled by user")
    assert isinstance(app.return_value, Result)
    assert app.return_value.exit_code == 130
    assert job.run_returned.is_set()
    assert not job.progress._listeners  # the closed app no longer listens to the engine
    job.progress.event("retry", "part 9")  # and a late engine event goes nowhere, quietly


async def test_q_then_no_keeps_uploading() -> None:
    job = stream_job()
    app = make(job)
    async with app.run_test(size=SIZE) as pilot:
        await pilot.press("q")
        await pilot.press("n")
        assert not isinstance(app.screen, ConfirmAbort)
        assert job.cancelled is None
        play(app, job, "t3")
        assert app.is_running


async def test_ctrl_c_aborts_without_asking() -> None:
    job = stream_job()
    app = make(job)
    async with app.run_test(size=SIZE) as pilot:
        play(app, job, "t2")
        await pilot.press("ctrl+c")
        await job_ended(app)
        await pilot.pause()
    assert job.cancelled == (130, "cancelled by user")
    assert app.return_value is not None and app.return_value.exit_code == 130


async def _play_to_the_summary(app: UploadApp, job: FakeJob, pilot: Pilot[object]) -> None:
    play(app, job)
    await job_ended(app)
    await pilot.pause()
    assert isinstance(app.screen, SummaryScreen)


async def test_summary_stays_until_a_key() -> None:
    job = stream_job(total=6 * 16 * 1024**2)
    app = make(job)
    async with app.run_test(size=SIZE) as pilot:
        await _play_to_the_summary(app, job, pilot)
        shown = str(app.screen.query_one("#dialog-title").render())
        assert "Upload complete" in shown
        assert app.is_running  # waits for the user
        await pilot.press("space")
        await pilot.pause()
    assert app.return_value is not None
    assert app.return_value.ok
    assert app.return_value.parts == 6


async def test_keys_mashed_at_the_summary_close_it_once() -> None:
    """A second key (or click) before the first one's close took effect must not crash the app."""
    job = stream_job(total=2 * 16 * 1024**2)
    app = make(job)
    async with app.run_test(size=SIZE) as pilot:
        await _play_to_the_summary(app, job, pilot)
        # Both keys queued before the first is handled, as when a terminal read holds two.
        screen = app.screen
        screen.post_message(events.Key("x", "x"))
        screen.post_message(events.Key("y", "y"))
        await pilot.pause()
    assert app.return_value is not None and app.return_value.ok
    assert app._exception is None  # Textual keeps the crash here (and prints a traceback)


async def test_run_raising_shows_a_failure() -> None:
    class Broken(FakeJob):
        def run(self) -> Result:
            raise RuntimeError("engine bug")

    job = Broken(lambda job: iter(()))
    app = make(job)
    async with app.run_test(size=SIZE) as pilot:
        await job_ended(app)
        await pilot.pause()
        assert isinstance(app.screen, SummaryScreen)
        await pilot.press("enter")
    assert app.return_value is not None
    assert app.return_value.exit_code == 1
    assert "engine bug" in app.return_value.message


async def test_help_opens_and_closes() -> None:
    job = stream_job()
    app = make(job)
    async with app.run_test(size=SIZE) as pilot:
        await pilot.press("question_mark")
        assert isinstance(app.screen, HelpScreen)
        await pilot.press("x")
        assert not isinstance(app.screen, HelpScreen)


async def test_command_palette_pauses() -> None:
    job = stream_job()
    app = make(job)
    async with app.run_test(size=SIZE) as pilot:
        await pilot.press("ctrl+p")
        await pilot.press(*"pause")
        await pilot.pause(0.3)
        await pilot.press("enter")
        await pilot.pause()
        assert job.pause_calls == [True]


async def test_directory_view_lists_files() -> None:
    job = tree_job()
    app = make(job)
    async with app.run_test(size=SIZE) as pilot:
        play(app, job, "busy")
        await pilot.pause()
        files = app.query_one(FilesPanel)
        assert files.display
        shown = text(files)
        assert (
            "IMG_0104.jpg" in shown
            and "failed" in shown
            and "failed: file changed while it" in shown
        )
        assert "1 skipped" in str(files.border_subtitle)
        assert "not used" in text(app.query_one(TempDiskPanel))


async def test_files_view_hidden_for_a_stream() -> None:
    job = stream_job()
    app = make(job)
    async with app.run_test(size=SIZE) as pilot:
        play(app, job, "t2")
        await pilot.pause()
        assert not app.query_one(FilesPanel).display


async def test_spool_near_cap_warns() -> None:
    job = stream_job()
    app = make(job)
    async with app.run_test(size=SIZE) as pilot:
        play(app, job, "t2")
        job.spool = (250 * 1024**2, 15, 256 * 1024**2, "/tmp/spool")
        app.poll()
        await pilot.pause()
        panel = app.query_one(TempDiskPanel)
        text(panel)
        assert panel.has_class("-warning")
        assert "reading waits" in text(panel)
