"""Using the engine as a library: a stream job with a per-attempt callback (``on_record``)."""

from __future__ import annotations

import os
from pathlib import Path
from typing import Any

from s3tui.engine.config import UploadConfig
from s3tui.engine.remote import Remote, make_client
from s3tui.engine.remote.client import guarded
from s3tui.engine.stats import AttemptRecord
from s3tui.engine.stream import StreamUpload
from s3tui.lab import LocalS3
from tests.helpers import MiB, assert_object_landed, random_bytes


def test_stream_job_with_record_callback(
    local_s3: LocalS3, s3_client: Any, bucket: str, tmp_path: Path
) -> None:
    data = random_bytes(17 * MiB, seed=21)
    src = tmp_path / "src"
    src.write_bytes(data)
    records: list[AttemptRecord] = []
    client = make_client(
        local_s3.endpoint_url, "us-east-1", credentials=(local_s3.access_key, local_s3.secret_key)
    )
    assert guarded(client), "botocore internals changed: deadlines cannot cut sockets"
    cfg = UploadConfig(chunk_size=5 * MiB, spool_dir=tmp_path / "spool", concurrency=3)
    fd = os.open(src, os.O_RDONLY)
    try:
        job = StreamUpload(fd, Remote(client, bucket), "lib/obj", cfg, on_record=[records.append])
        result = job.run()
    finally:
        os.close(fd)
    assert result.ok, result.message
    assert result.size == len(data) and result.parts == 4
    assert_object_landed(s3_client, bucket, "lib/obj", data, tmp_path / "spool")
    parts = sorted(r.part for r in records if r.part is not None and r.ok)
    assert parts == [1, 2, 3, 4]
    assert all(r.MBps > 0 and r.MBps_est > 0 for r in records if r.part is not None)
    snap = job.progress.snapshot()
    assert snap.bytes_uploaded == len(data) and snap.parts_done == 4
