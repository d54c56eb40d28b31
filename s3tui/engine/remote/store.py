"""What the engine may know of S3: typed answers and the :class:`S3Store` protocol.

:class:`~s3tui.engine.remote.calls.Remote` implements the protocol over botocore and turns its
answers into these types; the jobs type against :class:`S3Store` and read only these fields, so
an in-memory double (tests/s3double.py) can stand in for S3 in tests of pure logic. ETags here
are bare (no quotes); a field the answer did not carry is None.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import TYPE_CHECKING, Any, BinaryIO, Protocol

if TYPE_CHECKING:
    from s3tui.engine.checksums import Checksum


@dataclass(frozen=True)
class Stored:
    """What S3 says it stored: the answer of PutObject, UploadPart or CompleteMultipartUpload."""

    etag: str | None
    checksum_crc32c: str | None  # as S3 writes it: base64, with ``-N`` for a composite one
    checksum_crc64nvme: str | None = None
    checksum_sha256: str | None = None
    checksum_crc32: str | None = None
    checksum_type: str | None = None  # FULL_OBJECT or COMPOSITE, when the store says


@dataclass(frozen=True)
class ObjectInfo:
    """What a HeadObject says of an object."""

    size: int | None
    etag: str | None
    checksum_crc32c: str | None
    checksum_crc32: str | None
    checksum_crc64nvme: str | None = None
    checksum_sha256: str | None = None
    checksum_type: str | None = None


@dataclass(frozen=True)
class PartInfo:
    """One part of an open multipart upload, as ListParts lists it."""

    number: int
    size: int
    etag: str | None
    checksum_crc32c: str | None


# A part as CompleteMultipartUpload lists it: (number, bare ETag, checksum value of the store's
# algorithm, see s3tui.engine.checksums).
Part = tuple[int, str, int]


class S3Store(Protocol):
    """What the jobs use of the destination: one bucket. Every call is one request (or, for the
    lost-create settling, a few), with no retries: retries belong to the caller."""

    bucket: str
    endpoint: str  # for messages: never with a URL's user:password@
    # What the requests carry; it may change once, at the first request, to a fallback the
    # store accepts: values are computed with the algorithm in effect when a request is made.
    checksum: Checksum

    def create_multipart(
        self, key: str, extra: dict[str, Any], spool_dir: str | None = None
    ) -> str:
        """Open a multipart upload (with :attr:`checksum`'s algorithm); returns its id."""
        ...

    def upload_part(
        self, key: str, upload_id: str, number: int, body: BinaryIO, size: int, crc: int
    ) -> Stored:
        """Store part ``number``; ``crc`` is its checksum value (:attr:`checksum`), which the
        server verifies. The answer's ETag is never None."""
        ...

    def complete_or_confirm(
        self,
        key: str,
        upload_id: str,
        parts: list[Part],
        size: int,
        retried: bool,
        lengths: list[int] | None = None,
    ) -> Stored:
        """CompleteMultipartUpload; on a retry, NoSuchUpload is taken as done when the object is
        exactly ``parts`` (:meth:`completed_already`). ``lengths``: the parts' sizes, by number,
        which a full-object checksum is combined with."""
        ...

    def completed_already(
        self, key: str, size: int, parts: list[Part], lengths: list[int] | None = None
    ) -> Stored | None:
        """What a completion of ``parts`` would have answered, if the object at ``key`` is
        made of them; None if it is not (or is missing)."""
        ...

    def abort(self, key: str, upload_id: str) -> bool:
        """Abort; False when the upload was already gone."""
        ...

    def put_object(
        self, key: str, body: BinaryIO | bytes, size: int, crc: int, extra: dict[str, Any]
    ) -> Stored: ...

    def delete(self, key: str) -> None: ...

    def head(self, key: str) -> ObjectInfo | None:
        """HeadObject with checksums; None when there is no object at ``key``."""
        ...

    def list_parts(self, key: str, upload_id: str) -> list[PartInfo]:
        """The parts stored so far, every page, one per part number, by number."""
        ...

    def has_lost_creates(self) -> bool:
        """Whether a create was sent and its answer lost (it may have opened an upload)."""
        ...

    def settle_lost_creates(self) -> int:
        """Abort the uploads lost creates may have opened; returns how many were aborted."""
        ...
