"""Which failed requests may have taken effect on the server (and must be looked for)."""

from __future__ import annotations

import botocore.exceptions as bx
import pytest

from s3tui.engine.remote.errors import answer_lost
from s3tui.engine.watchdog import DeadlineExceeded


def _client_error(code: str, status: int) -> bx.ClientError:
    return bx.ClientError(
        {"Error": {"Code": code}, "ResponseMetadata": {"HTTPStatusCode": status}}, "Op"
    )


@pytest.mark.parametrize(
    "exc",
    [
        DeadlineExceeded(5.0),
        bx.ReadTimeoutError(endpoint_url="http://h"),
        bx.ConnectionClosedError(endpoint_url="http://h"),
        ConnectionResetError(104, "Connection reset by peer"),
        TimeoutError("timed out"),
    ],
    ids=["deadline", "read-timeout", "closed", "reset", "socket-timeout"],
)
def test_sent_without_an_answer_may_have_acted(exc: BaseException) -> None:
    assert answer_lost(exc)


@pytest.mark.parametrize(
    "exc",
    [
        _client_error("InternalError", 500),  # the server answered: it says what it did
        _client_error("AccessDenied", 403),
        bx.EndpointConnectionError(endpoint_url="http://h"),  # never connected
        bx.ConnectTimeoutError(endpoint_url="http://h"),
        bx.NoCredentialsError(),  # never sent
        bx.ParamValidationError(report="bad"),
        ValueError("a bug"),
    ],
    ids=["500", "403", "no-connection", "connect-timeout", "no-credentials", "params", "bug"],
)
def test_refused_or_never_sent_did_not(exc: BaseException) -> None:
    assert not answer_lost(exc)
