"""Backup options against a real SeaweedFS: --tags (stored on the object, through both the
botocore and the direct PutObject path and on multipart uploads), --no-clobber (an existing
object is never replaced: streams, single files, trees, the direct path) and a named store from
the config file driving a real upload."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest

from s3tui.engine.config import ObjectOptions, UploadConfig
from s3tui.engine.remote import Remote, fast, make_client
from s3tui.engine.tree import TreeUpload
from s3tui.lab import LocalS3
from s3tui.settings import config_path
from tests.helpers import (
    assert_landed,
    assert_no_incomplete_uploads,
    assert_object_landed,
    assert_spool_empty,
    random_bytes,
    sha256_bytes,
    sha256_of_object,
    write_tree,
)
from tests.integration.cli_runner import run_put, run_put_paths

MiB = 1024 * 1024
TAGS = {"team": "db ops", "retention": "30d", "path": "a/b&c=d"}
TAG_ARGS = ("--tags", "team=db ops", "--tags", "retention=30d", "--tags", "path=a/b&c=d")


def _tags(client: Any, bucket: str, key: str) -> dict[str, str]:
    resp = client.get_object_tagging(Bucket=bucket, Key=key)
    return {t["Key"]: t["Value"] for t in resp["TagSet"]}


# --- --tags ---


def test_tags_on_a_multipart_stream_and_a_small_one(
    local_s3: LocalS3, s3_client: Any, bucket: str, s3_env: dict[str, str], tmp_path: Path
) -> None:
    spool = tmp_path / "spool"
    for key, size in (("big.gz", 12 * MiB + 7), ("small.gz", 3000)):
        data = random_bytes(size, seed=size)
        r = run_put(
            data,
            f"s3://{bucket}/{key}",
            "--chunk-size",
            "5MiB",
            *TAG_ARGS,
            env=s3_env,
            endpoint=local_s3.endpoint_url,
            spool=spool,
        )
        assert r.code == 0, r.stderr
        assert_object_landed(s3_client, bucket, key, data, spool)
        assert _tags(s3_client, bucket, key) == TAGS, key


def test_tags_on_a_tree_of_small_and_multipart_files(
    local_s3: LocalS3, s3_client: Any, bucket: str, s3_env: dict[str, str], tmp_path: Path
) -> None:
    src = tmp_path / "src"
    files = write_tree(
        src,
        {f"f{i}.txt": random_bytes(100 + i * 999, seed=i) for i in range(6)}
        | {"big.bin": random_bytes(6 * MiB + 1, seed=99)},
    )
    spool = tmp_path / "spool"
    r = run_put_paths(
        str(src),
        f"s3://{bucket}/t/",
        "--chunk-size",
        "5MiB",
        *TAG_ARGS,
        env=s3_env,
        endpoint=local_s3.endpoint_url,
        spool=spool,
    )
    assert r.code == 0, r.stderr
    assert_landed(s3_client, bucket, {f"t/{k}": v for k, v in files.items()}, spool)
    for rel in files:
        assert _tags(s3_client, bucket, f"t/{rel}") == TAGS, rel


def _tree_job(
    local_s3: LocalS3, bucket: str, src: Path, tmp_path: Path, options: ObjectOptions
) -> tuple[Any, Remote, list[str]]:
    """A TreeUpload on one worker, counting the PutObjects that went through botocore."""
    client = make_client(
        local_s3.endpoint_url, "us-east-1", credentials=(local_s3.access_key, local_s3.secret_key)
    )
    via_botocore: list[str] = []
    client.meta.events.register(
        "before-send.s3.PutObject", lambda request, **_: via_botocore.append(request.url)
    )
    remote = Remote(client, bucket)
    cfg = UploadConfig(spool_dir=tmp_path / "spool", concurrency=1)
    return TreeUpload([str(src)], remote, "up/", cfg, options).run(), remote, via_botocore


@pytest.mark.skipif(not fast.enabled(), reason="S3TUI_FAST_PATH=0: the direct path is off")
def test_tags_ride_the_direct_put_path(
    local_s3: LocalS3, s3_client: Any, bucket: str, tmp_path: Path
) -> None:
    src = tmp_path / "src"
    files = write_tree(src, {f"{i:02d}.txt": random_bytes(500 + i, seed=i) for i in range(5)})
    result, remote, via_botocore = _tree_job(
        local_s3, bucket, src, tmp_path, ObjectOptions(tags=TAGS)
    )
    assert result.ok, result.message
    assert_landed(s3_client, bucket, {f"up/{k}": v for k, v in files.items()}, tmp_path / "spool")
    assert remote.direct is not None and remote.direct.sent == len(files) - 1
    assert len(via_botocore) == 1
    for rel in files:
        assert _tags(s3_client, bucket, f"up/{rel}") == TAGS, rel


# --- --no-clobber ---


def _old(client: Any, bucket: str, key: str) -> bytes:
    data = b"yesterday's good backup\n"
    client.put_object(Bucket=bucket, Key=key, Body=data)
    return data


@pytest.mark.parametrize("size", [20 * MiB + 5, 1000], ids=["multipart", "single-put"])
def test_no_clobber_stream_keeps_the_existing_object(
    local_s3: LocalS3,
    s3_client: Any,
    bucket: str,
    s3_env: dict[str, str],
    tmp_path: Path,
    size: int,
) -> None:
    old = _old(s3_client, bucket, "db.gz")
    spool = tmp_path / "spool"
    r = run_put(
        random_bytes(size, seed=3),
        f"s3://{bucket}/db.gz",
        "--chunk-size",
        "5MiB",
        "--no-clobber",
        env=s3_env,
        endpoint=local_s3.endpoint_url,
        spool=spool,
    )
    assert r.code == 1, r.stderr
    assert "already exists" in r.stderr and "--no-clobber" in r.stderr, r.stderr
    assert sha256_of_object(s3_client, bucket, "db.gz") == sha256_bytes(old)
    assert [o["Key"] for o in s3_client.list_objects_v2(Bucket=bucket)["Contents"]] == ["db.gz"]
    assert_no_incomplete_uploads(s3_client, bucket)
    assert_spool_empty(spool)


@pytest.mark.parametrize("size", [12 * MiB + 5, 1000], ids=["multipart", "single-put"])
def test_no_clobber_stores_a_new_key(
    local_s3: LocalS3,
    s3_client: Any,
    bucket: str,
    s3_env: dict[str, str],
    tmp_path: Path,
    size: int,
) -> None:
    data = random_bytes(size, seed=4)
    spool = tmp_path / "spool"
    r = run_put(
        data,
        f"s3://{bucket}/new.gz",
        "--chunk-size",
        "5MiB",
        "--no-clobber",
        env=s3_env,
        endpoint=local_s3.endpoint_url,
        spool=spool,
    )
    assert r.code == 0, r.stderr
    assert_object_landed(s3_client, bucket, "new.gz", data, spool)


def test_no_clobber_single_file_and_tree(
    local_s3: LocalS3, s3_client: Any, bucket: str, s3_env: dict[str, str], tmp_path: Path
) -> None:
    src = tmp_path / "src"
    files = write_tree(
        src,
        {
            "a-new.txt": random_bytes(2000, seed=1),
            "b-old.txt": random_bytes(3000, seed=2),
            "c-old.bin": random_bytes(6 * MiB, seed=3),
            "d-new.bin": random_bytes(6 * MiB + 9, seed=4),
            "e-new.txt": random_bytes(10, seed=5),
        },
    )
    old = {f"t/{k}": _old(s3_client, bucket, f"t/{k}") for k in ("b-old.txt", "c-old.bin")}
    spool = tmp_path / "spool"

    # One file to one existing key: refused, exit 1.
    r = run_put_paths(
        str(src / "b-old.txt"),
        f"s3://{bucket}/t/b-old.txt",
        "--no-clobber",
        env=s3_env,
        endpoint=local_s3.endpoint_url,
        spool=spool,
    )
    assert r.code == 1 and "already exists" in r.stderr, r.stderr

    r = run_put_paths(
        str(src),
        f"s3://{bucket}/t/",
        "--chunk-size",
        "5MiB",
        "--no-clobber",
        "--concurrency",
        "2",
        env=s3_env,
        endpoint=local_s3.endpoint_url,
        spool=spool,
    )
    assert r.code == 1, r.stderr
    assert "b-old.txt" in r.stderr and "c-old.bin" in r.stderr and "already exists" in r.stderr
    expect = {f"t/{k}": v for k, v in files.items() if "new" in k} | old
    assert_landed(s3_client, bucket, expect, spool)


@pytest.mark.skipif(not fast.enabled(), reason="S3TUI_FAST_PATH=0: the direct path is off")
def test_no_clobber_rides_the_direct_put_path(
    local_s3: LocalS3, s3_client: Any, bucket: str, tmp_path: Path
) -> None:
    """The first PutObject (botocore) teaches the template; the existing key comes later, on
    the direct path, and must be refused there too."""
    src = tmp_path / "src"
    files = write_tree(src, {f"{i:02d}.txt": random_bytes(700 + i, seed=i) for i in range(4)})
    old = _old(s3_client, bucket, "up/02.txt")
    result, remote, via_botocore = _tree_job(
        local_s3, bucket, src, tmp_path, ObjectOptions(no_clobber=True)
    )
    assert result.exit_code == 1
    assert [p for p, _ in result.failed_files] == [str(src / "02.txt")], result.failed_files
    assert "already exists" in result.failed_files[0][1]
    assert len(via_botocore) == 1 and "/up/00.txt" in via_botocore[0]
    assert remote.direct is not None and remote.direct.sent == 2
    expect = {f"up/{k}": v for k, v in files.items() if k != "02.txt"} | {"up/02.txt": old}
    assert_landed(s3_client, bucket, expect, tmp_path / "spool")


@pytest.mark.skipif(not fast.enabled(), reason="S3TUI_FAST_PATH=0: no template is remembered")
def test_no_clobber_from_a_remembered_template(
    local_s3: LocalS3,
    s3_client: Any,
    bucket: str,
    s3_env: dict[str, str],
    isolated_env: Path,
    tmp_path: Path,
) -> None:
    """A later run's first PutObject goes out from the template an earlier run remembered
    (before botocore is imported): to an existing key, it is refused all the same."""
    src = tmp_path / "src"
    files = write_tree(src, {"a.txt": b"first run\n", "b.txt": b"first run too\n"})
    spool = tmp_path / "spool"
    args = ("--no-clobber", "--tags", "k=v")
    r = run_put_paths(
        str(src), f"s3://{bucket}/", *args, env=s3_env, endpoint=local_s3.endpoint_url, spool=spool
    )
    assert r.code == 0, r.stderr
    templates = isolated_env / "cache" / "s3tui" / "put-templates"
    (cache,) = templates.glob("*.json")
    (learned,) = json.loads(cache.read_text())["templates"].values()
    headers = {k.lower(): v for k, v in learned["headers"]}
    assert (headers["if-none-match"], headers["x-amz-tagging"]) == ("*", "k=v")
    (src / "a.txt").write_bytes(b"second run, must not replace the first\n")
    r = run_put_paths(
        str(src / "a.txt"),
        f"s3://{bucket}/a.txt",
        *args,
        env=s3_env,
        endpoint=local_s3.endpoint_url,
        spool=spool,
    )
    assert r.code == 1 and "already exists" in r.stderr, r.stderr
    # The template was tried: any refusal drops a remembered one, and botocore then sent the
    # request again, refused too.
    assert json.loads(cache.read_text())["templates"] == {}
    assert_landed(s3_client, bucket, files | {"a.txt": b"first run\n"}, spool)
    assert _tags(s3_client, bucket, "a.txt") == {"k": "v"}


# --- a named store from the config file ---


def test_a_store_from_the_config_file_drives_the_upload(
    local_s3: LocalS3, s3_client: Any, bucket: str, s3_env: dict[str, str], tmp_path: Path
) -> None:
    path = config_path()
    path.parent.mkdir(parents=True)
    spool = tmp_path / "spool"
    path.write_text(
        f'[defaults]\nchunk_size = "5MiB"\nendpoint_url = "http://127.0.0.1:9"\n\n'
        f'[stores.local]\nendpoint_url = "{local_s3.endpoint_url}"\nspool_dir = "{spool}"\n'
    )
    data = random_bytes(11 * MiB, seed=7)
    # run_put passes --endpoint-url itself: run the CLI without it, from the store alone.
    import subprocess
    import sys

    p = subprocess.run(
        [sys.executable, "-m", "s3tui", "put", "-", f"s3://{bucket}/k", "--store", "local"],
        input=data,
        env=s3_env,
        capture_output=True,
        timeout=120,
    )
    assert p.returncode == 0, p.stderr.decode()
    assert_object_landed(s3_client, bucket, "k", data, spool)
    head = s3_client.head_object(Bucket=bucket, Key="k", ChecksumMode="ENABLED")
    assert head["ChecksumCRC32C"].endswith("-3")  # 5MiB parts, from [defaults]
