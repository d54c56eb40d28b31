"""Uploads survive stalls, resets, 500s and SlowDown through a fault proxy.

Every test checks the bytes that landed, that no multipart upload is left and that the spool
is empty, and reads the per-attempt stats to see that the faults really happened.
"""

from __future__ import annotations

import contextlib
import subprocess
import time
from pathlib import Path
from typing import Any

from s3tui.lab import FaultProxy, LocalS3
from s3tui.lab.faultproxy import Fault
from tests.helpers import (
    MiB,
    assert_no_incomplete_uploads,
    assert_object_landed,
    assert_spool_empty,
    random_bytes,
    read_jsonl,
)
from tests.integration.cli_runner import run_put, s3tui_cmd

PARTS = r"partNumber="


def test_stalled_parts_are_cut_when_they_stop_moving(
    fault_proxy: FaultProxy, s3_client: Any, bucket: str, s3_env: dict[str, str], tmp_path: Path
) -> None:
    """Stalls that block the client's send (server stops reading mid-body) on 3 of 8 parts:
    each is cut once nothing moved for the stall allowance (1.5 s here), not at its deadline."""
    fault_proxy.add_rule(Fault.stall(after_bytes=64 * 1024), path=PARTS, nth={2, 4, 6})
    data = random_bytes(38 * MiB, seed=11)
    stats = tmp_path / "stats.jsonl"
    t0 = time.monotonic()
    r = run_put(
        data,
        f"s3://{bucket}/stalled",
        "--chunk-size",
        "5MiB",
        "--concurrency",
        "4",
        "--stats-file",
        str(stats),
        env=s3_env,
        endpoint=fault_proxy.url,
        spool=tmp_path / "spool",
    )
    elapsed = time.monotonic() - t0
    assert r.code == 0, r.stderr
    assert_object_landed(s3_client, bucket, "stalled", data, tmp_path / "spool")
    assert len([f for f in fault_proxy.faults if f.kind == "stall"]) == 3
    cut = [rec for rec in read_jsonl(stats) if not rec["ok"]]
    # Each was cut by the stall rule, or overtaken first by a hedged copy (a slot was free).
    assert len(cut) == 3 and {rec["error"] for rec in cut} <= {"stalled", "overtaken by its hedge"}
    # Each stall was cut seconds after it began, far below its deadline (>= 5 s).
    assert all(rec["total_ms"] < 4_500 for rec in cut), cut
    assert elapsed < 45, f"took {elapsed:.1f}s"
    assert ("retry part" in r.stderr and "stalled" in r.stderr) or "hedge part" in r.stderr


def test_resets_500s_and_slowdown_are_retried(
    fault_proxy: FaultProxy, s3_client: Any, bucket: str, s3_env: dict[str, str], tmp_path: Path
) -> None:
    fault_proxy.add_rule(Fault.reset(after_bytes=200_000), path=PARTS, nth=1)
    fault_proxy.add_rule(Fault.reset(after_bytes=MiB), path=PARTS, nth=5)
    fault_proxy.add_rule(Fault.internal_error(), path=PARTS, nth={2})
    fault_proxy.add_rule(Fault.slow_down(), path=PARTS, nth={3, 4})
    data = random_bytes(31 * MiB, seed=12)
    stats = tmp_path / "stats.jsonl"
    r = run_put(
        data,
        f"s3://{bucket}/flaky",
        "--chunk-size",
        "5MiB",
        "--stats-file",
        str(stats),
        env=s3_env,
        endpoint=fault_proxy.url,
        spool=tmp_path / "spool",
    )
    assert r.code == 0, r.stderr
    assert_object_landed(s3_client, bucket, "flaky", data, tmp_path / "spool")
    reasons = sorted(rec["error"] for rec in read_jsonl(stats) if not rec["ok"])
    assert len(fault_proxy.faults) == 5
    assert reasons.count("SlowDown") == 2 and reasons.count("InternalError") == 1
    assert len(reasons) == 5, reasons
    resets = [r for r in reasons if r not in ("SlowDown", "InternalError")]
    assert set(resets) <= {"connection reset", "broken pipe", "connection closed"}, reasons
    assert "5 retries" in r.stderr


def test_throttled_high_latency_link_estimate_converges(
    local_s3: LocalS3, s3_client: Any, bucket: str, s3_env: dict[str, str], tmp_path: Path
) -> None:
    rate = 6e6
    with FaultProxy(local_s3.endpoint_url, bandwidth=rate, latency=0.05) as proxy:
        data = random_bytes(40 * MiB, seed=13)
        stats = tmp_path / "stats.jsonl"
        r = run_put(
            data,
            f"s3://{bucket}/slow",
            "--chunk-size",
            "5MiB",
            "--concurrency",
            "4",
            "--stats-file",
            str(stats),
            env=s3_env,
            endpoint=proxy.url,
            spool=tmp_path / "spool",
        )
    assert r.code == 0, r.stderr
    assert_object_landed(s3_client, bucket, "slow", data, tmp_path / "spool")
    parts = [rec for rec in read_jsonl(stats) if rec["part"] and rec["ok"]]
    assert len(parts) == 8
    final_estimate = parts[-1]["MBps_est"] * 1e6
    # Per-request throughput is capped at `rate` per connection; latency costs a little.
    assert 0.6 * rate < final_estimate <= 1.05 * rate, final_estimate


def test_broken_server_fails_in_bounded_time_and_aborts(
    fault_proxy: FaultProxy, s3_client: Any, bucket: str, s3_env: dict[str, str], tmp_path: Path
) -> None:
    """Every part upload answers 500 for good: give up, abort the upload, clean the spool."""
    fault_proxy.add_rule(Fault.internal_error(), path=PARTS)
    t0 = time.monotonic()
    r = run_put(
        random_bytes(12 * MiB),
        f"s3://{bucket}/doomed",
        "--chunk-size",
        "5MiB",
        "--retries",
        "3",
        env=s3_env,
        endpoint=fault_proxy.url,
        spool=tmp_path / "spool",
    )
    assert r.code == 1
    assert time.monotonic() - t0 < 30
    assert "gave up after 4 attempts" in r.stderr and "Traceback" not in r.stderr
    assert s3_client.list_objects_v2(Bucket=bucket).get("KeyCount", 0) == 0
    assert_no_incomplete_uploads(s3_client, bucket)
    assert_spool_empty(tmp_path / "spool")


def test_server_gone_for_good(
    local_s3: LocalS3, s3_client: Any, bucket: str, s3_env: dict[str, str], tmp_path: Path
) -> None:
    """The endpoint vanishes mid-stream: exit 1 in bounded time, say what was left behind."""
    proxy = FaultProxy(local_s3.endpoint_url).start()
    cmd = s3tui_cmd(
        "put",
        "-",
        f"s3://{bucket}/gone",
        "--endpoint-url",
        proxy.url,
        "--spool-dir",
        str(tmp_path / "spool"),
        "--chunk-size",
        "5MiB",
        "--retries",
        "2",
        "--patience",  # an unreachable endpoint is waited out this long, not --retries
        "5s",
    )
    p = subprocess.Popen(cmd, stdin=subprocess.PIPE, stderr=subprocess.PIPE, env=s3_env)
    assert p.stdin is not None and p.stderr is not None
    try:
        end = time.monotonic() + 20
        while not s3_client.list_multipart_uploads(Bucket=bucket).get("Uploads"):
            assert time.monotonic() < end
            time.sleep(0.05)
        proxy.stop()  # connection refused from now on
        t0 = time.monotonic()
        # s3tui may give up and stop reading before all of it is written.
        with contextlib.suppress(BrokenPipeError):
            p.stdin.write(random_bytes(11 * MiB))
            p.stdin.close()
        assert p.wait(60) == 1
        assert time.monotonic() - t0 < 40
        err = p.stderr.read().decode()
        assert "cannot connect" in err and "s3tui cleanup" in err, err
        assert "Traceback" not in err
        assert_spool_empty(tmp_path / "spool")
    finally:
        p.kill()
        proxy.stop()
    # The upload it could not abort was noted: `s3tui cleanup` aborts it once S3 is reachable.
    assert len(s3_client.list_multipart_uploads(Bucket=bucket).get("Uploads", [])) == 1
    dry = subprocess.run(
        s3tui_cmd("cleanup", "--dry-run"), env=s3_env, capture_output=True, text=True, timeout=60
    )
    assert dry.returncode == 0 and f"would abort s3://{bucket}/gone" in dry.stdout, dry
    assert len(s3_client.list_multipart_uploads(Bucket=bucket).get("Uploads", [])) == 1
    cmd = s3tui_cmd("cleanup", "--endpoint-url", local_s3.endpoint_url)  # the proxy is gone
    done = subprocess.run(cmd, env=s3_env, capture_output=True, text=True, timeout=60)
    assert done.returncode == 0 and f"aborted s3://{bucket}/gone" in done.stdout, done
    assert_no_incomplete_uploads(s3_client, bucket)
    again = subprocess.run(cmd, env=s3_env, capture_output=True, text=True, timeout=60)
    assert again.returncode == 0 and "no multipart uploads left open" in again.stderr, again
    # The server could not be told; the upload id was reported. Clean it like a user would.
    for u in s3_client.list_multipart_uploads(Bucket=bucket).get("Uploads", []):
        assert u["UploadId"] in err
        s3_client.abort_multipart_upload(Bucket=bucket, Key=u["Key"], UploadId=u["UploadId"])


def test_bwlimit_caps_the_rate(
    local_s3: LocalS3, s3_client: Any, bucket: str, s3_env: dict[str, str], tmp_path: Path
) -> None:
    data = random_bytes(12 * MiB, seed=14)
    t0 = time.monotonic()
    r = run_put(
        data,
        f"s3://{bucket}/capped",
        "--chunk-size",
        "5MiB",
        "--bwlimit",
        "4MB",
        env=s3_env,
        endpoint=local_s3.endpoint_url,
        spool=tmp_path / "spool",
    )
    elapsed = time.monotonic() - t0
    assert r.code == 0, r.stderr
    assert_object_landed(s3_client, bucket, "capped", data, tmp_path)
    assert elapsed > len(data) / 4e6 * 0.8, f"{elapsed:.1f}s is faster than the cap allows"


def test_corrupted_part_is_rejected_by_the_server_and_resent(
    fault_proxy: FaultProxy, s3_client: Any, bucket: str, s3_env: dict[str, str], tmp_path: Path
) -> None:
    """A flipped byte on the wire: the CRC32C sent with the part makes the server refuse it."""
    # Part 2 by number, not "the 2nd part request": under load part 3 (2 MiB, shorter than the
    # offset, so nothing would be flipped) can reach the proxy second.
    fault_proxy.add_rule(Fault.corrupt(at_byte=3 * MiB + 7), path=r"partNumber=2(&|$)", nth=1)
    fault_proxy.add_rule(Fault.corrupt(at_byte=100), path=r"^/[^?]+$", method="PUT", nth=1)
    data = random_bytes(12 * MiB, seed=15)
    stats = tmp_path / "stats.jsonl"
    r = run_put(
        data,
        f"s3://{bucket}/rot",
        "--chunk-size",
        "5MiB",
        "--stats-file",
        str(stats),
        env=s3_env,
        endpoint=fault_proxy.url,
        spool=tmp_path / "spool",
    )
    assert r.code == 0, r.stderr
    assert_object_landed(s3_client, bucket, "rot", data, tmp_path / "spool")
    assert [f.kind for f in fault_proxy.faults] == ["corrupt"]
    assert [rec["error"] for rec in read_jsonl(stats) if not rec["ok"]] == ["BadDigest"]
    # And a small stream (one PutObject) is protected the same way.
    small = random_bytes(1000, seed=16)
    r = run_put(
        small,
        f"s3://{bucket}/rot-small",
        env=s3_env,
        endpoint=fault_proxy.url,
        spool=tmp_path / "spool",
    )
    assert r.code == 0, r.stderr
    assert_object_landed(s3_client, bucket, "rot-small", small, tmp_path / "spool")
    assert [f.kind for f in fault_proxy.faults] == ["corrupt", "corrupt"]
    assert "retry part 1" in r.stderr and "BadDigest" in r.stderr
