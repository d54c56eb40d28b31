"""`put --metrics-file`: every run leaves its result for node_exporter's textfile collector, in
a file Prometheus' own parser reads: a stored upload, a failed one, a stop by a signal, a usage
error."""

from __future__ import annotations

import signal
import stat
import subprocess
import time
from pathlib import Path
from typing import Any

import pytest
from prometheus_client.parser import text_string_to_metric_families

from s3tui.lab.faultproxy import Fault
from tests.helpers import (
    MiB,
    assert_no_incomplete_uploads,
    assert_object_landed,
    assert_spool_empty,
    random_bytes,
    sha256_bytes,
    sha256_of_object,
    write_tree,
)
from tests.integration.cli_runner import run_put, run_put_paths, s3tui_cmd
from tests.integration.test_watch import _feed, _start_put, _wait_listed

pytestmark = pytest.mark.timeout(120)
URL_SECRET = "pa55-in-the-url"


def _metrics(path: Path) -> dict[str, tuple[dict[str, str], float]]:
    """Each metric's one sample, as Prometheus' parser reads the file."""
    out = {}
    for family in text_string_to_metric_families(path.read_text()):
        assert family.type == "gauge" and family.documentation, family.name
        assert len(family.samples) == 1, family
        sample = family.samples[0]
        out[family.name] = (sample.labels, sample.value)
    return out


def _values(path: Path) -> dict[str, float]:
    return {name: value for name, (_, value) in _metrics(path).items()}


def _assert_file_is_clean(path: Path, env: dict[str, str]) -> None:
    assert stat.S_IMODE(path.stat().st_mode) == 0o644  # the collector runs as another user
    assert [p.name for p in path.parent.iterdir()] == [path.name]  # no temp file left
    text = path.read_text()
    for secret in (env["AWS_SECRET_ACCESS_KEY"], env["AWS_ACCESS_KEY_ID"], URL_SECRET):
        assert secret not in text


def test_a_stored_then_a_failed_upload_each_leave_their_result(
    local_s3: Any, s3_client: Any, bucket: str, s3_env: dict[str, str], tmp_path: Path
) -> None:
    data = random_bytes(12 * MiB, seed=31)
    spool = tmp_path / "spool"
    prom = tmp_path / "textfile" / "db-backup.prom"
    prom.parent.mkdir()
    endpoint = local_s3.endpoint_url.replace("://", f"://s3user:{URL_SECRET}@", 1)
    t0 = time.time()
    run = run_put(
        data, f"s3://{bucket}/db/dump.gz", "--no-tui", "--chunk-size", "5MiB",
        "--metrics-file", str(prom), env=s3_env, endpoint=endpoint, spool=spool,
    )  # fmt: skip
    t1 = time.time()
    assert run.code == 0, run.stderr
    assert_object_landed(s3_client, bucket, "db/dump.gz", data, spool)
    metrics = _metrics(prom)
    assert {labels["bucket"] for labels, _ in metrics.values()} == {bucket}
    assert {labels["key"] for labels, _ in metrics.values()} == {"db/dump.gz"}
    v = _values(prom)
    assert v["s3tui_upload_success"] == 1 and v["s3tui_upload_exit_code"] == 0
    assert v["s3tui_upload_bytes"] == len(data)
    assert v["s3tui_upload_parts"] == 3 and v["s3tui_upload_retries"] == 0
    assert 0 < v["s3tui_upload_duration_seconds"] < t1 - t0
    started, ended = (
        v["s3tui_upload_start_timestamp_seconds"],
        v["s3tui_upload_end_timestamp_seconds"],
    )
    assert t0 <= started <= ended <= t1
    success_at = v["s3tui_upload_last_success_timestamp_seconds"]
    assert success_at == v["s3tui_upload_end_timestamp_seconds"]
    _assert_file_is_clean(prom, s3_env)

    # The next night's dump dies after 6 MiB: nothing changes at the key, the file says so and
    # still holds when the last good run ended.
    before = sha256_of_object(s3_client, bucket, "db/dump.gz")
    p = subprocess.run(
        s3tui_cmd(
            "put", "--from", "head -c 6291456 /dev/urandom; exit 3", f"s3://{bucket}/db/dump.gz",
            "--endpoint-url", endpoint, "--spool-dir", str(spool), "--no-tui",
            "--chunk-size", "5MiB", "--metrics-file", str(prom),
        ),
        env=s3_env, capture_output=True, stdin=subprocess.DEVNULL, timeout=60,
    )  # fmt: skip
    assert p.returncode == 1 and "exited with status 3" in p.stderr.decode(), p.stderr
    assert sha256_of_object(s3_client, bucket, "db/dump.gz") == before
    assert_no_incomplete_uploads(s3_client, bucket)
    assert_spool_empty(spool)
    v = _values(prom)
    assert v["s3tui_upload_success"] == 0 and v["s3tui_upload_exit_code"] == 1
    assert v["s3tui_upload_end_timestamp_seconds"] > success_at
    assert v["s3tui_upload_last_success_timestamp_seconds"] == success_at
    _assert_file_is_clean(prom, s3_env)


def test_a_stop_by_a_signal_and_a_missing_bucket_are_recorded(
    local_s3: Any, s3_client: Any, bucket: str, s3_env: dict[str, str], tmp_path: Path
) -> None:
    prom = tmp_path / "m" / "job.prom"
    prom.parent.mkdir()
    spool = tmp_path / "spool"
    put = _start_put(
        f"s3://{bucket}/stopped.bin", s3_env, local_s3.endpoint_url, spool,
        "--metrics-file", str(prom),
    )  # fmt: skip
    _feed(put, random_bytes(40 * MiB, seed=32), 512 * 1024, 0.2)
    _wait_listed(s3_env)
    time.sleep(1.5)
    put.send_signal(signal.SIGTERM)
    assert put.wait(60) == 143
    assert_no_incomplete_uploads(s3_client, bucket)
    assert_spool_empty(spool)
    v = _values(prom)
    assert v["s3tui_upload_success"] == 0 and v["s3tui_upload_exit_code"] == 143
    assert "s3tui_upload_last_success_timestamp_seconds" not in v  # none has succeeded yet
    _assert_file_is_clean(prom, s3_env)

    # Failing before any upload starts (the bucket is not there) is recorded too.
    run = run_put(
        b"x" * 100, f"s3://{bucket}-gone/k", "--no-tui", "--metrics-file", str(prom),
        env=s3_env, endpoint=local_s3.endpoint_url, spool=spool,
    )  # fmt: skip
    assert run.code == 1, run.stderr
    metrics = _metrics(prom)
    assert metrics["s3tui_upload_exit_code"] == ({"bucket": f"{bucket}-gone", "key": "k"}, 1)


def test_a_tree_with_a_failed_file_says_how_many_failed(
    fault_proxy: Any, s3_client: Any, bucket: str, s3_env: dict[str, str], tmp_path: Path
) -> None:
    """One file refused (AccessDenied, not retried), the others stored: the run failed, and
    the file says so with the count of failed files and the bytes that were stored."""
    files = write_tree(
        tmp_path / "src",
        {"a.bin": random_bytes(70_000, seed=1), "b.bin": random_bytes(6 * MiB, seed=2),
         "denied.bin": random_bytes(5000, seed=3)},
    )  # fmt: skip
    denied = fault_proxy.add_rule(
        Fault.respond(403, "AccessDenied", "Access Denied"),
        method="PUT",
        path=r"/nightly/denied\.bin$",
    )
    prom = tmp_path / "textfile" / "tree.prom"
    prom.parent.mkdir()
    spool = tmp_path / "spool"
    r = run_put_paths(
        str(tmp_path / "src"), f"s3://{bucket}/nightly/", "--metrics-file", str(prom),
        env=s3_env, endpoint=fault_proxy.url, spool=spool,
    )  # fmt: skip
    assert r.code == 1, r.stderr
    assert denied.injected >= 1
    for name in ("a.bin", "b.bin"):
        assert sha256_of_object(s3_client, bucket, f"nightly/{name}") == sha256_bytes(files[name])
    assert "nightly/denied.bin" not in {
        o["Key"] for o in s3_client.list_objects_v2(Bucket=bucket).get("Contents", [])
    }
    assert_no_incomplete_uploads(s3_client, bucket)
    assert_spool_empty(spool)
    v = _values(prom)
    assert v["s3tui_upload_success"] == 0 and v["s3tui_upload_exit_code"] == 1
    assert v["s3tui_upload_files_failed"] == 1
    assert v["s3tui_upload_parts"] == 2  # the files stored, with their bytes
    assert v["s3tui_upload_bytes"] == len(files["a.bin"]) + len(files["b.bin"])
    assert "s3tui_upload_last_success_timestamp_seconds" not in v
    _assert_file_is_clean(prom, s3_env)


def test_a_usage_error_is_recorded_and_a_bad_path_refused(
    s3_env: dict[str, str], tmp_path: Path
) -> None:
    prom = tmp_path / "job.prom"
    cmd = s3tui_cmd("put", "-", "s3://bkt/k", "--chunk-size", "1KiB", "--metrics-file", str(prom))
    p = subprocess.run(cmd, env=s3_env, capture_output=True, stdin=subprocess.DEVNULL)
    assert p.returncode == 2
    v = _values(prom)
    assert v["s3tui_upload_success"] == 0 and v["s3tui_upload_exit_code"] == 2
    missing = tmp_path / "nowhere" / "job.prom"
    cmd = s3tui_cmd("put", "-", "s3://bkt/k", "--metrics-file", str(missing))
    p = subprocess.run(cmd, env=s3_env, capture_output=True, stdin=subprocess.DEVNULL)
    assert p.returncode == 2
    assert p.stderr.decode().strip() == (
        f"s3tui: error: --metrics-file: directory {missing.parent} does not exist"
    )
