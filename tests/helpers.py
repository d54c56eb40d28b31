"""Plain assertion and data helpers for the tests (`from tests.helpers import ...`)."""

from __future__ import annotations

import hashlib
import json
import os
import random
from pathlib import Path
from typing import Any

KiB = 1024
MiB = 1024 * KiB


def random_bytes(n: int, seed: int = 0) -> bytes:
    """Deterministic incompressible data, fast (randbytes is C-speed; os.urandom isn't seedable)."""
    return random.Random(seed).randbytes(n)


def sha256_bytes(data: bytes) -> str:
    return hashlib.sha256(data).hexdigest()


def sha256_of_object(client: Any, bucket: str, key: str) -> str:
    """SHA-256 of an object's bytes as stored, streamed so large objects don't sit in memory."""
    h = hashlib.sha256()
    body = client.get_object(Bucket=bucket, Key=key)["Body"]
    try:
        for chunk in iter(lambda: body.read(1 << 20), b""):
            h.update(chunk)
    finally:
        body.close()
    return h.hexdigest()


def assert_no_incomplete_uploads(client: Any, bucket: str) -> None:
    """A failed or cancelled upload must abort its multipart upload, or storage leaks."""
    uploads = client.list_multipart_uploads(Bucket=bucket).get("Uploads", [])
    assert not uploads, f"incomplete multipart uploads left in {bucket}: " + ", ".join(
        f"{u['Key']} ({u['UploadId']})" for u in uploads
    )


def _published(f: Path) -> bool:
    state = os.environ.get("XDG_STATE_HOME")
    return bool(state) and f.is_relative_to(Path(state, "s3tui", "live"))


def assert_spool_empty(path: str | Path) -> None:
    """Spool chunks must be deleted after upload, failure or cancel (dirs may remain)."""
    p = Path(path)
    if not p.exists():
        return
    # The parsed-model cache (engine/remote/models.py) sits in the same cache dir: not spool;
    # nor is the live state every put publishes (s3tui/live) when the spool is the test's dir.
    files = [
        f
        for f in p.rglob("*")
        if not f.is_dir() and "botocore-models" not in f.parts and not _published(f)
    ]
    assert not files, f"spool dir {p} not empty: {[str(f) for f in files[:10]]}"


def assert_object_landed(client: Any, bucket: str, key: str, data: bytes, spool: Path) -> None:
    """One object's checks: its bytes, no incomplete multipart upload, nothing left in the
    spool (other keys in the bucket are not looked at)."""
    assert sha256_of_object(client, bucket, key) == sha256_bytes(data)
    assert_no_incomplete_uploads(client, bucket)
    assert_spool_empty(spool)


def read_jsonl(path: Path) -> list[dict[str, Any]]:
    """One JSON object a line, as ``--stats-file`` writes them."""
    return [json.loads(line) for line in path.read_text().splitlines()]


def write_tree(root: Path, files: dict[str, bytes]) -> dict[str, bytes]:
    """Write ``{relative path: bytes}`` under ``root``; returns ``files`` for the checks."""
    for rel, data in files.items():
        (root / rel).parent.mkdir(parents=True, exist_ok=True)
        (root / rel).write_bytes(data)
    return files


def assert_landed(client: Any, bucket: str, expect: dict[str, bytes], spool: Path) -> None:
    """The checks every upload test makes: exactly these keys in the bucket, their bytes, no
    incomplete multipart upload, nothing left in the spool."""
    listed = client.list_objects_v2(Bucket=bucket).get("Contents", [])
    assert {o["Key"] for o in listed} == set(expect)
    for key, data in expect.items():
        assert sha256_of_object(client, bucket, key) == sha256_bytes(data), key
    assert_no_incomplete_uploads(client, bucket)
    assert_spool_empty(spool)
