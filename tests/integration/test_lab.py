"""The lab itself: the local S3 server and every fault the proxy promises really happen.

Other tests trust these tools to break things on purpose; if a fault silently did nothing, a retry
test would pass without testing anything.
"""

from __future__ import annotations

import io
import os
import socket
import time
from typing import Any

import pytest
from boto3.s3.transfer import TransferConfig
from botocore.exceptions import (
    ClientError,
    ConnectionClosedError,
    EndpointConnectionError,
    HTTPClientError,
    ReadTimeoutError,
)

from s3tui.lab import FaultProxy, LocalS3, find_weed
from s3tui.lab import seaweed as seaweed_mod
from s3tui.lab.faultproxy import Fault
from tests.helpers import (
    MiB,
    assert_no_incomplete_uploads,
    random_bytes,
    sha256_bytes,
    sha256_of_object,
)

CONNECTION_ERRORS = (ConnectionClosedError, EndpointConnectionError, HTTPClientError)


def via(local_s3: LocalS3, proxy: FaultProxy, **cfg: Any) -> Any:
    """A client through the proxy with botocore's retries off, so each fault surfaces once."""
    cfg.setdefault("retries", {"total_max_attempts": 1})
    return local_s3.client(endpoint_url=proxy.url, **cfg)


def test_server_roundtrip_and_credentials(local_s3: LocalS3, bucket: str, s3_client: Any) -> None:
    data = random_bytes(100_000, seed=1)
    s3_client.put_object(Bucket=bucket, Key="a/b.bin", Body=data)
    assert s3_client.get_object(Bucket=bucket, Key="a/b.bin")["Body"].read() == data
    assert local_s3.env()["AWS_ACCESS_KEY_ID"] == local_s3.access_key
    assert local_s3.endpoint_url.startswith("http://127.0.0.1:")
    # Credentials are enforced, and a missing bucket is not auto-created.
    import boto3

    wrong = boto3.session.Session(
        aws_access_key_id=local_s3.access_key, aws_secret_access_key="nope", region_name="us-east-1"
    ).client("s3", endpoint_url=local_s3.endpoint_url)
    with pytest.raises(ClientError):
        wrong.list_buckets()
    with pytest.raises(ClientError) as e:
        s3_client.put_object(Bucket="no-such-bucket-xyz", Key="k", Body=b"x")
    assert e.value.response["Error"]["Code"] == "NoSuchBucket"


def test_port_race_retry_and_stop(monkeypatch: pytest.MonkeyPatch) -> None:
    """A port taken between our check and weed's bind makes start() retry once with new ports;
    stop() kills the process group and removes the temp dir."""
    if find_weed() is None:
        pytest.skip("weed not found")
    squatter = socket.create_server(("127.0.0.1", 0))
    busy = squatter.getsockname()[1]
    real_pick = seaweed_mod._pick_ports
    calls = []

    def pick(n: int, rng: Any) -> list[int]:
        ports = real_pick(n, rng)
        calls.append(ports)
        if len(calls) == 1:
            ports[seaweed_mod._PORT_FLAGS.index("s3.port")] = busy
        return ports

    monkeypatch.setattr(seaweed_mod, "_pick_ports", pick)
    try:
        with LocalS3() as s3:
            assert len(calls) == 2
            assert s3.endpoint_url != f"http://127.0.0.1:{busy}"
            s3.client().list_buckets()
            pid, workdir = s3.pid, s3.workdir
            assert pid and workdir and workdir.is_dir()
    finally:
        squatter.close()
    assert s3.pid is None and not workdir.exists()
    with pytest.raises(ProcessLookupError):
        os.kill(pid, 0)


def test_proxy_passthrough_multipart(
    local_s3: LocalS3, bucket: str, s3_client: Any, fault_proxy: FaultProxy
) -> None:
    data = random_bytes(20 * MiB, seed=2)
    cfg = TransferConfig(
        multipart_threshold=5 * MiB, multipart_chunksize=5 * MiB, max_concurrency=4
    )
    via(local_s3, fault_proxy).upload_fileobj(io.BytesIO(data), bucket, "big.bin", Config=cfg)
    assert sha256_of_object(s3_client, bucket, "big.bin") == sha256_bytes(data)
    assert_no_incomplete_uploads(s3_client, bucket)
    parts = [p for m, p in fault_proxy.requests if m == "PUT" and "partNumber=" in p]
    assert len(parts) == 4
    assert fault_proxy.requests_seen >= 6  # create + 4 parts + complete
    assert fault_proxy.faults == []


def test_respond_slowdown_once(local_s3: LocalS3, bucket: str, fault_proxy: FaultProxy) -> None:
    rule = fault_proxy.add_rule(Fault.slow_down(), method="PUT", times=1)
    client = via(local_s3, fault_proxy)
    with pytest.raises(ClientError) as e:
        client.put_object(Bucket=bucket, Key="k", Body=random_bytes(300_000))
    assert e.value.response["Error"]["Code"] == "SlowDown"
    assert e.value.response["ResponseMetadata"]["HTTPStatusCode"] == 503
    client.put_object(Bucket=bucket, Key="k", Body=b"second try")  # times=1: passes now
    assert rule.injected == 1 and rule.matched == 2
    assert [f.kind for f in fault_proxy.faults] == ["respond"]


def test_internal_error_hits_only_the_chosen_part(
    local_s3: LocalS3, bucket: str, s3_client: Any, fault_proxy: FaultProxy
) -> None:
    fault_proxy.add_rule(Fault.internal_error(), path=r"partNumber=2(&|$)", times=1)
    client = via(local_s3, fault_proxy)
    up = client.create_multipart_upload(Bucket=bucket, Key="mp")["UploadId"]
    try:
        client.upload_part(Bucket=bucket, Key="mp", UploadId=up, PartNumber=1, Body=b"1" * 100)
        with pytest.raises(ClientError) as e:
            client.upload_part(Bucket=bucket, Key="mp", UploadId=up, PartNumber=2, Body=b"2")
        assert e.value.response["Error"]["Code"] == "InternalError"
        client.upload_part(Bucket=bucket, Key="mp", UploadId=up, PartNumber=2, Body=b"2")
    finally:
        client.abort_multipart_upload(Bucket=bucket, Key="mp", UploadId=up)
    assert len(fault_proxy.faults) == 1
    assert "partNumber=2" in fault_proxy.faults[0].path
    assert_no_incomplete_uploads(s3_client, bucket)


def test_nth_and_probability_selectors(
    local_s3: LocalS3, bucket: str, fault_proxy: FaultProxy
) -> None:
    client = via(local_s3, fault_proxy)
    nth = fault_proxy.add_rule(Fault.slow_down(), method="HEAD", nth={2, 4})
    outcomes = []
    for _ in range(5):
        try:
            client.head_bucket(Bucket=bucket)
            outcomes.append("ok")
        except ClientError as e:
            outcomes.append(e.response["Error"]["Code"])  # HEAD: no body, code is the status
    assert outcomes == ["ok", "503", "ok", "503", "ok"]
    assert nth.injected == 2
    fault_proxy.remove_rule(nth)
    prob = fault_proxy.add_rule(Fault.slow_down(), method="HEAD", probability=0.5, seed=7)
    failures = 0
    for _ in range(20):
        try:
            client.head_bucket(Bucket=bucket)
        except ClientError:
            failures += 1
    assert failures == prob.injected and 3 <= failures <= 17


def test_reset_mid_body(local_s3: LocalS3, bucket: str, fault_proxy: FaultProxy) -> None:
    fault_proxy.add_rule(Fault.reset(after_bytes=64 * 1024), method="PUT", times=1)
    client = via(local_s3, fault_proxy)
    with pytest.raises(CONNECTION_ERRORS):
        client.put_object(Bucket=bucket, Key="r", Body=io.BytesIO(random_bytes(2 * MiB)))
    assert [f.kind for f in fault_proxy.faults] == ["reset"]
    client.put_object(Bucket=bucket, Key="r", Body=b"ok")  # the next connection works


@pytest.mark.parametrize("size", [1 * MiB, 24 * MiB], ids=["waits-for-response", "send-blocks"])
def test_stall_mid_body(local_s3: LocalS3, bucket: str, fault_proxy: FaultProxy, size: int) -> None:
    """Small body: the client waits for an answer that never comes. Large body: its sendall
    blocks once socket buffers fill. Either way a 2 s socket timeout fires."""
    fault_proxy.add_rule(Fault.stall(after_bytes=256 * 1024), method="PUT")
    client = via(local_s3, fault_proxy, connect_timeout=2, read_timeout=2)
    t0 = time.monotonic()
    with pytest.raises((ReadTimeoutError, *CONNECTION_ERRORS)):
        client.put_object(Bucket=bucket, Key="s", Body=io.BytesIO(random_bytes(size)))
    assert 1.5 <= time.monotonic() - t0 < 15
    assert fault_proxy.faults[0].kind == "stall"
    t0 = time.monotonic()
    fault_proxy.stop()  # stalled handlers must end too
    assert time.monotonic() - t0 < 3
    assert not fault_proxy._threads


def test_stall_response(local_s3: LocalS3, bucket: str, fault_proxy: FaultProxy) -> None:
    local_s3.client().put_object(Bucket=bucket, Key="g", Body=b"hello")
    fault_proxy.add_rule(Fault.stall_response(), method="GET", times=1)
    client = via(local_s3, fault_proxy, connect_timeout=2, read_timeout=2)
    t0 = time.monotonic()
    with pytest.raises(ReadTimeoutError):
        client.get_object(Bucket=bucket, Key="g")["Body"].read()
    assert time.monotonic() - t0 >= 1.5
    assert client.get_object(Bucket=bucket, Key="g")["Body"].read() == b"hello"


def test_bandwidth_and_latency(local_s3: LocalS3, bucket: str, fault_proxy: FaultProxy) -> None:
    client = via(local_s3, fault_proxy)
    client.head_bucket(Bucket=bucket)  # connection established outside the timings
    fault_proxy.bandwidth = 2_000_000
    t0 = time.monotonic()
    client.put_object(Bucket=bucket, Key="slow", Body=io.BytesIO(random_bytes(4 * MiB)))
    took = time.monotonic() - t0
    assert 1.5 <= took < 6, took  # 4 MiB at 2 MB/s is ~2.1 s
    fault_proxy.bandwidth = None
    fault_proxy.latency = 0.25
    t0 = time.monotonic()
    client.head_bucket(Bucket=bucket)
    assert time.monotonic() - t0 >= 0.5  # before the request and before the response


def test_loopback_only(local_s3: LocalS3) -> None:
    with pytest.raises(ValueError):
        FaultProxy("http://192.0.2.1:80")
    with pytest.raises(ValueError):
        FaultProxy(local_s3.endpoint_url, host="0.0.0.0")
