"""``s3tui put DIR|FILES s3://bucket/prefix/`` against a real SeaweedFS: keys, bytes, content types,
per-file failures, changing files, --skip-existing, --dry-run, filters, links, cancel."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import time
from pathlib import Path
from typing import Any

import pytest

from s3tui.lab import FaultProxy, LocalS3
from s3tui.lab.faultproxy import Fault
from tests.helpers import (
    assert_landed,
    random_bytes,
    write_tree,
)
from tests.integration.cli_runner import run_put_paths, s3tui_cmd

MiB = 1024 * 1024
CHUNK = 5 * MiB


def _keys(client: Any, bucket: str) -> set[str]:
    resp = client.list_objects_v2(Bucket=bucket)
    return {o["Key"] for o in resp.get("Contents", [])}


def _wait_for(pred: Any, timeout: float = 20) -> None:
    end = time.monotonic() + timeout
    while not pred():
        assert time.monotonic() < end, "condition not reached"
        time.sleep(0.02)


def test_tree_lands_with_keys_bytes_and_content_types(
    local_s3: LocalS3, s3_client: Any, bucket: str, s3_env: dict[str, str], tmp_path: Path
) -> None:
    src = tmp_path / "photos"
    files = write_tree(
        src,
        {
            "readme.txt": b"hello",
            "empty.json": b"",
            ".hidden": b"h",
            "2026/ünïcødé 名前.html": "<p>ü</p>".encode(),
            "2026/jan/below.bin": random_bytes(CHUNK - 1, seed=1),
            "2026/jan/exact.bin": random_bytes(CHUNK, seed=2),
            "2026/jan/above.bin": random_bytes(CHUNK + 1, seed=3),
            "2026/feb/deep/big.tar.gz": random_bytes(23 * MiB + 7, seed=4),
            "2026/feb/empty-too": b"",
        },
    )
    (src / "link.txt").symlink_to("readme.txt")
    os.mkfifo(src / "pipe")
    stats = tmp_path / "stats.jsonl"
    r = run_put_paths(
        str(src),
        f"s3://{bucket}/media/",
        "--chunk-size",
        "5MiB",
        "--stats-file",
        str(stats),
        env=s3_env,
        endpoint=local_s3.endpoint_url,
        spool=tmp_path / "spool",
    )
    assert r.code == 0, r.stderr
    expect = {f"media/{rel}": data for rel, data in files.items()}
    assert_landed(s3_client, bucket, expect, tmp_path / "spool")

    types = {
        "readme.txt": "text/plain",
        "empty.json": "application/json",
        ".hidden": "application/octet-stream",
        "2026/ünïcødé 名前.html": "text/html",
        "2026/feb/deep/big.tar.gz": "application/gzip",
        "2026/jan/exact.bin": "application/octet-stream",
    }
    for rel, ctype in types.items():
        assert s3_client.head_object(Bucket=bucket, Key=f"media/{rel}")["ContentType"] == ctype
    parts = {"below.bin": None, "exact.bin": 1, "above.bin": 2}
    for name, n in parts.items():
        etag = s3_client.head_object(Bucket=bucket, Key=f"media/2026/jan/{name}")["ETag"]
        assert etag.strip('"').endswith(f"-{n}") if n else "-" not in etag, (name, etag)
    big = s3_client.head_object(Bucket=bucket, Key="media/2026/feb/deep/big.tar.gz")
    assert big["ETag"].strip('"').endswith("-5")

    # Skipped with warnings, not uploaded; the summary has the seed's per-file table.
    assert "pipe: fifo is not a regular file" in r.stderr
    assert "1 symlink: not followed" in r.stderr
    assert "uploaded 9 files" in r.stderr
    assert "attempts" in r.stderr and "MBps_est" in r.stderr and "media/.hidden" in r.stderr
    records = [json.loads(line) for line in stats.read_text().splitlines()]
    per_file = {rec["key"]: rec for rec in records if rec.get("type") == "file"}
    assert set(per_file) == set(expect)
    for rec in per_file.values():
        assert rec["state"] == "done" and rec["attempts"] >= rec["parts"] >= 1
        assert set(rec) >= {"bytes", "success_ms", "total_ms", "MBps", "MBps_est"}
    assert per_file["media/2026/feb/deep/big.tar.gz"]["parts"] == 5
    attempts = [rec for rec in records if "type" not in rec and rec["ok"] and rec["file"]]
    assert sum(rec["bytes"] for rec in attempts) == sum(len(d) for d in files.values())


def test_several_files_under_a_prefix_and_one_file_to_its_key(
    local_s3: LocalS3, s3_client: Any, bucket: str, s3_env: dict[str, str], tmp_path: Path
) -> None:
    files = write_tree(tmp_path, {"a.iso": random_bytes(1000, 5), "b.iso": random_bytes(2000, 6)})
    spool = tmp_path / "spool"
    r = run_put_paths(
        str(tmp_path / "a.iso"),
        str(tmp_path / "b.iso"),
        f"s3://{bucket}/isos",
        "--content-type",
        "application/x-custom",
        env=s3_env,
        endpoint=local_s3.endpoint_url,
        spool=spool,
    )
    assert r.code == 0, r.stderr
    r = run_put_paths(
        str(tmp_path / "b.iso"),
        f"s3://{bucket}/isos/renamed.iso",
        env=s3_env,
        endpoint=local_s3.endpoint_url,
        spool=spool,
    )
    assert r.code == 0, r.stderr
    assert "CRC32C" in r.stderr  # one file: the summary names its ETag and checksum
    expect = {
        "isos/a.iso": files["a.iso"],
        "isos/b.iso": files["b.iso"],
        "isos/renamed.iso": files["b.iso"],
    }
    assert_landed(s3_client, bucket, expect, spool)
    head = s3_client.head_object(Bucket=bucket, Key="isos/a.iso")
    assert head["ContentType"] == "application/x-custom"


def test_a_denied_key_fails_that_file_only(
    s3_client: Any,
    bucket: str,
    s3_env: dict[str, str],
    tmp_path: Path,
    fault_proxy: FaultProxy,
) -> None:
    files = {f"f{i:02d}.txt": random_bytes(100 + i, i) for i in range(8)}
    write_tree(tmp_path / "d", files)
    files.update(write_tree(tmp_path / "d", {"sub/denied.txt": b"no"}))
    fault_proxy.add_rule(Fault.respond(403, "AccessDenied"), path=r"/sub/denied\.txt")
    r = run_put_paths(
        str(tmp_path / "d"),
        f"s3://{bucket}/p/",
        env=s3_env,
        endpoint=fault_proxy.url,
        spool=tmp_path / "spool",
    )
    assert r.code == 1, r.stderr
    assert "1 of 9 files failed" in r.stderr and "Traceback" not in r.stderr
    assert f"failed: {tmp_path / 'd' / 'sub' / 'denied.txt'}: access denied" in r.stderr
    expect = {f"p/{k}": v for k, v in files.items() if k != "sub/denied.txt"}
    assert_landed(s3_client, bucket, expect, tmp_path / "spool")


def test_changed_and_vanished_files_fail_alone_and_nothing_torn_is_stored(
    s3_client: Any,
    bucket: str,
    s3_env: dict[str, str],
    tmp_path: Path,
    fault_proxy: FaultProxy,
) -> None:
    """With one request at a time, the big file's parts go before the small files: while part
    1 crawls through the throttled proxy, the file grows and a later file is deleted."""
    src = tmp_path / "d"
    files = write_tree(
        src,
        {
            "a-big.bin": random_bytes(4 * CHUNK, 7),
            "b-ok.txt": b"fine",
            "c-vanish.txt": b"soon gone",
        },
    )
    fault_proxy.bandwidth = 5e6
    cmd = s3tui_cmd(
        "put",
        str(src),
        f"s3://{bucket}/p/",
        "--endpoint-url",
        fault_proxy.url,
        "--spool-dir",
        str(tmp_path / "spool"),
        "--chunk-size",
        "5MiB",
        "--concurrency",
        "1",
        "--stats-file",
        str(tmp_path / "stats.jsonl"),
    )
    p = subprocess.Popen(cmd, env=s3_env, stdin=subprocess.DEVNULL, stderr=subprocess.PIPE)
    _wait_for(lambda: any("partNumber=1" in t for _, t in fault_proxy.requests))
    with open(src / "a-big.bin", "ab") as fh:
        fh.write(b"more log lines")
    (src / "c-vanish.txt").unlink()
    assert p.wait(60) == 1
    err = p.stderr.read().decode() if p.stderr else ""
    assert "2 of 3 files failed" in err, err
    assert f"failed: {src / 'a-big.bin'}: changed while being uploaded" in err
    assert f"failed: {src / 'c-vanish.txt'}: vanished" in err
    # The big file's later parts, queued when it failed, end quietly: no attempt is recorded.
    records = [json.loads(line) for line in (tmp_path / "stats.jsonl").read_text().splitlines()]
    attempts = [
        rec for rec in records if "type" not in rec and rec["file"] == str(src / "a-big.bin")
    ]
    assert {rec["error"] for rec in attempts if not rec["ok"]} == {"changed"}, attempts
    assert_landed(s3_client, bucket, {"p/b-ok.txt": files["b-ok.txt"]}, tmp_path / "spool")


def test_skip_existing_sends_only_heads_and_uploads_what_changed(
    local_s3: LocalS3,
    s3_client: Any,
    bucket: str,
    s3_env: dict[str, str],
    tmp_path: Path,
    fault_proxy: FaultProxy,
) -> None:
    src = tmp_path / "d"
    files = write_tree(
        src,
        {
            "a.txt": b"aaaa",
            "b/c.txt": b"cccc",
            "empty": b"",
            "big.bin": random_bytes(2 * CHUNK + 3, 8),
        },
    )
    spool = tmp_path / "spool"
    args = (str(src), f"s3://{bucket}/p/", "--chunk-size", "5MiB", "--skip-existing", "--json")
    r = run_put_paths(*args, env=s3_env, endpoint=local_s3.endpoint_url, spool=spool)
    assert r.code == 0, r.stderr

    r = run_put_paths(*args, env=s3_env, endpoint=fault_proxy.url, spool=spool)
    assert r.code == 0, r.stderr
    assert {m for m, _ in fault_proxy.requests} == {"HEAD"}
    assert fault_proxy.requests_seen == 4
    summary = json.loads(r.stderr.splitlines()[-1])
    assert summary["files_skipped"] == 4 and summary["files_done"] == 0

    # Same size, other bytes: the CRC32C tells them apart, so only that file goes up again.
    files["b/c.txt"] = b"CCCC"
    (src / "b" / "c.txt").write_bytes(files["b/c.txt"])
    r = run_put_paths(*args, env=s3_env, endpoint=fault_proxy.url, spool=spool)
    assert r.code == 0, r.stderr
    writes = [t for m, t in fault_proxy.requests[4:] if m != "HEAD"]
    assert len(writes) == 1 and "/p/b/c.txt" in writes[0], writes
    summary = json.loads(r.stderr.splitlines()[-1])
    assert summary["files_skipped"] == 3 and summary["files_done"] == 1
    assert_landed(s3_client, bucket, {f"p/{k}": v for k, v in files.items()}, spool)


def test_dry_run_sends_nothing_and_shows_filters_and_links(
    s3_client: Any,
    bucket: str,
    s3_env: dict[str, str],
    tmp_path: Path,
    fault_proxy: FaultProxy,
) -> None:
    src = tmp_path / "d"
    write_tree(
        src,
        {
            "a.txt": b"12345",
            "b.tmp": b"x",
            ".git/config": b"c",
            "sub/c.txt": b"c",
            "sub/d.jpg": b"dd",
        },
    )
    (src / "sub" / "alias.txt").symlink_to("c.txt")
    (src / "sub" / "loop").symlink_to("..")
    base = (str(src), f"s3://{bucket}/p/", "--dry-run")

    def listed(*extra: str) -> list[tuple[str, int]]:
        r = run_put_paths(
            *base, *extra, "--json", env=s3_env, endpoint=fault_proxy.url, spool=tmp_path / "spool"
        )
        assert r.code == 0, r.stderr
        rows = [json.loads(line) for line in r.stdout.splitlines()]
        return [(row["key"], row["size"]) for row in rows]

    r = run_put_paths(*base, env=s3_env, endpoint=fault_proxy.url, spool=tmp_path / "spool")
    assert r.code == 0, r.stderr
    assert f"5  {src / 'a.txt'} -> s3://{bucket}/p/a.txt" in r.stdout
    assert "nothing was sent" in r.stderr and "--follow-symlinks" in r.stderr
    assert sorted(k for k, _ in listed()) == [
        "p/.git/config",
        "p/a.txt",
        "p/b.tmp",
        "p/sub/c.txt",
        "p/sub/d.jpg",
    ]
    assert listed("--exclude", "*.tmp", "--exclude", ".git") == [
        ("p/a.txt", 5),
        ("p/sub/c.txt", 1),
        ("p/sub/d.jpg", 2),
    ]
    assert [k for k, _ in listed("--include", "*.txt", "--exclude", "sub/*")] == ["p/a.txt"]
    followed = [k for k, _ in listed("--follow-symlinks", "--include", "*.txt")]
    assert followed == ["p/a.txt", "p/sub/alias.txt", "p/sub/c.txt"]  # the loop is skipped
    assert fault_proxy.requests_seen == 0
    assert _keys(s3_client, bucket) == set()


def test_filters_and_links_in_a_real_upload(
    local_s3: LocalS3, s3_client: Any, bucket: str, s3_env: dict[str, str], tmp_path: Path
) -> None:
    src = tmp_path / "d"
    files = write_tree(
        src,
        {
            "keep.txt": b"k",
            "skip.log": b"s",
            "node_modules/x.js": b"x",
            "sub/.env": b"e",
            "sub/keep.md": b"m",
        },
    )
    (tmp_path / "outside.txt").write_bytes(b"o")
    (src / "sub" / "link.txt").symlink_to(tmp_path / "outside.txt")
    r = run_put_paths(
        str(src),
        f"s3://{bucket}/",
        "--exclude",
        "*.log",
        "--exclude",
        "node_modules",
        env=s3_env,
        endpoint=local_s3.endpoint_url,
        spool=tmp_path / "spool",
    )
    assert r.code == 0, r.stderr
    keep = ("keep.txt", "sub/.env", "sub/keep.md")
    assert_landed(s3_client, bucket, {k: files[k] for k in keep}, tmp_path / "spool")


@pytest.mark.parametrize(
    ("case", "expect"), [("wrong-secret", "secret key"), ("no-bucket", "does not exist")]
)
def test_unusable_destination_stops_the_job_at_the_first_request(
    case: str,
    expect: str,
    bucket: str,
    s3_env: dict[str, str],
    tmp_path: Path,
    fault_proxy: FaultProxy,
) -> None:
    write_tree(tmp_path / "d", {f"{i:03d}.txt": b"x" for i in range(30)})
    env = dict(s3_env)
    target = bucket
    if case == "wrong-secret":
        env["AWS_SECRET_ACCESS_KEY"] = "not-the-secret"
    else:
        target = "no-such-bucket-here"
    r = run_put_paths(
        str(tmp_path / "d"),
        f"s3://{target}/p/",
        env=env,
        endpoint=fault_proxy.url,
        spool=tmp_path / "spool",
    )
    assert r.code == 1, r.stderr
    assert expect in r.stderr and "Traceback" not in r.stderr
    assert len(r.stderr.strip().splitlines()) == 1, r.stderr
    assert fault_proxy.requests_seen == 1  # one request, not 30 failures


def test_sigterm_aborts_open_uploads_and_keeps_finished_files(
    s3_client: Any,
    bucket: str,
    s3_env: dict[str, str],
    tmp_path: Path,
    fault_proxy: FaultProxy,
) -> None:
    src = tmp_path / "d"
    write_tree(src, {"a.txt": b"first", "big.bin": random_bytes(4 * CHUNK, 9)})
    fault_proxy.bandwidth = 2e6
    cmd = s3tui_cmd(
        "put",
        str(src),
        f"s3://{bucket}/p/",
        "--endpoint-url",
        fault_proxy.url,
        "--spool-dir",
        str(tmp_path / "spool"),
        "--chunk-size",
        "5MiB",
    )
    p = subprocess.Popen(cmd, env=s3_env, stdin=subprocess.DEVNULL, stderr=subprocess.PIPE)
    _wait_for(lambda: s3_client.list_multipart_uploads(Bucket=bucket).get("Uploads"))
    time.sleep(0.3)
    p.send_signal(signal.SIGTERM)
    assert p.wait(30) == 143
    err = p.stderr.read().decode() if p.stderr else ""
    assert "terminated (SIGTERM)" in err and "aborted" in err and "Traceback" not in err
    assert_landed(s3_client, bucket, {"p/a.txt": b"first"}, tmp_path / "spool")


@pytest.mark.parametrize(
    ("args", "expect"),
    [
        (["{tmp}/nope", "s3://bucket/p/"], "does not exist"),
        (["{tmp}", "s3://bucket/p/", "--expected-size", "1MB"], "streams (stdin) only"),
        (["-", "s3://bucket/k", "--include", "*.txt"], "not to stdin"),
        (["-", "{tmp}", "s3://bucket/p/"], "cannot be combined"),
    ],
)
def test_usage_errors_for_files_are_one_line_exit_2(
    args: list[str], expect: str, s3_env: dict[str, str], tmp_path: Path
) -> None:
    cmd = s3tui_cmd("put", *(a.format(tmp=tmp_path) for a in args))
    p = subprocess.run(cmd, stdin=subprocess.DEVNULL, env=s3_env, capture_output=True, timeout=30)
    err = p.stderr.decode()
    assert p.returncode == 2, err
    assert err.startswith("s3tui: error: ") and len(err.strip().splitlines()) == 1, err
    assert expect in err
