"""Rerunning `s3tui put FILE-or-DIR DEST` after a SIGKILL continues the upload, on the real server
behind the fault proxy, whose request log shows what was sent.

The killed run is slowed by --bwlimit and killed once the stats file shows some parts stored;
the server's ListParts then says which parts it holds, and the rerun must send none of those.
"""

from __future__ import annotations

import os
import shutil
import signal
import subprocess
import time
from pathlib import Path
from typing import Any
from urllib.parse import parse_qs, urlsplit

from s3tui.lab import FaultProxy
from tests.helpers import (
    MiB,
    assert_landed,
    assert_no_incomplete_uploads,
    random_bytes,
    read_jsonl,
    write_tree,
)
from tests.integration.cli_runner import run_put_paths, s3tui_cmd

CHUNK = "5MiB"


def _stored_parts(s3: Any, bucket: str) -> dict[str, tuple[str, set[int]]]:
    """key -> (upload id, part numbers the server holds) of every open upload."""
    out = {}
    for u in s3.list_multipart_uploads(Bucket=bucket).get("Uploads", []):
        parts = s3.list_parts(Bucket=bucket, Key=u["Key"], UploadId=u["UploadId"]).get("Parts", [])
        out[u["Key"]] = (u["UploadId"], {int(p["PartNumber"]) for p in parts})
    return out


def _parts_sent(proxy: FaultProxy, since: int) -> list[tuple[str, int]]:
    """(upload id, part number) of every UploadPart the proxy saw after request ``since``."""
    sent = []
    for method, target in proxy.requests[since:]:
        query = parse_qs(urlsplit(target).query)
        if method == "PUT" and "partNumber" in query:
            sent.append((query["uploadId"][0], int(query["partNumber"][0])))
    return sent


def _kill_midway(
    args: list[str],
    env: dict[str, str],
    stats: Path,
    parts: int,
    timeout: float = 60,
    of: str = "",
) -> None:
    """Run `s3tui put ARGS` and SIGKILL it once ``parts`` parts (of the file whose path ends
    with ``of``) were stored."""
    p = subprocess.Popen(
        s3tui_cmd("put", *args, "--stats-file", str(stats)),
        stdin=subprocess.DEVNULL,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
        env=env,
    )
    try:
        end = time.monotonic() + timeout
        while True:
            assert p.poll() is None, "the run ended before it could be killed"
            assert time.monotonic() < end, "no parts were stored in time"
            records = read_jsonl(stats) if stats.exists() else []
            done = [
                r
                for r in records
                if r.get("ok") and r.get("part") and str(r.get("file") or "").endswith(of)
            ]
            if len(done) >= parts:
                break
            time.sleep(0.05)
        p.send_signal(signal.SIGKILL)
        p.wait(10)
    finally:
        p.kill()


def _slow(proxy: FaultProxy, tmp: Path) -> list[str]:
    return [
        "--endpoint-url",
        proxy.url,
        "--spool-dir",
        str(tmp / "spool"),
        "--chunk-size",
        CHUNK,
        "--concurrency",
        "2",
        "--bwlimit",
        "8MB",
        "--no-tui",
    ]


def test_a_killed_directory_upload_is_continued_without_sending_a_stored_part_again(
    fault_proxy: FaultProxy, s3_client: Any, bucket: str, s3_env: dict[str, str], tmp_path: Path
) -> None:
    src = tmp_path / "photos"
    files = write_tree(
        src,
        {
            "big1.iso": random_bytes(30 * MiB, 61),
            "sub/big2.iso": random_bytes(27 * MiB + 5, 62),
            "small.txt": b"small",
        },
    )
    dest = f"s3://{bucket}/p/"
    # Parts go file by file: big1.iso is done and big2.iso half sent when the kill comes.
    slow = _slow(fault_proxy, tmp_path)
    _kill_midway([str(src), dest, *slow], s3_env, tmp_path / "s.jsonl", 2, of="big2.iso")
    stored = _stored_parts(s3_client, bucket)
    assert stored["p/sub/big2.iso"][1], stored
    done_before = {o["Key"] for o in s3_client.list_objects_v2(Bucket=bucket).get("Contents", [])}
    since = len(fault_proxy.requests)

    r = run_put_paths(
        str(src),
        dest,
        "--chunk-size",
        CHUNK,
        "--no-tui",
        env=s3_env,
        endpoint=fault_proxy.url,
        spool=tmp_path / "spool",
    )
    assert r.code == 0, r.stderr
    sent = _parts_sent(fault_proxy, since)
    again = [(u, n) for u, n in sent if any(u == uid and n in ns for uid, ns in stored.values())]
    assert not again, f"stored parts sent again: {again}"
    assert_landed(s3_client, bucket, {f"p/{k}": v for k, v in files.items()}, tmp_path / "spool")
    for key, (_, parts) in stored.items():
        if parts:
            rel = key.removeprefix("p/")
            assert f"resuming {rel}: {len(parts)} of " in r.stderr, r.stderr
    # Files the killed run completed were not sent at all (not even looked at).
    assert done_before and "uploaded by the interrupted run (unchanged, not sent" in r.stderr
    rerun_keys = {urlsplit(t).path for _, t in fault_proxy.requests[since:]}
    assert not {k for k in done_before if f"/{bucket}/{k}" in rerun_keys}, done_before
    assert "already stored by the interrupted run" in r.stderr
    assert not list((Path(os.environ["XDG_STATE_HOME"]) / "s3tui" / "runs").glob("*.jsonl"))


def test_a_killed_single_file_upload_is_continued(
    fault_proxy: FaultProxy, s3_client: Any, bucket: str, s3_env: dict[str, str], tmp_path: Path
) -> None:
    data = random_bytes(40 * MiB + 3, 63)
    path = tmp_path / "big.iso"
    path.write_bytes(data)
    dest = f"s3://{bucket}/isos/big.iso"
    _kill_midway([str(path), dest, *_slow(fault_proxy, tmp_path)], s3_env, tmp_path / "s.jsonl", 4)
    ((upload_id, parts),) = _stored_parts(s3_client, bucket).values()
    assert parts
    since = len(fault_proxy.requests)
    r = run_put_paths(
        str(path), dest, "--no-tui", env=s3_env, endpoint=fault_proxy.url, spool=tmp_path / "sp"
    )
    assert r.code == 0, r.stderr
    sent = _parts_sent(fault_proxy, since)
    assert all(u == upload_id for u, _ in sent)  # the same upload, continued
    assert not {n for _, n in sent} & parts
    assert_landed(s3_client, bucket, {"isos/big.iso": data}, tmp_path / "sp")
    assert {n for _, n in sent} | parts == set(range(1, 10))  # 5 MiB parts, as it was cut
    assert f"resuming big.iso: {len(parts)} of 9 parts" in r.stderr


def test_a_file_changed_since_the_kill_starts_over(
    fault_proxy: FaultProxy, s3_client: Any, bucket: str, s3_env: dict[str, str], tmp_path: Path
) -> None:
    data = bytearray(random_bytes(30 * MiB, 64))
    path = tmp_path / "db.dump"
    path.write_bytes(data)
    dest = f"s3://{bucket}/db.dump"
    _kill_midway([str(path), dest, *_slow(fault_proxy, tmp_path)], s3_env, tmp_path / "s.jsonl", 2)
    ((old, _),) = _stored_parts(s3_client, bucket).values()
    data[:4] = b"NEW!"  # the first stored part no longer holds these bytes
    path.write_bytes(data)
    since = len(fault_proxy.requests)
    r = run_put_paths(
        str(path),
        dest,
        "--chunk-size",
        CHUNK,
        env=s3_env,
        endpoint=fault_proxy.url,
        spool=tmp_path / "sp",
    )
    assert r.code == 0, r.stderr
    assert "changed since the interrupted run (modified): starting it over" in r.stderr
    assert_landed(s3_client, bucket, {"db.dump": bytes(data)}, tmp_path / "sp")
    sent = _parts_sent(fault_proxy, since)
    assert len(sent) == 6 and old not in {u for u, _ in sent}
    aborted = [t for m, t in fault_proxy.requests[since:] if m == "DELETE" and old in t]
    assert aborted, "the old upload was aborted"


def test_without_the_journal_a_matching_upload_is_adopted_and_a_foreign_one_left_alone(
    fault_proxy: FaultProxy, s3_client: Any, bucket: str, s3_env: dict[str, str], tmp_path: Path
) -> None:
    src = tmp_path / "d"
    files = write_tree(
        src, {"a.bin": random_bytes(25 * MiB, 65), "b.bin": random_bytes(12 * MiB, 66)}
    )
    # Another writer's upload on b.bin's key, with other bytes.
    foreign = s3_client.create_multipart_upload(Bucket=bucket, Key="p/b.bin")["UploadId"]
    s3_client.upload_part(
        Bucket=bucket, Key="p/b.bin", UploadId=foreign, PartNumber=1, Body=random_bytes(5 * MiB, 9)
    )
    dest = f"s3://{bucket}/p/"
    slow = _slow(fault_proxy, tmp_path)
    _kill_midway([str(src), dest, "--exclude", "b.bin", *slow], s3_env, tmp_path / "s.jsonl", 2)
    stored = _stored_parts(s3_client, bucket)
    ours, parts = stored["p/a.bin"]
    assert parts
    shutil.rmtree(Path(os.environ["XDG_STATE_HOME"]) / "s3tui")  # a lost state dir
    since = len(fault_proxy.requests)
    r = run_put_paths(
        str(src),
        dest,
        "--chunk-size",
        CHUNK,
        env=s3_env,
        endpoint=fault_proxy.url,
        spool=tmp_path / "sp",
    )
    assert r.code == 0, r.stderr
    assert "not in this host's journal" in r.stderr and "left alone" in r.stderr
    sent = _parts_sent(fault_proxy, since)
    assert not {(u, n) for u, n in sent if u == ours} & {(ours, n) for n in parts}
    assert foreign not in {u for u, _ in sent}
    remaining = s3_client.list_multipart_uploads(Bucket=bucket).get("Uploads", [])
    assert [u["UploadId"] for u in remaining] == [foreign]  # left as its writer left it
    s3_client.abort_multipart_upload(Bucket=bucket, Key="p/b.bin", UploadId=foreign)
    assert_landed(s3_client, bucket, {f"p/{k}": v for k, v in files.items()}, tmp_path / "sp")


def test_no_resume_starts_over_and_aborts_the_killed_runs_upload(
    fault_proxy: FaultProxy, s3_client: Any, bucket: str, s3_env: dict[str, str], tmp_path: Path
) -> None:
    data = random_bytes(20 * MiB, 67)
    path = tmp_path / "f.bin"
    path.write_bytes(data)
    dest = f"s3://{bucket}/f.bin"
    _kill_midway([str(path), dest, *_slow(fault_proxy, tmp_path)], s3_env, tmp_path / "s.jsonl", 2)
    ((old, _),) = _stored_parts(s3_client, bucket).values()
    since = len(fault_proxy.requests)
    r = run_put_paths(
        str(path),
        dest,
        "--chunk-size",
        CHUNK,
        "--no-resume",
        env=s3_env,
        endpoint=fault_proxy.url,
        spool=tmp_path / "sp",
    )
    assert r.code == 0, r.stderr
    sent = _parts_sent(fault_proxy, since)
    assert sorted(n for _, n in sent) == [1, 2, 3, 4] and old not in {u for u, _ in sent}
    assert "resuming" not in r.stderr
    assert_landed(s3_client, bucket, {"f.bin": data}, tmp_path / "sp")
    assert_no_incomplete_uploads(s3_client, bucket)

    # cleanup after a kill: nothing is left to resume, and the rerun says nothing of it.
    _kill_midway([str(path), dest, *_slow(fault_proxy, tmp_path)], s3_env, tmp_path / "t.jsonl", 1)
    done = subprocess.run(s3tui_cmd("cleanup"), env=s3_env, capture_output=True, text=True)
    assert done.returncode == 0, done.stderr
    assert "no longer be resumed" in done.stderr
    assert_no_incomplete_uploads(s3_client, bucket)
