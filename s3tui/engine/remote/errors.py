"""What went wrong with a request, in words a person can act on, and whether to try again."""

from __future__ import annotations

import dataclasses
import enum
import socket
import sys
from dataclasses import dataclass
from typing import Any

from s3tui.engine.redact import without_userinfo
from s3tui.engine.watchdog import DeadlineExceeded


# --------------------------------------------------------------------------------------------
# What went wrong, and whether trying again can help
# --------------------------------------------------------------------------------------------
class RemoteError(Exception):
    """A failure with a message a person can act on."""

    def __init__(self, message: str, fatal: bool = True, reason: str = "") -> None:
        super().__init__(message)
        self.fatal = fatal
        self.reason = reason or message


class Scope(enum.Enum):
    """How far a failure reaches, decided by :func:`classify`; a job acts on this, never on
    the wording of ``reason``."""

    REQUEST = "request"  # this request failed: the destination refused it or the network did
    # This file alone: the local file itself (vanished, changed, unreadable), or the object
    # already at its key that --no-clobber keeps (412); never the destination as a whole.
    FILE = "file"
    JOB = "job"  # every request would fail alike (credentials, bucket, endpoint)


@dataclass(frozen=True)
class Failure:
    retryable: bool
    slowdown: bool
    reason: str  # short, for logs and stats: "timeout", "SlowDown", "connection reset"
    message: str  # one line for the user
    scope: Scope = Scope.REQUEST
    code: str = ""  # the S3 error code, when the server answered with one
    # No answer came from the server (refused, reset, DNS, timeout): the endpoint may be down,
    # and a run of these is waited out (engine/outage.py) rather than counted.
    unanswered: bool = False
    # Not even a connection opened (refused, DNS, connect timeout): the endpoint is down now.
    connect_failed: bool = False
    # The server said the credentials expired: load them again and retry (transfer.py).
    expired_credentials: bool = False


@dataclass(frozen=True)
class Withdrawal(Failure):
    """Not a failure of the request: its work no longer needs doing (its file already failed).
    The task ends quietly, with no attempt recorded and no retry-log line."""

    scope: Scope = Scope.FILE


# S3 error codes that would refuse every request of the job alike.
JOB_CODES = frozenset(
    {
        "InvalidAccessKeyId",
        "SignatureDoesNotMatch",
        "NoSuchBucket",
        "AllAccessDisabled",
        "InvalidBucketName",
        "ExpiredToken",
        "InvalidToken",
        "PermanentRedirect",
        "AuthorizationHeaderMalformed",
        "KMS.NotFoundException",
    }
)


# The server says the credentials requests are signed with have expired (or their session token
# is no longer valid): loading them again may give fresh ones.
EXPIRED_CODES = frozenset(
    {"ExpiredToken", "InvalidToken", "TokenRefreshRequired", "ExpiredTokenException"}
)


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


def no_object_lock(bucket: str) -> str:
    return (
        f"bucket {bucket} does not have object lock enabled, so --object-lock-mode and "
        "--legal-hold cannot apply: use a bucket created with object lock, or drop those options"
    )


def _squashed(text: object) -> str:
    return str(text or "").replace(" ", "").lower()


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


def _botocore_exceptions() -> Any:
    """botocore's exceptions module if botocore is loaded: no botocore error exists otherwise,
    and a job that never needed botocore (see templates.py) should not import it to say so."""
    return sys.modules.get("botocore.exceptions")


def error_code(exc: BaseException) -> str | None:
    """The S3 error code of a botocore ``ClientError``; None for any other exception."""
    bx = _botocore_exceptions()
    if bx is None or not isinstance(exc, bx.ClientError):
        return None
    return str(exc.response.get("Error", {}).get("Code", ""))


def answer_lost(exc: BaseException) -> bool:
    """Whether a request that failed with ``exc`` may have taken effect on the server: it was
    sent (or partly sent) and no answer came back. A refusal from the server, a connection that
    never opened, or a request botocore never sent (no credentials, bad parameters) did not."""
    if error_code(exc) is not None:
        return False
    if isinstance(exc, DeadlineExceeded):
        return True
    bx = _botocore_exceptions()
    if bx is not None:
        if isinstance(exc, bx.HTTPClientError):  # read timeouts, closed connections, resets
            return True
        if isinstance(exc, bx.BotoCoreError):  # connect failures, credentials, parameters
            return False
    return isinstance(exc, OSError)


def classify(exc: BaseException, bucket: str = "", key: str = "", endpoint: str = "") -> Failure:
    """Decide whether an exception from a request is worth another attempt. The message never
    holds a URL's ``user:password@`` (botocore's errors quote the endpoint URL)."""
    f = _classify(exc, bucket, key, without_userinfo(endpoint) or "the S3 endpoint")
    message = without_userinfo(f.message)
    return f if message == f.message else dataclasses.replace(f, message=message)


def _classify(exc: BaseException, bucket: str, key: str, endpoint: str) -> Failure:
    if isinstance(exc, DeadlineExceeded):
        return Failure(True, False, "deadline", str(exc), unanswered=True)
    if isinstance(exc, RemoteError):
        return Failure(not exc.fatal, False, exc.reason, str(exc))
    bx = _botocore_exceptions()
    if bx is None:
        if isinstance(exc, OSError | socket.timeout):
            return _io_failure(exc)
        return Failure(False, False, type(exc).__name__, f"unexpected error: {exc}")
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
        if code == "PreconditionFailed" or status == 412:
            # --no-clobber's If-None-Match: * met an object at the key: it stays as it was.
            return Failure(
                False,
                False,
                "exists",
                f"s3://{bucket}/{key} already exists and --no-clobber leaves it as it is: "
                "delete it first, pick another key, or drop --no-clobber to replace it",
                Scope.FILE,
                code or "PreconditionFailed",
            )
        if code == "InvalidRequest" and "objectlock" in _squashed(err.get("Message")):
            # AWS (and moto): "Bucket is missing ObjectLockConfiguration", when the check
            # before the upload could not read the bucket's configuration.
            return Failure(False, False, code, no_object_lock(bucket), Scope.JOB, code)
        if code in ("404", "NotFound") and not key:
            code = "NoSuchBucket"
        if code == "403":
            code = "AccessDenied"
        return Failure(
            False,
            False,
            code or f"HTTP {status}",
            _fatal_message(code, status, bucket, key, endpoint),
            Scope.JOB if code in JOB_CODES else Scope.REQUEST,
            code,
            expired_credentials=code in EXPIRED_CODES,
        )
    if isinstance(exc, bx.NoCredentialsError | bx.PartialCredentialsError):
        return Failure(
            False,
            False,
            "no credentials",
            "no AWS credentials found: set AWS_ACCESS_KEY_ID and AWS_SECRET_ACCESS_KEY, "
            "pass --profile, or configure ~/.aws/credentials",
            Scope.JOB,
        )
    if isinstance(
        exc, bx.TokenRetrievalError | bx.SSOTokenLoadError | bx.UnauthorizedSSOTokenError
    ):
        # botocore could not refresh them itself (an expired SSO session, a role it cannot
        # assume any more): a fresh load of the chain is the last chance before failing.
        return Failure(
            False,
            False,
            "credentials",
            f"cannot load credentials ({exc}): run `aws sso login` or fix the profile",
            Scope.JOB,
            expired_credentials=True,
        )
    if isinstance(exc, bx.ParamValidationError):
        return Failure(False, False, "invalid parameter", f"invalid request: {exc}")
    if isinstance(exc, bx.EndpointConnectionError | bx.ConnectTimeoutError):
        return Failure(
            True,
            False,
            _connect_reason(exc),
            f"cannot connect to {endpoint}: check --endpoint-url and the network",
            Scope.JOB,
            unanswered=True,
            connect_failed=True,
        )
    if isinstance(exc, bx.HTTPClientError):
        inner = exc.kwargs.get("error")
        if isinstance(inner, DeadlineExceeded):
            return Failure(True, False, "deadline", str(inner), unanswered=True)
        return _io_failure(inner or exc, f"connection error: {exc}")
    if isinstance(exc, bx.BotoCoreError | OSError | socket.timeout):
        return _io_failure(exc)
    return Failure(False, False, type(exc).__name__, f"unexpected error: {exc}")


def _connect_reason(exc: BaseException) -> str:
    """Why no connection opened, in a few words: what an outage line shows."""
    text = f"{exc} {getattr(exc, 'kwargs', {}).get('error', '')}".lower()
    if "refused" in text:
        return "connection refused"
    if "name or service" in text or "nodename" in text or "name resolution" in text:
        return "name not resolved"
    if "timed out" in text or "timeout" in text:
        return "connect timeout"
    return "cannot connect"


def _io_failure(exc: BaseException, message: str = "") -> Failure:
    """A request the network broke (no answer from the server). A refused connection or a
    name that does not resolve (the fast path's own socket) says the endpoint is down now."""
    connect_failed = isinstance(exc, ConnectionRefusedError | socket.gaierror)
    reason = "name not resolved" if isinstance(exc, socket.gaierror) else _short_io_reason(exc)
    return Failure(
        True,
        False,
        reason,
        message or f"connection error: {exc}",
        unanswered=True,
        connect_failed=connect_failed,
    )


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
