"""The backup features on two S3 implementations: SeaweedFS and moto's server mode (AWS's
semantics). Object lock (retention and legal hold read back with HeadObject and
GetObjectLegalHold), tags (GetObjectTagging), --no-clobber, ``s3tui verify`` and the
s3_uploader command line, each run against both; where a server lacks a feature the test says
so and skips."""

from __future__ import annotations

import json
import os
import uuid
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import pytest

from tests.conftest import _drop_bucket
from tests.helpers import (
    assert_landed,
    assert_no_incomplete_uploads,
    assert_object_landed,
    assert_spool_empty,
    random_bytes,
    write_tree,
)
from tests.integration.cli_runner import Run, _run, run_put, run_put_paths, s3tui_cmd

MiB = 1024 * 1024


@dataclass
class Target:
    server: Any
    client: Any
    bucket: str
    env: dict[str, str]
    spool: Path

    @property
    def endpoint(self) -> str:
        return str(self.server.endpoint_url)

    def put(self, data: bytes, key: str, *extra: str) -> Run:
        return run_put(
            data,
            f"s3://{self.bucket}/{key}",
            "--chunk-size",
            "5MiB",
            *extra,
            env=self.env,
            endpoint=self.endpoint,
            spool=self.spool,
        )

    def put_paths(self, *args: str) -> Run:
        return run_put_paths(*args, env=self.env, endpoint=self.endpoint, spool=self.spool)

    def verify(self, *args: str) -> Run:
        cmd = s3tui_cmd("verify", *args, "--endpoint-url", self.endpoint)
        return _run(cmd, self.env, 60, None)


def _target(server: Any, tmp_path: Path, **create: Any) -> Iterator[Target]:
    client = server.client()
    name = f"t-{uuid.uuid4().hex[:16]}"
    client.create_bucket(Bucket=name, **create)
    try:
        yield Target(server, client, name, {**os.environ, **server.env()}, tmp_path / "spool")
    finally:
        _drop_bucket(client, name)


@pytest.fixture
def target(any_s3: Any, tmp_path: Path) -> Iterator[Target]:
    yield from _target(any_s3, tmp_path)


@pytest.fixture
def locked(any_s3: Any, tmp_path: Path) -> Iterator[Target]:
    """A bucket created with object lock enabled."""
    yield from _target(any_s3, tmp_path, ObjectLockEnabledForBucket=True)


# --- object lock ---


@pytest.mark.parametrize("size", [3000, 11 * MiB + 5], ids=["single-put", "multipart"])
def test_object_lock_retention_and_legal_hold_on_a_stream(locked: Target, size: int) -> None:
    if locked.server.name == "moto" and size > 5 * MiB:
        pytest.skip("moto 5.2 ignores object lock given on CreateMultipartUpload")
    data = random_bytes(size, seed=size)
    until = datetime.now(UTC) + timedelta(days=2)
    r = locked.put(data, "db.gz", "--object-lock-mode", "governance", "--retain-for", "2d")
    assert r.code == 0, r.stderr
    r2 = locked.put(data, "held.gz", "--legal-hold")
    assert r2.code == 0, r2.stderr
    for key in ("db.gz", "held.gz"):
        assert_object_landed(locked.client, locked.bucket, key, data, locked.spool)
    head = locked.client.head_object(Bucket=locked.bucket, Key="db.gz")
    assert head["ObjectLockMode"] == "GOVERNANCE"
    assert abs((head["ObjectLockRetainUntilDate"] - until).total_seconds()) < 120
    hold = locked.client.get_object_legal_hold(Bucket=locked.bucket, Key="held.gz")
    assert hold["LegalHold"]["Status"] == "ON"


def test_object_lock_on_a_tree_with_a_date(locked: Target, tmp_path: Path) -> None:
    files = write_tree(
        tmp_path / "src", {f"f{i}.txt": random_bytes(900 + i, seed=i) for i in range(3)}
    )
    r = locked.put_paths(
        str(tmp_path / "src"),
        f"s3://{locked.bucket}/t/",
        "--object-lock-mode",
        "COMPLIANCE",
        "--retain-until",
        "2030-01-02T03:04:05Z",
        "--legal-hold",
    )
    assert r.code == 0, r.stderr
    assert_landed(
        locked.client, locked.bucket, {f"t/{k}": v for k, v in files.items()}, locked.spool
    )
    for rel in files:
        head = locked.client.head_object(Bucket=locked.bucket, Key=f"t/{rel}")
        assert head["ObjectLockMode"] == "COMPLIANCE", rel
        assert head["ObjectLockRetainUntilDate"] == datetime(2030, 1, 2, 3, 4, 5, tzinfo=UTC)
        assert head["ObjectLockLegalHoldStatus"] == "ON", rel
    # The small files' quick-start template is not kept on disk: its date is this run's only.
    kept = list(Path(os.environ["XDG_CACHE_HOME"]).rglob("put-templates/*.json"))
    assert not [f for f in kept if "retain-until" in f.read_text()]


def test_object_lock_on_a_bucket_without_it_is_one_clear_line(target: Target) -> None:
    r = target.put(
        random_bytes(2000), "db.gz", "--object-lock-mode", "GOVERNANCE", "--retain-for", "1d"
    )
    assert r.code == 1, r.stderr
    lines = r.stderr.strip().splitlines()
    assert len(lines) == 1 and "does not have object lock enabled" in lines[0], r.stderr
    assert "Contents" not in target.client.list_objects_v2(Bucket=target.bucket)
    assert_no_incomplete_uploads(target.client, target.bucket)
    assert_spool_empty(target.spool)


# --- tags and --no-clobber ---


@pytest.mark.parametrize("size", [3000, 11 * MiB + 5], ids=["single-put", "multipart"])
def test_tags_visible_on_the_object(target: Target, size: int) -> None:
    data = random_bytes(size, seed=1)
    r = target.put(data, "k", "--tags", "team=db ops", "--tags", "retention=30d")
    assert r.code == 0, r.stderr
    assert_object_landed(target.client, target.bucket, "k", data, target.spool)
    tags = target.client.get_object_tagging(Bucket=target.bucket, Key="k")["TagSet"]
    assert {t["Key"]: t["Value"] for t in tags} == {"team": "db ops", "retention": "30d"}


@pytest.mark.parametrize("size", [3000, 11 * MiB + 5], ids=["single-put", "multipart"])
def test_no_clobber_keeps_the_existing_object(target: Target, size: int) -> None:
    old = b"yesterday's backup\n"
    target.client.put_object(Bucket=target.bucket, Key="db.gz", Body=old)
    r = target.put(random_bytes(size, seed=2), "db.gz", "--no-clobber")
    assert r.code == 1, r.stderr
    assert "already exists" in r.stderr
    assert_object_landed(target.client, target.bucket, "db.gz", old, target.spool)


# --- verify ---


def _rows(r: Run) -> dict[str, dict[str, Any]]:
    rows = [json.loads(line) for line in r.stdout.splitlines()]
    return {row.get("path") or row.get("key"): row for row in rows if row["type"] != "summary"}


def test_verify_agrees_then_finds_changed_missing_and_extra(target: Target, tmp_path: Path) -> None:
    src = tmp_path / "src"
    files = write_tree(
        src, {"a.txt": random_bytes(4000, seed=1), "d/big.bin": random_bytes(11 * MiB + 3, seed=2)}
    )
    r = target.put_paths(str(src), f"s3://{target.bucket}/p/", "--chunk-size", "5MiB")
    assert r.code == 0, r.stderr
    assert_landed(
        target.client, target.bucket, {f"p/{k}": v for k, v in files.items()}, target.spool
    )

    good = target.verify(str(src), f"s3://{target.bucket}/p/", "--json")
    assert good.code == 0, good.stdout + good.stderr
    rows = _rows(good)
    assert rows[str(src / "d/big.bin")]["result"] == "match"
    assert rows[str(src / "d/big.bin")]["checked"] == "crc32c"  # composite over 3 parts
    assert rows[str(src / "a.txt")]["result"] == "match"
    assert rows[str(src / "a.txt")]["checked"] in ("crc32c", "etag md5")
    table = target.verify(str(src / "d/big.bin"), f"s3://{target.bucket}/p/d/big.bin")
    assert table.code == 0 and "crc32c" in table.stdout and "match" in table.stdout

    # One byte changed in each file (same sizes), one object gone, one object extra.
    for rel in ("a.txt", "d/big.bin"):
        raw = bytearray(files[rel])
        raw[len(raw) // 2] ^= 0xFF
        (src / rel).write_bytes(bytes(raw))
    (src / "new.txt").write_bytes(b"not uploaded")
    target.client.put_object(Bucket=target.bucket, Key="p/only-there.txt", Body=b"x")
    bad = target.verify(str(src), f"s3://{target.bucket}/p/", "--json")
    assert bad.code == 1, bad.stdout + bad.stderr
    rows = _rows(bad)
    assert rows[str(src / "a.txt")]["result"] == "differs"
    assert rows[str(src / "d/big.bin")]["result"] == "differs"
    assert rows[str(src / "new.txt")]["result"] == "missing"
    assert rows["p/only-there.txt"]["type"] == "only_in_s3"
    text = target.verify(str(src), f"s3://{target.bucket}/p/")
    assert text.code == 1
    assert "only in S3" in text.stdout and "not a failure" in text.stdout


def test_verify_takes_the_endpoint_from_a_named_store(target: Target, tmp_path: Path) -> None:
    from s3tui.settings import config_path

    local = tmp_path / "one"
    local.write_bytes(random_bytes(70_000, seed=9))
    target.client.put_object(Bucket=target.bucket, Key="one", Body=local.read_bytes())
    path = config_path()
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(f'[stores.here]\nendpoint_url = "{target.endpoint}"\n')
    r = _run(
        s3tui_cmd("verify", str(local), f"s3://{target.bucket}/one", "--store", "here", "--json"),
        target.env,
        60,
        None,
    )
    assert r.code == 0, r.stdout + r.stderr
    assert _rows(r)[str(local)]["result"] == "match"


def test_verify_an_object_without_checksums(target: Target, tmp_path: Path) -> None:
    """Another tool's multipart object with uneven parts and no checksum: a store that lists
    the part sizes lets the ETag decide, else the object is downloaded and compared."""
    parts = [random_bytes(6 * MiB, seed=5), random_bytes(5 * MiB, seed=6), b"tail" * 100]
    c, b = target.client, target.bucket
    up = c.create_multipart_upload(Bucket=b, Key="odd")["UploadId"]
    done = [
        {
            "PartNumber": n,
            "ETag": c.upload_part(Bucket=b, Key="odd", UploadId=up, PartNumber=n, Body=p)["ETag"],
        }
        for n, p in enumerate(parts, 1)
    ]
    c.complete_multipart_upload(Bucket=b, Key="odd", UploadId=up, MultipartUpload={"Parts": done})
    local = tmp_path / "odd"
    local.write_bytes(b"".join(parts))
    r = target.verify(str(local), f"s3://{b}/odd", "--json")
    assert r.code == 0, r.stdout + r.stderr
    row = _rows(r)[str(local)]
    # SeaweedFS lists the part sizes (GetObjectAttributes); moto 5.2 does not: the bytes decide.
    assert row["checked"] == ("downloaded" if target.server.name == "moto" else "etag md5"), row
    raw = bytearray(local.read_bytes())
    raw[7 * MiB] ^= 1
    local.write_bytes(bytes(raw))
    r = target.verify(str(local), f"s3://{b}/odd", "--json")
    assert r.code == 1 and _rows(r)[str(local)]["result"] == "differs", r.stdout


def test_verify_against_a_missing_bucket_is_one_line(target: Target, tmp_path: Path) -> None:
    (tmp_path / "f").write_bytes(b"data")
    r = target.verify(str(tmp_path / "f"), f"s3://{target.bucket}-gone/f")
    assert r.code == 1, r.stdout + r.stderr
    lines = r.stderr.strip().splitlines()
    assert len(lines) == 1 and "does not exist" in lines[0], r.stderr
    assert r.stdout == ""


# --- the s3_uploader command line ---


def test_s3_uploader_command_line_works_renamed(target: Target) -> None:
    data = random_bytes(11 * MiB + 9, seed=7)
    line = [
        "-bucket", target.bucket, "-key", "db/dump.sql.gz", "-chunk_size", "5242880",
        "-expected_size", str(len(data)), "-mime_type", "application/gzip", "-acl", "private",
        "-sse", "AES256", "-region", "us-east-1",
    ]  # fmt: skip
    cmd = s3tui_cmd(*line, "--endpoint-url", target.endpoint, "--spool-dir", str(target.spool))
    r = _run(cmd, target.env, 120, data)
    assert r.code == 0, r.stderr
    assert_object_landed(target.client, target.bucket, "db/dump.sql.gz", data, target.spool)
    head = target.client.head_object(Bucket=target.bucket, Key="db/dump.sql.gz")
    assert head["ContentType"] == "application/gzip"
    assert head["ETag"].strip('"').endswith("-3")  # 5242880-byte parts, as -chunk_size said
