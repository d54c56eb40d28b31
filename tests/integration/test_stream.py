"""``s3tui put - s3://bucket/key`` against a real SeaweedFS: bytes, cleanup, exit codes."""

from __future__ import annotations

import json
import os
import signal
import stat
import subprocess
import time
from pathlib import Path
from typing import Any

import pytest

from s3tui.lab import LocalS3
from tests.helpers import (
    assert_no_incomplete_uploads,
    assert_spool_empty,
    random_bytes,
    sha256_bytes,
    sha256_of_object,
)
from tests.integration.cli_runner import run_put, s3tui_cmd

MiB = 1024 * 1024


def _landed(client: Any, bucket: str, key: str, data: bytes, spool: Path) -> dict[str, Any]:
    """The checks every upload test makes: bytes, no incomplete upload, empty spool."""
    assert sha256_of_object(client, bucket, key) == sha256_bytes(data)
    assert_no_incomplete_uploads(client, bucket)
    assert_spool_empty(spool)
    return client.head_object(Bucket=bucket, Key=key)


def _nothing_stored(client: Any, bucket: str, key: str, spool: Path) -> None:
    assert client.list_objects_v2(Bucket=bucket).get("KeyCount", 0) == 0, f"{key} was stored"
    assert_no_incomplete_uploads(client, bucket)
    assert_spool_empty(spool)


def test_multipart_stream_lands_byte_for_byte(
    local_s3: LocalS3, s3_client: Any, bucket: str, s3_env: dict[str, str], tmp_path: Path
) -> None:
    data = random_bytes(23 * MiB + 12345, seed=1)
    stats = tmp_path / "stats.jsonl"
    r = run_put(
        data,
        f"s3://{bucket}/db/dump.sql.gz",
        "--chunk-size",
        "5MiB",
        "--stats-file",
        str(stats),
        "--content-type",
        "application/gzip",
        "--metadata",
        "origin=test",
        env=s3_env,
        endpoint=local_s3.endpoint_url,
        spool=tmp_path / "spool",
    )
    assert r.code == 0, r.stderr
    head = _landed(s3_client, bucket, "db/dump.sql.gz", data, tmp_path / "spool")
    assert head["ETag"].strip('"').endswith("-5")  # 5 parts: a real multipart upload
    assert head["ContentType"] == "application/gzip"
    assert head["Metadata"] == {"origin": "test"}
    assert "uploaded 23" in r.stderr and "5 parts" in r.stderr and "CRC32C" in r.stderr
    records = [json.loads(line) for line in stats.read_text().splitlines()]
    parts = [rec for rec in records if rec["part"] is not None and rec["ok"]]
    assert sorted(rec["part"] for rec in parts) == [1, 2, 3, 4, 5]
    for rec in parts:
        assert set(rec) >= {
            "part",
            "bytes",
            "attempt",
            "success_ms",
            "total_ms",
            "MBps",
            "MBps_est",
        }
    assert sum(rec["bytes"] for rec in parts) == len(data)


def test_small_stream_is_one_put_and_empty_stream_an_empty_object(
    local_s3: LocalS3, s3_client: Any, bucket: str, s3_env: dict[str, str], tmp_path: Path
) -> None:
    spool = tmp_path / "spool"
    data = random_bytes(100_000, seed=2)
    r = run_put(
        data, f"s3://{bucket}/small", env=s3_env, endpoint=local_s3.endpoint_url, spool=spool
    )
    assert r.code == 0, r.stderr
    head = _landed(s3_client, bucket, "small", data, spool)
    assert "-" not in head["ETag"]  # a single PutObject, not multipart
    r = run_put(
        b"", f"s3://{bucket}/empty", env=s3_env, endpoint=local_s3.endpoint_url, spool=spool
    )
    assert r.code == 0, r.stderr
    assert _landed(s3_client, bucket, "empty", b"", spool)["ContentLength"] == 0


def test_bucket_and_key_options_and_json_output(
    local_s3: LocalS3, s3_client: Any, bucket: str, s3_env: dict[str, str], tmp_path: Path
) -> None:
    data = random_bytes(6 * MiB, seed=3)
    cmd = s3tui_cmd(
        "put",
        "-",
        "--bucket",
        bucket,
        "--key",
        "k/j",
        "--endpoint-url",
        local_s3.endpoint_url,
        "--spool-dir",
        str(tmp_path),
        "--json",
        "--chunk-size",
        "5MiB",
    )
    p = subprocess.run(cmd, input=data, env=s3_env, capture_output=True, timeout=60)
    assert p.returncode == 0, p.stderr
    lines = [json.loads(x) for x in p.stderr.decode().splitlines()]
    assert lines[-1]["type"] == "summary" and lines[-1]["ok"] is True
    assert lines[-1]["bytes"] == len(data) and lines[-1]["parts"] == 2
    _landed(s3_client, bucket, "k/j", data, tmp_path)


def test_expected_size_overflow_stores_nothing(
    local_s3: LocalS3, s3_client: Any, bucket: str, s3_env: dict[str, str], tmp_path: Path
) -> None:
    r = run_put(
        random_bytes(12 * MiB),
        f"s3://{bucket}/x",
        "--expected-size",
        "7MiB",
        "--chunk-size",
        "5MiB",
        env=s3_env,
        endpoint=local_s3.endpoint_url,
        spool=tmp_path / "spool",
    )
    assert r.code == 1
    assert "larger than --expected-size" in r.stderr and "Traceback" not in r.stderr
    _nothing_stored(s3_client, bucket, "x", tmp_path)


@pytest.mark.parametrize("size", [1000, 11 * MiB])
def test_min_size_not_reached_stores_nothing(
    size: int,
    local_s3: LocalS3,
    s3_client: Any,
    bucket: str,
    s3_env: dict[str, str],
    tmp_path: Path,
) -> None:
    r = run_put(
        random_bytes(size),
        f"s3://{bucket}/x",
        "--min-size",
        "20MiB",
        "--chunk-size",
        "5MiB",
        env=s3_env,
        endpoint=local_s3.endpoint_url,
        spool=tmp_path / "spool",
    )
    assert r.code == 1
    assert "below --min-size" in r.stderr
    _nothing_stored(s3_client, bucket, "x", tmp_path)


def _fails_before_reading(cmd: list[str], env: dict[str, str]) -> subprocess.CompletedProcess:
    """Run with a stdin pipe that never ends: only a preflight failure can end the process."""
    r, w = os.pipe()
    try:
        p = subprocess.run(cmd, stdin=r, env=env, capture_output=True, timeout=60)
    finally:
        os.close(r)
        os.close(w)
    return p


@pytest.mark.parametrize(
    ("case", "expect"),
    [
        ("wrong-secret", "secret key"),
        ("wrong-key", "access key"),
        ("no-bucket", "does not exist"),
        ("no-credentials", "no AWS credentials"),
    ],
)
def test_unusable_destination_fails_before_reading_stdin(
    case: str,
    expect: str,
    local_s3: LocalS3,
    bucket: str,
    s3_env: dict[str, str],
    tmp_path: Path,
) -> None:
    env = dict(s3_env)
    target = bucket
    if case == "wrong-secret":
        env["AWS_SECRET_ACCESS_KEY"] = "not-the-secret"
    elif case == "wrong-key":
        env["AWS_ACCESS_KEY_ID"] = "nobody"
    elif case == "no-bucket":
        target = "no-such-bucket-here"
    else:
        env.pop("AWS_ACCESS_KEY_ID")
        env.pop("AWS_SECRET_ACCESS_KEY")
    cmd = s3tui_cmd(
        "put",
        "-",
        f"s3://{target}/k",
        "--endpoint-url",
        local_s3.endpoint_url,
        "--spool-dir",
        str(tmp_path),
    )
    p = _fails_before_reading(cmd, env)
    err = p.stderr.decode()
    assert p.returncode == 1, err
    assert expect in err
    assert "Traceback" not in err and local_s3.secret_key not in err
    assert len(err.strip().splitlines()) == 1, err
    assert_spool_empty(tmp_path / "spool")


def test_unreachable_endpoint_fails_in_bounded_time(s3_env: dict[str, str], tmp_path: Path) -> None:
    cmd = s3tui_cmd(
        "put",
        "-",
        "s3://bucket/k",
        "--endpoint-url",
        "http://127.0.0.1:9",
        "--spool-dir",
        str(tmp_path),
    )
    t0 = time.monotonic()
    p = _fails_before_reading(cmd, s3_env)
    err = p.stderr.decode()
    assert p.returncode == 1
    assert "cannot connect to http://127.0.0.1:9" in err and "Traceback" not in err
    assert "gave up after 4 attempts" in err
    assert time.monotonic() - t0 < 30


@pytest.mark.parametrize(
    "args",
    [
        ["put", "-", "s3://ab/k"],  # bucket name too short
        ["put", "-", "http://bucket/k"],
        ["put", "-", "s3://bucket/"],
        ["put", "-", "s3://bucket/k", "--chunk-size", "4MiB"],
        ["put", "-", "s3://bucket/k", "--chunk-size", "lots"],
        ["put", "-", "s3://bucket/k", "--max-spool", "1MiB"],
        ["put", "-", "s3://bucket/k", "--endpoint-url", "localhost:9000"],
        ["put", "-", "s3://bucket/k", "--metadata", "novalue"],
        ["put", "-", "s3://bucket/k", "--concurrency", "0"],
        ["put", "-", "s3://bucket/k", "--sse", "rot13"],
        ["put", "-", "s3://bucket/k", "--expected-size", "1MB", "--min-size", "2MB"],
        ["put", "-"],
        ["frobnicate"],
    ],
)
def test_usage_errors_are_one_line_exit_2(args: list[str], s3_env: dict[str, str]) -> None:
    r, w = os.pipe()  # stdin never ends: usage errors must not wait for it
    try:
        p = subprocess.run(s3tui_cmd(*args), stdin=r, env=s3_env, capture_output=True, timeout=30)
    finally:
        os.close(r)
        os.close(w)
    err = p.stderr.decode()
    assert p.returncode == 2, err
    assert err.startswith("s3tui: error: ") and len(err.strip().splitlines()) == 1, err


def _start_streaming(
    local_s3: LocalS3, bucket: str, env: dict[str, str], spool: Path, *extra: str
) -> subprocess.Popen:
    cmd = s3tui_cmd(
        "put",
        "-",
        f"s3://{bucket}/live",
        "--endpoint-url",
        local_s3.endpoint_url,
        "--spool-dir",
        str(spool),
        "--chunk-size",
        "5MiB",
        *extra,
    )
    return subprocess.Popen(cmd, stdin=subprocess.PIPE, env=env, stderr=subprocess.PIPE)


def _wait_for(pred: Any, timeout: float = 20) -> None:
    end = time.monotonic() + timeout
    while not pred():
        assert time.monotonic() < end, "condition not reached"
        time.sleep(0.05)


@pytest.mark.parametrize(("sig", "code"), [(signal.SIGTERM, 143), (signal.SIGINT, 130)])
def test_signal_mid_stream_aborts_and_cleans(
    sig: int,
    code: int,
    local_s3: LocalS3,
    s3_client: Any,
    bucket: str,
    s3_env: dict[str, str],
    tmp_path: Path,
) -> None:
    p = _start_streaming(local_s3, bucket, s3_env, tmp_path)
    assert p.stdin is not None
    p.stdin.write(random_bytes(12 * MiB))  # two full parts go up, a third is being spooled
    p.stdin.flush()
    _wait_for(lambda: s3_client.list_multipart_uploads(Bucket=bucket).get("Uploads"))
    time.sleep(0.5)
    p.send_signal(sig)
    assert p.wait(30) == code
    err = p.stderr.read().decode() if p.stderr else ""
    assert "nothing was stored" in err and "Traceback" not in err
    p.stdin.close()
    _nothing_stored(s3_client, bucket, "live", tmp_path)


def test_spool_is_private_while_streaming(
    local_s3: LocalS3, s3_client: Any, bucket: str, s3_env: dict[str, str], tmp_path: Path
) -> None:
    p = _start_streaming(local_s3, bucket, s3_env, tmp_path)
    assert p.stdin is not None
    first = random_bytes(3 * MiB, seed=7)
    p.stdin.write(first)  # less than a chunk: it stays in the spool until more comes
    p.stdin.flush()
    _wait_for(lambda: [f for f in tmp_path.rglob("part-*") if f.stat().st_size == len(first)])
    (chunk,) = list(tmp_path.rglob("part-*"))
    assert stat.S_IMODE(chunk.stat().st_mode) == 0o600
    assert stat.S_IMODE(chunk.parent.stat().st_mode) == 0o700
    rest = random_bytes(4 * MiB, seed=8)
    p.stdin.write(rest)
    p.stdin.close()
    assert p.wait(60) == 0
    _landed(s3_client, bucket, "live", first + rest, tmp_path)


def test_seed_credential_names_work(
    local_s3: LocalS3, s3_client: Any, bucket: str, s3_env: dict[str, str], tmp_path: Path
) -> None:
    env = dict(s3_env)
    env["AWS_ACCESS_KEY"] = env.pop("AWS_ACCESS_KEY_ID")
    env["AWS_SECRET_KEY"] = env.pop("AWS_SECRET_ACCESS_KEY")
    data = random_bytes(1000, seed=9)
    r = run_put(
        data,
        f"s3://{bucket}/seed",
        env=env,
        endpoint=local_s3.endpoint_url,
        spool=tmp_path / "spool",
    )
    assert r.code == 0, r.stderr
    _landed(s3_client, bucket, "seed", data, tmp_path)


def test_memory_stays_small_on_a_large_stream(
    local_s3: LocalS3, s3_client: Any, bucket: str, s3_env: dict[str, str], tmp_path: Path
) -> None:
    """Peak RSS must not grow with the stream (256 MiB here; the benchmark runs 4 GiB)."""
    size = 256 * MiB
    script = (
        "import resource, subprocess, sys\n"
        "src = subprocess.Popen(['head', '-c', sys.argv[1], '/dev/zero'], stdout=subprocess.PIPE)\n"
        "rc = subprocess.call(sys.argv[2:], stdin=src.stdout)\n"
        "src.wait()\n"
        "print(resource.getrusage(resource.RUSAGE_CHILDREN).ru_maxrss)\n"
        "sys.exit(rc)\n"
    )
    cmd = [
        "python3",
        "-c",
        script,
        str(size),
        *s3tui_cmd(
            "put",
            "-",
            f"s3://{bucket}/big",
            "--endpoint-url",
            local_s3.endpoint_url,
            "--spool-dir",
            str(tmp_path),
        ),
    ]
    cmd[0] = s3tui_cmd()[0]
    p = subprocess.run(cmd, env=s3_env, capture_output=True, timeout=240)
    assert p.returncode == 0, p.stderr
    peak_kib = int(p.stdout.split()[-1])
    assert peak_kib < 100 * 1024, f"peak RSS {peak_kib / 1024:.0f} MiB"
    _landed(s3_client, bucket, "big", bytes(size), tmp_path)


def test_profile_from_aws_files(
    local_s3: LocalS3, s3_client: Any, bucket: str, s3_env: dict[str, str], tmp_path: Path
) -> None:
    env = dict(s3_env)
    key_id, secret = env.pop("AWS_ACCESS_KEY_ID"), env.pop("AWS_SECRET_ACCESS_KEY")
    (tmp_path / "config").write_text("[profile backup]\nregion = us-east-1\n")
    (tmp_path / "credentials").write_text(
        f"[backup]\naws_access_key_id = {key_id}\naws_secret_access_key = {secret}\n"
    )
    env["AWS_CONFIG_FILE"] = str(tmp_path / "config")
    env["AWS_SHARED_CREDENTIALS_FILE"] = str(tmp_path / "credentials")
    data = random_bytes(2000, seed=10)
    r = run_put(
        data,
        f"s3://{bucket}/prof",
        "--profile",
        "backup",
        env=env,
        endpoint=local_s3.endpoint_url,
        spool=tmp_path / "spool",
    )
    assert r.code == 0, r.stderr
    assert secret not in r.stderr
    _landed(s3_client, bucket, "prof", data, tmp_path / "spool")
    r = run_put(
        data,
        f"s3://{bucket}/prof",
        "--profile",
        "nope",
        env=env,
        endpoint=local_s3.endpoint_url,
        spool=tmp_path / "spool",
    )
    assert r.code == 1 and "profile 'nope' not found" in r.stderr


def test_unusable_spool_dir_fails_before_reading(
    local_s3: LocalS3, bucket: str, s3_env: dict[str, str], tmp_path: Path
) -> None:
    blocker = tmp_path / "a-file"
    blocker.write_text("not a directory")
    cmd = s3tui_cmd(
        "put",
        "-",
        f"s3://{bucket}/k",
        "--endpoint-url",
        local_s3.endpoint_url,
        "--spool-dir",
        str(blocker / "spool"),
    )
    p = _fails_before_reading(cmd, s3_env)
    err = p.stderr.decode()
    assert p.returncode == 1 and "--spool-dir" in err and "Traceback" not in err
