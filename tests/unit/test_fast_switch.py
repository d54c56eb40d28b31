"""The fast path's fence: the off switch, botocore without the private attributes it leans on,
and nothing patched onto botocore's client. No server: making a client sends nothing."""

from __future__ import annotations

import socket
from pathlib import Path
from typing import Any

import botocore.httpsession
import botocore.loaders
import pytest

from s3tui.engine.body import _direct_socket
from s3tui.engine.remote import Remote, fast, make_client
from s3tui.engine.remote.client import guarded
from s3tui.engine.remote.fast.models import S3Loader
from s3tui.engine.watchdog import Guard


def _client() -> Any:
    return make_client("http://127.0.0.1:9", "us-east-1", credentials=("AKIDEXAMPLE", "secret"))


def without_pool_table(monkeypatch: pytest.MonkeyPatch) -> None:
    """botocore as if a release renamed ``URLLib3Session._pool_classes_by_scheme``."""
    init = botocore.httpsession.URLLib3Session.__init__

    def renamed(self: Any, *args: Any, **kwargs: Any) -> None:
        init(self, *args, **kwargs)
        self.__dict__["_renamed_pool_classes"] = self.__dict__.pop("_pool_classes_by_scheme")

    monkeypatch.setattr(botocore.httpsession.URLLib3Session, "__init__", renamed)


@pytest.mark.parametrize(
    ("value", "on"),
    [(None, True), ("1", True), ("", True), ("0", False), ("off", False), (" False ", False)],
)
def test_switch_values(monkeypatch: pytest.MonkeyPatch, value: str | None, on: bool) -> None:
    if value is None:
        monkeypatch.delenv(fast.ENV, raising=False)
    else:
        monkeypatch.setenv(fast.ENV, value)
    assert fast.enabled() is on


def test_on_the_client_gets_the_direct_path_without_attributes_patched_onto_it(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.delenv(fast.ENV, raising=False)
    client = _client()
    assert isinstance(client._loader, S3Loader)
    assert guarded(client) and fast.direct_for(client) is not None
    assert Remote(client, "b").direct is fast.direct_for(client)
    assert [a for a in vars(client) if "s3tui" in a] == []


def test_off_means_stock_botocore(monkeypatch: pytest.MonkeyPatch, isolated_env: Path) -> None:
    monkeypatch.setenv(fast.ENV, "0")
    monkeypatch.setenv("AWS_ACCESS_KEY_ID", "AKIDEXAMPLE")
    monkeypatch.setenv("AWS_SECRET_ACCESS_KEY", "secret")
    client = _client()
    assert type(client._loader) is botocore.loaders.Loader
    assert fast.direct_for(client) is None and Remote(client, "b").direct is None
    assert guarded(client)  # the watchdog's deadlines are not part of the fast path
    assert fast.template_cache("http://127.0.0.1:9", "us-east-1", None) is None
    assert not (isolated_env / "cache" / "s3tui").exists()  # no model cache, no templates


def test_botocore_without_its_pool_table_turns_the_direct_path_off(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.delenv(fast.ENV, raising=False)
    without_pool_table(monkeypatch)
    client = _client()
    assert not guarded(client)
    assert not fast.botocore_ready(client)
    assert fast.direct_for(client) is None and Remote(client, "b").direct is None


class _Conn:
    """A connection in its body phase, as the guarded botocore connection marks it."""

    body_phase = True

    def __init__(self, sock: socket.socket) -> None:
        self.sock = sock


def test_sendfile_needs_botocores_response_flag() -> None:
    a, b = socket.socketpair()
    with a, b:
        guard = Guard(5)
        conn = _Conn(a)
        guard.attach(a, conn)
        assert _direct_socket(guard) is None  # botocore without _response_received
        conn._response_received = False  # type: ignore[attr-defined]
        assert _direct_socket(guard) is a
        conn._response_received = True  # type: ignore[attr-defined]
        assert _direct_socket(guard) is None
