"""``s3tui put - DEST --tui`` under a real pseudo-terminal, with the data on a piped stdin.

The child gets its own session with the pty as controlling terminal, so ``/dev/tty`` is the
pty: keys typed on the pty's master must reach the dashboard (fd 0 swapped to the terminal)
while every byte of the pipe still lands in S3.
"""

from __future__ import annotations

import contextlib
import fcntl
import os
import re
import struct
import subprocess
import sys
import termios
import threading
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from s3tui.lab import LocalS3
from tests.helpers import (
    MiB,
    assert_no_incomplete_uploads,
    assert_object_landed,
    assert_spool_empty,
    random_bytes,
)

COLS, ROWS = 120, 36
# CSI sequences, OSC strings, charset selection and the few two-byte escapes Textual writes.
_ANSI = re.compile(
    rb"\x1b\[[0-?]*[ -/]*[@-~]|\x1b\][^\x07\x1b]*(?:\x07|\x1b\\)|\x1b[()][0-9A-Za-z]|\x1b[=>78]"
)


def _become_tty_owner() -> None:
    """In the child, after ``setsid`` (start_new_session): make the pty on fd 1 its terminal."""
    fcntl.ioctl(1, termios.TIOCSCTTY, 0)


class PtyRun:
    """A child process with stdin a pipe and stdout/stderr a pty of ROWS x COLS."""

    def __init__(self, args: list[str], env: dict[str, str]) -> None:
        master, slave = os.openpty()
        fcntl.ioctl(slave, termios.TIOCSWINSZ, struct.pack("HHHH", ROWS, COLS, 0, 0))
        self.proc = subprocess.Popen(
            args,
            stdin=subprocess.PIPE,
            stdout=slave,
            stderr=slave,
            env=env,
            start_new_session=True,
            preexec_fn=_become_tty_owner,
        )
        os.close(slave)
        self.master = master
        self._out = bytearray()
        self._lock = threading.Lock()
        self.fed = 0
        # Textual must never block on a full pty: drain it all the time.
        self._reader = threading.Thread(target=self._read, daemon=True, name="pty-reader")
        self._reader.start()

    def _read(self) -> None:
        while True:
            try:
                chunk = os.read(self.master, 65536)
            except OSError:  # EIO: the child closed its end
                return
            if not chunk:
                return
            with self._lock:
                self._out += chunk

    def text(self) -> str:
        with self._lock:
            raw = bytes(self._out)
        return _ANSI.sub(b"", raw).decode("utf-8", errors="replace")

    def wait_for(self, needle: str, timeout: float = 30.0) -> None:
        deadline = time.monotonic() + timeout
        while needle not in self.text():
            if self.proc.poll() is not None:
                raise AssertionError(
                    f"exited ({self.proc.returncode}) before {needle!r}:\n{self.text()[-3000:]}"
                )
            if time.monotonic() > deadline:
                raise AssertionError(f"no {needle!r} on the terminal:\n{self.text()[-3000:]}")
            time.sleep(0.05)

    def press(self, keys: bytes) -> None:
        os.write(self.master, keys)

    def feed(self, data: bytes, rate: float | None = None, block: int = 256 * 1024) -> None:
        """Write ``data`` to the child's stdin (at about ``rate`` bytes/s), then close it."""
        assert self.proc.stdin is not None
        t0 = time.monotonic()
        try:
            for i in range(0, len(data), block):
                self.proc.stdin.write(data[i : i + block])
                self.proc.stdin.flush()
                self.fed += len(data[i : i + block])
                if rate:
                    ahead = self.fed / rate - (time.monotonic() - t0)
                    if ahead > 0:
                        time.sleep(ahead)
            self.proc.stdin.close()
        except (BrokenPipeError, ValueError):
            pass  # the child stopped reading (an abort): expected

    def feed_in_thread(self, data: bytes, rate: float | None = None) -> threading.Thread:
        t = threading.Thread(target=self.feed, args=(data, rate), daemon=True, name="pty-feeder")
        t.start()
        return t

    def wait(self, timeout: float = 60.0) -> int:
        try:
            code = self.proc.wait(timeout)
        except subprocess.TimeoutExpired:
            self.proc.kill()
            self.proc.wait(5)
            raise AssertionError(f"s3tui did not exit:\n{self.text()[-3000:]}") from None
        self._reader.join(5)
        return code

    def hang_up(self) -> None:
        """Close the terminal's master side, as an ssh session that drops does: the kernel
        sends SIGHUP to the child, whose controlling terminal it was."""
        master, self.master = self.master, -1
        os.close(master)

    def close(self) -> None:
        if self.proc.poll() is None:
            self.proc.kill()
            self.proc.wait(5)
        if self.proc.stdin is not None:
            with contextlib.suppress(BrokenPipeError):
                self.proc.stdin.close()
        self._reader.join(5)
        if self.master >= 0:
            os.close(self.master)


class PtyPut:
    """Starts ``s3tui put - s3://BUCKET/KEY --tui`` runs under a pty; ``spool`` is their spool."""

    def __init__(self, env: dict[str, str], endpoint: str, bucket: str, spool: Path) -> None:
        self.env = {**env, "TERM": "xterm-256color", "COLUMNS": str(COLS), "LINES": str(ROWS)}
        self.env.pop("NO_COLOR", None)
        self.endpoint = endpoint
        self.bucket = bucket
        self.spool = spool
        self.runs: list[PtyRun] = []

    def __call__(self, key: str) -> PtyRun:
        args = [
            sys.executable,
            "-m",
            "s3tui",
            "put",
            "-",
            f"s3://{self.bucket}/{key}",
            "--endpoint-url",
            self.endpoint,
            "--tui",
            "--chunk-size",
            "5MiB",
            "--spool-dir",
            str(self.spool),
        ]
        run = PtyRun(args, self.env)
        self.runs.append(run)
        return run


@pytest.fixture
def pty_put(
    s3_env: dict[str, str], local_s3: LocalS3, bucket: str, tmp_path: Path
) -> Iterator[PtyPut]:
    put = PtyPut(s3_env, local_s3.endpoint_url, bucket, tmp_path / "spool")
    yield put
    for run in put.runs:
        run.close()


def test_tui_with_piped_stdin_takes_keys_and_uploads_every_byte(
    pty_put: PtyPut, s3_client: Any, bucket: str
) -> None:
    data = random_bytes(12 * MiB, seed=11)
    run = pty_put("pty/whole")
    feeder = run.feed_in_thread(data)
    # The summary stays up until a key: one typed on the terminal must close it.
    run.wait_for("Press any key to close")
    assert "Upload complete" in run.text()
    feeder.join(10)
    assert run.fed == len(data)
    assert run.proc.poll() is None  # still waiting for the key
    run.press(b" ")
    assert run.wait() == 0, run.text()[-3000:]
    # The outcome is printed to the terminal after the dashboard closes (the scrollback).
    assert "s3tui: upload complete: stdin → s3://" in run.text()
    assert_object_landed(s3_client, bucket, "pty/whole", data, pty_put.spool)


def test_q_then_y_mid_stream_aborts_with_130(pty_put: PtyPut, s3_client: Any, bucket: str) -> None:
    data = random_bytes(60 * MiB, seed=12)
    run = pty_put("pty/aborted")
    feeder = run.feed_in_thread(data, rate=6 * MiB)  # ~10 s of stream; we quit well before
    run.wait_for("Parts in flight")
    deadline = time.monotonic() + 20
    while run.fed < 12 * MiB and time.monotonic() < deadline:
        time.sleep(0.05)
    run.press(b"q")
    run.wait_for("Abort the upload?")
    run.press(b"y")
    assert run.wait() == 130, run.text()[-3000:]
    feeder.join(10)
    assert run.fed < len(data)
    assert "s3tui: upload cancelled" in run.text()
    listed = s3_client.list_objects_v2(Bucket=bucket).get("Contents", [])
    assert not listed, [o["Key"] for o in listed]
    assert_no_incomplete_uploads(s3_client, bucket)
    assert_spool_empty(pty_put.spool)


def test_terminal_hang_up_aborts_with_129(pty_put: Any, s3_client: Any, bucket: str) -> None:
    data = random_bytes(60 * MiB, seed=13)
    run = pty_put("pty/hung-up")
    feeder = run.feed_in_thread(data, rate=6 * MiB)
    run.wait_for("Parts in flight")
    deadline = time.monotonic() + 20
    while run.fed < 12 * MiB and time.monotonic() < deadline:
        time.sleep(0.05)
    run.hang_up()
    assert run.wait() == 129
    feeder.join(10)
    assert run.fed < len(data)
    assert not s3_client.list_objects_v2(Bucket=bucket).get("Contents")
    assert_no_incomplete_uploads(s3_client, bucket)
    assert_spool_empty(pty_put.spool)
