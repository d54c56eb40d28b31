"""``put --resume`` of a stream after ``kill -9``, against the real SeaweedFS behind the fault
proxy, whose request log shows which part numbers each run sent.

The first run reads a deterministic producer that stalls once some parts are stored; it is
killed with SIGKILL, which leaves its multipart upload open (and noted in the journal). The
resumed run reads the same (or a changed) stream again.
"""

from __future__ import annotations

import os
import re
import shlex
import shutil
import signal
import subprocess
import sys
import time
from pathlib import Path
from typing import Any

from s3tui.lab import FaultProxy
from tests.helpers import (
    MiB,
    assert_no_incomplete_uploads,
    assert_spool_empty,
    random_bytes,
    sha256_bytes,
    sha256_of_object,
)
from tests.integration.cli_runner import Run, run_put, s3tui_cmd

PART = 5 * MiB
SIZE = 5 * PART + 321  # six parts

PRODUCER = """
import os, random, sys, time
size, seed, differ, seed2, stall = (int(a) for a in sys.argv[1:6])
data = random.Random(seed).randbytes(size)
if differ < size:
    data = data[:differ] + random.Random(seed2).randbytes(size - differ)
out = sys.stdout.buffer
out.write(data[:stall]); out.flush()
parent, end = os.getppid(), time.monotonic() + 90
while stall < size and os.getppid() == parent and time.monotonic() < end:
    time.sleep(0.05)  # stalled until the reader is killed
out.write(data[stall:])
"""


def _stream(size: int = SIZE, seed: int = 1, differ: int | None = None, seed2: int = 2) -> bytes:
    """What the producer writes: ``random_bytes(size, seed)``, from byte ``differ`` on
    ``random_bytes(.., seed2)`` instead."""
    data = random_bytes(size, seed)
    if differ is not None and differ < size:
        data = data[:differ] + random_bytes(size - differ, seed2)
    return data


def _producer(tmp: Path, size: int = SIZE, seed: int = 1, stall: int | None = None) -> str:
    script = tmp / "producer.py"
    script.write_text(PRODUCER)
    args = [size, seed, size, 2, size if stall is None else stall]
    return shlex.join([sys.executable, str(script), *map(str, args)])


def _stored_parts(client: Any, bucket: str, key: str) -> int:
    uploads = client.list_multipart_uploads(Bucket=bucket, Prefix=key).get("Uploads", [])
    if not uploads:
        return 0
    up = uploads[0]
    return len(client.list_parts(Bucket=bucket, Key=key, UploadId=up["UploadId"]).get("Parts", []))


def _killed_run(
    proxy: FaultProxy,
    client: Any,
    bucket: str,
    key: str,
    env: dict[str, str],
    tmp: Path,
    parts: int,
    *extra: str,
) -> Path:
    """``put --from PRODUCER`` killed with SIGKILL once ``parts`` parts are stored (the
    producer stalls after them and half a part more). Returns the dead run's spool."""
    spool = tmp / f"spool-killed-{parts}"
    command = _producer(tmp, stall=parts * PART + PART // 2)
    cmd = s3tui_cmd(
        "put", "--from", command, f"s3://{bucket}/{key}", "--endpoint-url", proxy.url,
        "--spool-dir", str(spool), "--chunk-size", "5MiB", "--no-tui", *extra,
    )  # fmt: skip
    p = subprocess.Popen(cmd, stdin=subprocess.DEVNULL, stderr=subprocess.DEVNULL, env=env)
    try:
        end = time.monotonic() + 60
        while _stored_parts(client, bucket, key) < parts:
            assert p.poll() is None, "the first run ended by itself"
            assert time.monotonic() < end, "the parts were not stored in time"
            time.sleep(0.1)
        p.send_signal(signal.SIGKILL)
        p.wait(10)
    finally:
        p.kill()
    assert _stored_parts(client, bucket, key) == parts
    return spool


def _parts_sent(proxy: FaultProxy, since: int) -> list[int]:
    """The part numbers of the UploadPart requests in the proxy's log after entry ``since``."""
    found = []
    for method, target in proxy.requests[since:]:
        m = re.search(r"[?&]partNumber=(\d+)", target)
        if method == "PUT" and m:
            found.append(int(m.group(1)))
    return sorted(found)


def _resume(
    proxy: FaultProxy, bucket: str, key: str, data: bytes, env: dict[str, str], spool: Path
) -> Run:
    return run_put(
        data, f"s3://{bucket}/{key}", "--resume", "--chunk-size", "5MiB",
        env=env, endpoint=proxy.url, spool=spool,
    )  # fmt: skip


def _landed(client: Any, bucket: str, key: str, data: bytes, *spools: Path) -> None:
    assert sha256_of_object(client, bucket, key) == sha256_bytes(data)
    assert_no_incomplete_uploads(client, bucket)
    for spool in spools:
        assert_spool_empty(spool)


def test_the_same_producer_resumes_without_resending_stored_parts(
    fault_proxy: FaultProxy, s3_client: Any, bucket: str, s3_env: dict[str, str], tmp_path: Path
) -> None:
    killed = _killed_run(fault_proxy, s3_client, bucket, "db.zfs", s3_env, tmp_path, parts=2)
    seen = len(fault_proxy.requests)
    spool = tmp_path / "spool"
    cmd = s3tui_cmd(
        "put", "--from", _producer(tmp_path), f"s3://{bucket}/db.zfs", "--resume",
        "--endpoint-url", fault_proxy.url, "--spool-dir", str(spool), "--chunk-size", "5MiB",
        "--no-tui",
    )  # fmt: skip
    p = subprocess.run(cmd, stdin=subprocess.DEVNULL, env=s3_env, capture_output=True, timeout=120)
    err = p.stderr.decode()
    assert p.returncode == 0, err
    assert _parts_sent(fault_proxy, seen) == [3, 4, 5, 6]
    assert "resumed: 2 of 6 parts (10 MiB) already stored, 4 sent" in err
    _landed(s3_client, bucket, "db.zfs", _stream(), spool, killed)


def test_a_resumed_run_killed_again_is_resumed_again(
    fault_proxy: FaultProxy, s3_client: Any, bucket: str, s3_env: dict[str, str], tmp_path: Path
) -> None:
    """The resumed run takes the dead run's journal entry over: killed too, it is resumable."""
    first = _killed_run(fault_proxy, s3_client, bucket, "k", s3_env, tmp_path, 2)
    seen = len(fault_proxy.requests)
    second = _killed_run(fault_proxy, s3_client, bucket, "k", s3_env, tmp_path, 4, "--resume")
    assert _parts_sent(fault_proxy, seen) == [3, 4]
    assert not first.exists() or not list(first.iterdir()), "the first run's spool is gone"
    seen = len(fault_proxy.requests)
    r = _resume(fault_proxy, bucket, "k", _stream(), s3_env, tmp_path / "spool")
    assert r.code == 0, r.stderr
    assert _parts_sent(fault_proxy, seen) == [5, 6]
    assert "resumed: 4 of 6 parts (20 MiB) already stored, 2 sent" in r.stderr
    _landed(s3_client, bucket, "k", _stream(), tmp_path / "spool", second)


def test_a_stream_that_differs_from_part_3_on_is_stored_as_it_is_now(
    fault_proxy: FaultProxy, s3_client: Any, bucket: str, s3_env: dict[str, str], tmp_path: Path
) -> None:
    killed = _killed_run(fault_proxy, s3_client, bucket, "k", s3_env, tmp_path, parts=3)
    seen = len(fault_proxy.requests)
    changed = _stream(differ=2 * PART + 100)
    r = _resume(fault_proxy, bucket, "k", changed, s3_env, tmp_path / "spool")
    assert r.code == 0, r.stderr
    assert _parts_sent(fault_proxy, seen) == [3, 4, 5, 6]
    assert "part 3 differs from the stored one" in r.stderr
    assert "resumed: 2 of 6 parts" in r.stderr
    _landed(s3_client, bucket, "k", changed, tmp_path / "spool", killed)


def test_a_shorter_stream_leaves_the_stale_stored_parts_out(
    fault_proxy: FaultProxy, s3_client: Any, bucket: str, s3_env: dict[str, str], tmp_path: Path
) -> None:
    _killed_run(fault_proxy, s3_client, bucket, "k", s3_env, tmp_path, parts=4)
    seen = len(fault_proxy.requests)
    shorter = _stream()[: 2 * PART + MiB]
    r = _resume(fault_proxy, bucket, "k", shorter, s3_env, tmp_path / "spool")
    assert r.code == 0, r.stderr
    assert _parts_sent(fault_proxy, seen) == [3]
    assert "resumed: 2 of 3 parts (10 MiB) already stored, 1 sent" in r.stderr
    _landed(s3_client, bucket, "k", shorter, tmp_path / "spool")


def test_a_stream_that_differs_from_part_1_is_a_new_object(
    fault_proxy: FaultProxy, s3_client: Any, bucket: str, s3_env: dict[str, str], tmp_path: Path
) -> None:
    _killed_run(fault_proxy, s3_client, bucket, "k", s3_env, tmp_path, parts=2)
    seen = len(fault_proxy.requests)
    other = random_bytes(2 * PART + 5, seed=99)
    r = _resume(fault_proxy, bucket, "k", other, s3_env, tmp_path / "spool")
    assert r.code == 0, r.stderr
    assert "nothing could be reused" in r.stderr
    assert "resumed:" not in r.stderr
    assert _parts_sent(fault_proxy, seen) == [1, 2, 3]
    _landed(s3_client, bucket, "k", other, tmp_path / "spool")  # the old upload was aborted


def test_without_the_journal_an_upload_whose_part_1_matches_is_adopted(
    fault_proxy: FaultProxy, s3_client: Any, bucket: str, s3_env: dict[str, str], tmp_path: Path
) -> None:
    _killed_run(fault_proxy, s3_client, bucket, "k", s3_env, tmp_path, parts=2)
    shutil.rmtree(Path(os.environ["XDG_STATE_HOME"]) / "s3tui")  # another host, a lost state dir
    seen = len(fault_proxy.requests)
    r = _resume(fault_proxy, bucket, "k", _stream(), s3_env, tmp_path / "spool")
    assert r.code == 0, r.stderr
    assert "its part 1 is the stream's first chunk" in r.stderr
    assert _parts_sent(fault_proxy, seen) == [3, 4, 5, 6]
    _landed(s3_client, bucket, "k", _stream(), tmp_path / "spool")


def test_without_resume_the_dead_runs_upload_is_pointed_at_and_left(
    fault_proxy: FaultProxy, s3_client: Any, bucket: str, s3_env: dict[str, str], tmp_path: Path
) -> None:
    _killed_run(fault_proxy, s3_client, bucket, "k", s3_env, tmp_path, parts=2)
    seen = len(fault_proxy.requests)
    data = _stream()
    r = run_put(
        data, f"s3://{bucket}/k", "--chunk-size", "5MiB",
        env=s3_env, endpoint=fault_proxy.url, spool=tmp_path / "spool",
    )  # fmt: skip
    assert r.code == 0, r.stderr
    assert "`--resume` continues it" in r.stderr and "s3tui cleanup" in r.stderr
    assert _parts_sent(fault_proxy, seen) == [1, 2, 3, 4, 5, 6]
    assert sha256_of_object(s3_client, bucket, "k") == sha256_bytes(data)
    assert _stored_parts(s3_client, bucket, "k") == 2, "the dead run's upload is left as it is"
    done = subprocess.run(s3tui_cmd("cleanup"), env=s3_env, capture_output=True, timeout=60)
    assert done.returncode == 0, done.stderr
    assert_no_incomplete_uploads(s3_client, bucket)
    assert_spool_empty(tmp_path / "spool")
