"""--no-clobber without a server: the 412 is this file's failure, never retried, and says what
to do; the condition rides PutObject and CompleteMultipartUpload, never CreateMultipartUpload
(which has no such parameter)."""

from __future__ import annotations

from typing import Any

import botocore.exceptions as bx
import pytest

from s3tui.engine.config import ObjectOptions
from s3tui.engine.remote import Remote
from s3tui.engine.remote.calls import composite_crc32c_b64, object_info
from s3tui.engine.remote.errors import Scope, classify


def test_a_precondition_failure_is_the_files_and_not_retried() -> None:
    e = bx.ClientError(
        {"Error": {"Code": "PreconditionFailed"}, "ResponseMetadata": {"HTTPStatusCode": 412}},
        "PutObject",
    )
    f = classify(e, "b", "db/k.gz", "http://u:p@host:9000")
    assert (f.retryable, f.scope, f.code, f.reason) == (
        False,
        Scope.FILE,
        "PreconditionFailed",
        "exists",
    )
    assert "s3://b/db/k.gz already exists" in f.message and "drop --no-clobber" in f.message


class _Client:
    class meta:  # botocore's shape
        endpoint_url = "http://host:9000"

    def __init__(self) -> None:
        self.calls: list[tuple[str, dict[str, Any]]] = []

    def create_multipart_upload(self, **kw: Any) -> dict[str, Any]:
        self.calls.append(("create", kw))
        return {"UploadId": f"u{len(self.calls)}"}

    def complete_multipart_upload(self, **kw: Any) -> dict[str, Any]:
        self.calls.append(("complete", kw))
        return {"ETag": '"x"'}


def test_the_condition_moves_from_the_create_to_the_complete() -> None:
    client = _Client()
    remote = Remote(client, "bucket")
    extra = ObjectOptions(no_clobber=True, tags={"a": "b"}).to_s3_args()
    guarded = remote.create_multipart("k", extra)
    plain = remote.create_multipart("k2", ObjectOptions().to_s3_args())
    assert extra["IfNoneMatch"] == "*"  # the caller's dict is left alone
    remote.complete("k", guarded, [(1, '"e"', 7)])
    remote.complete("k2", plain, [(1, '"e"', 7)])
    (_, c1), (_, c2), (_, d1), (_, d2) = client.calls
    assert "IfNoneMatch" not in c1 and c1["Tagging"] == "a=b" and "IfNoneMatch" not in c2
    assert d1["IfNoneMatch"] == "*" and "IfNoneMatch" not in d2


def _refusing_remote(head: dict[str, Any] | None) -> Remote:
    class Refusing(_Client):
        def complete_multipart_upload(self, **kw: Any) -> dict[str, Any]:
            raise bx.ClientError(
                {
                    "Error": {"Code": "PreconditionFailed"},
                    "ResponseMetadata": {"HTTPStatusCode": 412},
                },
                "CompleteMultipartUpload",
            )

    remote = Remote(Refusing(), "bucket")
    info = object_info(head) if head is not None else None  # what Remote.head makes of it
    remote.head = lambda key: info  # type: ignore[method-assign]
    return remote


def test_a_retried_complete_refused_by_its_own_object_is_accepted() -> None:
    """The first complete stored the object and its answer was lost: the retry's 412 is about
    our own object, which is accepted only if it is exactly our parts."""
    parts = [(1, '"e"', 111), (2, '"f"', 222)]
    ours = {"ContentLength": 10, "ChecksumCRC32C": composite_crc32c_b64([111, 222]), "ETag": '"x"'}
    found = _refusing_remote(ours).complete_or_confirm("k", "u1", parts, 10, retried=True)
    assert found.etag == "x"
    for head, retried in (
        (ours, False),
        ({**ours, "ChecksumCRC32C": "AAAAAA==-2"}, True),
        (None, True),
    ):
        with pytest.raises(bx.ClientError):
            _refusing_remote(head).complete_or_confirm("k", "u1", parts, 10, retried=retried)
