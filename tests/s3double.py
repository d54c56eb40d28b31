"""An in-memory S3 that stands in for :class:`~s3tui.engine.remote.Remote` in tests of pure logic.

:class:`S3Double` implements :class:`~s3tui.engine.remote.S3Store` over dicts: objects, multipart
uploads with their parts, the checksums S3 reports (CRC32C of a put, the composite ``b64-N`` of
a multipart object, computed with s3tui's own helpers), MD5 ETags. It verifies each body against
the CRC32C it came with (``BadDigest``), as the server does.

Faults: :meth:`S3Double.inject` makes the nth call of a method (optionally for one key) raise an
exception or run a function, before the call takes effect or after it (an answer lost on the way
back). Every call is logged in ``calls`` as ``(method, key, detail)``.

Uploads keep the real server: this double is for the scheduler, withdrawal, skip, resume and
stop-path logic, not for what goes over the wire.
"""

from __future__ import annotations

import hashlib
import io
import itertools
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any, BinaryIO

from s3tui.engine.checksums import DEFAULT
from s3tui.engine.crc import crc32c
from s3tui.engine.remote.calls import (
    composite_crc32c_b64,
    crc32c_b64,
    is_body,
    made_of,
    multipart_etag,
)
from s3tui.engine.remote.errors import error_code
from s3tui.engine.remote.store import (
    ObjectInfo,
    Part,
    PartInfo,
    Stored,
    UploadInfo,
    UploadListing,
)

Action = BaseException | Callable[[], None]


def s3_error(code: str, status: int = 400, message: str = "") -> Exception:
    """The error Remote lets through when S3 refuses a request (botocore's ``ClientError``):
    what :func:`~s3tui.engine.remote.classify` reads."""
    import botocore.exceptions as bx

    return bx.ClientError(
        {
            "Error": {"Code": code, "Message": message or code},
            "ResponseMetadata": {"HTTPStatusCode": status},
        },
        "Op",
    )


@dataclass
class Obj:
    data: bytes
    etag: str
    checksum_crc32c: str


@dataclass
class Upload:
    key: str
    initiated: float = 0.0  # the double's clock (S3Double.clock) when created
    parts: dict[int, tuple[bytes, str, int]] = field(default_factory=dict)  # data, etag, crc


@dataclass
class _Fault:
    method: str
    action: Action
    nth: int
    key: str | None
    after: bool
    seen: int = 0
    fired: bool = False


def _read(body: BinaryIO | bytes) -> bytes:
    if isinstance(body, bytes):
        return body
    out = io.BytesIO()
    while chunk := body.read(1024 * 1024):
        out.write(chunk)
    return out.getvalue()


class S3Double:
    """One bucket in memory; thread-safe. Implements ``S3Store``."""

    def __init__(self, bucket: str = "bkt", endpoint: str = "http://s3double.test") -> None:
        self.bucket = bucket
        self.endpoint = endpoint
        self.checksum = DEFAULT  # it checks and reports CRC32C, composite
        self.objects: dict[str, Obj] = {}
        self.uploads: dict[str, Upload] = {}
        self.calls: list[tuple[str, str, Any]] = []
        self.lost_creates = 0  # creates whose answer a test declared lost (has_lost_creates)
        self.generation = 0  # credentials renewed so far (renew_credentials)
        self.fresh_credentials = 0  # renewals that give newer credentials, for tests
        self._faults: list[_Fault] = []
        self._ids = itertools.count(1)
        self._lock = threading.RLock()
        # The server's clock (upload ages): a test may replace it with a fake one.
        self.clock: Callable[[], float] = time.time

    # --- faults and the log ---
    def inject(
        self,
        method: str,
        action: Action,
        *,
        nth: int = 1,
        key: str | None = None,
        after: bool = False,
    ) -> None:
        """On the ``nth`` call of ``method`` (counting only calls for ``key``, if given): raise
        ``action`` if it is an exception, else call it (it may raise). ``after``: once the call
        took effect, as when the server acted and its answer was lost."""
        if not hasattr(self, method):
            raise AttributeError(method)
        self._faults.append(_Fault(method, action, nth, key, after))

    def _faults_for(self, method: str, key: str) -> list[_Fault]:
        due = []
        with self._lock:
            for f in self._faults:
                if f.method == method and (f.key is None or f.key == key) and not f.fired:
                    f.seen += 1
                    if f.seen == f.nth:
                        f.fired = True
                        due.append(f)
        return due

    @staticmethod
    def _fire(faults: list[_Fault], after: bool) -> None:
        for f in faults:
            if f.after == after:
                if isinstance(f.action, BaseException):
                    raise f.action
                f.action()

    def _call(self, method: str, key: str, detail: Any, effect: Callable[[], Any]) -> Any:
        with self._lock:
            self.calls.append((method, key, detail))
        due = self._faults_for(method, key)
        self._fire(due, after=False)
        result = effect()
        self._fire(due, after=True)
        return result

    def called(self, method: str, key: str | None = None) -> list[Any]:
        """The details of every call of ``method`` (for ``key``), in order."""
        with self._lock:
            return [d for m, k, d in self.calls if m == method and (key is None or k == key)]

    # --- objects ---
    def put_object(
        self,
        key: str,
        body: BinaryIO | bytes,
        size: int,
        crc: int,
        extra: dict[str, Any],
        retried: bool = False,
    ) -> Stored:
        def effect() -> Stored:
            data = _read(body)
            self._check(data, size, crc)
            obj = Obj(data, hashlib.md5(data).hexdigest(), crc32c_b64(crc))
            with self._lock:
                self.objects[key] = obj
            return Stored(obj.etag, obj.checksum_crc32c)

        return self._call("put_object", key, size, effect)

    def head(self, key: str) -> ObjectInfo | None:
        def effect() -> ObjectInfo | None:
            with self._lock:
                obj = self.objects.get(key)
            if obj is None:
                return None
            return ObjectInfo(len(obj.data), obj.etag, obj.checksum_crc32c, None)

        return self._call("head", key, None, effect)

    def delete(self, key: str) -> None:
        def effect() -> None:
            with self._lock:
                self.objects.pop(key, None)

        self._call("delete", key, None, effect)

    # --- multipart uploads ---
    def create_multipart(
        self, key: str, extra: dict[str, Any], spool_dir: str | None = None
    ) -> str:
        def effect() -> str:
            upload_id = f"up-{next(self._ids)}"
            with self._lock:
                self.uploads[upload_id] = Upload(key, self.clock())
            return upload_id

        return self._call("create_multipart", key, None, effect)

    def adopt(
        self, key: str, upload_id: str, extra: dict[str, Any], spool_dir: str | None = None
    ) -> None:
        """No request (as Remote's): only logged."""
        with self._lock:
            self.calls.append(("adopt", key, upload_id))

    def upload_part(
        self, key: str, upload_id: str, number: int, body: BinaryIO, size: int, crc: int
    ) -> Stored:
        def effect() -> Stored:
            up = self._upload(key, upload_id)
            data = _read(body)
            self._check(data, size, crc)
            etag = hashlib.md5(data).hexdigest()
            with self._lock:
                up.parts[number] = (data, etag, crc)
            return Stored(etag, crc32c_b64(crc))

        return self._call("upload_part", key, number, effect)

    def list_parts(self, key: str, upload_id: str) -> list[PartInfo]:
        def effect() -> list[PartInfo]:
            up = self._upload(key, upload_id)
            with self._lock:
                parts = sorted(up.parts.items())
            return [PartInfo(n, len(d), etag, crc32c_b64(crc)) for n, (d, etag, crc) in parts]

        return self._call("list_parts", key, upload_id, effect)

    def list_uploads(self, prefix: str) -> UploadListing:
        def effect() -> UploadListing:
            with self._lock:
                found = [
                    UploadInfo(up.key, uid, up.initiated)
                    for uid, up in sorted(self.uploads.items())
                    if up.key.startswith(prefix)
                ]
            return UploadListing(found, self.clock())

        return self._call("list_uploads", prefix, None, effect)

    def complete(self, key: str, upload_id: str, parts: list[Part]) -> Stored:
        def effect() -> Stored:
            up = self._upload(key, upload_id)
            ordered = sorted(parts)
            with self._lock:
                for n, etag, crc in ordered:
                    got = up.parts.get(n)
                    if got is None or got[1] != etag or got[2] != crc:
                        raise s3_error("InvalidPart", 400, f"part {n}")
                data = b"".join(up.parts[n][0] for n, _, _ in ordered)
                obj = Obj(
                    data,
                    multipart_etag([etag for _, etag, _ in ordered]),
                    composite_crc32c_b64([crc for _, _, crc in ordered]),
                )
                self.objects[key] = obj
                del self.uploads[upload_id]
            return Stored(obj.etag, obj.checksum_crc32c)

        return self._call("complete", key, [n for n, _, _ in sorted(parts)], effect)

    def complete_or_confirm(
        self,
        key: str,
        upload_id: str,
        parts: list[Part],
        size: int,
        retried: bool,
        lengths: list[int] | None = None,
    ) -> Stored:
        """As Remote's: a retry told NoSuchUpload accepts an object made of exactly ``parts``."""
        try:
            return self.complete(key, upload_id, parts)
        except Exception as e:
            if not retried or error_code(e) != "NoSuchUpload":
                raise
            found = self.completed_already(key, size, parts)
            if found is None:
                raise
            return found

    def completed_already(
        self, key: str, size: int, parts: list[Part], lengths: list[int] | None = None
    ) -> Stored | None:
        return made_of(self.head(key), size, parts)

    def put_already(self, key: str, size: int, value: int) -> bool | None:
        return is_body(self.head(key), size, value, DEFAULT)

    def abort(self, key: str, upload_id: str) -> bool:
        def effect() -> bool:
            with self._lock:
                return self.uploads.pop(upload_id, None) is not None

        return self._call("abort", key, upload_id, effect)

    def probe(self) -> None:
        self._call("probe", "", None, lambda: None)

    def credentials_generation(self) -> int:
        return self.generation

    def renew_credentials(self, generation: int) -> str | None:
        """Fresh credentials while ``fresh_credentials`` lasts (one per renewal)."""
        with self._lock:
            self.calls.append(("renew_credentials", "", generation))
            if self.generation > generation:
                return None
            if self.fresh_credentials <= 0:
                return "the credentials expired and nothing newer was found"
            self.fresh_credentials -= 1
            self.generation += 1
            return None

    def has_lost_creates(self) -> bool:
        return self.lost_creates > 0

    def settle_lost_creates(self) -> int:
        self.lost_creates = 0
        return 0

    # --- helpers ---
    def _upload(self, key: str, upload_id: str) -> Upload:
        with self._lock:
            up = self.uploads.get(upload_id)
        if up is None or up.key != key:
            raise s3_error("NoSuchUpload", 404)
        return up

    @staticmethod
    def _check(data: bytes, size: int, crc: int) -> None:
        if len(data) != size:
            raise s3_error("IncompleteBody", 400)
        if crc32c(data) != crc:
            raise s3_error("BadDigest", 400)
