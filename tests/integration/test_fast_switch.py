"""With the fast path off (``S3TUI_FAST_PATH=0``) or botocore missing a private attribute it
leans on, uploads go through stock botocore and still land; nothing fails."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest

from s3tui.engine.config import ObjectOptions, UploadConfig
from s3tui.engine.remote import Remote, fast, make_client
from s3tui.engine.tree import TreeUpload
from s3tui.lab import LocalS3
from tests.helpers import assert_landed, random_bytes, write_tree
from tests.integration.cli_runner import run_put_paths
from tests.unit.test_fast_switch import without_pool_table

KiB = 1024


def _files(root: Path) -> dict[str, bytes]:
    return write_tree(
        root,
        {
            f"d{i % 2}/f{i:02d}-ü.bin": random_bytes(1 + 997 * i % (40 * KiB), seed=i)
            for i in range(14)
        },
    )


def test_botocore_without_its_pool_table_uploads_through_botocore(
    local_s3: LocalS3,
    s3_client: Any,
    bucket: str,
    tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.delenv(fast.ENV, raising=False)
    without_pool_table(monkeypatch)
    files = _files(tmp_path / "src")
    client = make_client(
        local_s3.endpoint_url, "us-east-1", credentials=(local_s3.access_key, local_s3.secret_key)
    )
    remote = Remote(client, bucket)
    assert remote.direct is None
    config = UploadConfig(spool_dir=tmp_path / "spool", concurrency=4)
    job = TreeUpload([str(tmp_path / "src")], remote, "up/", config, ObjectOptions())
    result = job.run()
    assert result.ok, result.message
    expect = {f"up/{rel}": d for rel, d in files.items()}
    assert_landed(s3_client, bucket, expect, tmp_path / "spool")


def test_off_switch_on_the_cli_stores_the_tree_and_keeps_no_cache(
    local_s3: LocalS3,
    s3_client: Any,
    bucket: str,
    s3_env: dict[str, str],
    isolated_env: Path,
    tmp_path: Path,
) -> None:
    files = _files(tmp_path / "src")
    spool = tmp_path / "spool"
    for prefix in ("one", "two"):  # a second run would use a template if one had been kept
        run = run_put_paths(
            str(tmp_path / "src"),
            f"s3://{bucket}/{prefix}/",
            env={**s3_env, fast.ENV: "0"},
            endpoint=local_s3.endpoint_url,
            spool=spool,
        )
        assert run.code == 0, run.stderr
    expect = {f"{p}/{rel}": d for p in ("one", "two") for rel, d in files.items()}
    assert_landed(s3_client, bucket, expect, spool)
    cache = isolated_env / "cache" / "s3tui"
    assert not (cache / "put-templates").exists() and not (cache / "botocore-models").exists()
