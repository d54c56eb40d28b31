"""``/dev/tty`` detection and the fd-0 swap, in processes with and without a terminal."""

from __future__ import annotations

import os
import pty
import subprocess
import sys
import time
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]


def test_no_terminal_in_a_new_session() -> None:
    """A process without a controlling terminal (cron, CI) gets False and a usage error."""
    code = (
        "from s3tui.tui.terminal import terminal_available, swap_tty_onto_stdin\n"
        "from s3tui.errors import UsageError\n"
        "print(terminal_available())\n"
        "try:\n"
        "    swap_tty_onto_stdin()\n"
        "except UsageError as e:\n"
        "    print('usage', e.exit_code, '--tui' in str(e))\n"
    )
    out = subprocess.run(
        [sys.executable, "-c", code],
        cwd=ROOT,
        capture_output=True,
        text=True,
        start_new_session=True,  # setsid: no controlling terminal
        check=True,
    ).stdout.split("\n")
    assert out[0] == "False"
    assert out[1] == "usage 2 True"


def test_swap_keeps_the_pipe_and_puts_the_terminal_on_fd0() -> None:
    """Under a pseudo-terminal, with a pipe on fd 0: after the swap fd 0 is the terminal and
    the returned fd still reads every byte of the pipe."""
    code = (
        "import os\n"
        "r, w = os.pipe()\n"
        "os.write(w, b'payload-123'); os.close(w)\n"
        "os.dup2(r, 0); os.close(r)\n"
        "from s3tui.tui.terminal import terminal_available, swap_tty_onto_stdin\n"
        "ok = terminal_available()\n"
        "data_fd = swap_tty_onto_stdin()\n"
        "print('RESULT', ok, os.isatty(0), os.read(data_fd, 100).decode(), flush=True)\n"
    )
    pid, master = pty.fork()
    if pid == 0:  # pragma: no cover - child
        os.chdir(ROOT)
        os.execv(sys.executable, [sys.executable, "-c", code])
    output = b""
    deadline = time.monotonic() + 20
    while time.monotonic() < deadline:
        try:
            chunk = os.read(master, 1024)
        except OSError:
            break
        if not chunk:
            break
        output += chunk
    os.waitpid(pid, 0)
    os.close(master)
    line = next((x for x in output.decode().splitlines() if x.startswith("RESULT")), None)
    if line is None:
        pytest.fail(f"no result from the child: {output!r}")
    assert line.split() == ["RESULT", "True", "True", "payload-123"]
