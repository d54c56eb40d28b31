"""``s3tui put --from CMD s3://bucket/key`` against a real SeaweedFS: the command's exit status
decides whether anything is stored, its stderr reaches the user, a stop stops it too."""

from __future__ import annotations

import json
import os
import shlex
import signal
import subprocess
import sys
import time
from pathlib import Path
from typing import Any

import pytest

from s3tui.lab import LocalS3
from tests.helpers import assert_landed, random_bytes
from tests.integration.cli_runner import Run, s3tui_cmd

MiB = 1024 * 1024
OLD = random_bytes(3 * MiB + 7, seed=40)  # yesterday's good backup


def _cmd(command: str, dest: str, *extra: str, endpoint: str, spool: Path) -> list[str]:
    return s3tui_cmd(
        "put",
        "--from",
        command,
        dest,
        "--endpoint-url",
        endpoint,
        "--spool-dir",
        str(spool),
        "--chunk-size",
        "5MiB",
        *extra,
    )


def _put_from(
    command: str, dest: str, *extra: str, env: dict[str, str], endpoint: str, spool: Path
) -> Run:
    p = subprocess.run(
        _cmd(command, dest, *extra, endpoint=endpoint, spool=spool),
        stdin=subprocess.DEVNULL,
        env=env,
        capture_output=True,
        timeout=120,
    )
    return Run(p.returncode, p.stdout.decode(errors="replace"), p.stderr.decode(errors="replace"))


def _writer(n: int, seed: int) -> str:
    """A command writing ``random_bytes(n, seed)`` to its stdout."""
    code = f"import random, sys; sys.stdout.buffer.write(random.Random({seed}).randbytes({n}))"
    return f"{shlex.quote(sys.executable)} -c {shlex.quote(code)}"


def _dead(pid: int) -> bool:
    """Gone, or a zombie nobody reaped (this container's init does not reap orphans)."""
    try:
        with open(f"/proc/{pid}/stat", "rb") as f:
            stat = f.read()
    except FileNotFoundError:
        return True
    return stat[stat.rfind(b")") + 2 :].split()[0] in (b"Z", b"X")


def _wait_for(pred: Any, timeout: float = 30) -> None:
    end = time.monotonic() + timeout
    while not pred():
        assert time.monotonic() < end, "condition not reached"
        time.sleep(0.05)


def test_a_command_that_succeeds_lands_its_bytes(
    local_s3: LocalS3, s3_client: Any, bucket: str, s3_env: dict[str, str], tmp_path: Path
) -> None:
    n = 20 * MiB + 123
    spool = tmp_path / "spool"
    stats = tmp_path / "stats.jsonl"
    r = _put_from(
        _writer(n, seed=41),
        f"s3://{bucket}/db.dump",
        "--stats-file",
        str(stats),
        env=s3_env,
        endpoint=local_s3.endpoint_url,
        spool=spool,
    )
    assert r.code == 0, r.stderr
    assert_landed(s3_client, bucket, {"db.dump": random_bytes(n, seed=41)}, spool)
    head = s3_client.head_object(Bucket=bucket, Key="db.dump")
    assert head["ETag"].strip('"').endswith("-5")  # a real multipart upload, 5 parts
    assert "uploaded 20 MiB" in r.stderr and "Traceback" not in r.stderr


@pytest.mark.parametrize(
    ("command", "says"),
    [
        # 12 MB, then a second of silence: two parts are stored before the command fails.
        ("head -c 12000000 /dev/zero; sleep 1; exit 3", "the command exited with status 3: "),
        # pipefail: the first stage fails, the last (cat) succeeds.
        (
            "{ head -c 12000000 /dev/zero; sleep 1; exit 4; } | cat",
            "the command exited with status 4: ",
        ),
        ("head -c 12000000 /dev/zero; sleep 1; kill -9 $$", "the command was killed by SIGKILL: "),
        (
            "{ head -c 12000000 /dev/zero; sleep 1; kill -9 $BASHPID; } | cat",
            "the command exited with status 137 (likely killed by SIGKILL): ",
        ),
        (
            "head -c 12000000 /dev/zero; sleep 1; nosuchcmd",
            "exited with status 127 (command not found)",
        ),
        # Shorter than one chunk: it would be a single PutObject.
        ("head -c 100000 /dev/zero; exit 5", "the command exited with status 5: "),
        ("sh -c 'exit 4' | cat", "the command exited with status 4: "),
    ],
)
def test_a_failing_command_leaves_the_old_object(
    command: str,
    says: str,
    local_s3: LocalS3,
    s3_client: Any,
    bucket: str,
    s3_env: dict[str, str],
    tmp_path: Path,
) -> None:
    s3_client.put_object(Bucket=bucket, Key="db.dump", Body=OLD)
    spool = tmp_path / "spool"
    stats = tmp_path / "stats.jsonl"
    r = _put_from(
        command,
        f"s3://{bucket}/db.dump",
        "--stats-file",
        str(stats),
        env=s3_env,
        endpoint=local_s3.endpoint_url,
        spool=spool,
    )
    assert r.code == 1, r.stderr
    last = r.stderr.strip().splitlines()[-1]
    assert last.startswith("s3tui: error: ") and says in last, r.stderr
    assert last.endswith("the upload was aborted, nothing was stored"), last
    assert "Traceback" not in r.stderr
    assert_landed(s3_client, bucket, {"db.dump": OLD}, spool)  # unchanged, no upload left open
    records = [json.loads(line) for line in stats.read_text().splitlines()]
    parts = [rec for rec in records if rec["part"] is not None]
    if "100000" in command or "exit 4' |" in command:
        assert parts == []  # no PutObject was even tried
    else:
        assert {rec["part"] for rec in parts if rec["ok"]} >= {1, 2}  # parts went up, in vain


def test_the_commands_stderr_is_passed_through(
    local_s3: LocalS3, s3_client: Any, bucket: str, s3_env: dict[str, str], tmp_path: Path
) -> None:
    spool = tmp_path / "spool"
    command = (
        "echo 'pg_dump: warning: über  spaced\t tab' >&2; head -c 6000000 /dev/zero; "
        "printf 'no newline at the end' >&2"
    )
    dest = f"s3://{bucket}/k"
    r = _put_from(command, dest, "-q", env=s3_env, endpoint=local_s3.endpoint_url, spool=spool)
    assert r.code == 0, r.stderr
    # Verbatim, each on a line of its own, even with -q (which hides s3tui's own lines).
    assert r.stderr.splitlines() == [
        "pg_dump: warning: über  spaced\t tab",
        "no newline at the end",
    ]
    assert_landed(s3_client, bucket, {"k": bytes(6_000_000)}, spool)

    r = _put_from(command, dest, "--json", env=s3_env, endpoint=local_s3.endpoint_url, spool=spool)
    assert r.code == 0, r.stderr
    lines = [json.loads(line) for line in r.stderr.splitlines()]
    assert [x["line"] for x in lines if x["type"] == "stderr"] == [
        "pg_dump: warning: über  spaced\t tab",
        "no newline at the end",
    ]
    assert lines[-1]["type"] == "summary" and lines[-1]["ok"] is True


def test_a_blocked_stderr_does_not_block_the_command(
    local_s3: LocalS3, s3_client: Any, bucket: str, s3_env: dict[str, str], tmp_path: Path
) -> None:
    """Nobody reads s3tui's stderr for a while: the command still runs to its end."""
    spool, marker = tmp_path / "spool", tmp_path / "done"
    code = "import sys\nfor i in range(60000): print(f'line {i:06d} ' + 'x' * 80, file=sys.stderr)"
    command = (
        f"{shlex.quote(sys.executable)} -c {shlex.quote(code)}; head -c 1000 /dev/zero; "
        f"touch {shlex.quote(str(marker))}"
    )
    p = subprocess.Popen(
        _cmd(command, f"s3://{bucket}/k", endpoint=local_s3.endpoint_url, spool=spool),
        stdin=subprocess.DEVNULL,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.PIPE,
        env=s3_env,
    )
    try:
        _wait_for(marker.exists)  # 5 MB of stderr, s3tui's stderr pipe (64 KiB) full: done
        assert p.poll() is None  # s3tui itself waits for its stderr, as it should
        assert p.stderr is not None
        err = p.stderr.read().decode()
        assert p.wait(60) == 0, err
    finally:
        p.kill()
        p.wait()
    lines = err.splitlines()
    assert lines[0] == "line 000000 " + "x" * 80
    assert any("lines of the command's stderr were dropped" in line for line in lines), err[-500:]
    assert_landed(s3_client, bucket, {"k": bytes(1000)}, spool)


PRODUCING = (
    "echo $$ >> {P}; while :; do echo $BASHPID >> {P}; head -c 1000000 /dev/zero; "
    "sleep 0.05; done | cat"
)


@pytest.mark.parametrize(
    ("how", "command", "n_pids"),
    [
        ("producing", PRODUCING, 2),
        ("producing, SIGINT", PRODUCING, 2),
        # SIGTERM ignored by the whole group: SIGKILL after the grace period.
        (
            "ignoring SIGTERM",
            "trap '' TERM; echo $$ >> {P}; while :; do head -c 1000000 /dev/zero; sleep 0.05; done",
            1,
        ),
        # Its output ended, it has not exited: the stop must not hang waiting for it.
        (
            "output closed",
            "echo $$ >> {P}; head -c 12000000 /dev/zero; exec >&-; sleep 300 & echo $! >> {P}; "
            "wait",
            2,
        ),
    ],
)
def test_a_signal_stops_the_command_and_aborts(
    how: str,
    command: str,
    n_pids: int,
    local_s3: LocalS3,
    s3_client: Any,
    bucket: str,
    s3_env: dict[str, str],
    tmp_path: Path,
) -> None:
    s3_client.put_object(Bucket=bucket, Key="db.dump", Body=OLD)
    spool, pids = tmp_path / "spool", tmp_path / "pids"
    command = command.replace("{P}", shlex.quote(str(pids)))

    def noted() -> set[int]:
        return {int(x) for x in pids.read_text().split()} if pids.exists() else set()

    p = subprocess.Popen(
        _cmd(command, f"s3://{bucket}/db.dump", endpoint=local_s3.endpoint_url, spool=spool),
        stdin=subprocess.DEVNULL,
        stderr=subprocess.PIPE,
        env=s3_env,
    )
    try:
        _wait_for(lambda: s3_client.list_multipart_uploads(Bucket=bucket).get("Uploads"))
        _wait_for(lambda: len(noted()) >= n_pids)
        time.sleep(1.5)  # parts are being read and stored
        assert not any(_dead(pid) for pid in noted())
        t0 = time.monotonic()
        sigint = how.endswith("SIGINT")
        p.send_signal(signal.SIGINT if sigint else signal.SIGTERM)
        assert p.wait(30) == (130 if sigint else 143)
        assert time.monotonic() - t0 < 10
    finally:
        p.kill()
        p.wait()
    err = p.stderr.read().decode() if p.stderr else ""
    said = "interrupted (Ctrl-C)" if how.endswith("SIGINT") else "terminated (SIGTERM)"
    assert said in err and "Traceback" not in err, err
    assert all(_dead(pid) for pid in noted()), (how, noted())
    assert_landed(s3_client, bucket, {"db.dump": OLD}, spool)


@pytest.mark.parametrize(
    ("args", "says"),
    [
        (["put", "--from", "touch {m}", "-", "s3://bucket/k"], "give only DEST"),
        (["put", "--from", "touch {m}", "./file", "s3://bucket/k"], "give only DEST"),
        (
            ["put", "--from", "touch {m}", "--bucket", "bucket", "--key", "k", "extra"],
            "give only DEST",
        ),
        (["put", "--from", "touch {m}"], "needs DEST"),
        (["put", "--from", " ", "s3://bucket/k"], "--from needs a command"),
        (["put", "--from", "touch {m}", "s3://bucket/prefix/"], "a stream needs a full key"),
        (
            ["put", "--from", "touch {m}", "s3://bucket/k", "--exclude", "x"],
            "not to stdin or --from",
        ),
    ],
)
def test_usage_errors_exit_2_before_the_command_runs(
    args: list[str], says: str, s3_env: dict[str, str], tmp_path: Path
) -> None:
    marker = tmp_path / "ran"
    argv = [a.replace("{m}", shlex.quote(str(marker))) for a in args]
    p = subprocess.run(
        s3tui_cmd(*argv), stdin=subprocess.DEVNULL, env=s3_env, capture_output=True, timeout=30
    )
    err = p.stderr.decode()
    assert p.returncode == 2, err
    assert err.startswith("s3tui: error: ") and len(err.strip().splitlines()) == 1, err
    assert says in err, err
    assert not marker.exists()


def test_put_help_says_what_a_pipe_cannot_see(s3_env: dict[str, str]) -> None:
    p = subprocess.run(s3tui_cmd("put", "--help"), env=s3_env, capture_output=True, timeout=30)
    text = " ".join(p.stdout.decode().split())
    assert p.returncode == 0
    assert "--from CMD" in text and "only if CMD exits 0" in text
    assert "cannot see whether the producer of a pipe succeeded" in text


@pytest.mark.parametrize("source", ["stdin", "--from"])
def test_a_closed_stderr_neither_blocks_nor_fails_the_upload(
    source: str,
    local_s3: LocalS3,
    s3_client: Any,
    bucket: str,
    s3_env: dict[str, str],
    tmp_path: Path,
) -> None:
    """`s3tui ... 2>&1 | head -1`: writing progress fails; the upload and its exit code must not.

    Before, the broken pipe surfaced as exit 1 ("nothing was stored") with the object stored.
    """
    spool = tmp_path / "spool"
    data = random_bytes(12 * MiB, seed=42)
    src = tmp_path / "data"
    src.write_bytes(data)
    chatty = f"for i in $(seq 3000); do echo err $i >&2; done; cat {shlex.quote(str(src))}"
    if source == "stdin":
        argv = s3tui_cmd("put", "-", f"s3://{bucket}/k", "--endpoint-url", local_s3.endpoint_url)
        argv += ["--spool-dir", str(spool), "--chunk-size", "5MiB"]
    else:
        argv = _cmd(chatty, f"s3://{bucket}/k", endpoint=local_s3.endpoint_url, spool=spool)
    r, w = os.pipe()
    os.close(r)  # every write to s3tui's stderr fails with EPIPE
    try:
        with open(src, "rb") as stdin:
            p = subprocess.run(argv, stdin=stdin, stderr=w, env=s3_env, timeout=60)
    finally:
        os.close(w)
    assert p.returncode == 0
    assert_landed(s3_client, bucket, {"k": data}, spool)


def test_dashboard_shows_the_commands_stderr_and_keeps_the_old_object(
    local_s3: LocalS3, s3_client: Any, bucket: str, s3_env: dict[str, str], tmp_path: Path
) -> None:
    """In a terminal --from opens the dashboard (stdin is not data): the command's stderr is in
    its log, the failure in its summary, and the exit code is headless mode's."""
    from tests.tui.test_tui_pty import COLS, ROWS, PtyRun

    s3_client.put_object(Bucket=bucket, Key="db.dump", Body=OLD)
    spool = tmp_path / "spool"
    command = "echo 'pg_dump: error: connection lost' >&2; head -c 12000000 /dev/zero; exit 3"
    env = {**s3_env, "TERM": "xterm-256color", "COLUMNS": str(COLS), "LINES": str(ROWS)}
    run = PtyRun(
        _cmd(command, f"s3://{bucket}/db.dump", endpoint=local_s3.endpoint_url, spool=spool), env
    )
    try:
        run.wait_for("Press any key to close", timeout=60)
        assert "connection lost" in run.text()
        run.press(b" ")
        assert run.wait() == 1, run.text()[-3000:]
        assert "the command exited with status 3" in run.text()
    finally:
        run.close()
    assert_landed(s3_client, bucket, {"db.dump": OLD}, spool)


def test_a_closed_stdin_does_not_matter_to_a_command(
    local_s3: LocalS3, s3_client: Any, bucket: str, s3_env: dict[str, str], tmp_path: Path
) -> None:
    """Cron may start s3tui with fd 0 closed: the command gets no stdin, the upload goes on."""
    spool = tmp_path / "spool"
    p = subprocess.run(
        _cmd(
            _writer(MiB, seed=43),
            f"s3://{bucket}/closed-stdin",
            endpoint=local_s3.endpoint_url,
            spool=spool,
        ),
        stdin=subprocess.DEVNULL,
        preexec_fn=lambda: os.close(0),
        env=s3_env,
        capture_output=True,
        timeout=120,
    )
    err = p.stderr.decode(errors="replace")
    assert p.returncode == 0, err
    assert_landed(s3_client, bucket, {"closed-stdin": random_bytes(MiB, seed=43)}, spool)
