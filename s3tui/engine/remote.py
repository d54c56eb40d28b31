"""The one module that talks to S3: client set-up, the multipart calls, and what errors mean.

* botocore's own retries are off (``total_max_attempts=1``): s3tui owns the retry policy.
* Payloads are not SHA-256 signed and botocore computes no checksum of its own: each part carries
  the CRC32C s3tui computed while spooling, which the server verifies, so the body is read once.
* Each request's socket is registered with the current :class:`~s3tui.engine.watchdog.Guard`, so a
  stalled request is cut at its wall-clock deadline in any phase.
"""

from __future__ import annotations

import base64
import os
import re
import socket
from dataclasses import dataclass
from typing import Any, BinaryIO

import botocore.awsrequest
import botocore.exceptions as bx
import botocore.session
from botocore.config import Config

from s3tui.engine import watchdog
from s3tui.engine.watchdog import DeadlineExceeded

CONNECT_TIMEOUT = 10.0
# A per-socket-read backstop only; the watchdog enforces the real, adaptive deadline.
READ_TIMEOUT = 300.0


# --------------------------------------------------------------------------------------------
# Connections whose sockets the watchdog can cut
# --------------------------------------------------------------------------------------------
class _GuardedConnectionMixin:
    """Registers the connection with the current guard, and marks when its headers are sent.

    ``body_phase`` is what lets :class:`~s3tui.engine.body.FileRangeBody` send itself with
    ``sendfile``: only after the request line and headers (and the 100-continue wait) went out.
    """

    sock: Any
    body_phase = False

    def connect(self) -> None:
        super().connect()  # type: ignore[misc]
        watchdog.note_socket(self.sock, self)

    def putrequest(self, *args: Any, **kwargs: Any) -> None:
        self.body_phase = False
        watchdog.note_socket(self.sock, self)
        super().putrequest(*args, **kwargs)  # type: ignore[misc]

    def endheaders(self, *args: Any, **kwargs: Any) -> None:
        super().endheaders(*args, **kwargs)  # type: ignore[misc]
        self.body_phase = True


class _GuardedHTTPConnection(_GuardedConnectionMixin, botocore.awsrequest.AWSHTTPConnection):
    pass


class _GuardedHTTPSConnection(_GuardedConnectionMixin, botocore.awsrequest.AWSHTTPSConnection):
    pass


class _GuardedHTTPPool(botocore.awsrequest.AWSHTTPConnectionPool):
    ConnectionCls = _GuardedHTTPConnection


class _GuardedHTTPSPool(botocore.awsrequest.AWSHTTPSConnectionPool):
    ConnectionCls = _GuardedHTTPSConnection


def _install_guarded_pools(client: Any) -> bool:
    """Swap botocore's pool classes for guarded ones (private API; a test pins it).

    ``URLLib3Session`` hands one dict of pool classes to every pool manager it makes (also the
    proxy ones), so updating it in place covers them all. Returns False if botocore changed.
    """
    try:
        classes = client._endpoint.http_session._pool_classes_by_scheme
    except AttributeError:
        return False
    classes["http"] = _GuardedHTTPPool
    classes["https"] = _GuardedHTTPSPool
    return True


# --------------------------------------------------------------------------------------------
# Client
# --------------------------------------------------------------------------------------------
def make_client(
    endpoint_url: str | None = None,
    region: str | None = None,
    profile: str | None = None,
    max_connections: int = 10,
    credentials: tuple[str, str] | None = None,
) -> Any:
    """An S3 client on the standard credential chain (env, files, profiles, SSO, roles).

    The s3_uploader seed's ``AWS_ACCESS_KEY``/``AWS_SECRET_KEY`` names work too, when the standard
    ones are unset and no profile is asked for; they are passed to the session, never to
    ``os.environ``.

    botocore's session is used directly, not boto3's: boto3 imports s3transfer, which s3tui does
    not use, and that alone is ~75 ms of a ~300 ms start-up budget.
    """
    kwargs: dict[str, Any] = {}
    if credentials:
        kwargs["aws_access_key_id"], kwargs["aws_secret_access_key"] = credentials
    elif (
        not profile and not os.environ.get("AWS_ACCESS_KEY_ID") and os.environ.get("AWS_ACCESS_KEY")
    ):
        kwargs["aws_access_key_id"] = os.environ["AWS_ACCESS_KEY"]
        kwargs["aws_secret_access_key"] = os.environ.get("AWS_SECRET_KEY")
    session = botocore.session.Session(profile=profile)
    try:
        session.get_scoped_config()  # an unknown --profile fails here, not mid-upload
        region = region or session.get_config_variable("region")
    except bx.ProfileNotFound as e:
        raise RemoteError(
            f"profile {profile!r} not found: check --profile or ~/.aws/config", fatal=True
        ) from e
    config = Config(
        region_name=region or "us-east-1",
        # A fresh dict per client: botocore rewrites it in place.
        retries={"total_max_attempts": 1, "mode": "standard"},
        max_pool_connections=max_connections,
        connect_timeout=CONNECT_TIMEOUT,
        read_timeout=READ_TIMEOUT,
        tcp_keepalive=True,
        request_checksum_calculation="when_required",
        response_checksum_validation="when_required",
        s3={"payload_signing_enabled": False},
    )
    client = session.create_client("s3", endpoint_url=endpoint_url, config=config, **kwargs)
    client.s3tui_guarded = _install_guarded_pools(client)
    return client


# --------------------------------------------------------------------------------------------
# What went wrong, and whether trying again can help
# --------------------------------------------------------------------------------------------
class RemoteError(Exception):
    """A failure with a message a person can act on."""

    def __init__(self, message: str, fatal: bool = True, reason: str = "") -> None:
        super().__init__(message)
        self.fatal = fatal
        self.reason = reason or message


@dataclass(frozen=True)
class Failure:
    retryable: bool
    slowdown: bool
    reason: str  # short, for logs and stats: "timeout", "SlowDown", "connection reset"
    message: str  # one line for the user


RETRYABLE_CODES = {
    "InternalError",
    "ServiceUnavailable",
    "SlowDown",
    "RequestTimeout",
    "RequestTimeTooSkewed",
    "BadDigest",
    "XAmzContentSHA256Mismatch",
    "InvalidDigest",
    "OperationAborted",
}
RETRYABLE_STATUS = {500, 502, 503, 504}


def _fatal_message(code: str, status: int, bucket: str, key: str, endpoint: str) -> str:
    where = f"s3://{bucket}/{key}" if key else f"s3://{bucket}"
    messages = {
        "NoSuchBucket": f"bucket {bucket!r} does not exist at {endpoint}: "
        "create it or fix the name",
        "InvalidAccessKeyId": "the server does not know this access key: check AWS_ACCESS_KEY_ID "
        "or --profile",
        "SignatureDoesNotMatch": "the secret key does not match the access key: check "
        "AWS_SECRET_ACCESS_KEY or --profile",
        "AccessDenied": f"access denied to {where}: the credentials need s3:PutObject and "
        "s3:AbortMultipartUpload there",
        "AllAccessDisabled": f"access to {where} is disabled: check the bucket policy",
        "InvalidBucketName": f"invalid bucket name {bucket!r}: use 3-63 lowercase letters, digits, "
        "dots or hyphens",
        "EntityTooLarge": "the object is too large for this S3 store: split it or pass a larger "
        "--chunk-size",
        "NoSuchUpload": "the multipart upload vanished on the server (aborted by a lifecycle rule "
        "or another client?): run the upload again",
        "ExpiredToken": "the credentials have expired: refresh them (e.g. aws sso login) and retry",
        "InvalidToken": "the session token is invalid: refresh the credentials and retry",
        "PermanentRedirect": f"bucket {bucket!r} is in another region: pass --region",
        "AuthorizationHeaderMalformed": "the region is wrong for this bucket: pass --region",
        "KMS.NotFoundException": "the KMS key was not found: check --sse-kms-key-id",
    }
    if code in messages:
        return messages[code]
    return (
        f"S3 refused the request ({code or 'HTTP ' + str(status)}): check the options and "
        "permissions for " + where
    )


def classify(exc: BaseException, bucket: str = "", key: str = "", endpoint: str = "") -> Failure:
    """Decide whether an exception from a request is worth another attempt."""
    endpoint = endpoint or "the S3 endpoint"
    if isinstance(exc, DeadlineExceeded):
        return Failure(True, False, "deadline", str(exc))
    if isinstance(exc, RemoteError):
        return Failure(not exc.fatal, False, exc.reason, str(exc))
    if isinstance(exc, bx.ClientError):
        err = exc.response.get("Error", {})
        code = str(err.get("Code", ""))
        status = int(exc.response.get("ResponseMetadata", {}).get("HTTPStatusCode", 0) or 0)
        if code == "SlowDown" or (status == 503 and code in ("", "503")):
            return Failure(True, True, "SlowDown", "the server asked to slow down (503 SlowDown)")
        if code in RETRYABLE_CODES or status in RETRYABLE_STATUS:
            return Failure(
                True,
                False,
                code or f"HTTP {status}",
                f"{code or status}: {err.get('Message', '')}".strip(),
            )
        if code in ("404", "NotFound") and not key:
            code = "NoSuchBucket"
        if code == "403":
            code = "AccessDenied"
        return Failure(
            False,
            False,
            code or f"HTTP {status}",
            _fatal_message(code, status, bucket, key, endpoint),
        )
    if isinstance(exc, bx.NoCredentialsError | bx.PartialCredentialsError):
        return Failure(
            False,
            False,
            "no credentials",
            "no AWS credentials found: set AWS_ACCESS_KEY_ID and AWS_SECRET_ACCESS_KEY, "
            "pass --profile, or configure ~/.aws/credentials",
        )
    if isinstance(
        exc, bx.TokenRetrievalError | bx.SSOTokenLoadError | bx.UnauthorizedSSOTokenError
    ):
        return Failure(
            False,
            False,
            "credentials",
            f"cannot load credentials ({exc}): run `aws sso login` or fix the profile",
        )
    if isinstance(exc, bx.ParamValidationError):
        return Failure(False, False, "invalid parameter", f"invalid request: {exc}")
    if isinstance(exc, bx.EndpointConnectionError | bx.ConnectTimeoutError):
        return Failure(
            True,
            False,
            "cannot connect",
            f"cannot connect to {endpoint}: check --endpoint-url and the network",
        )
    if isinstance(exc, bx.HTTPClientError):
        inner = exc.kwargs.get("error")
        if isinstance(inner, DeadlineExceeded):
            return Failure(True, False, "deadline", str(inner))
        return Failure(True, False, _short_io_reason(inner or exc), f"connection error: {exc}")
    if isinstance(exc, bx.BotoCoreError | OSError | socket.timeout):
        return Failure(True, False, _short_io_reason(exc), f"connection error: {exc}")
    return Failure(False, False, type(exc).__name__, f"unexpected error: {exc}")


def _short_io_reason(exc: BaseException) -> str:
    text = f"{type(exc).__name__} {exc}".lower()
    for needle, reason in (
        ("reset", "connection reset"),
        ("broken pipe", "broken pipe"),
        ("timed out", "timeout"),
        ("timeout", "timeout"),
        ("closed", "connection closed"),
        ("refused", "connection refused"),
    ):
        if needle in text:
            return reason
    return type(exc).__name__


# --------------------------------------------------------------------------------------------
# The calls
# --------------------------------------------------------------------------------------------
def crc32c_b64(value: int) -> str:
    """S3's wire form of a CRC32C: base64 of the 4 big-endian bytes."""
    return base64.b64encode(value.to_bytes(4, "big")).decode("ascii")


def composite_crc32c_b64(part_crcs: list[int]) -> str:
    """The checksum S3 reports for a multipart object: CRC32C of the parts' CRCs, ``-N``."""
    import crc32c

    joined = b"".join(c.to_bytes(4, "big") for c in part_crcs)
    return f"{crc32c_b64(crc32c.crc32c(joined))}-{len(part_crcs)}"


def _echoed_checksum(resp: dict[str, Any], expected: str, what: str) -> str | None:
    """The CRC32C the server says it stored must be ours; a mismatch is retried."""
    got = resp.get("ChecksumCRC32C")
    if got is not None and got != expected:
        raise RemoteError(
            f"{what}: server checksum {got} != local {expected}",
            fatal=False,
            reason="checksum mismatch",
        )
    return got


_BUCKET_RE = re.compile(r"^[a-z0-9][a-z0-9.\-_]{1,61}[a-z0-9]$")


def check_bucket_name(bucket: str) -> None:
    """Reject names no S3 store accepts, before anything is read from the source."""
    if not _BUCKET_RE.match(bucket) or ".." in bucket:
        raise ValueError(
            f"invalid bucket name {bucket!r}: use 3-63 lowercase letters, digits, dots or hyphens"
        )


class Remote:
    """One destination bucket on one client. Every method is one S3 request (no retries here)."""

    def __init__(self, client: Any, bucket: str) -> None:
        self.client = client
        self.bucket = bucket
        self.endpoint = client.meta.endpoint_url

    def create_multipart(self, key: str, extra: dict[str, Any]) -> str:
        resp = self.client.create_multipart_upload(
            Bucket=self.bucket, Key=key, ChecksumAlgorithm="CRC32C", **extra
        )
        return resp["UploadId"]

    def upload_part(
        self, key: str, upload_id: str, number: int, body: BinaryIO, size: int, crc: int
    ) -> tuple[str, str | None]:
        expected = crc32c_b64(crc)
        resp = self.client.upload_part(
            Bucket=self.bucket,
            Key=key,
            UploadId=upload_id,
            PartNumber=number,
            Body=body,
            ContentLength=size,
            ChecksumCRC32C=expected,
        )
        return resp["ETag"], _echoed_checksum(resp, expected, f"part {number}")

    def complete(
        self, key: str, upload_id: str, parts: list[tuple[int, str, int]]
    ) -> dict[str, Any]:
        """``parts`` is ``[(number, etag, crc32c), ...]`` in any order."""
        listing = [
            {"PartNumber": n, "ETag": etag, "ChecksumCRC32C": crc32c_b64(crc)}
            for n, etag, crc in sorted(parts)
        ]
        return self.client.complete_multipart_upload(
            Bucket=self.bucket, Key=key, UploadId=upload_id, MultipartUpload={"Parts": listing}
        )

    def abort(self, key: str, upload_id: str) -> None:
        self.client.abort_multipart_upload(Bucket=self.bucket, Key=key, UploadId=upload_id)

    def put_object(
        self, key: str, body: BinaryIO | bytes, size: int, crc: int, extra: dict[str, Any]
    ) -> dict[str, Any]:
        expected = crc32c_b64(crc)
        resp = self.client.put_object(
            Bucket=self.bucket,
            Key=key,
            Body=body,
            ContentLength=size,
            ChecksumCRC32C=expected,
            **extra,
        )
        _echoed_checksum(resp, expected, key)
        return resp

    def delete(self, key: str) -> None:
        self.client.delete_object(Bucket=self.bucket, Key=key)

    def head(self, key: str) -> dict[str, Any] | None:
        try:
            return self.client.head_object(Bucket=self.bucket, Key=key, ChecksumMode="ENABLED")
        except bx.ClientError as e:
            if e.response.get("Error", {}).get("Code") in ("404", "NoSuchKey", "NotFound"):
                return None
            raise
