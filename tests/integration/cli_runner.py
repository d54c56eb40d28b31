"""Run the real ``s3tui`` command in a subprocess, as users and cron jobs do."""

from __future__ import annotations

import subprocess
import sys
from dataclasses import dataclass
from pathlib import Path


@dataclass
class Run:
    code: int
    stdout: str
    stderr: str


def s3tui_cmd(*args: str) -> list[str]:
    return [sys.executable, "-m", "s3tui", *args]


def run_put(
    data: bytes,
    dest: str,
    *extra: str,
    env: dict[str, str],
    endpoint: str,
    spool: Path,
    timeout: float = 120,
) -> Run:
    cmd = s3tui_cmd("put", "-", dest, "--endpoint-url", endpoint, "--spool-dir", str(spool), *extra)
    return _run(cmd, env, timeout, data)


def run_put_paths(
    *args: str, env: dict[str, str], endpoint: str, spool: Path, timeout: float = 60
) -> Run:
    """``s3tui put SOURCE... DEST [options]`` for files and directories (stdin is closed)."""
    cmd = s3tui_cmd("put", *args, "--endpoint-url", endpoint, "--spool-dir", str(spool))
    return _run(cmd, env, timeout, None)


def run_s3tui(*args: str, env: dict[str, str], timeout: float = 60) -> Run:
    """Any ``s3tui`` subcommand, stdin closed."""
    return _run(s3tui_cmd(*args), env, timeout, None)


def _run(cmd: list[str], env: dict[str, str], timeout: float, data: bytes | None) -> Run:
    """Run ``cmd`` with ``data`` on its stdin, or with stdin closed when there is none."""
    stdin = subprocess.DEVNULL if data is None else None
    p = subprocess.run(cmd, input=data, stdin=stdin, env=env, capture_output=True, timeout=timeout)
    return Run(p.returncode, p.stdout.decode(errors="replace"), p.stderr.decode(errors="replace"))
