"""A CompleteMultipartUpload that worked but whose answer never arrived.

On AWS the retry can get NoSuchUpload (the upload is gone: it became the object); SeaweedFS
answers a second complete with success, so the proxy plays AWS and answers the retry with
NoSuchUpload. s3tui must look at the object and accept it when it is exactly the parts it sent,
instead of failing a backup that is in fact stored, and must still fail when it is not its own.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

from s3tui.lab import FaultProxy
from s3tui.lab.faultproxy import Fault
from tests.helpers import (
    MiB,
    assert_no_incomplete_uploads,
    assert_object_landed,
    assert_spool_empty,
    random_bytes,
    read_jsonl,
    sha256_bytes,
    sha256_of_object,
)
from tests.integration.cli_runner import run_put, run_put_paths

COMPLETE = r"\?uploadId="  # POST ...?uploadId=X completes; POST ...?uploads creates


def _then_no_such_upload(proxy: FaultProxy) -> Any:
    """The retry of the complete is told what AWS says once the upload became the object."""
    return proxy.add_rule(
        Fault.respond(404, "NoSuchUpload", "The specified upload does not exist."),
        method="POST",
        path=COMPLETE,
        times=1,
    )


def test_stream_whose_complete_answer_is_lost_is_confirmed_not_failed(
    fault_proxy: FaultProxy, s3_client: Any, bucket: str, s3_env: dict[str, str], tmp_path: Path
) -> None:
    lost = fault_proxy.add_rule(Fault.lose_response(), method="POST", path=COMPLETE, times=1)
    gone = _then_no_such_upload(fault_proxy)
    data = random_bytes(13 * MiB, seed=31)
    stats = tmp_path / "stats.jsonl"
    r = run_put(
        data,
        f"s3://{bucket}/db.sql.gz",
        "--chunk-size",
        "5MiB",
        "--stats-file",
        str(stats),
        env=s3_env,
        endpoint=fault_proxy.url,
        spool=tmp_path / "spool",
    )
    assert r.code == 0, r.stderr
    assert (lost.injected, gone.injected) == (1, 1)
    assert_object_landed(s3_client, bucket, "db.sql.gz", data, tmp_path / "spool")
    complete = [rec for rec in read_jsonl(stats) if rec.get("label") == "complete upload"]
    assert [rec["ok"] for rec in complete] == [False, True], complete
    assert "upload vanished" not in r.stderr


def test_directory_file_whose_complete_answer_is_lost_is_confirmed(
    fault_proxy: FaultProxy, s3_client: Any, bucket: str, s3_env: dict[str, str], tmp_path: Path
) -> None:
    src = tmp_path / "src"
    src.mkdir()
    big = random_bytes(11 * MiB + 3, seed=32)
    (src / "big.bin").write_bytes(big)
    (src / "small.txt").write_bytes(b"small")
    lost = fault_proxy.add_rule(Fault.lose_response(), method="POST", path=COMPLETE, times=1)
    gone = _then_no_such_upload(fault_proxy)
    r = run_put_paths(
        str(src),
        f"s3://{bucket}/t/",
        "--chunk-size",
        "5MiB",
        env=s3_env,
        endpoint=fault_proxy.url,
        spool=tmp_path / "spool",
    )
    assert r.code == 0, r.stderr
    assert (lost.injected, gone.injected) == (1, 1)
    assert sha256_of_object(s3_client, bucket, "t/big.bin") == sha256_bytes(big)
    assert sha256_of_object(s3_client, bucket, "t/small.txt") == sha256_bytes(b"small")
    assert_no_incomplete_uploads(s3_client, bucket)
    assert_spool_empty(tmp_path / "spool")


def test_an_object_that_is_not_ours_is_not_taken_for_our_upload(
    fault_proxy: FaultProxy, s3_client: Any, bucket: str, s3_env: dict[str, str], tmp_path: Path
) -> None:
    """Someone else's object at the key, and the retry told NoSuchUpload: the error stands."""
    data = random_bytes(11 * MiB, seed=33)
    other = random_bytes(11 * MiB, seed=34)  # same size, other bytes
    s3_client.put_object(Bucket=bucket, Key="contested", Body=other)
    # The first complete never reaches the server; the retry is told the upload is gone.
    cut = fault_proxy.add_rule(Fault.reset(), method="POST", path=COMPLETE, times=1)
    gone = _then_no_such_upload(fault_proxy)
    r = run_put(
        data,
        f"s3://{bucket}/contested",
        "--chunk-size",
        "5MiB",
        env=s3_env,
        endpoint=fault_proxy.url,
        spool=tmp_path / "spool",
    )
    assert r.code == 1, r.stderr
    assert (cut.injected, gone.injected) == (1, 1)
    assert "multipart upload vanished" in r.stderr
    # The object is the other writer's, and ours (still open) was aborted.
    assert_object_landed(s3_client, bucket, "contested", other, tmp_path / "spool")


def test_no_clobber_put_whose_answer_is_lost_is_confirmed_not_refused(
    fault_proxy: FaultProxy, s3_client: Any, bucket: str, s3_env: dict[str, str], tmp_path: Path
) -> None:
    """With --no-clobber, a PutObject that stored the object but lost its answer gets
    PreconditionFailed on its retry: the object is this run's body, so the run succeeds; a
    small stream (botocore) and a tree's small file (sent as bytes) and a bigger one."""
    lost = fault_proxy.add_rule(
        Fault.lose_response(), method="PUT", path=r"^/[^?]*/db\.gz$", times=1
    )
    data = random_bytes(1000, seed=35)
    spool = tmp_path / "spool"
    r = run_put(
        data,
        f"s3://{bucket}/db.gz",
        "--no-clobber",
        env=s3_env,
        endpoint=fault_proxy.url,
        spool=spool,
    )
    assert r.code == 0, r.stderr
    assert lost.injected == 1
    assert_object_landed(s3_client, bucket, "db.gz", data, spool)

    src = tmp_path / "src"
    src.mkdir()
    small, mid = random_bytes(3000, seed=36), random_bytes(2 * MiB + 7, seed=37)
    (src / "small.txt").write_bytes(small)
    (src / "mid.bin").write_bytes(mid)
    files = r"^/[^?]*/t/(small\.txt|mid\.bin)$"
    lost = fault_proxy.add_rule(Fault.lose_response(), method="PUT", path=files, times=2)
    r = run_put_paths(
        str(src),
        f"s3://{bucket}/t/",
        "--no-clobber",
        "--chunk-size",
        "5MiB",
        env=s3_env,
        endpoint=fault_proxy.url,
        spool=spool,
    )
    assert r.code == 0, r.stderr
    assert lost.injected == 2
    assert sha256_of_object(s3_client, bucket, "t/small.txt") == sha256_bytes(small)
    assert sha256_of_object(s3_client, bucket, "t/mid.bin") == sha256_bytes(mid)
    assert_no_incomplete_uploads(s3_client, bucket)
    assert_spool_empty(spool)
