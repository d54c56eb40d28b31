"""A run killed with SIGKILL cannot abort its upload: the journal notes it, the next run says so,
and `s3tui cleanup` aborts it and deletes the spool files it left."""

from __future__ import annotations

import os
import signal
import stat
import subprocess
import time
from pathlib import Path
from typing import Any

from s3tui.lab import LocalS3
from tests.helpers import MiB, assert_no_incomplete_uploads, assert_spool_empty, random_bytes
from tests.integration.cli_runner import run_put, s3tui_cmd


def _journal_dir() -> Path:
    return Path(os.environ["XDG_STATE_HOME"]) / "s3tui" / "open-uploads"


def test_sigkilled_run_is_noted_and_cleanup_aborts_it(
    local_s3: LocalS3, s3_client: Any, bucket: str, s3_env: dict[str, str], tmp_path: Path
) -> None:
    spool = tmp_path / "spool"
    cmd = s3tui_cmd(
        "put",
        "-",
        f"s3://{bucket}/nightly.sql.gz",
        "--endpoint-url",
        local_s3.endpoint_url,
        "--spool-dir",
        str(spool),
        "--chunk-size",
        "5MiB",
    )
    p = subprocess.Popen(cmd, stdin=subprocess.PIPE, stderr=subprocess.DEVNULL, env=s3_env)
    assert p.stdin is not None
    try:
        p.stdin.write(random_bytes(7 * MiB, seed=41))  # one part sent, one chunk spooling
        p.stdin.flush()
        end = time.monotonic() + 30
        while not list(_journal_dir().glob("*.json")) or not list(spool.rglob("part-*")):
            assert time.monotonic() < end, "no journal entry or spooled chunk appeared"
            time.sleep(0.05)
        p.send_signal(signal.SIGKILL)
        p.wait(10)
    finally:
        p.kill()
    (entry,) = _journal_dir().glob("*.json")
    assert stat.S_IMODE(entry.stat().st_mode) == 0o600
    assert stat.S_IMODE(_journal_dir().stat().st_mode) == 0o700
    text = entry.read_text()
    assert "nightly.sql.gz" in text and local_s3.secret_key not in text
    assert local_s3.access_key not in text
    assert len(s3_client.list_multipart_uploads(Bucket=bucket).get("Uploads", [])) == 1
    assert list(spool.rglob("part-*")), "the killed run's chunks are still in the spool"

    # The next run points at it (and goes on with its own job).
    r = run_put(
        b"small",
        f"s3://{bucket}/small",
        env=s3_env,
        endpoint=local_s3.endpoint_url,
        spool=tmp_path / "spool2",
    )
    assert r.code == 0, r.stderr
    assert "1 multipart upload left open by killed runs" in r.stderr
    assert "s3tui cleanup" in r.stderr

    done = subprocess.run(
        s3tui_cmd("cleanup"), env=s3_env, capture_output=True, text=True, timeout=60
    )
    assert done.returncode == 0, done.stderr
    assert f"aborted s3://{bucket}/nightly.sql.gz" in done.stdout
    assert_no_incomplete_uploads(s3_client, bucket)
    assert_spool_empty(spool)
    assert not list(spool.iterdir()), "the dead run's spool dir is removed"
    assert not list(_journal_dir().glob("*.json"))


def test_cleanup_leaves_uploads_of_running_processes_alone(
    local_s3: LocalS3, s3_client: Any, bucket: str, s3_env: dict[str, str], tmp_path: Path
) -> None:
    cmd = s3tui_cmd(
        "put",
        "-",
        f"s3://{bucket}/live",
        "--endpoint-url",
        local_s3.endpoint_url,
        "--spool-dir",
        str(tmp_path / "spool"),
    )
    p = subprocess.Popen(cmd, stdin=subprocess.PIPE, stderr=subprocess.PIPE, env=s3_env)
    assert p.stdin is not None
    try:
        end = time.monotonic() + 30
        while not list(_journal_dir().glob("*.json")):
            assert time.monotonic() < end
            time.sleep(0.05)
        done = subprocess.run(
            s3tui_cmd("cleanup"), env=s3_env, capture_output=True, text=True, timeout=60
        )
        assert done.returncode == 0 and "no multipart uploads left open" in done.stderr, done
        assert len(s3_client.list_multipart_uploads(Bucket=bucket).get("Uploads", [])) == 1
        p.stdin.write(b"finished normally")
        p.stdin.close()
        assert p.wait(30) == 0
    finally:
        p.kill()
    assert not list(_journal_dir().glob("*.json")), "a finished upload is no longer noted"
    assert_no_incomplete_uploads(s3_client, bucket)
