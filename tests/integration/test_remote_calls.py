"""Remote's typed answers against a real SeaweedFS: a part listing, a HEAD, a completion."""

from __future__ import annotations

import io

from s3tui.engine.crc import crc32c
from s3tui.engine.remote import ObjectInfo, PartInfo, Remote, make_client
from s3tui.engine.remote.calls import composite_crc32c_b64, crc32c_b64
from s3tui.lab import LocalS3
from tests.helpers import random_bytes

MiB = 1024 * 1024


def test_list_parts_keeps_one_entry_per_part_the_last_sent(local_s3: LocalS3, bucket: str) -> None:
    client = make_client(
        local_s3.endpoint_url, "us-east-1", credentials=(local_s3.access_key, local_s3.secret_key)
    )
    remote = Remote(client, bucket)
    first, again, second = random_bytes(5 * MiB, 1), random_bytes(5 * MiB, 2), b"tail"
    up = remote.create_multipart("lp", {})
    try:
        remote.upload_part("lp", up, 1, io.BytesIO(first), len(first), crc32c(first))
        p1 = remote.upload_part("lp", up, 1, io.BytesIO(again), len(again), crc32c(again))
        p2 = remote.upload_part("lp", up, 2, io.BytesIO(second), len(second), crc32c(second))
        assert p1.etag and not p1.etag.startswith('"')
        listed = remote.list_parts("lp", up)
        # One entry per part number; which copy of part 1 SeaweedFS lists last is not the one
        # sent last, and it lists no checksums: only what holds either way is asserted.
        assert [(p.number, p.size) for p in listed] == [(1, len(again)), (2, len(second))]
        assert listed[1] == PartInfo(2, len(second), p2.etag, listed[1].checksum_crc32c)
        assert listed[1].checksum_crc32c in (None, crc32c_b64(crc32c(second)))
        assert all(isinstance(p.etag, str) and not p.etag.startswith('"') for p in listed)
        parts = [(1, p1.etag, crc32c(again)), (2, p2.etag or "", crc32c(second))]
        done = remote.complete_or_confirm("lp", up, parts, len(again) + 4, retried=False)
    except BaseException:
        remote.abort("lp", up)
        raise
    composite = composite_crc32c_b64([crc32c(again), crc32c(second)])
    assert done.checksum_crc32c == composite
    head = remote.head("lp")
    assert isinstance(head, ObjectInfo) and head.size == len(again) + 4
    assert head.checksum_crc32c is not None
    assert head.checksum_crc32c.split("-")[0] == composite.split("-")[0]
    assert remote.completed_already("lp", len(again) + 4, parts) is not None
    assert remote.head("missing") is None
