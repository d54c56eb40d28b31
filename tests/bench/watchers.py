#!/usr/bin/env python3
"""Does watching slow an upload? Run by hand (not by pytest):

    python tests/bench/watchers.py [MiB] [reps]

A headless ``s3tui put`` of a MiB-sized incompressible stream into the lab server, alternately
with no watcher and with 5 ``s3tui watch --no-tui`` processes attached, one of them stopped
(SIGSTOP) for the whole run: a watcher that stops reading. Prints the put's MB/s (wall clock,
start-up included) and its own CPU per GiB each run, and the medians. On a shared machine the
wall clock drifts; the put's CPU does not, and it would grow if watchers made it do work. On a
2-core machine the watchers' own CPU competes with the upload; a stopped watcher has no way to
reach the upload at all (they only read its state file).
"""

from __future__ import annotations

import os
import random
import shutil
import signal
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

from s3tui.lab import LocalS3

MiB = 1024 * 1024


def main() -> None:
    size = int(sys.argv[1]) if len(sys.argv) > 1 else 512
    reps = int(sys.argv[2]) if len(sys.argv) > 2 else 3
    tmp = Path(tempfile.mkdtemp())
    env = dict(os.environ)
    for var in ("XDG_RUNTIME_DIR", "XDG_STATE_HOME", "XDG_CACHE_HOME", "XDG_CONFIG_HOME"):
        (tmp / var).mkdir(mode=0o700)
        env[var] = str(tmp / var)
    server = LocalS3()
    server.start()
    server.create_bucket("bench")
    env.update(server.env())
    src = tmp / "src.bin"
    with open(src, "wb") as f:
        rnd = random.Random(1)
        for _ in range(size // 16):
            f.write(rnd.randbytes(16 * MiB))
    s3tui = [sys.executable, "-m", "s3tui"]
    results: dict[int, list[float]] = {0: [], 5: []}
    cpu: dict[int, list[float]] = {0: [], 5: []}  # the put's own CPU seconds per GiB
    try:
        for rep in range(reps):
            for watchers in (0, 5) if rep % 2 == 0 else (5, 0):
                with open(src, "rb") as f:
                    t0 = time.monotonic()
                    put = subprocess.Popen(
                        [*s3tui, "put", "-", f"s3://bench/w{watchers}-{rep}",
                         "--endpoint-url", server.endpoint_url, "--no-tui", "-q"],
                        stdin=f, env=env,
                    )  # fmt: skip
                    ws = []
                    if watchers:
                        base = tmp / "XDG_STATE_HOME" / "s3tui" / "live"
                        while not any(
                            (d / "state.json").exists()
                            and str(put.pid) in (d / "state.json").read_text()
                            for d in (base.iterdir() if base.exists() else ())
                        ):
                            time.sleep(0.01)
                        for _ in range(watchers):
                            ws.append(
                                subprocess.Popen(
                                    [*s3tui, "watch", "--no-tui", "--json"],
                                    env=env,
                                    stderr=subprocess.PIPE,  # never read: the stopped reader
                                )
                            )
                        time.sleep(0.3)
                        ws[0].send_signal(signal.SIGSTOP)
                    _, status, put_ru = os.wait4(put.pid, 0)
                    wall = time.monotonic() - t0
                    code = os.waitstatus_to_exitcode(status)
                    put.returncode = code
                    put_cpu = put_ru.ru_utime + put_ru.ru_stime
                    watcher_cpu = 0.0
                    for w in ws:
                        w.send_signal(signal.SIGCONT)
                        w.kill()
                        _, _, ru = os.wait4(w.pid, 0)
                        w.returncode = -9
                        watcher_cpu += ru.ru_utime + ru.ru_stime
                rate = size * MiB / wall / 1e6
                results[watchers].append(rate)
                cpu[watchers].append(put_cpu / (size / 1024))
                print(
                    f"rep {rep} watchers {watchers}: exit {code}, {wall:.2f}s, {rate:.1f} MB/s, "
                    f"the put's CPU {put_cpu / (size / 1024):.2f} s/GiB"
                    + (f", the watchers' CPU {watcher_cpu:.2f}s in all" if watchers else ""),
                    flush=True,
                )
        for n, rates in results.items():
            print(
                f"{n} watchers: median {statistics.median(rates):.1f} MB/s, the put's CPU "
                f"{statistics.median(cpu[n]):.2f} s/GiB, over {len(rates)} runs"
            )
    finally:
        server.stop()
        shutil.rmtree(tmp, ignore_errors=True)


if __name__ == "__main__":
    main()
