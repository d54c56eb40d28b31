"""The botocore client s3tui uses, and the connections whose sockets the watchdog can cut.

* botocore's own retries are off (``total_max_attempts=1``): s3tui owns the retry policy.
* Payloads are not SHA-256 signed and botocore computes no checksum of its own: each part carries
  the CRC32C s3tui computed while spooling, which the server verifies, so the body is read once.
* Each request's socket is registered with the current :class:`~s3tui.engine.watchdog.Guard`, so a
  stalled request is cut at its wall-clock deadline in any phase.
"""

from __future__ import annotations

import contextlib
import os
import weakref
from typing import Any

import botocore.awsrequest
import botocore.credentials
import botocore.exceptions as bx
import botocore.session
from botocore.config import Config

from s3tui.engine import watchdog
from s3tui.engine.config import CONNECT_TIMEOUT, READ_TIMEOUT
from s3tui.engine.remote import fast
from s3tui.engine.remote.errors import RemoteError

# Clients whose sockets the watchdog can cut (kept here, not patched onto botocore's client).
_guarded: weakref.WeakSet[Any] = weakref.WeakSet()
# The credentials object each client signs with, and the profile it came from: to tell whether a
# reload gave newer ones, and to say which expired (never their secret).
_signing: weakref.WeakKeyDictionary[Any, tuple[Any, str | None]] = weakref.WeakKeyDictionary()


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
        _no_send_timeout(self.sock)
        watchdog.note_socket(self.sock, self)

    def putrequest(self, *args: Any, **kwargs: Any) -> None:
        self.body_phase = False
        _no_send_timeout(self.sock)
        watchdog.note_socket(self.sock, self)
        super().putrequest(*args, **kwargs)  # type: ignore[misc]

    def endheaders(self, *args: Any, **kwargs: Any) -> None:
        super().endheaders(*args, **kwargs)  # type: ignore[misc]
        self.body_phase = True


def _no_send_timeout(sock: Any) -> None:
    """A request is sent with no socket timeout: the watchdog's deadline, which grows with the
    body and the bandwidth estimate, is its only clock. Left as it was, the socket keeps the
    connect timeout (10 s) while the body goes out, and on a slow link the kernel can take
    longer than that to free room in a full send buffer: every attempt would be cut at 10 s
    however much time its deadline gave. urllib3 sets the read timeout once the request is
    sent, for the wait on the answer."""
    if sock is not None:
        with contextlib.suppress(OSError):
            sock.settimeout(None)


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
    if not isinstance(classes, dict):
        return False
    classes["http"] = _GuardedHTTPPool
    classes["https"] = _GuardedHTTPSPool
    _guarded.add(client)
    return True


def guarded(client: Any) -> bool:
    """``client``'s sockets are registered with the watchdog (botocore had what it takes)."""
    return client in _guarded


# --------------------------------------------------------------------------------------------
# Client
# --------------------------------------------------------------------------------------------
def make_client(
    endpoint_url: str | None = None,
    region: str | None = None,
    profile: str | None = None,
    max_connections: int = 10,
    credentials: tuple[str, str] | None = None,
    templates: fast.TemplateCache | None = None,
    direct: fast.DirectPut | None = None,
) -> Any:
    """An S3 client on the standard credential chain (env, files, profiles, SSO, roles).

    The s3_uploader seed's ``AWS_ACCESS_KEY``/``AWS_SECRET_KEY`` names work too, when the standard
    ones are unset and no profile is asked for; they are passed to the session, never to
    ``os.environ``.

    botocore's session is used directly, not boto3's: boto3 imports s3transfer, which s3tui does
    not use, and that alone is ~75 ms of a ~300 ms start-up budget.

    ``templates`` keeps what the direct path learns for later runs (when the credentials are the
    environment's, see :mod:`templates`); ``direct`` is a direct path made before the client (by
    :func:`~s3tui.engine.remote.start.open_remote`), which this client then teaches.
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
        loader = fast.data_loader(session.get_config_variable("data_path"))
        if loader is not None:
            session.register_component("data_loader", loader)
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
    if "aws_access_key_id" in kwargs:
        creds: Any = botocore.credentials.Credentials(
            kwargs["aws_access_key_id"], kwargs["aws_secret_access_key"], method="explicit"
        )
    else:
        creds = session.get_credentials()  # the very object create_client gave the client
    _signing[client] = (creds, profile)
    if _install_guarded_pools(client):
        fast.attach(
            client,
            session,
            explicit=(kwargs["aws_access_key_id"], kwargs["aws_secret_access_key"])
            if "aws_access_key_id" in kwargs
            else None,
            profile=profile,
            templates=None if credentials else templates,
            direct=direct,
        )
    return client


# --------------------------------------------------------------------------------------------
# Credentials: which ones a client signs with, and what to say when they expired
# --------------------------------------------------------------------------------------------
def signing_identity(client: Any) -> tuple[str, str, str | None] | None:
    """(access key, secret, token) ``client`` signs with now; None without credentials.
    Reading them lets refreshable credentials refresh themselves (botocore does so when they
    are about to expire), which may raise if that fails."""
    creds = _signing.get(client, (None, None))[0]
    if creds is None:
        return None
    frozen = creds.get_frozen_credentials()
    return (frozen.access_key, frozen.secret_key, frozen.token)


def expired_message(client: Any, problem: str = "") -> str:
    """One line: which credentials expired (where they come from, never a secret) and how to
    renew them. ``problem``: why loading them again failed, if it did."""
    creds, profile = _signing.get(client, (None, None))
    method = getattr(creds, "method", "") or ""
    which, how = _credentials_source(method, profile)
    again = f"loading them again failed ({problem})" if problem else "nothing newer was found"
    return f"{which} expired and {again}: {how}"


def _credentials_source(method: str, profile: str | None) -> tuple[str, str]:
    env = os.environ
    named = f" of profile {profile!r}" if profile else ""
    login = f"aws sso login --profile {profile}" if profile else "aws sso login"
    rerun = "and run the upload again"
    if method == "env":
        return (
            "the credentials in the environment (AWS_ACCESS_KEY_ID, AWS_SESSION_TOKEN)",
            f"export fresh ones {rerun} (a running process cannot see new ones there)",
        )
    if method == "explicit":
        return (
            "the credentials in AWS_ACCESS_KEY / AWS_SECRET_KEY",
            f"export fresh ones {rerun}",
        )
    if method == "shared-credentials-file":
        path = env.get("AWS_SHARED_CREDENTIALS_FILE", "~/.aws/credentials")
        return (
            f"the credentials{named or ' of the default profile'} in {path}",
            f"write fresh ones there {rerun} (s3tui reads the file again when they expire)",
        )
    if method == "config-file":
        path = env.get("AWS_CONFIG_FILE", "~/.aws/config")
        return (
            f"the credentials{named or ' of the default profile'} in {path}",
            f"write fresh ones there {rerun}",
        )
    if method == "sso":
        return (f"the SSO credentials{named}", f"run `{login}` {rerun}")
    if method.startswith("assume-role"):
        return (
            f"the role credentials{named}",
            "check that the profile's source credentials still work "
            f"(`aws sts get-caller-identity`) {rerun}",
        )
    if method == "custom-process":
        return (
            f"the credentials from credential_process{named}",
            f"make the command give fresh credentials {rerun}",
        )
    if method in ("container-role", "iam-role"):
        return ("the role credentials of this instance or container", f"check its role {rerun}")
    source = f" ({method})" if method else ""
    return (f"the credentials{source}{named}", f"renew them {rerun}")
