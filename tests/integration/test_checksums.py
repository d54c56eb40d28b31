"""Every ``--checksum`` choice end to end against SeaweedFS: what lands is the bytes, and the
checksum S3 keeps is the one computed locally (full object or composite); a corrupted part is
refused by the server for every algorithm it checks; a store that refuses checksum headers
gets Content-MD5 (or nothing) instead, said in one line and remembered per endpoint."""

from __future__ import annotations

import base64
import hashlib
import json
import os
import stat
from pathlib import Path
from typing import Any

import pytest
from awscrt.checksums import crc32, crc32c, crc64nvme

from s3tui.engine.remote.checksum_support import memory_path
from s3tui.lab import FaultProxy
from s3tui.lab.faultproxy import Fault
from tests.helpers import (
    MiB,
    assert_landed,
    assert_object_landed,
    random_bytes,
    read_jsonl,
    write_tree,
)
from tests.integration.cli_runner import run_put, run_put_paths

CHOICES = {  # id -> the options
    "crc32c": ["--checksum", "crc32c"],
    "crc32c-full": ["--checksum", "crc32c", "--checksum-type", "full-object"],
    "crc64nvme": ["--checksum", "crc64nvme"],
    "sha256": ["--checksum", "sha256"],
    "md5": ["--checksum", "md5"],
    "none": ["--checksum", "none"],
    "crc32": ["--checksum", "crc32"],
}


def _b64(value: int, width: int) -> str:
    return base64.b64encode(value.to_bytes(width, "big")).decode()


def _parts(data: bytes, size: int) -> list[bytes]:
    return [data[i : i + size] for i in range(0, len(data), size)] or [b""]


def _expected(choice: str, data: bytes, part: int | None) -> dict[str, str | None]:
    """What HeadObject (ChecksumMode=ENABLED) should report of ``data`` stored by s3tui, in
    ``part``-sized parts (None: one PutObject)."""
    pieces = _parts(data, part) if part else [data]
    n = f"-{len(pieces)}" if part else ""
    if choice == "crc32c":
        if not part:
            return {"ChecksumCRC32C": _b64(crc32c(data), 4)}
        joined = b"".join(crc32c(p).to_bytes(4, "big") for p in pieces)
        return {"ChecksumCRC32C": _b64(crc32c(joined), 4) + n, "ChecksumType": "COMPOSITE"}
    if choice == "crc32":
        if not part:
            return {"ChecksumCRC32": _b64(crc32(data), 4)}
        joined = b"".join(crc32(p).to_bytes(4, "big") for p in pieces)
        return {"ChecksumCRC32": _b64(crc32(joined), 4) + n, "ChecksumType": "COMPOSITE"}
    if choice == "crc32c-full":
        typ = {"ChecksumType": "FULL_OBJECT"} if part else {}
        return {"ChecksumCRC32C": _b64(crc32c(data), 4), **typ}
    if choice == "crc64nvme":
        typ = {"ChecksumType": "FULL_OBJECT"} if part else {}
        return {"ChecksumCRC64NVME": _b64(crc64nvme(data), 8), **typ}
    if choice == "sha256":
        if not part:
            return {"ChecksumSHA256": base64.b64encode(hashlib.sha256(data).digest()).decode()}
        joined = b"".join(hashlib.sha256(p).digest() for p in pieces)
        return {
            "ChecksumSHA256": base64.b64encode(hashlib.sha256(joined).digest()).decode() + n,
            "ChecksumType": "COMPOSITE",
        }
    etag = hashlib.md5(data).hexdigest()
    if part:
        etag = hashlib.md5(b"".join(hashlib.md5(p).digest() for p in pieces)).hexdigest() + n
    # md5 and none send no x-amz-checksum-*: the object keeps none; its ETag is still MD5.
    return {"ETag": f'"{etag}"', "ChecksumCRC32C": None, "ChecksumCRC64NVME": None}


def _assert_checksum(
    client: Any, bucket: str, key: str, choice: str, data: bytes, part: int | None
) -> None:
    head = client.head_object(Bucket=bucket, Key=key, ChecksumMode="ENABLED")
    got = {k: head.get(k) for k in _expected(choice, data, part)}
    assert got == _expected(choice, data, part), key


def _summary(stderr: str) -> dict[str, Any]:
    lines = [json.loads(x) for x in stderr.splitlines() if x.startswith("{")]
    return next(x for x in lines if x.get("type") == "summary")


@pytest.mark.parametrize("choice", list(CHOICES))
def test_a_stream_with_each_checksum_lands_and_is_verified(
    choice: str, local_s3: Any, s3_client: Any, bucket: str, s3_env: dict[str, str], tmp_path: Path
) -> None:
    data = random_bytes(11 * MiB + 123, seed=31)
    spool = tmp_path / "spool"
    r = run_put(
        data, f"s3://{bucket}/s", "--chunk-size", "5MiB", "--json", *CHOICES[choice],
        env=s3_env, endpoint=local_s3.endpoint_url, spool=spool,
    )  # fmt: skip
    assert r.code == 0, r.stderr
    assert_object_landed(s3_client, bucket, "s", data, spool)
    _assert_checksum(s3_client, bucket, "s", choice, data, 5 * MiB)
    summary = _summary(r.stderr)
    if choice in ("md5", "none"):
        assert summary["checksum"] == (None if choice == "none" else summary["etag"])
    else:
        expected = _expected(choice, data, 5 * MiB)
        assert summary["checksum"] in expected.values()
    # A stream shorter than one chunk is one PutObject, checked the same way.
    small = random_bytes(70_000, seed=32)
    r = run_put(
        small, f"s3://{bucket}/small", *CHOICES[choice],
        env=s3_env, endpoint=local_s3.endpoint_url, spool=spool,
    )  # fmt: skip
    assert r.code == 0, r.stderr
    assert_object_landed(s3_client, bucket, "small", small, spool)
    _assert_checksum(s3_client, bucket, "small", choice, small, None)


@pytest.mark.parametrize("fast", ["1", "0"], ids=["fast", "botocore"])
@pytest.mark.parametrize("choice", list(CHOICES))
def test_a_file_and_a_tree_with_each_checksum_land_and_are_verified(
    choice: str,
    fast: str,
    local_s3: Any,
    s3_client: Any,
    bucket: str,
    s3_env: dict[str, str],
    tmp_path: Path,
) -> None:
    env = {**s3_env, "S3TUI_FAST_PATH": fast}
    spool = tmp_path / "spool"
    big = random_bytes(6 * MiB + 5, seed=33)
    one = tmp_path / "one.bin"
    one.write_bytes(big)
    r = run_put_paths(
        str(one), f"s3://{bucket}/one.bin", "--chunk-size", "5MiB", *CHOICES[choice],
        env=env, endpoint=local_s3.endpoint_url, spool=spool,
    )  # fmt: skip
    assert r.code == 0, r.stderr
    _assert_checksum(s3_client, bucket, "one.bin", choice, big, 5 * MiB)
    files = write_tree(
        tmp_path / "tree",
        {
            "a.txt": random_bytes(3000, seed=34),
            "b/c.bin": random_bytes(40_000, seed=35),
            "b/d.bin": random_bytes(2 * MiB + 1, seed=36),  # above the inline size: file body
            "e.bin": random_bytes(5 * MiB + 77, seed=37),  # two parts
        },
    )
    r = run_put_paths(
        str(tmp_path / "tree"), f"s3://{bucket}/t/", "--chunk-size", "5MiB", *CHOICES[choice],
        env=env, endpoint=local_s3.endpoint_url, spool=spool,
    )  # fmt: skip
    assert r.code == 0, r.stderr
    assert_landed(
        s3_client, bucket, {"one.bin": big, **{f"t/{k}": v for k, v in files.items()}}, spool
    )
    for rel, data in files.items():
        part = 5 * MiB if len(data) > 5 * MiB else None
        _assert_checksum(s3_client, bucket, f"t/{rel}", choice, data, part)


@pytest.mark.parametrize("choice", ["crc32c", "crc32c-full", "crc64nvme", "sha256", "md5", "crc32"])
def test_a_corrupted_part_is_refused_for_each_checksum_the_server_checks(
    choice: str,
    fault_proxy: FaultProxy,
    s3_client: Any,
    bucket: str,
    s3_env: dict[str, str],
    tmp_path: Path,
) -> None:
    fault_proxy.add_rule(Fault.corrupt(at_byte=2 * MiB + 7), path=r"partNumber=2(&|$)", nth=1)
    data = random_bytes(12 * MiB, seed=38)
    stats = tmp_path / "stats.jsonl"
    r = run_put(
        data, f"s3://{bucket}/rot", "--chunk-size", "5MiB", "--stats-file", str(stats),
        *CHOICES[choice], env=s3_env, endpoint=fault_proxy.url, spool=tmp_path / "spool",
    )  # fmt: skip
    assert r.code == 0, r.stderr
    assert_object_landed(s3_client, bucket, "rot", data, tmp_path / "spool")
    assert [f.kind for f in fault_proxy.faults] == ["corrupt"]
    assert [rec["error"] for rec in read_jsonl(stats) if not rec["ok"]] == ["BadDigest"]


# --- a store that refuses checksum headers ---

REFUSALS = {
    # x-amz-checksum-* refused with 400 InvalidRequest: Content-MD5 per part instead.
    "checksum": (
        Fault.respond(400, "InvalidRequest", "x-amz-checksum not supported"),
        r"^x-amz-checksum-",
        "md5",
    ),
    # Content-MD5 refused too, with 501 NotImplemented: no checksum, said as a warning.
    "md5-too": (
        Fault.respond(501, "NotImplemented", "not implemented"),
        r"^(x-amz-checksum-|content-md5:)",
        "none",
    ),
}


def _memory() -> dict[str, Any]:
    path = memory_path()
    assert stat.S_IMODE(path.stat().st_mode) == 0o600
    assert stat.S_IMODE(path.parent.stat().st_mode) == 0o700
    return json.loads(path.read_text())


@pytest.mark.parametrize("refusal", list(REFUSALS))
def test_a_store_refusing_checksum_headers_gets_the_fallback_remembered(
    refusal: str,
    fault_proxy: FaultProxy,
    s3_client: Any,
    bucket: str,
    s3_env: dict[str, str],
    tmp_path: Path,
) -> None:
    fault, header, fallback = REFUSALS[refusal]
    rule = fault_proxy.add_rule(fault, header=header)
    spool = tmp_path / "spool"
    data = random_bytes(11 * MiB, seed=39)
    r = run_put(
        data, f"s3://{bucket}/s", "--chunk-size", "5MiB",
        env=s3_env, endpoint=fault_proxy.url, spool=spool,
    )  # fmt: skip
    assert r.code == 0, r.stderr
    assert_object_landed(s3_client, bucket, "s", data, spool)
    _assert_checksum(s3_client, bucket, "s", fallback, data, 5 * MiB)
    said = [line for line in r.stderr.splitlines() if "warning checksum" in line]
    assert len(said) == 1, r.stderr
    assert (
        "refuses CRC32C" in said[0]
        and ("Content-MD5 per part" if fallback == "md5" else "only sizes are checked") in said[0]
    )
    refused = rule.injected
    assert refused >= 1
    memory = _memory()
    assert memory == {fault_proxy.url: {"refuses": "checksum" if fallback == "md5" else "md5",
                                        "since": memory[fault_proxy.url]["since"]}}  # fmt: skip
    assert "AWS" not in memory_path().read_text() and s3_env["AWS_SECRET_ACCESS_KEY"] not in (
        memory_path().read_text()
    )

    # The next run (a tree: small files through the direct path, a file body, two parts)
    # starts with the fallback: not one request is refused.
    files = write_tree(
        tmp_path / "tree",
        {"a": random_bytes(100, seed=40), "b": random_bytes(2 * MiB, seed=41),
         "c": random_bytes(5 * MiB + 1, seed=42)},
    )  # fmt: skip
    r = run_put_paths(
        str(tmp_path / "tree"), f"s3://{bucket}/t/", "--chunk-size", "5MiB",
        env=s3_env, endpoint=fault_proxy.url, spool=spool,
    )  # fmt: skip
    assert r.code == 0, r.stderr
    assert rule.injected == refused
    assert "earlier run" in r.stderr and "warning checksum" in r.stderr
    expect = {"s": data, **{f"t/{k}": v for k, v in files.items()}}
    assert_landed(s3_client, bucket, expect, spool)

    # --checksum on the command line probes again (and falls back again).
    r = run_put(
        data[:1000], f"s3://{bucket}/again", "--checksum", "crc32c",
        env=s3_env, endpoint=fault_proxy.url, spool=spool,
    )  # fmt: skip
    assert r.code == 0, r.stderr
    assert rule.injected > refused


def test_a_tree_whose_first_file_has_a_file_body_falls_back_by_a_retry(
    fault_proxy: FaultProxy, s3_client: Any, bucket: str, s3_env: dict[str, str], tmp_path: Path
) -> None:
    """A body read from a file is not read twice in one attempt: the refused request's retry
    sends the fallback's value."""
    fault_proxy.add_rule(REFUSALS["checksum"][0], header=REFUSALS["checksum"][1])
    files = write_tree(tmp_path / "tree", {"only.bin": random_bytes(3 * MiB, seed=43)})
    spool = tmp_path / "spool"
    r = run_put_paths(
        str(tmp_path / "tree"), f"s3://{bucket}/", env=s3_env, endpoint=fault_proxy.url,
        spool=spool,
    )  # fmt: skip
    assert r.code == 0, r.stderr
    assert_landed(s3_client, bucket, files, spool)
    _assert_checksum(s3_client, bucket, "only.bin", "md5", files["only.bin"], None)
    assert sum("warning checksum" in line for line in r.stderr.splitlines()) == 1, r.stderr


def test_a_refusal_for_another_reason_is_not_taken_for_a_checksum_refusal(
    fault_proxy: FaultProxy, bucket: str, s3_env: dict[str, str], tmp_path: Path
) -> None:
    """A 400 that every request gets, with or without checksum headers: the error is reported
    as it is and nothing is remembered."""
    fault_proxy.add_rule(Fault.respond(400, "InvalidArgument", "no such storage class"))
    r = run_put(
        b"x" * 1000, f"s3://{bucket}/k", env=s3_env, endpoint=fault_proxy.url,
        spool=tmp_path / "spool",
    )  # fmt: skip
    assert r.code == 1
    assert "warning checksum" not in r.stderr
    assert not memory_path().exists()
    assert os.environ.get("XDG_STATE_HOME", "") in str(memory_path())


@pytest.mark.parametrize("choice", ["crc64nvme", "crc32c-full", "sha256"])
def test_skip_existing_recognises_each_stored_checksum(
    choice: str, local_s3: Any, s3_client: Any, bucket: str, s3_env: dict[str, str], tmp_path: Path
) -> None:
    """Objects stored with CRC64NVME or a full-object CRC32C are compared whatever the part
    size of the run that checks them; a composite one with the same part plan. A file changed
    to other bytes of the same size is told apart (its ETag says nothing: size alone would
    skip it) and sent again."""
    files = write_tree(
        tmp_path / "tree",
        {"small": random_bytes(5000, seed=44), "big": random_bytes(6 * MiB, seed=45)},
    )
    spool = tmp_path / "spool"
    r = run_put_paths(
        str(tmp_path / "tree"), f"s3://{bucket}/", "--chunk-size", "5MiB", *CHOICES[choice],
        env=s3_env, endpoint=local_s3.endpoint_url, spool=spool,
    )  # fmt: skip
    assert r.code == 0, r.stderr
    files["big"] = random_bytes(6 * MiB, seed=46)
    (tmp_path / "tree" / "big").write_bytes(files["big"])
    chunk = "5MiB" if choice == "sha256" else "6MiB"  # full object: any part plan compares
    r = run_put_paths(
        str(tmp_path / "tree"), f"s3://{bucket}/", "--chunk-size", chunk, "--skip-existing",
        "--json", env=s3_env, endpoint=local_s3.endpoint_url, spool=spool,
    )  # fmt: skip
    assert r.code == 0, r.stderr
    summary = _summary(r.stderr)
    assert summary["files_skipped"] == 1 and summary["files_done"] == 1, summary
    assert_landed(s3_client, bucket, files, spool)
