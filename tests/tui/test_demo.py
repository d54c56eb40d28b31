"""``s3tui demo``: the README's first command, run headless (``--no-tui``) end to end.

It starts its own SeaweedFS and fault proxy, streams a small synthetic dump through a fault
(the third part request stalls and is cut at its deadline), and must clean up after itself:
no server process and no temp dir (server data or spool) left behind.
"""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest

from s3tui.lab import find_weed


def processes_mentioning(text: str) -> list[str]:
    """Command lines of live processes that mention ``text`` (e.g. a weed in our temp dir)."""
    found = []
    for pid in os.listdir("/proc"):
        if not pid.isdigit():
            continue
        try:
            with open(f"/proc/{pid}/cmdline", "rb") as f:
                cmd = f.read().replace(b"\0", b" ").decode(errors="replace")
        except OSError:
            continue
        if text in cmd:
            found.append(f"{pid}: {cmd}")
    return found


@pytest.mark.skipif(find_weed() is None, reason="SeaweedFS `weed` not installed")
def test_demo_headless_uploads_retries_and_cleans_up(tmp_path: Path) -> None:
    tmp = tmp_path / "tmp"
    tmp.mkdir()
    env = {**os.environ, "TMPDIR": str(tmp)}  # the server's data dir and the spool go here
    proc = subprocess.run(
        [sys.executable, "-m", "s3tui", "demo", "--no-tui", "--size", "12MiB"],
        env=env,
        stdin=subprocess.DEVNULL,
        capture_output=True,
        text=True,
        timeout=120,
    )
    out, err = proc.stdout, proc.stderr
    assert proc.returncode == 0, out + err
    assert "streaming 12 MiB" in out
    assert "retry part 3 attempt 1: stalled" in err  # the injected stall, cut and retried
    assert "s3tui: uploaded 12 MiB to s3://s3tui-demo/db/demo-dump.sql" in err
    assert "3 parts, 1 retry" in err
    assert "the server and its temp dir are gone" in out
    assert not list(tmp.iterdir()), f"left in TMPDIR: {list(tmp.iterdir())}"
    assert not processes_mentioning(str(tmp))
