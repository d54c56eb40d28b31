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
class ObjectSums:
    """What a HeadObject says of an object's content, for ``s3tui verify``: every checksum it
    reported (``{"crc32c": "b64", ...}``, composite ones with ``-N``), the checksum type
    (FULL_OBJECT / COMPOSITE, when the store says), the part count (only a HeadObject with a
    PartNumber gives it; its size is then that part's) and the server-side encryption, under
    which an ETag is not an MD5."""

    size: int | None
    etag: str | None
    checksums: dict[str, str]
    checksum_type: str | None = None
    parts_count: int | None = None
    sse: str | None = None


@dataclass(frozen=True)
class PartInfo:
    """One part of an open multipart upload, as ListParts lists it."""

    number: int
    size: int
    etag: str | None
    checksum_crc32c: str | None


@dataclass(frozen=True)
class UploadInfo:
    """One open multipart upload, as ListMultipartUploads lists it."""

    key: str
    upload_id: str
    initiated: float | None  # unix seconds, by the server's clock


@dataclass(frozen=True)
class UploadListing:
    """The open uploads under a prefix, with the server's clock when it answered: ages are
    ``server_time - initiated``, so a skewed local clock does not age them."""

    uploads: list[UploadInfo]
    server_time: float


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

    def adopt(
        self, key: str, upload_id: str, extra: dict[str, Any], spool_dir: str | None = None
    ) -> None:
        """Take over an open upload that a dead run left (a resumed stream): no request; it is
        noted as this process's own, and completed with ``extra``'s conditions."""
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

    def put_already(self, key: str, size: int, value: int) -> bool | None:
        """Whether the object at ``key`` is that PutObject's body (size and the checksum in
        effect); None: the store keeps nothing to compare."""
        ...

    def abort(self, key: str, upload_id: str) -> bool:
        """Abort; False when the upload was already gone."""
        ...

    def put_object(
        self,
        key: str,
        body: BinaryIO | bytes,
        size: int,
        crc: int,
        extra: dict[str, Any],
        retried: bool = False,
    ) -> Stored:
        """One PutObject; ``retried``: a --no-clobber refusal may be this body's own lost
        answer, accepted when the object is this body."""
        ...

    def delete(self, key: str) -> None: ...

    def head(self, key: str) -> ObjectInfo | None:
        """HeadObject with checksums; None when there is no object at ``key``."""
        ...

    def list_parts(self, key: str, upload_id: str) -> list[PartInfo]:
        """The parts stored so far, every page, by number. A part sent twice may be listed
        twice (SeaweedFS keeps both copies): the caller picks the copy it trusts by its ETag,
        and completing with that ETag makes that copy the part."""
        ...

    def list_uploads(self, prefix: str) -> UploadListing:
        """The open multipart uploads whose key starts with ``prefix``, every page."""
        ...

    def has_lost_creates(self) -> bool:
        """Whether a create was sent and its answer lost (it may have opened an upload)."""
        ...

    def settle_lost_creates(self) -> int:
        """Abort the uploads lost creates may have opened; returns how many were aborted."""
        ...

    def probe(self) -> None:
        """One cheap request to see whether the endpoint answers at all (an outage's probe):
        returns if the server answered anything, even an error; raises if nothing came."""
        ...

    def credentials_generation(self) -> int:
        """Grows each time fresh credentials replace the ones requests are signed with."""
        ...

    def renew_credentials(self, generation: int) -> str | None:
        """The server said the credentials expired: load them again (the standard chain).
        None when requests now sign with newer ones than at ``generation``; else one line
        saying which credentials expired and how to renew them."""
        ...
