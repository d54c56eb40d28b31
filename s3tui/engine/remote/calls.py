"""The S3 calls s3tui makes, one request each: retries belong to the caller."""

from __future__ import annotations

import base64
import dataclasses
import hashlib
import re
import threading
import time
from collections.abc import Callable, Iterator
from typing import Any, BinaryIO

from s3tui.engine.checksums import DEFAULT, Checksum
from s3tui.engine.journal import Journal
from s3tui.engine.redact import without_userinfo
from s3tui.engine.remote import fast
from s3tui.engine.remote.checksum_support import ChecksumSupport
from s3tui.engine.remote.errors import RemoteError, answer_lost, error_code
from s3tui.engine.remote.store import (
    ObjectInfo,
    ObjectSums,
    Part,
    PartInfo,
    Stored,
    UploadInfo,
    UploadListing,
)


# --------------------------------------------------------------------------------------------
# The calls
# --------------------------------------------------------------------------------------------
def crc32c_b64(value: int) -> str:
    """S3's wire form of a CRC32C: base64 of the 4 big-endian bytes."""
    return base64.b64encode(value.to_bytes(4, "big")).decode("ascii")


def composite_crc32c_b64(part_crcs: list[int]) -> str:
    """The checksum S3 reports for a multipart object: CRC32C of the parts' CRCs, ``-N``."""
    from s3tui.engine.crc import crc32c

    joined = b"".join(c.to_bytes(4, "big") for c in part_crcs)
    return f"{crc32c_b64(crc32c(joined))}-{len(part_crcs)}"


def bare_etag(etag: object) -> str:
    """An ETag without the quotes S3 puts around it; "" for none."""
    return str(etag or "").strip('"')


def multipart_etag(part_etags: list[str]) -> str:
    """S3's ETag of a multipart object (no SSE-KMS): MD5 of the parts' binary MD5s, ``-N``."""
    try:
        joined = b"".join(bytes.fromhex(bare_etag(tag)) for tag in part_etags)
    except ValueError:
        return ""  # not MD5 ETags: nothing to compare
    return f"{hashlib.md5(joined).hexdigest()}-{len(part_etags)}"


def _bare_or_none(etag: object) -> str | None:
    return bare_etag(etag) or None


def _checksums(resp: dict[str, Any]) -> dict[str, Any]:
    return {
        "checksum_crc32c": resp.get("ChecksumCRC32C"),
        "checksum_crc64nvme": resp.get("ChecksumCRC64NVME"),
        "checksum_sha256": resp.get("ChecksumSHA256"),
        "checksum_crc32": resp.get("ChecksumCRC32"),
        "checksum_type": resp.get("ChecksumType"),
    }


def stored_answer(resp: dict[str, Any]) -> Stored:
    """What a PutObject, UploadPart or CompleteMultipartUpload answer says was stored."""
    return Stored(etag=_bare_or_none(resp.get("ETag")), **_checksums(resp))


def object_info(resp: dict[str, Any]) -> ObjectInfo:
    """What a HeadObject answer says of the object."""
    return ObjectInfo(
        size=resp.get("ContentLength"), etag=_bare_or_none(resp.get("ETag")), **_checksums(resp)
    )


def made_of(
    info: ObjectInfo | None,
    size: int,
    parts: list[Part],
    checksum: Checksum = DEFAULT,
    lengths: list[int] | None = None,
) -> Stored | None:
    """The answer a completion of ``parts`` would have given, if the object ``info`` describes
    is made of them: same size and the checksum the parts make (``checksum``: composite or
    full object, combined with the parts' ``lengths``), or (a store that reports none) the
    same multipart ETag, which is the MD5 of the parts' MD5s. None otherwise."""
    if info is None or info.size != size:
        return None
    ordered = sorted(parts)
    values = [crc for _, _, crc in ordered]
    if checksum.full_object and lengths is None:
        return None  # cannot be combined without the parts' sizes: cannot tell
    expected = checksum.multipart(values, lengths or [])
    reported = checksum.reported(info) if expected is not None else None
    if reported is not None and expected is not None:
        if not checksum.same(reported, expected):
            return None
        found = Stored(info.etag, **_stored_fields(info))
        field = checksum.algorithm.field  # as complete answers: HEAD may leave out the "-N"
        return dataclasses.replace(found, **{field: expected}) if field else found
    if (info.etag or "") != multipart_etag([tag for _, tag, _ in ordered]):
        return None
    return Stored(info.etag, None)


def is_body(info: ObjectInfo | None, size: int, value: int, checksum: Checksum) -> bool | None:
    """Whether ``info`` describes the object one PutObject of ``size`` bytes whose checksum
    had ``value`` stored; None when neither says anything to compare (no checksum)."""
    if info is None or info.size != size:
        return False
    expected = checksum.single(value)
    reported = checksum.reported(info) if expected is not None else None
    if reported is None or expected is None:
        return None
    return checksum.same(reported, expected)


def _stored_fields(info: ObjectInfo) -> dict[str, Any]:
    return {
        "checksum_crc32c": info.checksum_crc32c,
        "checksum_crc64nvme": info.checksum_crc64nvme,
        "checksum_sha256": info.checksum_sha256,
        "checksum_crc32": info.checksum_crc32,
        "checksum_type": info.checksum_type,
    }


def _echoed(checksum: Checksum, got: str | None) -> dict[str, str | None]:
    field = checksum.algorithm.field
    return {field: got} if field else {}


def _echoed_checksum(resp: dict[str, Any], checksum: Checksum, value: int, what: str) -> str | None:
    """The checksum the server says it stored must be ours; a mismatch is retried."""
    param = checksum.algorithm.param if checksum.algorithm.s3 else None
    if param is None:
        return None
    expected = checksum.algorithm.wire(value)
    got = resp.get(param)
    if got is not None and got != expected:
        raise RemoteError(
            f"{what}: server checksum {got} != local {expected}",
            fatal=False,
            reason="checksum mismatch",
        )
    return got


# Seconds before a lost create was sent that an upload's Initiated may still show: S3 gives
# whole seconds, and the listing's Date header is read a round trip after the server's clock.
STRAY_SLACK = 5.0

_BUCKET_RE = re.compile(r"^[a-z0-9][a-z0-9.\-_]{1,61}[a-z0-9]$")


def check_bucket_name(bucket: str) -> None:
    """Reject names no S3 store accepts, before anything is read from the source."""
    if not _BUCKET_RE.match(bucket) or ".." in bucket:
        raise ValueError(
            f"invalid bucket name {bucket!r}: use 3-63 lowercase letters, digits, dots or hyphens"
        )


class Remote:
    """One destination bucket on one client: the :class:`~s3tui.engine.remote.store.S3Store`
    over botocore, whose answers it turns into the store's types. Every method is one S3 request
    (no retries here).

    Give it a botocore ``client``, or ``connect`` (which makes one) with the ``direct`` path
    and ``endpoint`` it uses until then: the client is made on the first request that needs it,
    so a job of small files from a remembered template never imports botocore.
    """

    def __init__(
        self,
        client: Any,
        bucket: str,
        journal: Journal | None = None,
        *,
        connect: Callable[[], Any] | None = None,
        direct: Any = None,
        endpoint: str | None = None,
        checksum: Checksum | ChecksumSupport = DEFAULT,
    ) -> None:
        self._client = client
        self._connect = connect
        self._connect_lock = threading.Lock()
        # Credentials renewed so far, and one renewal at a time (every worker may be told
        # ExpiredToken at once; the first reloads, the others retry with what it found).
        self._generation = 0
        self._renew_lock = threading.Lock()
        self.bucket = bucket
        self._lock = threading.Lock()
        self._created: set[str] = set()  # every upload id this remote opened
        self._conditions: dict[str, dict[str, str]] = {}  # upload id -> complete's conditions
        self._lost_creates: list[tuple[str, float, str | None]] = []  # (key, wall time, note)
        # Notes every upload this process opens until it is completed or aborted (s3tui cleanup).
        self.journal = journal
        # For messages and the templates cache: never with the URL's user:password@.
        self.endpoint = without_userinfo(
            client.meta.endpoint_url if client is not None else endpoint or ""
        )
        self.direct = fast.direct_for(client) if client is not None else direct
        # What the requests carry, and the probe that may fall back from it at the first one.
        if not isinstance(checksum, ChecksumSupport):
            checksum = ChecksumSupport(checksum)
        self.support = checksum
        self._head_mode = True  # HeadObject asks for checksums (x-amz-checksum-mode)

    @property
    def checksum(self) -> Checksum:
        return self.support.current

    def _checked(self, send: Callable[[Checksum], Any], create: bool, resend: bool) -> Any:
        """``send(checksum)`` with the checksum in effect; while the store's answer to checksum
        headers is unknown, a refusal is tried again with the fallback: here when ``resend``
        (no body, or bytes), else by the caller's retry (which computes the fallback's value:
        a file's body is read once, while it is sent)."""
        while True:
            checksum = self.support.current
            algorithm = checksum.algorithm
            carried = algorithm.s3 is not None if create else algorithm.sends
            try:
                result = send(checksum)
            except Exception as e:
                following = self.support.refused(checksum, carried, e)
                if following is None:
                    raise
                if not resend:
                    raise RemoteError(
                        f"the store refused the {algorithm.label} headers "
                        f"({error_code(e)}): trying {following.label}",
                        fatal=False,
                        reason="checksum headers refused",
                    ) from e
                continue
            self.support.accepted(checksum, carried)
            return result

    @property
    def client(self) -> Any:
        if self._client is None:
            with self._connect_lock:
                if self._client is None:
                    assert self._connect is not None, "Remote needs a client or connect"
                    self._client = self._connect()
                    self.endpoint = without_userinfo(self._client.meta.endpoint_url)
        return self._client

    # --- an outage's probe, and expired credentials ---
    def probe(self) -> None:
        """HeadBucket: the cheapest request; any answer from the server (403, 404 too) means
        it is reachable. Raises only when no answer came."""
        try:
            self.client.head_bucket(Bucket=self.bucket)
        except Exception as e:
            if error_code(e) is None:
                raise

    def credentials_generation(self) -> int:
        return self._generation

    def renew_credentials(self, generation: int) -> str | None:
        """Make a new client on a fresh load of the credential chain (environment, files, SSO
        cache, roles: a new botocore session) and swap it in when it signs with anything newer.
        Requests in flight finish on the old client; the next attempts take the new one."""
        from s3tui.engine.remote.client import expired_message, signing_identity

        with self._renew_lock:
            if self._generation > generation:
                return None  # another worker renewed them since that attempt began
            old = self.client
            if self._connect is None:
                return expired_message(old)
            try:
                before = signing_identity(old)
            except Exception:
                before = None  # the old ones cannot even refresh: anything loaded is newer
            try:
                fresh = self._connect()
                after = signing_identity(fresh)
            except Exception as e:
                return expired_message(old, _short(e))
            if after is None or after == before:
                return expired_message(old)
            with self._connect_lock:
                self._client = fresh
                self.direct = fast.direct_for(fresh)
            self._generation += 1
            return None

    def create_multipart(
        self, key: str, extra: dict[str, Any], spool_dir: str | None = None
    ) -> str:
        started = time.time()
        extra = dict(extra)
        condition = extra.pop("IfNoneMatch", None)  # --no-clobber: checked at the complete
        try:
            resp = self._checked(
                lambda checksum: self.client.create_multipart_upload(
                    Bucket=self.bucket, Key=key, **checksum.create_args(), **extra
                ),
                create=True,
                resend=True,
            )
        except Exception as e:
            if answer_lost(e):  # sent, no answer: the server may have opened an upload
                self._note_lost_create(key, started)
            raise
        upload_id = resp["UploadId"]
        with self._lock:
            self._created.add(upload_id)
            if condition is not None:
                self._conditions[upload_id] = {"IfNoneMatch": condition}
        if self.journal is not None:
            self.journal.opened(self.bucket, key, upload_id, spool_dir)
        return upload_id

    def adopt(
        self, key: str, upload_id: str, extra: dict[str, Any], spool_dir: str | None = None
    ) -> None:
        """A resumed upload becomes this process's: the journal entry a dead run left is
        rewritten with this process (a concurrent `s3tui cleanup` must not abort it), and the
        completion carries this run's condition (--no-clobber)."""
        condition = extra.get("IfNoneMatch")
        with self._lock:
            self._created.add(upload_id)
            if condition is not None:
                self._conditions[upload_id] = {"IfNoneMatch": condition}
        if self.journal is not None:
            self.journal.opened(self.bucket, key, upload_id, spool_dir)

    def _note_lost_create(self, key: str, started: float) -> None:
        name = self.journal.creating(self.bucket, key, started) if self.journal else None
        with self._lock:
            self._lost_creates.append((key, started, name))

    def has_lost_creates(self) -> bool:
        with self._lock:
            return bool(self._lost_creates)

    def settle_lost_creates(self) -> int:
        """Abort the uploads that creates whose answer was lost may have opened; returns how
        many were aborted. Raises if the key's uploads cannot be listed (the journal keeps the
        note, and ``s3tui cleanup`` settles it later)."""
        aborted = 0
        while True:
            with self._lock:
                if not self._lost_creates:
                    return aborted
                key, started, name = self._lost_creates[0]
                known = set(self._created)
            aborted += self.abort_strays(key, started, known)
            with self._lock:
                self._lost_creates.pop(0)
            if name is not None and self.journal is not None:
                self.journal.closed(name)

    def abort_strays(
        self, key: str, since: float, known: set[str] | frozenset[str] = frozenset()
    ) -> int:
        """Abort the open uploads of exactly ``key`` initiated since wall time ``since`` (minus
        a few seconds), except ``known`` ones. The window is placed on the server's clock, so a
        skewed local clock does not move it."""
        listing = self.list_uploads(key)
        window = listing.server_time - (time.time() - since) - STRAY_SLACK
        aborted = 0
        for u in listing.uploads:
            if u.key != key or u.upload_id in known or u.initiated is None:
                continue
            if u.initiated >= window:
                self.abort(key, u.upload_id)
                aborted += 1
        return aborted

    def upload_part(
        self, key: str, upload_id: str, number: int, body: BinaryIO, size: int, crc: int
    ) -> Stored:
        def send(checksum: Checksum) -> tuple[Checksum, Any]:
            return checksum, self.client.upload_part(
                Bucket=self.bucket,
                Key=key,
                UploadId=upload_id,
                PartNumber=number,
                Body=body,
                ContentLength=size,
                **checksum.request_args(crc),
            )

        sent, resp = self._checked(send, create=False, resend=False)
        etag = bare_etag(resp["ETag"])  # a part without one cannot be completed: KeyError
        return dataclasses.replace(
            stored_answer(resp),
            etag=etag,
            **_echoed(sent, _echoed_checksum(resp, sent, crc, f"part {number}")),
        )

    def complete(
        self, key: str, upload_id: str, parts: list[Part], lengths: list[int] | None = None
    ) -> Stored:
        """``parts`` is ``[(number, etag, value), ...]`` in any order (``value``: of the
        checksum in effect); ``lengths`` their sizes by number, for a full-object checksum."""
        checksum = self.support.current
        ordered = sorted(parts)
        listing = [
            {"PartNumber": n, "ETag": f'"{bare_etag(etag)}"', **checksum.part_entry(crc)}
            for n, etag, crc in ordered
        ]
        whole = (
            checksum.complete_args([crc for _, _, crc in ordered], lengths)
            if lengths is not None and len(lengths) == len(ordered)
            else {}
        )
        resp = self.client.complete_multipart_upload(
            Bucket=self.bucket,
            Key=key,
            UploadId=upload_id,
            MultipartUpload={"Parts": listing},
            **whole,
            **self._conditions.get(upload_id, {}),
        )
        if self.journal is not None:
            self.journal.closed(upload_id)
        return stored_answer(resp)

    def complete_or_confirm(
        self,
        key: str,
        upload_id: str,
        parts: list[Part],
        size: int,
        retried: bool,
        lengths: list[int] | None = None,
    ) -> Stored:
        """Complete; on a retry, NoSuchUpload may mean the first attempt did it and only its
        answer was lost. Then the object must be exactly ours (:meth:`completed_already`),
        else the NoSuchUpload error stands."""
        try:
            return self.complete(key, upload_id, parts, lengths)
        except Exception as e:
            # With --no-clobber a lost answer's retry is told PreconditionFailed instead.
            if not retried or error_code(e) not in ("NoSuchUpload", "PreconditionFailed"):
                raise
            found = self.completed_already(key, size, parts, lengths)
            if found is None:
                raise
            if self.journal is not None:
                self.journal.closed(upload_id)
            return found

    def completed_already(
        self, key: str, size: int, parts: list[Part], lengths: list[int] | None = None
    ) -> Stored | None:
        """The answer of a complete for these parts, if the object at ``key`` is made of them
        (:func:`made_of`)."""
        return made_of(self.head(key), size, parts, self.support.current, lengths)

    def abort(self, key: str, upload_id: str) -> bool:
        """Abort; False when the upload was already gone (NoSuchUpload), which is not the same:
        a CompleteMultipartUpload still in flight may have turned it into the object."""
        aborted = True
        try:
            self.client.abort_multipart_upload(Bucket=self.bucket, Key=key, UploadId=upload_id)
        except Exception as e:
            if error_code(e) not in ("NoSuchUpload", "404"):
                raise
            aborted = False
        if self.journal is not None:
            self.journal.closed(upload_id)
        return aborted

    def put_object(
        self,
        key: str,
        body: BinaryIO | bytes,
        size: int,
        crc: int,
        extra: dict[str, Any],
        retried: bool = False,
    ) -> Stored:
        """``crc``: the body's value of the checksum in effect. A bytes body refused for its
        checksum header is sent again at once with the fallback's value.

        On a retry under --no-clobber, PreconditionFailed may mean the first attempt stored
        the object and only its answer was lost: when the object is this body (size and
        checksum), that is its answer; else the refusal stands."""
        try:
            return self._put_object(key, body, size, crc, extra)
        except Exception as e:
            if not retried or error_code(e) != "PreconditionFailed":
                raise
            found = self._put_already(key, size, crc)
            if found is None:
                raise
            return found

    def put_already(self, key: str, size: int, value: int) -> bool | None:
        """Whether the object at ``key`` is the body a PutObject of ``size`` bytes with this
        value of the checksum in effect sent; None: the store keeps nothing to compare."""
        return is_body(self.head(key), size, value, self.support.current)

    def _put_already(self, key: str, size: int, crc: int) -> Stored | None:
        info = self.head(key)
        if not is_body(info, size, crc, self.support.current):
            return None
        assert info is not None
        return Stored(info.etag, **_stored_fields(info))

    def _put_object(
        self, key: str, body: BinaryIO | bytes, size: int, crc: int, extra: dict[str, Any]
    ) -> Stored:
        chosen = self.support.current

        def send(checksum: Checksum) -> Any:
            value = crc if checksum == chosen else checksum.algorithm.of(body)
            if self.direct is not None and isinstance(body, bytes):
                header = checksum.request_header(value)
                resp = self.direct.put(self.bucket, key, body, header, extra)
                if resp is not None:
                    _echoed_checksum(resp, checksum, value, key)
                    return resp
            args = {**checksum.request_args(value), **extra}
            if checksum.algorithm.s3 and (
                "ObjectLockMode" in extra or "ObjectLockLegalHoldStatus" in extra
            ):
                # A locked object needs Content-MD5 or a checksum; the value header alone is
                # refused by moto ("x-amz-sdk-checksum-algorithm header required"), as AWS
                # words it.
                args["ChecksumAlgorithm"] = checksum.algorithm.s3
            resp = self.client.put_object(
                Bucket=self.bucket, Key=key, Body=body, ContentLength=size, **args
            )
            _echoed_checksum(resp, checksum, value, key)
            if self.direct is not None and isinstance(body, bytes):
                self.direct.learn(self.bucket, key, extra, self.endpoint)
            return resp

        return stored_answer(self._checked(send, create=False, resend=isinstance(body, bytes)))

    def delete(self, key: str) -> None:
        self.client.delete_object(Bucket=self.bucket, Key=key)

    def head(self, key: str) -> ObjectInfo | None:
        # A store that refuses checksum headers may refuse x-amz-checksum-mode too.
        mode = self._head_mode and self.support.current.algorithm.s3 is not None
        try:
            if mode:
                resp = self.client.head_object(Bucket=self.bucket, Key=key, ChecksumMode="ENABLED")
            else:
                resp = self.client.head_object(Bucket=self.bucket, Key=key)
        except Exception as e:
            code = error_code(e)
            if code in ("404", "NoSuchKey", "NotFound"):
                return None
            if mode and code in ("400", "501"):  # a HEAD's refusal has no body, no code
                self._head_mode = False
                return self.head(key)
            raise
        return object_info(resp)

    def list_parts(self, key: str, upload_id: str) -> list[PartInfo]:
        """Every page of ListParts, every copy listed. SeaweedFS lists both copies of a part
        that was sent twice (4.48: in the order sent) and leaves out the parts' checksums
        (``checksum_crc32c`` None); completing with one copy's ETag makes that copy the part."""
        parts: list[PartInfo] = []
        marker = 0
        while True:
            resp = self.client.list_parts(
                Bucket=self.bucket, Key=key, UploadId=upload_id, PartNumberMarker=marker
            )
            for p in resp.get("Parts", []):
                n = int(p["PartNumber"])
                parts.append(
                    PartInfo(
                        n,
                        int(p.get("Size", 0)),
                        _bare_or_none(p.get("ETag")),
                        p.get("ChecksumCRC32C"),
                    )
                )
            following = int(resp.get("NextPartNumberMarker") or 0)
            if not resp.get("IsTruncated") or following <= marker:
                return sorted(parts, key=lambda p: p.number)  # stable: copies stay as listed
            marker = following

    def list_uploads(self, prefix: str) -> UploadListing:
        """Every page of ListMultipartUploads under ``prefix``; the server's clock from the
        first answer's Date header (the local one when it has none)."""
        from email.utils import parsedate_to_datetime  # rare: not on the quick path

        uploads: list[UploadInfo] = []
        server_time: float | None = None
        markers: dict[str, str] = {}
        while True:
            resp = self.client.list_multipart_uploads(Bucket=self.bucket, Prefix=prefix, **markers)
            if server_time is None:
                date = resp.get("ResponseMetadata", {}).get("HTTPHeaders", {}).get("date")
                server_time = parsedate_to_datetime(date).timestamp() if date else time.time()
            for u in resp.get("Uploads", []):
                initiated = u.get("Initiated")
                if any(seen.upload_id == u["UploadId"] for seen in uploads[-1:]):
                    continue  # a store that repeats the marker's own entry
                uploads.append(
                    UploadInfo(
                        u["Key"], u["UploadId"], initiated.timestamp() if initiated else None
                    )
                )
            # AWS continues from both markers; SeaweedFS answers only NextUploadIdMarker and
            # lists nothing when given a KeyMarker with it: pass back what the server gave.
            following = {
                name: str(resp[f"Next{name}"])
                for name in ("KeyMarker", "UploadIdMarker")
                if resp.get(f"Next{name}")
            }
            if not resp.get("IsTruncated") or not following or following == markers:
                return UploadListing(uploads, server_time)
            markers = following

    # --- reading back: object lock, and what `s3tui verify` compares ---

    def object_lock_enabled(self) -> bool | None:
        """Whether the bucket has object lock enabled; None when the store will not say (no
        permission, not implemented): the upload then learns it from the server's answer."""
        try:
            resp = self.client.get_object_lock_configuration(Bucket=self.bucket)
        except Exception as e:
            if error_code(e) == "ObjectLockConfigurationNotFoundError":
                return False
            if error_code(e) in ("NoSuchBucket", "InvalidAccessKeyId", "SignatureDoesNotMatch"):
                raise
            return None
        cfg = resp.get("ObjectLockConfiguration") or {}
        return cfg.get("ObjectLockEnabled") == "Enabled"

    def head_sums(self, key: str, part_number: int | None = None) -> ObjectSums | None:
        """HeadObject with every checksum it reports; with ``part_number`` the answer's size is
        that part's and ``parts_count`` the object's part count. None when there is no object."""
        extra: dict[str, Any] = {"PartNumber": part_number} if part_number else {}
        try:
            resp = self.client.head_object(
                Bucket=self.bucket, Key=key, ChecksumMode="ENABLED", **extra
            )
        except Exception as e:
            if error_code(e) in ("404", "NoSuchKey", "NotFound"):
                return None
            raise
        return object_sums(resp)

    def part_sizes(self, key: str) -> list[int] | None:
        """Each part's size, from GetObjectAttributes (every page); None when the store does
        not list them (moto 5.2 leaves ObjectParts out) or refuses the call."""
        sizes: list[int] = []
        marker = 0
        while True:
            try:
                resp = self.client.get_object_attributes(
                    Bucket=self.bucket,
                    Key=key,
                    ObjectAttributes=["ObjectParts"],
                    MaxParts=1000,
                    PartNumberMarker=marker,
                )
            except Exception as e:
                if error_code(e) in ("InvalidAccessKeyId", "SignatureDoesNotMatch"):
                    raise
                return None
            listing = resp.get("ObjectParts") or {}
            parts = listing.get("Parts") or []
            if not parts or any("Size" not in p for p in parts):
                return None
            sizes += [int(p["Size"]) for p in sorted(parts, key=lambda p: p["PartNumber"])]
            following = int(listing.get("NextPartNumberMarker") or 0)
            if not listing.get("IsTruncated") or following <= marker:
                total = listing.get("TotalPartsCount")
                return sizes if total is None or int(total) == len(sizes) else None
            marker = following

    def list_keys(self, prefix: str, limit: int | None = None) -> Iterator[tuple[str, int]]:
        """The objects under ``prefix`` (all, or the first ``limit``): (key, size)."""
        pages = self.client.get_paginator("list_objects_v2").paginate(
            Bucket=self.bucket, Prefix=prefix, PaginationConfig={"MaxItems": limit}
        )
        for page in pages:
            for o in page.get("Contents", []):
                yield o["Key"], int(o.get("Size", 0))

    def read_object(self, key: str, block: int = 1 << 20) -> Iterator[bytes]:
        """The object's bytes (GetObject), in blocks of up to ``block`` bytes."""
        resp = self.client.get_object(Bucket=self.bucket, Key=key)
        body = resp["Body"]
        try:
            yield from body.iter_chunks(block)
        finally:
            body.close()


_SUMS = {
    "crc32c": "ChecksumCRC32C",
    "crc32": "ChecksumCRC32",
    "crc64nvme": "ChecksumCRC64NVME",
    "sha256": "ChecksumSHA256",
    "sha1": "ChecksumSHA1",
}


def object_sums(resp: dict[str, Any]) -> ObjectSums:
    """What a HeadObject answer says of the object's content."""
    return ObjectSums(
        size=resp.get("ContentLength"),
        etag=_bare_or_none(resp.get("ETag")),
        checksums={name: resp[field] for name, field in _SUMS.items() if resp.get(field)},
        checksum_type=resp.get("ChecksumType"),
        parts_count=resp.get("PartsCount"),
        sse=resp.get("ServerSideEncryption")
        or ("SSE-C" if resp.get("SSECustomerAlgorithm") else None),
    )


def _short(e: BaseException) -> str:
    """An exception as a few words for a one-line message."""
    text = str(e).splitlines()[0] if str(e) else type(e).__name__
    return text if len(text) <= 160 else text[:157] + "..."
