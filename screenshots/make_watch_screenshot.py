"""Write screenshots/watch.svg: `s3tui watch` on a REAL headless upload.

``python screenshots/make_watch_screenshot.py`` starts the lab's SeaweedFS server and a fault
proxy (a slow link that stalls one part, so the retry log has a line), runs ``s3tui put - ...
--no-tui`` in a subprocess fed a paced stream, lets it run for a while, then attaches the watch
dashboard (:func:`s3tui.tui.watch_app.make_watch_app`, what ``s3tui watch`` runs) with
``run_test`` and saves the picture. Every user dir points into a temp dir removed at the end.
"""

from __future__ import annotations

import asyncio
import os
import random
import shutil
import subprocess
import sys
import tempfile
import threading
import time
from pathlib import Path

HERE = Path(__file__).resolve().parent
ROOT = HERE.parent
sys.path.insert(0, str(ROOT))

from s3tui.lab import FaultProxy, LocalS3  # noqa: E402
from s3tui.lab.faultproxy import Fault  # noqa: E402

SIZE = (120, 36)
MiB = 1024 * 1024


def feed(proc: subprocess.Popen[bytes], size: int, rate: float) -> None:
    assert proc.stdin is not None
    rnd = random.Random(7)
    t0, sent = time.monotonic(), 0
    try:
        while sent < size:
            proc.stdin.write(rnd.randbytes(256 * 1024))
            sent += 256 * 1024
            ahead = sent / rate - (time.monotonic() - t0)
            if ahead > 0:
                time.sleep(ahead)
        proc.stdin.close()
    except (BrokenPipeError, ValueError):
        pass


async def main() -> None:
    tmp = Path(tempfile.mkdtemp(prefix="s3tui-shot-"))
    for var in ("XDG_RUNTIME_DIR", "XDG_STATE_HOME", "XDG_CACHE_HOME", "XDG_CONFIG_HOME"):
        (tmp / var).mkdir(mode=0o700)
        os.environ[var] = str(tmp / var)
    os.environ["TZ"] = "UTC"
    time.tzset()
    server = LocalS3()
    proxy = None
    put = None
    try:
        server.start()
        server.create_bucket("backups")
        proxy = FaultProxy(server.endpoint_url, bandwidth=2e6, latency=0.03).start()
        proxy.add_rule(Fault.stall(after_bytes=256 * 1024), path="partNumber=", nth=3)
        env = {**os.environ, **server.env()}
        put = subprocess.Popen(
            [sys.executable, "-m", "s3tui", "put", "-", "s3://backups/db/nightly.sql.gz",
             "--endpoint-url", proxy.url, "--no-tui", "-q", "--chunk-size", "5MiB",
             "--concurrency", "4", "--expected-size", "200MiB"],
            stdin=subprocess.PIPE, env=env,
        )  # fmt: skip
        threading.Thread(target=feed, args=(put, 200 * MiB, 6e6), daemon=True).start()
        time.sleep(25)
        from s3tui.live.follow import pick
        from s3tui.live.remote_job import RemoteJob
        from s3tui.tui.watch_app import make_watch_app

        app = make_watch_app(RemoteJob(pick(None)))
        async with app.run_test(size=SIZE) as pilot:
            await pilot.pause(4)
            app.save_screenshot(filename="watch.svg", path=str(HERE))
            await pilot.press("q")
        print((HERE / "watch.svg").relative_to(ROOT))
    finally:
        if put is not None:
            put.terminate()
            put.wait(60)
        if proxy is not None:
            proxy.stop()
        server.stop()
        shutil.rmtree(tmp, ignore_errors=True)


if __name__ == "__main__":
    asyncio.run(main())
