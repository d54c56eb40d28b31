"""`s3tui uploads ls|abort` on a bucket with planted incomplete uploads of different ages and
prefixes, some with parts (one sent twice), some empty; uploads this host's s3tui is writing are
left alone; an abort the store refuses is exit 1."""

from __future__ import annotations

import contextlib
import datetime as dt
import json
import os
import re
import subprocess
import time
from pathlib import Path
from typing import Any

import pytest

from s3tui.engine.journal import Journal
from s3tui.lab import FaultProxy, LocalS3
from s3tui.lab.faultproxy import Fault
from s3tui.sizes import format_size
from tests.helpers import (
    MiB,
    assert_no_incomplete_uploads,
    assert_object_landed,
    random_bytes,
)
from tests.integration.cli_runner import Run, run_s3tui, s3tui_cmd


def _plant(client: Any, bucket: str, key: str, *parts: tuple[int, bytes]) -> str:
    """An incomplete upload of ``key`` with these parts, in this order (a number may repeat)."""
    up = client.create_multipart_upload(Bucket=bucket, Key=key)["UploadId"]
    for n, data in parts:
        client.upload_part(Bucket=bucket, Key=key, UploadId=up, PartNumber=n, Body=data)
    return str(up)


def _open(client: Any, bucket: str) -> dict[str, str]:
    """upload id -> key of the bucket's incomplete uploads."""
    uploads = client.list_multipart_uploads(Bucket=bucket).get("Uploads", [])
    return {u["UploadId"]: u["Key"] for u in uploads}


def _uploads(env: dict[str, str], endpoint: str, *args: str) -> Run:
    return run_s3tui("uploads", *args, "--endpoint-url", endpoint, env=env)


def test_ls_lists_every_incomplete_upload_with_its_parts_and_bytes(
    local_s3: LocalS3, s3_client: Any, bucket: str, s3_env: dict[str, str]
) -> None:
    twice = _plant(
        s3_client,
        bucket,
        "db/a.sql.gz",
        (1, random_bytes(5 * MiB, seed=1)),
        (1, random_bytes(5 * MiB, seed=2)),  # sent again: SeaweedFS keeps (and lists) both
        (2, b"tail" * 250),
    )
    empty = _plant(s3_client, bucket, "db/b.sql.gz")
    other = _plant(s3_client, bucket, "photos/c.iso", (1, b"abc"))
    s3_client.put_object(Bucket=bucket, Key="db/done", Body=b"complete objects are not listed")

    r = _uploads(s3_env, local_s3.endpoint_url, "ls", f"s3://{bucket}")
    assert r.code == 0, r.stderr
    head, *rows = r.stdout.splitlines()
    assert head.split()[:6] == ["KEY", "INITIATED", "AGE", "PARTS", "HELD", "THIS"]
    assert [row.split()[0] for row in rows] == ["db/a.sql.gz", "db/b.sql.gz", "photos/c.iso"]
    cells = [re.split(r"\s{2,}", row) for row in rows]  # columns: 2+ spaces apart
    held = format_size(10 * MiB + 1000)
    assert [(c[3], c[4], c[5], c[6]) for c in cells] == [
        ("2", held, "-", twice),
        ("0", "0 B", "-", empty),
        ("1", "3 B", "-", other),
    ]
    assert len({row.index(c[1]) for row, c in zip(rows, cells, strict=True)}) == 1, "aligned"
    assert f"3 incomplete uploads under s3://{bucket} holding" in r.stderr

    r = _uploads(s3_env, local_s3.endpoint_url, "ls", f"s3://{bucket}/db/", "--json")
    assert r.code == 0, r.stderr
    listed = json.loads(r.stdout)
    assert [u["key"] for u in listed] == ["db/a.sql.gz", "db/b.sql.gz"]
    a, b = listed
    assert (a["upload_id"], a["parts"], a["part_copies"], a["bytes"]) == (
        twice,
        2,
        3,
        10 * MiB + 1000,
    )
    assert (b["upload_id"], b["parts"], b["part_copies"], b["bytes"]) == (empty, 0, 0, 0)
    for u in listed:
        assert set(u) == {
            "key",
            "upload_id",
            "initiated",
            "age_seconds",
            "parts",
            "part_copies",
            "bytes",
            "this_host",
            "error",
        }
        assert dt.datetime.fromisoformat(u["initiated"]).tzinfo is not None
        assert 0 <= u["age_seconds"] < 600
        assert u["this_host"] is None and u["error"] is None

    r = _uploads(s3_env, local_s3.endpoint_url, "ls", f"s3://{bucket}/nothing/")
    assert (r.code, r.stdout) == (0, "")
    assert r.stderr.strip() == f"s3tui: no incomplete uploads under s3://{bucket}/nothing/"
    r = _uploads(s3_env, local_s3.endpoint_url, "ls", f"s3://{bucket}/nothing/", "--json")
    assert (r.code, json.loads(r.stdout)) == (0, [])
    assert len(_open(s3_client, bucket)) == 3, "ls aborts nothing"


def test_abort_older_than_aborts_only_old_uploads_under_the_prefix_and_confirms(
    fault_proxy: FaultProxy, s3_client: Any, bucket: str, s3_env: dict[str, str]
) -> None:
    old = _plant(s3_client, bucket, "db/old", (1, random_bytes(5 * MiB, seed=3)), (2, b"x"))
    old_empty = _plant(s3_client, bucket, "db/old-empty")
    elsewhere = _plant(s3_client, bucket, "photos/old")
    time.sleep(6)  # ages are whole seconds on the server's clock: old ones are >= 6 s old
    new = _plant(s3_client, bucket, "db/new", (1, b"y"))

    r = _uploads(s3_env, fault_proxy.url, "abort", f"s3://{bucket}/db", "--older-than", "5s")
    assert r.code == 0, r.stderr
    assert [line.split(", ")[0] for line in r.stdout.splitlines()] == [
        f"aborted s3://{bucket}/db/old (upload {old})",
        f"aborted s3://{bucket}/db/old-empty (upload {old_empty})",
    ]
    assert f"2 parts, {format_size(5 * MiB + 1)}" in r.stdout
    assert f"aborted 2 of 2 uploads under s3://{bucket}/db" in r.stderr
    assert _open(s3_client, bucket) == {new: "db/new", elsewhere: "photos/old"}
    # Each abort was followed by a ListParts of that upload, which found it gone.
    for up in (old, old_empty):
        seen = [m for m, target in fault_proxy.requests if f"uploadId={up}" in target]
        assert "DELETE" in seen and seen[seen.index("DELETE") + 1 :] == ["GET"], seen

    r = _uploads(s3_env, fault_proxy.url, "abort", f"s3://{bucket}", "--json")
    assert r.code == 0, r.stderr
    rows = json.loads(r.stdout)
    assert sorted((u["key"], u["action"], u["aborts"]) for u in rows) == [
        ("db/new", "aborted", 1),
        ("photos/old", "aborted", 1),
    ]
    assert all(u["reason"] is None for u in rows)
    assert_no_incomplete_uploads(s3_client, bucket)


def test_dry_run_aborts_nothing(
    fault_proxy: FaultProxy, s3_client: Any, bucket: str, s3_env: dict[str, str]
) -> None:
    one = _plant(s3_client, bucket, "a", (1, b"1234"))
    two = _plant(s3_client, bucket, "b")
    r = _uploads(s3_env, fault_proxy.url, "abort", f"s3://{bucket}", "--dry-run")
    assert r.code == 0, r.stderr
    assert [line.split(" (upload ")[0] for line in r.stdout.splitlines()] == [
        f"would abort s3://{bucket}/a",
        f"would abort s3://{bucket}/b",
    ]
    assert "run without --dry-run" in r.stderr
    r = _uploads(s3_env, fault_proxy.url, "abort", f"s3://{bucket}", "--dry-run", "--json")
    assert r.code == 0, r.stderr
    assert [(u["upload_id"], u["action"]) for u in json.loads(r.stdout)] == [
        (one, "would_abort"),
        (two, "would_abort"),
    ]
    assert not [m for m, _ in fault_proxy.requests if m == "DELETE"]
    assert _open(s3_client, bucket) == {one: "a", two: "b"}


def test_an_abort_the_store_refuses_is_exit_1_and_the_others_are_aborted(
    fault_proxy: FaultProxy, s3_client: Any, bucket: str, s3_env: dict[str, str]
) -> None:
    stuck = _plant(s3_client, bucket, "db/stuck", (1, b"held"))
    _plant(s3_client, bucket, "db/fine", (1, b"freed"))
    fault_proxy.add_rule(Fault.respond(403, "AccessDenied"), method="DELETE", path="/db/stuck")
    r = _uploads(s3_env, fault_proxy.url, "abort", f"s3://{bucket}")
    assert r.code == 1, r.stderr
    assert f"aborted s3://{bucket}/db/fine" in r.stdout and "stuck" not in r.stdout
    assert f"s3tui: could not abort s3://{bucket}/db/stuck (upload {stuck}): access denied" in (
        r.stderr
    )
    assert "1 could not be aborted" in r.stderr and "Traceback" not in r.stderr
    assert _open(s3_client, bucket) == {stuck: "db/stuck"}

    r = _uploads(s3_env, fault_proxy.url, "abort", f"s3://{bucket}", "--json")
    assert r.code == 1
    (row,) = json.loads(r.stdout)
    assert (row["upload_id"], row["action"]) == (stuck, "failed")
    assert "access denied" in row["reason"]

    fault_proxy.clear_rules()
    r = _uploads(s3_env, fault_proxy.url, "abort", f"s3://{bucket}")
    assert r.code == 0, r.stderr
    assert_no_incomplete_uploads(s3_client, bucket)


def test_an_abort_that_left_the_parts_is_repeated_until_listparts_shows_none(
    fault_proxy: FaultProxy, s3_client: Any, bucket: str, s3_env: dict[str, str]
) -> None:
    up = _plant(s3_client, bucket, "k", (1, b"still here"))
    # The first abort is answered "done" but never reaches the server: the parts stay.
    fault_proxy.add_rule(Fault.respond(204, ""), method="DELETE", times=1)
    r = _uploads(s3_env, fault_proxy.url, "abort", f"s3://{bucket}")
    assert r.code == 0, r.stderr
    assert f"aborted s3://{bucket}/k (upload {up})" in r.stdout and "after 2 aborts" in r.stdout
    seen = [m for m, target in fault_proxy.requests if f"uploadId={up}" in target]
    assert seen == ["GET", "DELETE", "GET", "DELETE", "GET"], seen
    assert_no_incomplete_uploads(s3_client, bucket)


def _journal_dir() -> Path:
    return Path(os.environ["XDG_STATE_HOME"]) / "s3tui" / "open-uploads"


def test_an_upload_this_host_is_writing_is_marked_and_left_alone(
    local_s3: LocalS3, s3_client: Any, bucket: str, s3_env: dict[str, str], tmp_path: Path
) -> None:
    foreign = _plant(s3_client, bucket, "nightly/old", (1, b"left by another host"))
    spool = tmp_path / "spool"
    cmd = s3tui_cmd(
        "put",
        "-",
        f"s3://{bucket}/nightly/running",
        "--endpoint-url",
        local_s3.endpoint_url,
        "--spool-dir",
        str(spool),
    )
    p = subprocess.Popen(cmd, stdin=subprocess.PIPE, stderr=subprocess.PIPE, env=s3_env)
    assert p.stdin is not None
    try:
        end = time.monotonic() + 30
        while not list(_journal_dir().glob("*.json")):
            assert time.monotonic() < end, "the running upload was never noted"
            time.sleep(0.05)
        (running,) = set(_open(s3_client, bucket)) - {foreign}

        r = _uploads(s3_env, local_s3.endpoint_url, "ls", f"s3://{bucket}/nightly/")
        assert r.code == 0, r.stderr
        (row,) = [line for line in r.stdout.splitlines() if line.endswith(running)]
        assert f"writing (pid {p.pid})" in row
        assert "1 being written now by s3tui on this host" in r.stderr
        r = _uploads(s3_env, local_s3.endpoint_url, "ls", f"s3://{bucket}", "--json")
        mine = {u["upload_id"]: u["this_host"] for u in json.loads(r.stdout)}
        assert mine == {running: {"pid": p.pid, "writing": True}, foreign: None}

        r = _uploads(s3_env, local_s3.endpoint_url, "abort", f"s3://{bucket}", "--older-than", "0s")
        assert r.code == 0, r.stderr
        assert f"aborted s3://{bucket}/nightly/old" in r.stdout
        assert (
            f"skipped s3://{bucket}/nightly/running (upload {running}): being written now by "
            f"s3tui on this host (pid {p.pid}); --force aborts it"
        ) in r.stdout
        assert "1 skipped" in r.stderr
        assert _open(s3_client, bucket) == {running: "nightly/running"}

        data = random_bytes(3 * MiB, seed=5)
        p.stdin.write(data)
        p.stdin.close()
        assert p.wait(60) == 0
    finally:
        p.kill()
    assert_object_landed(s3_client, bucket, "nightly/running", data, spool)


def test_a_dead_runs_upload_is_marked_and_aborting_it_settles_its_note(
    local_s3: LocalS3, s3_client: Any, bucket: str, s3_env: dict[str, str]
) -> None:
    up = _plant(s3_client, bucket, "dump.gz", (1, b"from a killed run"))
    Journal(endpoint=local_s3.endpoint_url).opened(bucket, "dump.gz", up)
    (note,) = _journal_dir().glob("*.json")
    entry = json.loads(note.read_text())
    child = subprocess.Popen(["true"])
    child.wait()
    entry.update(pid=child.pid, start_ticks="1")  # a process that is gone
    note.write_text(json.dumps(entry))

    r = _uploads(s3_env, local_s3.endpoint_url, "ls", f"s3://{bucket}")
    assert r.code == 0, r.stderr
    assert f"dead run (pid {child.pid})" in r.stdout
    r = _uploads(s3_env, local_s3.endpoint_url, "abort", f"s3://{bucket}")
    assert r.code == 0, r.stderr
    assert not list(_journal_dir().glob("*.json")), "nothing is left for `s3tui cleanup`"
    assert_no_incomplete_uploads(s3_client, bucket)


@pytest.mark.parametrize(
    "args",
    [
        [],
        ["ls"],
        ["ls", "http://bucket/x"],
        ["ls", "s3://"],
        ["ls", "s3://Bad_Name"],
        ["abort", "s3://bucket", "--older-than", "7"],
        ["abort", "s3://bucket", "--older-than", "soon"],
        ["ls", "s3://bucket", "--endpoint-url", "not a url"],
        ["ls", "s3://bucket", "--region", "eu west"],
        ["ls", "s3://bucket", "--store", "nope"],
        ["ls", "s3://bucket", "--older-than", "1d"],
    ],
)
def test_bad_input_is_one_line_and_exit_2(args: list[str]) -> None:
    r = run_s3tui("uploads", *args, env=dict(os.environ))
    assert r.code == 2, r
    assert r.stdout == "" and len(r.stderr.splitlines()) == 1, r.stderr
    assert r.stderr.startswith("s3tui: error: ") and "Traceback" not in r.stderr


def test_force_aborts_an_upload_being_written_and_that_upload_then_fails_cleanly(
    local_s3: LocalS3, s3_client: Any, bucket: str, s3_env: dict[str, str], tmp_path: Path
) -> None:
    spool = tmp_path / "spool"
    cmd = s3tui_cmd(
        "put",
        "-",
        f"s3://{bucket}/cut",
        "--endpoint-url",
        local_s3.endpoint_url,
        "--spool-dir",
        str(spool),
        "--chunk-size",
        "5MiB",
    )
    p = subprocess.Popen(cmd, stdin=subprocess.PIPE, stderr=subprocess.PIPE, env=s3_env)
    assert p.stdin is not None and p.stderr is not None
    try:
        end = time.monotonic() + 30
        while not list(_journal_dir().glob("*.json")):
            assert time.monotonic() < end, "the running upload was never noted"
            time.sleep(0.05)
        r = _uploads(s3_env, local_s3.endpoint_url, "abort", f"s3://{bucket}", "--force")
        assert r.code == 0, r.stderr
        assert f"aborted s3://{bucket}/cut" in r.stdout and "skipped" not in r.stdout
        # Parts, not one PutObject. The put may have found its upload gone before reading
        # (it stops then, closing the pipe): the outcome must be the same.
        with contextlib.suppress(BrokenPipeError):
            p.stdin.write(random_bytes(12 * MiB, seed=6))
            p.stdin.close()
        assert p.wait(60) == 1
        err = p.stderr.read().decode()
    finally:
        p.kill()
    assert "Traceback" not in err and "vanished" in err, err
    assert "cut" not in {
        o["Key"] for o in s3_client.list_objects_v2(Bucket=bucket).get("Contents", [])
    }
    assert_no_incomplete_uploads(s3_client, bucket)
