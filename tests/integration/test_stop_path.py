"""The stop path and the workers under the failures a reliability review found.

Each test is a user's situation: a producer that goes quiet, a stats file on a full disk, a
log reader that went away, a signal while the server sits on a request, an ssh session that
drops, an answer lost on the way back. After each: what is stored is the truth the message
tells, nothing is left open that `s3tui cleanup` cannot find, and the spool is empty.
"""

from __future__ import annotations

import os
import signal
import subprocess
import threading
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest

from s3tui.engine.config import UploadConfig
from s3tui.engine.remote import Remote, make_client
from s3tui.engine.stream import StreamUpload
from s3tui.engine.tree import TreeUpload
from s3tui.lab import FaultProxy, LocalS3
from s3tui.lab.faultproxy import Fault
from tests.helpers import (
    assert_no_incomplete_uploads,
    assert_spool_empty,
    random_bytes,
    sha256_bytes,
    sha256_of_object,
)
from tests.integration.cli_runner import run_put, run_put_paths, s3tui_cmd

MiB = 1024 * 1024
CREATE = r"\?uploads"
COMPLETE = r"\?uploadId=[^&]*$"  # POST ...?uploadId=X completes (parts carry partNumber=)


def _client(url: str, local_s3: LocalS3) -> Any:
    return make_client(url, "us-east-1", credentials=(local_s3.access_key, local_s3.secret_key))


def _start_put(
    key: str, *extra: str, env: dict[str, str], endpoint: str, spool: Path
) -> subprocess.Popen[bytes]:
    cmd = s3tui_cmd("put", "-", key, "--endpoint-url", endpoint, "--spool-dir", str(spool), *extra)
    return subprocess.Popen(
        cmd, stdin=subprocess.PIPE, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, env=env
    )


def _stop_mid_stream(
    url: str,
    data: bytes,
    sig: int,
    ready: Callable[[], None],
    *,
    env: dict[str, str],
    endpoint: str,
    spool: Path,
    eof: bool = False,
) -> tuple[int, str, float]:
    """``put - url`` (5 MiB chunks) fed ``data`` (then EOF if ``eof``); once ``ready()`` returns,
    ``sig`` is sent. Returns the exit code, stderr and how long the stop took."""
    p = _start_put(url, "--chunk-size", "5MiB", env=env, endpoint=endpoint, spool=spool)
    assert p.stdin is not None and p.stderr is not None
    try:
        p.stdin.write(data)
        if eof:
            p.stdin.close()
        else:
            p.stdin.flush()
        ready()
        t0 = time.monotonic()
        p.send_signal(sig)
        code = p.wait(60)
        return code, p.stderr.read().decode(), time.monotonic() - t0
    finally:
        p.kill()


def _wait_upload_open(s3_client: Any, bucket: str, timeout: float = 20.0) -> None:
    end = time.monotonic() + timeout
    while not s3_client.list_multipart_uploads(Bucket=bucket).get("Uploads"):
        assert time.monotonic() < end, "no multipart upload was opened"
        time.sleep(0.05)


# --- item 1: the give-up clock runs only while requests fail ---------------------------------
def test_quiet_producer_then_one_error_is_retried_not_fatal(
    fault_proxy: FaultProxy, local_s3: LocalS3, s3_client: Any, bucket: str, tmp_path: Path
) -> None:
    """9 MiB, a pause longer than give_up_after, 1 MiB more, one 500 on part 2: retried."""
    fault_proxy.add_rule(Fault.internal_error(), method="PUT", path=r"partNumber=2(&|$)", times=1)
    data = random_bytes(10 * MiB, seed=71)
    read_fd, write_fd = os.pipe()
    cfg = UploadConfig(chunk_size=5 * MiB, spool_dir=tmp_path / "spool", give_up_after=1.5)

    def produce() -> None:
        view = memoryview(data)
        pos = 0
        while pos < 9 * MiB:
            pos += os.write(write_fd, view[pos : 9 * MiB])
        time.sleep(3.0)  # quiet for twice give_up_after, with nothing failing
        while pos < len(data):
            pos += os.write(write_fd, view[pos:])
        os.close(write_fd)

    feeder = threading.Thread(target=produce, daemon=True)
    feeder.start()
    try:
        job = StreamUpload(read_fd, Remote(_client(fault_proxy.url, local_s3), bucket), "q", cfg)
        result = job.run()
    finally:
        feeder.join(10)
        os.close(read_fd)
    assert result.exit_code == 0, result.message
    assert fault_proxy.faults, "the 500 was never injected"
    assert sha256_of_object(s3_client, bucket, "q") == sha256_bytes(data)
    assert_no_incomplete_uploads(s3_client, bucket)
    assert_spool_empty(tmp_path / "spool")


# --- item 2: a failing callback never stops a worker or hangs the job ------------------------
def test_stats_file_on_a_full_disk_is_one_warning_and_the_stream_lands(
    local_s3: LocalS3, s3_client: Any, bucket: str, s3_env: dict[str, str], tmp_path: Path
) -> None:
    data = random_bytes(12 * MiB, seed=72)
    r = run_put(
        data,
        f"s3://{bucket}/stats",
        "--chunk-size",
        "5MiB",
        "--stats-file",
        "/dev/full",  # every write: ENOSPC
        env=s3_env,
        endpoint=local_s3.endpoint_url,
        spool=tmp_path / "spool",
        timeout=60,
    )
    assert r.code == 0, r.stderr
    assert r.stderr.count("writing failed") == 1, r.stderr
    assert "No space left on device" in r.stderr and "Traceback" not in r.stderr
    assert sha256_of_object(s3_client, bucket, "stats") == sha256_bytes(data)
    assert_no_incomplete_uploads(s3_client, bucket)
    assert_spool_empty(tmp_path / "spool")


def test_stats_file_on_a_full_disk_does_not_stop_a_tree(
    local_s3: LocalS3, s3_client: Any, bucket: str, s3_env: dict[str, str], tmp_path: Path
) -> None:
    src = tmp_path / "src"
    src.mkdir()
    files = {f"f{i}.bin": random_bytes(100_000 + i, seed=i) for i in range(5)}
    files["big.bin"] = random_bytes(11 * MiB, seed=9)
    for name, blob in files.items():
        (src / name).write_bytes(blob)
    r = run_put_paths(
        str(src),
        f"s3://{bucket}/t/",
        "--chunk-size",
        "5MiB",
        "--stats-file",
        "/dev/full",
        env=s3_env,
        endpoint=local_s3.endpoint_url,
        spool=tmp_path / "spool",
    )
    assert r.code == 0, r.stderr
    for name, blob in files.items():
        assert sha256_of_object(s3_client, bucket, f"t/{name}") == sha256_bytes(blob)
    assert_no_incomplete_uploads(s3_client, bucket)
    assert_spool_empty(tmp_path / "spool")


def test_stderr_reader_gone_never_stops_the_upload(
    fault_proxy: FaultProxy, s3_client: Any, bucket: str, s3_env: dict[str, str], tmp_path: Path
) -> None:
    """A retry line is written to a pipe nobody reads any more: the upload still completes."""
    fault_proxy.add_rule(Fault.internal_error(), method="PUT", path=r"partNumber=1(&|$)", times=1)
    data = random_bytes(12 * MiB, seed=73)
    p = _start_put(
        f"s3://{bucket}/nolog",
        "--chunk-size",
        "5MiB",
        "--no-tui",
        env=s3_env,
        endpoint=fault_proxy.url,
        spool=tmp_path / "spool",
    )
    assert p.stdin is not None and p.stderr is not None
    p.stderr.close()  # the logger died
    p.stdin.write(data)
    p.stdin.close()
    assert p.wait(60) == 0
    assert fault_proxy.faults
    assert sha256_of_object(s3_client, bucket, "nolog") == sha256_bytes(data)
    assert_no_incomplete_uploads(s3_client, bucket)
    assert_spool_empty(tmp_path / "spool")


# --- items 4, 5: a signal while the server sits on a request -----------------------------------
def test_sigterm_while_the_abort_stalls_ends_in_bounded_time_and_cleanup_finds_it(
    fault_proxy: FaultProxy, s3_client: Any, bucket: str, s3_env: dict[str, str], tmp_path: Path
) -> None:
    fault_proxy.add_rule(Fault.drop(), method="DELETE")
    code, err, took = _stop_mid_stream(
        f"s3://{bucket}/abort-stalls",
        random_bytes(6 * MiB, seed=74),
        signal.SIGTERM,
        lambda: _wait_upload_open(s3_client, bucket),
        env=s3_env,
        endpoint=fault_proxy.url,
        spool=tmp_path / "spool",
    )
    assert code == 143, err
    assert took < 45, f"the stop took {took:.1f}s"
    assert "terminated (SIGTERM)" in err and "not confirmed" in err, err
    assert "s3tui cleanup" in err and "Traceback" not in err
    assert_spool_empty(tmp_path / "spool")
    fault_proxy.clear_rules()
    left = s3_client.list_multipart_uploads(Bucket=bucket).get("Uploads", [])
    assert len(left) == 1
    c = subprocess.run(
        s3tui_cmd("cleanup", "--endpoint-url", fault_proxy.url),
        env=s3_env,
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert c.returncode == 0, c.stderr
    assert_no_incomplete_uploads(s3_client, bucket)


def _put_old_object(s3_client: Any, bucket: str, key: str) -> bytes:
    old = b"yesterday's good backup\n" * 1000
    s3_client.put_object(Bucket=bucket, Key=key, Body=old)
    return old


@pytest.mark.parametrize("size_mib", [13, 2], ids=["complete", "single-put"])
def test_sigterm_while_the_final_request_stalls_after_the_server_acted_tells_the_truth(
    size_mib: int,
    fault_proxy: FaultProxy,
    s3_client: Any,
    bucket: str,
    s3_env: dict[str, str],
    tmp_path: Path,
) -> None:
    """The server stored the object but its answer never comes: "nothing was stored" would be
    false. The message must say the object is stored (and it is checked to be ours)."""
    key = "final-stalls"
    _put_old_object(s3_client, bucket, key)
    if size_mib > 5:
        fault_proxy.add_rule(Fault.stall_response(), method="POST", path=COMPLETE, times=1)
    else:
        fault_proxy.add_rule(Fault.stall_response(), method="PUT", path=rf"/{key}$", times=1)
    data = random_bytes(size_mib * MiB, seed=75)

    def server_acted() -> None:
        assert fault_proxy.wait_for_faults(1, timeout=30)
        # The stalled request was forwarded whole; give the server a moment to act on it.
        end = time.monotonic() + 10
        while sha256_of_object(s3_client, bucket, key) != sha256_bytes(data):
            assert time.monotonic() < end, "the server never stored the stalled request's object"
            time.sleep(0.1)

    code, err, _ = _stop_mid_stream(
        f"s3://{bucket}/{key}",
        data,
        signal.SIGTERM,
        server_acted,
        env=s3_env,
        endpoint=fault_proxy.url,
        spool=tmp_path / "spool",
        eof=True,
    )
    assert code == 143, err
    assert "nothing was stored" not in err, err
    assert "stored and verified" in err and "Traceback" not in err, err
    assert sha256_of_object(s3_client, bucket, key) == sha256_bytes(data)
    assert_no_incomplete_uploads(s3_client, bucket)
    assert_spool_empty(tmp_path / "spool")


def test_sigterm_before_anything_completed_still_says_nothing_was_stored(
    local_s3: LocalS3, s3_client: Any, bucket: str, s3_env: dict[str, str], tmp_path: Path
) -> None:
    key = "midway"
    old = _put_old_object(s3_client, bucket, key)

    def upload_going() -> None:
        _wait_upload_open(s3_client, bucket)
        time.sleep(0.5)

    code, err, _ = _stop_mid_stream(
        f"s3://{bucket}/{key}",
        random_bytes(11 * MiB, seed=76),
        signal.SIGTERM,
        upload_going,
        env=s3_env,
        endpoint=local_s3.endpoint_url,
        spool=tmp_path / "spool",
    )
    assert code == 143, err
    assert "terminated (SIGTERM): the upload was aborted, nothing was stored" in err, err
    assert sha256_of_object(s3_client, bucket, key) == sha256_bytes(old)
    assert_no_incomplete_uploads(s3_client, bucket)
    assert_spool_empty(tmp_path / "spool")


# --- item 6: a slow link is not cut by a socket timeout ---------------------------------------
def test_a_link_that_stops_for_a_while_is_cut_only_by_the_deadline(
    local_s3: LocalS3, s3_client: Any, bucket: str, tmp_path: Path, monkeypatch: Any
) -> None:
    """The connect timeout must not stay the socket's clock while the body goes out: on a
    slow link the kernel can take longer than that to free room in the send buffer.

    Here the link stops for 3 s after 256 KiB of each 8 MiB part (more than loopback's socket
    buffers hold; sent with sendfile, at least one on a fresh connection), and the connect
    timeout is lowered to 1 s so the test is short; the deadline (minutes at a 50 KB/s
    estimate) is the only clock that may cut them, so both go through on their first attempt.
    """
    from s3tui.engine.remote import client as client_module

    monkeypatch.setattr(client_module, "CONNECT_TIMEOUT", 1.0)
    data = random_bytes(16 * MiB, seed=77)
    src = tmp_path / "slow.bin"
    src.write_bytes(data)
    cfg = UploadConfig(
        chunk_size=8 * MiB,
        spool_dir=tmp_path / "spool",
        initial_bandwidth=50e3,
        max_attempts=2,
        concurrency=2,
    )
    with FaultProxy(local_s3.endpoint_url) as proxy:
        proxy.add_rule(Fault.pause(3.0, after_bytes=256 * 1024), path="partNumber=", times=2)
        job = TreeUpload([str(src)], Remote(_client(proxy.url, local_s3), bucket), "slow", cfg)
        result = job.run()
        assert proxy.faults, "the link never paused"
    assert result.exit_code == 0, result.message
    assert result.retries == 0, result.message
    assert sha256_of_object(s3_client, bucket, "slow") == sha256_bytes(data)
    assert_no_incomplete_uploads(s3_client, bucket)
    assert_spool_empty(tmp_path / "spool")


# --- item 7: SIGHUP (the ssh session dropped) takes the stop path ------------------------------
def test_sighup_headless_aborts_with_129(
    local_s3: LocalS3, s3_client: Any, bucket: str, s3_env: dict[str, str], tmp_path: Path
) -> None:
    code, err, _ = _stop_mid_stream(
        f"s3://{bucket}/hup",
        random_bytes(11 * MiB, seed=78),
        signal.SIGHUP,
        lambda: _wait_upload_open(s3_client, bucket),
        env=s3_env,
        endpoint=local_s3.endpoint_url,
        spool=tmp_path / "spool",
    )
    assert code == 129, err
    assert "hung up (SIGHUP" in err and "nothing was stored" in err, err
    assert not s3_client.list_objects_v2(Bucket=bucket).get("Contents")
    assert_no_incomplete_uploads(s3_client, bucket)
    assert_spool_empty(tmp_path / "spool")


# --- item 9: a lost CreateMultipartUpload answer leaks no upload -------------------------------
def test_lost_create_answer_leaves_no_upload_open(
    fault_proxy: FaultProxy, s3_client: Any, bucket: str, s3_env: dict[str, str], tmp_path: Path
) -> None:
    fault_proxy.add_rule(Fault.lose_response(), method="POST", path=CREATE, times=1)
    data = random_bytes(12 * MiB, seed=79)
    r = run_put(
        data,
        f"s3://{bucket}/lost-create",
        "--chunk-size",
        "5MiB",
        env=s3_env,
        endpoint=fault_proxy.url,
        spool=tmp_path / "spool",
    )
    assert r.code == 0, r.stderr
    assert fault_proxy.faults, "the create's answer was never lost"
    assert sha256_of_object(s3_client, bucket, "lost-create") == sha256_bytes(data)
    assert_no_incomplete_uploads(s3_client, bucket)
    assert_spool_empty(tmp_path / "spool")
    c = subprocess.run(
        s3tui_cmd("cleanup", "--dry-run"), env=s3_env, capture_output=True, text=True, timeout=60
    )
    assert "no multipart uploads left open" in c.stderr, c.stderr
