"""PutObject for small bodies without botocore's request pipeline.

Why: for a directory of small files the request count, not the bytes, sets the pace, and
botocore spends ~1.4 ms of CPU per PutObject (event hooks, endpoint rules, serialisation, urllib3,
response parsing) while a 2-core machine also runs the server. Measured here on 2,000 files of
1-64 KiB: 2.8 CPU-s through botocore, 0.7 CPU-s through this path.

What keeps it faithful: it never decides what a request looks like. The first PutObject of each
set of object options goes through botocore; its prepared request (URL, addressing style, headers
of the options, signing region and service) is recorded and becomes the template for the next
ones, which only change the key, Content-Type, length and checksum. They are signed by
:mod:`~s3tui.engine.remote.fast.sigv4` (tested to match botocore's signer) and sent on one
keep-alive HTTP/1.1 connection per worker thread (:mod:`~s3tui.engine.remote.fast.http1`) whose
socket the watchdog can cut. Errors come back as botocore's ``ClientError`` so
:func:`~s3tui.engine.remote.errors.classify` reads them as usual.

Used only where it is plainly equivalent: static or refreshable credentials from the session
s3tui made, no proxy for the endpoint, and a URL that ends with the key.

A template can also come from an earlier run (:mod:`~s3tui.engine.remote.fast.templates`), so a job
of small files needs no botocore at all. Such a template is only tried: the first request from it
that fails in any way deletes it, and botocore makes that request instead.
"""

from __future__ import annotations

import os
import re
import sys
import threading
from dataclasses import dataclass, replace
from typing import TYPE_CHECKING, Any
from urllib.parse import quote, urlsplit

from s3tui.engine.config import CONNECT_TIMEOUT, READ_TIMEOUT
from s3tui.engine.redact import without_userinfo
from s3tui.engine.remote.fast.http1 import Connection
from s3tui.engine.remote.fast.sigv4 import Signer
from s3tui.engine.remote.fast.templates import TemplateCache

if TYPE_CHECKING:
    import ssl

# Headers botocore sets per request (or s3tui sets per file): never copied from the template.
_PER_REQUEST = {
    "authorization",
    "x-amz-date",
    "x-amz-content-sha256",
    "x-amz-security-token",
    "content-length",
    "content-md5",
    "content-type",
    "expect",
    "amz-sdk-invocation-id",
    "amz-sdk-request",
    "transfer-encoding",
}
# The checksum value headers are per request too: each request carries the one of the algorithm
# in effect (engine/checksums.py), or none. botocore's x-amz-sdk-checksum-algorithm (sent with
# object lock options) is kept from the template but names the algorithm in effect.
_CHECKSUM_PREFIXES = ("x-amz-checksum-",)
_SDK_ALGORITHM = "x-amz-sdk-checksum-algorithm"
# The answer's checksum headers, as botocore names them.
_ANSWERED = {
    "ChecksumCRC32C": "x-amz-checksum-crc32c",
    "ChecksumCRC64NVME": "x-amz-checksum-crc64nvme",
    "ChecksumSHA256": "x-amz-checksum-sha256",
    "ChecksumCRC32": "x-amz-checksum-crc32",
    "ChecksumType": "x-amz-checksum-type",
}


def _per_request(name: str) -> bool:
    return name in _PER_REQUEST or name == "host" or name.startswith(_CHECKSUM_PREFIXES)


_SCOPE = re.compile(r"Credential=[^/]+/\d{8}/([^/]+)/([^/]+)/aws4_request")


def _quoted_key(key: str) -> str:
    """How botocore puts a key into a URL path (``{Key+}``: '/' and '~' stay)."""
    return quote(key, safe="/~")


def _options_key(bucket: str, extra: dict[str, Any]) -> str:
    return repr((bucket, sorted((k, v) for k, v in extra.items() if k != "ContentType")))


@dataclass(frozen=True)
class _Template:
    scheme: str
    host: str
    port: int | None
    host_header: str
    path_prefix: str  # URL path up to the key, e.g. "/bucket/"
    headers: tuple[tuple[str, str], ...]
    region: str  # the signing scope
    service: str
    endpoint: str  # the client's endpoint URL, for messages
    cafile: str | None  # the CA bundle botocore verifies https against
    tried: bool = True  # False for one from an earlier run until the server stored a request

    def to_json(self) -> dict[str, Any]:
        return {
            "scheme": self.scheme,
            "host": self.host,
            "port": self.port,
            "host_header": self.host_header,
            "path_prefix": self.path_prefix,
            "headers": [list(h) for h in self.headers],
            "region": self.region,
            "service": self.service,
            "endpoint": self.endpoint,
            "cafile": self.cafile,
        }

    @classmethod
    def from_json(cls, d: dict[str, Any]) -> _Template | None:
        try:
            t = cls(
                str(d["scheme"]),
                str(d["host"]),
                None if d["port"] is None else int(d["port"]),
                str(d["host_header"]),
                str(d["path_prefix"]),
                tuple((str(k), str(v)) for k, v in d["headers"]),
                str(d["region"]),
                str(d["service"]),
                str(d["endpoint"]),
                None if d["cafile"] is None else str(d["cafile"]),
                tried=False,
            )
        except (KeyError, TypeError, ValueError):
            return None
        sendable = _sendable(t.host_header) and all(_sendable(k + v) for k, v in t.headers)
        return t if sendable and t.scheme in ("http", "https") else None


class DirectPut:
    """Small PutObjects on botocore's signer and a plain keep-alive connection per thread.

    ``credentials`` must be the very object (or the very values) botocore signs with.
    ``cache``, when given, lends templates learned by earlier runs and keeps this run's.
    """

    def __init__(
        self, credentials: Any, ca_bundle: str | None, cache: TemplateCache | None = None
    ) -> None:
        self._credentials = credentials
        self._ca_bundle = ca_bundle
        self._cache = cache
        self._cached = cache.load() if cache is not None else {}
        self._templates: dict[str, _Template] = {}
        self._signers: dict[tuple[str, str], Signer] = {}
        self._local = threading.local()
        self._ssl: dict[str | None, ssl.SSLContext] = {}
        self._lock = threading.Lock()
        self.sent = 0  # PutObjects stored through this path (tests and stats read it)

    @property
    def has_templates(self) -> bool:
        """Some template is at hand without asking botocore first (one from an earlier run)."""
        return bool(self._cached)

    @property
    def endpoint(self) -> str | None:
        """The endpoint URL of a template from an earlier run (botocore's, for messages)."""
        for d in self._cached.values():
            if isinstance(d, dict) and isinstance(d.get("endpoint"), str):
                return str(d["endpoint"])
        return None

    def attach(self, client: Any) -> None:
        """Watch ``client``'s PutObjects: the first one of each set of options is learned."""
        client.meta.events.register("before-send.s3.PutObject", self._seen)

    # -- learning from botocore ----------------------------------------------------------------

    def _seen(self, request: Any, **_: Any) -> None:
        """botocore's hook: remember this thread's last prepared PutObject (sent as is)."""
        self._local.seen = (request.url, list(request.headers.items()))

    def learn(self, bucket: str, key: str, extra: dict[str, Any], endpoint: str) -> None:
        """After botocore stored ``key``: keep its request as the template for these options."""
        seen, self._local.seen = getattr(self._local, "seen", None), None
        if seen is None:
            return
        url, headers = seen
        tail = _quoted_key(key)
        parts = urlsplit(url)
        if parts.query or not url.endswith("/" + tail) or parts.scheme not in ("http", "https"):
            return
        if _proxied(parts.scheme, parts.hostname or ""):
            return
        names = {_text(k).lower(): _text(v) for k, v in headers}
        scope = _SCOPE.search(names.get("authorization", ""))
        if scope is None or names.get("x-amz-content-sha256") != "UNSIGNED-PAYLOAD":
            return
        if not all(_sendable(k + v) for k, v in names.items()):
            return  # botocore sent bytes this path would not send the same way
        template = _Template(
            scheme=parts.scheme,
            host=parts.hostname or "",
            port=parts.port,
            host_header=_host_header(parts.scheme, parts.hostname or "", parts.port),
            path_prefix=parts.path[: len(parts.path) - len(tail)],
            headers=tuple(
                (_text(k), _text(v)) for k, v in headers if not _per_request(_text(k).lower())
            ),
            region=scope.group(1),
            service=scope.group(2),
            endpoint=without_userinfo(endpoint),
            cafile=_botocore_cafile(self._ca_bundle) if parts.scheme == "https" else None,
        )
        options = _options_key(bucket, extra)
        with self._lock:
            self._templates[options] = template
        keep = template.to_json()
        secret = any("customer-key" in name.lower() for name, _ in template.headers)  # SSE-C
        # A retention date differs on every run (--retain-for): kept on disk, each run would
        # add a template no later run can use.
        dated = "ObjectLockRetainUntilDate" in extra
        if (
            self._cache is not None
            and not secret
            and not dated
            and self._cached.get(options) != keep
        ):
            self._cache.save(options, keep)
            self._cached[options] = keep

    # -- sending -------------------------------------------------------------------------------

    def put(
        self,
        bucket: str,
        key: str,
        data: bytes,
        checksum: tuple[str, str] | None,
        extra: dict[str, Any],
    ) -> dict[str, Any] | None:
        """Store ``data`` with the ``checksum`` header (name, value) the server verifies, if
        any; None when no template fits (the caller uses botocore)."""
        options = _options_key(bucket, extra)
        template = self._templates.get(options) or self._from_cache(options)
        if template is None or not _sendable(extra.get("ContentType", "")):
            return None  # botocore sends it
        path = template.path_prefix + _quoted_key(key)
        headers = dict(template.headers)
        headers["Host"] = template.host_header
        if "ContentType" in extra:
            headers["Content-Type"] = extra["ContentType"]
        headers["Content-Length"] = str(len(data))
        if checksum is not None:
            headers[checksum[0]] = checksum[1]
        named = next((h for h in headers if h.lower() == _SDK_ALGORITHM), None)
        if named is not None:
            sends = checksum is not None and checksum[0].startswith(_CHECKSUM_PREFIXES)
            if sends:
                headers[named] = checksum[0].removeprefix("x-amz-checksum-").upper()
            else:
                del headers[named]  # Content-MD5 or nothing: no algorithm to name
        self._signer(template).sign("PUT", path, headers)
        if not template.tried:
            return self._try(options, template, path, headers, data)
        response = self._connection(template).request("PUT", path, headers, data)
        if 200 <= response.status < 300:
            return self._stored(response)
        raise _client_error(
            response.status, response.body, response.headers.get("x-amz-request-id")
        )

    def _from_cache(self, options: str) -> _Template | None:
        found = self._cached.get(options)
        template = _Template.from_json(found) if isinstance(found, dict) else None
        if template is None or _proxied(template.scheme, template.host):
            return None
        with self._lock:
            return self._templates.setdefault(options, template)

    def _try(
        self, options: str, template: _Template, path: str, headers: dict[str, str], data: bytes
    ) -> dict[str, Any] | None:
        """A template from an earlier run proves itself by one stored object, or is forgotten."""
        try:
            response = self._connection(template).request("PUT", path, headers, data)
        except Exception:
            response = None
        with self._lock:
            if response is not None and 200 <= response.status < 300:
                self._templates[options] = replace(template, tried=True)
                return self._stored_locked(response)
            forget = self._templates.get(options) is template
            if forget:
                del self._templates[options]
                self._cached.pop(options, None)
        if forget and self._cache is not None:
            self._cache.drop(options)
        return None  # botocore sends it, and its request is learned afresh

    def _stored(self, response: Any) -> dict[str, Any]:
        with self._lock:
            return self._stored_locked(response)

    def _stored_locked(self, response: Any) -> dict[str, Any]:
        self.sent += 1
        answer = {"ETag": response.headers.get("etag")}
        for name, header in _ANSWERED.items():
            answer[name] = response.headers.get(header)
        answer["VersionId"] = response.headers.get("x-amz-version-id")
        return answer

    def _signer(self, t: _Template) -> Signer:
        """One signer per scope, so the signing key is derived once a day, not per request."""
        signer = self._signers.get((t.region, t.service))
        if signer is None:
            with self._lock:
                signer = self._signers.setdefault(
                    (t.region, t.service), Signer(self._credentials, t.region, t.service)
                )
        return signer

    def _connection(self, t: _Template) -> Connection:
        conns: dict[tuple[str, str, int | None], Connection]
        conns = self._local.__dict__.setdefault("conns", {})
        where = (t.scheme, t.host, t.port)
        conn = conns.get(where)
        if conn is None:
            tls = self._ssl_context(t.cafile) if t.scheme == "https" else None
            port = t.port or (443 if tls else 80)
            conn = conns[where] = Connection(t.host, port, CONNECT_TIMEOUT, READ_TIMEOUT, tls)
        return conn

    def _ssl_context(self, cafile: str | None) -> ssl.SSLContext:
        import ssl  # only for https endpoints

        with self._lock:
            context = self._ssl.get(cafile)
            if context is None:
                context = self._ssl[cafile] = ssl.create_default_context(cafile=cafile)
            return context


def _botocore_cafile(ca_bundle: str | None) -> str | None:
    """The CA bundle botocore verifies against (AWS_CA_BUNDLE, ca_bundle, certifi)."""
    from botocore.httpsession import get_cert_path

    path = get_cert_path(ca_bundle or True)
    return path if isinstance(path, str) else None


def _host_header(scheme: str, host: str, port: int | None) -> str:
    """The Host botocore signs: lowercase, IPv6 in brackets, the port unless the default."""
    if ":" in host:
        host = f"[{host}]"
    if port is not None and port != {"http": 80, "https": 443}[scheme]:
        host = f"{host}:{port}"
    return host


def _sendable(value: str) -> bool:
    """Sent as exactly the bytes that are signed, as botocore sends them: printable ASCII.

    botocore signs and sends any other header value as UTF-8, or refuses it (non-ASCII
    metadata), and a control character is the server's to refuse; this path sends latin-1.
    Rather than copy each of those rules, it hands such a request to botocore.
    """
    return value.isascii() and value.isprintable()


def _text(value: str | bytes) -> str:
    return value.decode("latin-1") if isinstance(value, bytes) else value


def _proxied(scheme: str, host: str) -> bool:
    """botocore honours HTTP(S)_PROXY; this path does not speak to proxies, so it stands aside."""
    if sys.platform.startswith("linux") and not any(
        name.lower().endswith("_proxy") for name in os.environ
    ):
        # On Linux getproxies() reads only variables named *_proxy: with none set there is no
        # proxy, and urllib.request (with http.client and email, ~6-8 ms) need not be imported.
        return False
    import urllib.request

    return scheme in urllib.request.getproxies() and not urllib.request.proxy_bypass(host)


def _client_error(status: int, body: bytes, request_id: str | None) -> Exception:
    """The error as botocore would raise it: Code and Message from S3's XML body."""
    from xml.etree import ElementTree

    import botocore.exceptions as bx  # only now: a job that meets no error never imports it

    code, message = "", ""
    try:
        root = ElementTree.fromstring(body) if body else None
    except ElementTree.ParseError:
        root = None
    if root is not None:
        code = root.findtext("Code") or ""
        message = root.findtext("Message") or ""
    response = {
        "Error": {"Code": code or str(status), "Message": message},
        "ResponseMetadata": {"HTTPStatusCode": status, "RequestId": request_id or ""},
    }
    return bx.ClientError(response, "PutObject")
