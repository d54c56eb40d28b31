"""The direct PutObject path for small files (remote/direct.py) against a real SeaweedFS.

It must store exactly what botocore would (keys with odd characters, Content-Type, metadata,
storage options), and survive the same faults: resets, SlowDown, 500s, a stalled answer cut at
its deadline, a flipped byte the server rejects. These tests drive the engine as a library so
they can count which path each PutObject took.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest

from s3tui.engine.config import ObjectOptions, OptionError, UploadConfig
from s3tui.engine.remote import Remote, fast, make_client
from s3tui.engine.stats import AttemptRecord
from s3tui.engine.tree import TreeUpload
from s3tui.lab import FaultProxy, LocalS3
from s3tui.lab.faultproxy import Fault
from tests.helpers import KiB, assert_landed, random_bytes

pytestmark = pytest.mark.skipif(
    not fast.enabled(), reason="S3TUI_FAST_PATH=0: these test the fast path itself"
)


def _tree(root: Path, n: int) -> dict[str, bytes]:
    names = ["notes.txt", "page.html", "data.json", "blob.bin", "ünï cødé+%.txt", "日本~x.csv"]
    files = {}
    for i in range(n):
        rel = f"d{i % 3}/{i:03d}-{names[i % len(names)]}"
        data = random_bytes(1 + (i * 3797) % (48 * KiB), seed=i)
        (root / rel).parent.mkdir(parents=True, exist_ok=True)
        (root / rel).write_bytes(data)
        files[rel] = data
    return files


def _run(
    endpoint: str,
    local_s3: LocalS3,
    bucket: str,
    src: Path,
    tmp_path: Path,
    options: ObjectOptions | None = None,
    **cfg: Any,
) -> tuple[Any, Remote, list[AttemptRecord]]:
    client = make_client(
        endpoint, "us-east-1", credentials=(local_s3.access_key, local_s3.secret_key)
    )
    remote = Remote(client, bucket)
    assert remote.direct is not None, "make_client no longer sets up the direct path"
    records: list[AttemptRecord] = []
    config = UploadConfig(spool_dir=tmp_path / "spool", **cfg)
    job = TreeUpload(
        [str(src)],
        remote,
        "up/",
        config,
        options or ObjectOptions(),
        on_record=[records.append],
    )
    return job.run(), remote, records


def _landed(client: Any, bucket: str, files: dict[str, bytes], tmp_path: Path) -> None:
    assert_landed(client, bucket, {f"up/{rel}": d for rel, d in files.items()}, tmp_path / "spool")


def test_small_files_go_direct_and_land_as_botocore_would_store_them(
    local_s3: LocalS3, s3_client: Any, bucket: str, tmp_path: Path
) -> None:
    src = tmp_path / "src"
    files = _tree(src, 36)
    options = ObjectOptions(metadata={"owner": "backup job", "run": "42"})
    result, remote, records = _run(
        local_s3.endpoint_url, local_s3, bucket, src, tmp_path, options, concurrency=6
    )
    assert result.ok, result.message
    _landed(s3_client, bucket, files, tmp_path)
    # The first PutObject (the probe) teaches the template; every later one goes direct.
    assert remote.direct is not None and remote.direct.sent == len(files) - 1
    assert len(records) == len(files) and all(r.ok for r in records)
    types = {".txt": "text/plain", ".html": "text/html", ".json": "application/json"}
    types |= {".bin": "application/octet-stream", ".csv": "text/csv"}
    for rel in files:
        head = s3_client.head_object(Bucket=bucket, Key=f"up/{rel}", ChecksumMode="ENABLED")
        assert head["ContentType"] == types[Path(rel).suffix], rel
        assert head["Metadata"] == {"owner": "backup job", "run": "42"}, rel
        assert head["ChecksumCRC32C"], rel  # the server verified and kept our CRC32C


def test_direct_puts_survive_resets_slowdown_500s_and_a_stalled_answer(
    local_s3: LocalS3, s3_client: Any, bucket: str, fault_proxy: FaultProxy, tmp_path: Path
) -> None:
    src = tmp_path / "src"
    files = _tree(src, 30)
    puts = rf"^/{bucket}/up/"
    rules = [
        fault_proxy.add_rule(Fault.reset(after_bytes=100), method="PUT", path=puts, nth=[3, 9]),
        fault_proxy.add_rule(Fault.slow_down(), method="PUT", path=puts, nth=[5, 6]),
        fault_proxy.add_rule(Fault.internal_error(), method="PUT", path=puts, nth=12),
        fault_proxy.add_rule(Fault.stall_response(), method="PUT", path=puts, nth=15),
    ]
    result, remote, records = _run(
        fault_proxy.url, local_s3, bucket, src, tmp_path, concurrency=4, min_deadline=2.0
    )
    assert result.ok, result.message
    _landed(s3_client, bucket, files, tmp_path)
    assert [r.injected for r in rules] == [2, 2, 1, 1]
    failed = sorted(r.error or "" for r in records if not r.ok)
    assert len(failed) == 6, failed
    assert failed.count("SlowDown") == 2 and "InternalError" in failed and "deadline" in failed
    assert remote.direct is not None and remote.direct.sent >= len(files) - 1


def test_a_flipped_byte_is_refused_by_the_server_and_the_file_resent(
    local_s3: LocalS3, s3_client: Any, bucket: str, fault_proxy: FaultProxy, tmp_path: Path
) -> None:
    src = tmp_path / "src"
    files = _tree(src, 8)
    rule = fault_proxy.add_rule(
        Fault.corrupt(at_byte=0), method="PUT", path=rf"^/{bucket}/up/", nth=4
    )
    result, remote, records = _run(fault_proxy.url, local_s3, bucket, src, tmp_path)
    assert result.ok, result.message
    _landed(s3_client, bucket, files, tmp_path)
    assert rule.injected == 1
    assert [r.error for r in records if not r.ok] == ["BadDigest"]
    assert remote.direct is not None and remote.direct.sent == len(files) - 1


def test_a_denied_direct_put_fails_that_file_with_the_usual_message(
    local_s3: LocalS3, s3_client: Any, bucket: str, fault_proxy: FaultProxy, tmp_path: Path
) -> None:
    src = tmp_path / "src"
    files = _tree(src, 10)
    fault_proxy.add_rule(
        Fault.respond(403, "AccessDenied", "Access Denied"),
        method="PUT",
        path=rf"^/{bucket}/up/d1/004-",
    )
    denied = next(rel for rel in files if rel.startswith("d1/004-"))  # a name that needs quoting
    result, remote, _ = _run(fault_proxy.url, local_s3, bucket, src, tmp_path, concurrency=2)
    assert result.exit_code == 1
    assert [path.endswith(denied) for path, _ in result.failed_files] == [True]
    why = result.failed_files[0][1]
    assert "access denied to s3://" in why and "s3:PutObject" in why, why
    stored = {rel: data for rel, data in files.items() if rel != denied}
    _landed(s3_client, bucket, stored, tmp_path)
    assert remote.direct is not None and remote.direct.sent == len(stored) - 1


class _Unchecked(ObjectOptions):
    """Options as a library user could have built them before the config checked its values."""

    def __post_init__(self) -> None:
        pass


def test_non_ascii_header_values_go_through_botocore_and_land_or_fail_as_it_decides(
    local_s3: LocalS3, s3_client: Any, bucket: str, tmp_path: Path
) -> None:
    """botocore signs and sends a non-ASCII Content-Type as UTF-8; the direct path once signed
    UTF-8 and sent latin-1 (SignatureDoesNotMatch from the second file on). Non-ASCII metadata
    botocore refuses before sending: the job fails as it does, storing nothing.

    ObjectOptions refuses such values up front (the CLI's exit 2); the direct path must still be
    safe on its own, so this builds the options past that check."""
    with pytest.raises(OptionError, match="US-ASCII"):
        ObjectOptions(content_type="tëxt/plain")
    src = tmp_path / "src"
    files = _tree(src, 8)
    options = _Unchecked(content_type="tëxt/plain", metadata={"owner": "backup job"})
    result, remote, _ = _run(
        local_s3.endpoint_url, local_s3, bucket, src, tmp_path, options, concurrency=4
    )
    assert result.ok, result.message
    _landed(s3_client, bucket, files, tmp_path)
    assert remote.direct is not None and remote.direct.sent == 0
    for rel in files:
        head = s3_client.head_object(Bucket=bucket, Key=f"up/{rel}")
        assert head["ContentType"] == "tëxt/plain".encode().decode("latin-1")  # as botocore sent
        assert head["Metadata"] == {"owner": "backup job"}

    s3_client.delete_objects(
        Bucket=bucket, Delete={"Objects": [{"Key": f"up/{rel}"} for rel in files]}
    )
    options = _Unchecked(metadata={"owner": "café"})  # latin-1, not ASCII
    result, remote, _ = _run(
        local_s3.endpoint_url, local_s3, bucket, src, tmp_path, options, concurrency=4
    )
    assert result.exit_code == 1
    assert "ascii" in result.message.lower(), result.message
    assert remote.direct is not None and remote.direct.sent == 0
    _landed(s3_client, bucket, {}, tmp_path)
