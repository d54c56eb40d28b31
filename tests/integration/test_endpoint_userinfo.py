"""An ``--endpoint-url`` with ``user:password@`` works, and the password reaches no output and
no file: not the put-templates cache, the journal, the stats file, stdout or stderr."""

from __future__ import annotations

import os
import signal
import socket
import subprocess
import time
from pathlib import Path
from typing import Any

from s3tui.engine.remote import fast
from s3tui.lab import LocalS3
from tests.helpers import assert_landed, random_bytes, write_tree
from tests.integration.cli_runner import run_put, run_put_paths, s3tui_cmd

SECRET = "pa55-in-the-url"
MiB = 1024 * 1024


def _with_userinfo(url: str) -> str:
    return url.replace("://", f"://s3user:{SECRET}@", 1)


def _files_under(root: Path) -> list[Path]:
    return [p for p in root.rglob("*") if p.is_file()]


def test_tree_upload_keeps_the_password_out_of_output_and_the_cache(
    local_s3: LocalS3,
    s3_client: Any,
    bucket: str,
    s3_env: dict[str, str],
    isolated_env: Path,
    tmp_path: Path,
) -> None:
    files = write_tree(
        tmp_path / "src", {f"f{i}.txt": random_bytes(100 + i, seed=i) for i in range(5)}
    )
    endpoint = _with_userinfo(local_s3.endpoint_url)
    spool = tmp_path / "spool"
    outputs = []
    for prefix in ("one", "two"):  # the second run starts from the remembered template
        stats = tmp_path / f"stats-{prefix}.jsonl"
        run = run_put_paths(
            str(tmp_path / "src"),
            f"s3://{bucket}/{prefix}/",
            "--stats-file",
            str(stats),
            "--json",
            env=s3_env,
            endpoint=endpoint,
            spool=spool,
        )
        assert run.code == 0, run.stderr
        outputs += [run.stdout, run.stderr, stats.read_text()]
    expect = {f"{p}/{rel}": d for p in ("one", "two") for rel, d in files.items()}
    assert_landed(s3_client, bucket, expect, spool)
    templates = _files_under(isolated_env / "cache" / "s3tui" / "put-templates")
    if fast.enabled():
        (template,) = templates
        text = template.read_text()
        assert local_s3.endpoint_url in text and SECRET not in text
    else:
        assert templates == []  # S3TUI_FAST_PATH=0 (CI's second run) keeps none
    assert not any(SECRET in out for out in outputs)


def test_failed_connect_names_the_endpoint_without_the_password(
    s3_env: dict[str, str], tmp_path: Path
) -> None:
    with socket.socket() as s:  # a port nobody listens on
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
    endpoint = f"http://s3user:{SECRET}@127.0.0.1:{port}"
    stream = run_put(b"x", "s3://b-1/k", env=s3_env, endpoint=endpoint, spool=tmp_path / "s1")
    (tmp_path / "src").mkdir()
    (tmp_path / "src" / "a.txt").write_text("a")
    tree = run_put_paths(
        str(tmp_path / "src"), "s3://b-1/p/", env=s3_env, endpoint=endpoint, spool=tmp_path / "s2"
    )
    for run in (stream, tree):
        assert run.code == 1, run.stderr
        assert f"cannot connect to http://127.0.0.1:{port}" in run.stderr, run.stderr
        assert SECRET not in run.stderr + run.stdout


def test_the_journal_of_a_killed_run_holds_no_password(
    local_s3: LocalS3, bucket: str, s3_env: dict[str, str], tmp_path: Path
) -> None:
    journal = Path(os.environ["XDG_STATE_HOME"]) / "s3tui" / "open-uploads"
    cmd = s3tui_cmd("put", "-", f"s3://{bucket}/killed", "--chunk-size", "5MiB")
    cmd += ["--endpoint-url", _with_userinfo(local_s3.endpoint_url)]
    cmd += ["--spool-dir", str(tmp_path / "spool")]
    p = subprocess.Popen(cmd, stdin=subprocess.PIPE, stderr=subprocess.DEVNULL, env=s3_env)
    assert p.stdin is not None
    try:
        p.stdin.write(random_bytes(6 * MiB, seed=3))
        p.stdin.flush()
        end = time.monotonic() + 30
        while not list(journal.glob("*.json")):
            assert time.monotonic() < end, "no journal entry appeared"
            time.sleep(0.05)
        p.send_signal(signal.SIGKILL)
        p.wait(10)
    finally:
        p.kill()
    (entry,) = journal.glob("*.json")
    text = entry.read_text()
    assert local_s3.endpoint_url in text and SECRET not in text
    done = subprocess.run(
        s3tui_cmd("cleanup"), env=s3_env, capture_output=True, text=True, timeout=60
    )
    assert done.returncode == 0, done.stderr
    assert "aborted" in done.stdout and SECRET not in done.stdout + done.stderr
