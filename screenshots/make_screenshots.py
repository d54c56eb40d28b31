"""Write the README's pictures from the real dashboard: ``python screenshots/make_screenshots.py``.

Drives :func:`s3tui.tui.dashboard.start_app` (the CLI's way in) with ``run_test`` and
``save_screenshot``, never drawn by hand. The upload is the scripted fake job from
``tests/tui/fakes.py`` so the pictures are the same on every run; swap in a real job to show a
real upload.
"""

from __future__ import annotations

import asyncio
import os
import sys
import time
from pathlib import Path

HERE = Path(__file__).resolve().parent
ROOT = HERE.parent
sys.path.insert(0, str(ROOT))

from s3tui.tui.dashboard import start_app  # noqa: E402
from tests.tui.fakes import (  # noqa: E402
    FakeJob,
    fixed_spool_free,
    job_ended,
    play,
    stream_job,
    tree_job,
)

SIZE = (120, 36)


async def shoot(job: FakeJob, until: str | None, name: str) -> Path:
    app = start_app(job, spool_free_fn=fixed_spool_free)
    async with app.run_test(size=SIZE) as pilot:
        play(app, job, until)
        if until is None:
            await job_ended(app)
        await pilot.pause()
        app.save_screenshot(filename=name, path=str(HERE))
    return HERE / name


async def main() -> None:
    os.environ["TZ"] = "UTC"  # event times in the retry log
    time.tzset()
    shots = [
        await shoot(stream_job(), "t40", "stream.svg"),
        await shoot(tree_job(), "busy", "directory.svg"),
        await shoot(stream_job(), None, "summary.svg"),
    ]
    for path in shots:
        print(path.relative_to(ROOT))


if __name__ == "__main__":
    asyncio.run(main())
