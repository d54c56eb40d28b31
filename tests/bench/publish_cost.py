#!/usr/bin/env python3
"""What publishing the live state (s3tui/live/publish.py) costs, run by hand (not by pytest):

    python tests/bench/publish_cost.py [MiB] [put options...]   # e.g. 512 --bwlimit 20MB

A headless put of a MiB-sized stream and of a 2,000-file tree against the lab server; each
prints the process's CPU (wait4) and the publisher thread's own CPU, which the upload publishes
in its state (publisher_cpu_s, time.thread_time of that thread, first and last write included).
"""

import json
import os
import random
import shutil
import subprocess
import sys
import tempfile
import time
from pathlib import Path

from s3tui.lab import LocalS3

tmp = Path(tempfile.mkdtemp())
env = dict(os.environ)
for v in ("XDG_STATE_HOME", "XDG_CACHE_HOME", "XDG_CONFIG_HOME"):
    env[v] = str(tmp / v)
server = LocalS3()
server.start()
server.create_bucket("bench")
env.update(server.env())
size = int(sys.argv[1]) if len(sys.argv) > 1 else 1024
src = tmp / "src.bin"
with open(src, "wb") as f:
    r = random.Random(1)
    for _ in range(size // 16):
        f.write(r.randbytes(16 << 20))
tree = tmp / "tree"
tree.mkdir()
r = random.Random(2)
for i in range(2000):
    (tree / f"f{i:04}.bin").write_bytes(r.randbytes(r.randint(1024, 65536)))


def run(args, stdin=None):
    t0 = time.monotonic()
    p = subprocess.Popen(
        [
            sys.executable,
            "-m",
            "s3tui",
            "put",
            *args,
            "--endpoint-url",
            server.endpoint_url,
            "--no-tui",
            "-q",
        ],
        env=env,
        stdin=stdin,
    )
    _, status, ru = os.wait4(p.pid, 0)
    wall = time.monotonic() - t0
    base = tmp / "XDG_STATE_HOME" / "s3tui" / "live"
    st = max(
        (json.loads((d / "state.json").read_text()) for d in base.iterdir()),
        key=lambda s: s["started"],
    )
    cpu = ru.ru_utime + ru.ru_stime
    pub, writes = st["publisher_cpu_s"], st["publisher_writes"]
    print(
        f"{args[0]:>8}: exit {os.waitstatus_to_exitcode(status)} wall {wall:.1f}s "
        f"process CPU {cpu:.2f}s; publisher CPU {pub:.4f}s over {writes} writes = "
        f"{1000 * pub / writes:.2f} ms/write, {100 * pub / cpu:.2f}% of the process CPU, "
        f"{100 * pub / wall:.3f}% of one core, state.json {len(json.dumps(st)) // 1024} KiB"
    )


try:
    with open(src, "rb") as f:
        run(["-", "s3://bench/stream.bin", *sys.argv[2:]], stdin=f)
    run([str(tree), "s3://bench/tree/"], stdin=subprocess.DEVNULL)
finally:
    server.stop()
    shutil.rmtree(tmp, ignore_errors=True)
