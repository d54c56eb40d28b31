"""The --from command runner without a server: exit-status wording, the shell, the label."""

from __future__ import annotations

import os
import shutil
import signal
import subprocess
import threading

import pytest

from s3tui.engine.producer import CommandProducer, command_label, describe_exit, find_shell
from s3tui.engine.progress import STDERR_EVENT, Progress


@pytest.mark.parametrize(
    ("returncode", "says"),
    [
        (0, None),
        (3, "the command exited with status 3"),
        (1, "the command exited with status 1"),
        (127, "the command exited with status 127 (command not found)"),
        (126, "the command exited with status 126 (command found but not executable)"),
        (137, "the command exited with status 137 (likely killed by SIGKILL)"),
        (141, "the command exited with status 141 (likely killed by SIGPIPE)"),
        (255, "the command exited with status 255"),
        (-signal.SIGKILL, "the command was killed by SIGKILL"),
        (-signal.SIGTERM, "the command was killed by SIGTERM"),
        (-signal.SIGSEGV, "the command was killed by SIGSEGV"),
    ],
)
def test_exit_status_wording(returncode: int, says: str | None) -> None:
    assert describe_exit(returncode) == says


def _run(command: str) -> tuple[str | None, list[str]]:
    """Run ``command`` through the real runner; its failure line and its stderr lines."""
    progress = Progress("t", "s3://b/k")
    lines: list[str] = []
    progress.subscribe(lambda ev: lines.append(ev.reason) if ev.kind == STDERR_EVENT else None)
    producer = CommandProducer(command, grace=1.0)
    producer.start(progress, threading.Event())
    try:
        with open(producer.stdout_fd, "rb", closefd=False) as out:
            out.read()
        return producer.finished(), lines
    finally:
        producer.stop()


def test_the_runner_reports_what_the_shell_saw() -> None:
    assert _run("echo data; echo oops >&2") == (None, ["oops"])
    assert _run("exit 3")[0] == "the command exited with status 3"
    assert _run("kill -9 $$")[0] == "the command was killed by SIGKILL"
    assert _run("sh -c 'exit 4' | cat")[0] == "the command exited with status 4"  # pipefail
    problem, lines = _run("nosuchcmd-s3tui-test")
    assert problem == "the command exited with status 127 (command not found)"
    assert any("nosuchcmd-s3tui-test" in line and "not found" in line for line in lines)


def test_finished_returns_when_the_job_stops() -> None:
    """A command that closed its stdout but keeps running must not hold up a stop."""
    stop = threading.Event()
    producer = CommandProducer("exec >&-; sleep 30", grace=1.0)
    producer.start(Progress("t", "s3://b/k"), stop)
    try:
        threading.Timer(0.3, stop.set).start()
        assert producer.finished() == "the upload was stopped before the command ended"
    finally:
        producer.stop()
    pid = producer.pid
    assert pid is not None
    with pytest.raises(ProcessLookupError):
        os.kill(pid, 0)  # reaped by stop()


def test_without_bash_sh_runs_it_and_says_whether_pipefail_exists() -> None:
    sh = shutil.which("sh")
    assert sh is not None
    shell = find_shell(lambda name: None if name == "bash" else shutil.which(name))
    assert shell.argv[0] == sh
    accepts = subprocess.run([sh, "-o", "pipefail", "-c", ":"], capture_output=True).returncode
    assert shell.pipefail == (accepts == 0)
    progress = Progress("t", "s3://b/k")
    producer = CommandProducer("true", shell=shell)
    producer.start(progress, threading.Event())
    producer.finished()
    producer.stop()
    warnings = [ev.reason for ev in progress.snapshot().events if ev.kind == "warning"]
    if shell.pipefail:
        assert warnings == []
    else:
        assert len(warnings) == 1 and "no pipefail" in warnings[0]


@pytest.mark.parametrize(
    ("command", "label"),
    [
        ("pg_dump mydb | gzip", "pg_dump (--from)"),
        ("PGPASSWORD=s3cret /usr/bin/pg_dump -h db mydb", "pg_dump (--from)"),
        ("mysqldump -pS3CRET --all-databases", "mysqldump (--from)"),
        ("'unbalanced", "'unbalanced (--from)"),
    ],
)
def test_the_label_names_the_program_only(command: str, label: str) -> None:
    assert command_label(command) == label
    assert "s3cret" not in label.lower()


def test_stop_without_start_closes_both_ends() -> None:
    before = len(os.listdir("/proc/self/fd"))
    producer = CommandProducer("true")
    assert len(os.listdir("/proc/self/fd")) == before + 2  # the stdout pipe
    producer.stop()
    producer.stop()  # idempotent
    assert len(os.listdir("/proc/self/fd")) == before
