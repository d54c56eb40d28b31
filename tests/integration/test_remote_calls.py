"""Remote's typed answers against a real SeaweedFS: a part listing, a HEAD, a completion."""

from __future__ import annotations

import io

from s3tui.engine.crc import crc32c
from s3tui.engine.remote import ObjectInfo, PartInfo, Remote, make_client
from s3tui.engine.remote.calls import composite_crc32c_b64, crc32c_b64
from s3tui.lab import LocalS3
from tests.helpers import random_bytes

MiB = 1024 * 1024


def test_list_parts_lists_every_copy_and_completion_picks_one(
    local_s3: LocalS3, bucket: str
) -> None:
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
        # SeaweedFS keeps and lists both copies of part 1 (a store with AWS's semantics lists
        # the last one only), and no checksums: only what holds either way is asserted.
        ones = [p for p in listed if p.number == 1]
        assert [p.number for p in listed] == [1] * len(ones) + [2]
        assert p1.etag in {p.etag for p in ones} and all(p.size == len(first) for p in ones)
        assert listed[-1] == PartInfo(2, len(second), p2.etag, listed[-1].checksum_crc32c)
        assert listed[-1].checksum_crc32c in (None, crc32c_b64(crc32c(second)))
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


def test_list_uploads_pages_and_ages_by_the_servers_clock(local_s3: LocalS3, bucket: str) -> None:
    client = make_client(
        local_s3.endpoint_url, "us-east-1", credentials=(local_s3.access_key, local_s3.secret_key)
    )
    remote = Remote(client, bucket)
    ids = {remote.create_multipart(f"a/{i}", {}): f"a/{i}" for i in range(3)}
    other = remote.create_multipart("b/0", {})
    listing = remote.list_uploads("a/")
    assert {(u.key, u.upload_id) for u in listing.uploads} == {(k, i) for i, k in ids.items()}
    assert all(u.initiated is not None for u in listing.uploads)
    assert all(abs(listing.server_time - (u.initiated or 0)) < 60 for u in listing.uploads)
    assert [u.upload_id for u in remote.list_uploads("b/").uploads] == [other]
    # Pages: the client asks for at most one upload a page.
    paged = []
    orig = client.list_multipart_uploads

    def one_a_page(**kw: object) -> dict:
        paged.append(kw)
        return orig(MaxUploads=1, **kw)

    client.list_multipart_uploads = one_a_page
    assert {u.upload_id for u in remote.list_uploads("a/").uploads} == set(ids)
    assert len(paged) >= 3
