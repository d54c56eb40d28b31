"""The direct path never sends a header value as other bytes than it signed: what it cannot
send exactly as botocore does (non-ASCII, control characters) it hands to botocore. Both paths
here talk to a loopback socket that records each request's head as it arrived."""

from __future__ import annotations

import re
import socketserver
import threading
from collections.abc import Iterator
from typing import Any

import pytest

from s3tui.engine.remote import fast, make_client
from s3tui.engine.remote.fast.direct import DirectPut, _options_key, _Template

CREDS = ("AKIDEXAMPLE", "wJalrXUtnFEMI/K7MDENG+bPxRfiCY")


class _Recorder(socketserver.ThreadingTCPServer):
    daemon_threads = True
    allow_reuse_address = True

    def __init__(self) -> None:
        super().__init__(("127.0.0.1", 0), _Handler)
        self.heads: list[bytes] = []


class _Handler(socketserver.StreamRequestHandler):
    server: _Recorder

    def handle(self) -> None:
        while True:
            head = b""
            while not head.endswith(b"\r\n\r\n"):
                line = self.rfile.readline()
                if not line:
                    return
                head += line
            if re.search(rb"(?im)^expect: *100-continue", head):
                self.wfile.write(b"HTTP/1.1 100 Continue\r\n\r\n")
            found = re.search(rb"(?im)^content-length: *(\d+)", head)
            self.rfile.read(int(found.group(1)) if found else 0)
            self.server.heads.append(head)
            self.wfile.write(b'HTTP/1.1 200 OK\r\nETag: "e"\r\nContent-Length: 0\r\n\r\n')


@pytest.fixture
def recorder(monkeypatch: pytest.MonkeyPatch) -> Iterator[_Recorder]:
    monkeypatch.delenv(fast.ENV, raising=False)
    server = _Recorder()
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        yield server
    finally:
        server.shutdown()
        server.server_close()


def _content_type(head: bytes) -> bytes:
    (value,) = re.findall(rb"(?im)^content-type: ?([^\r\n]*)", head)
    return value


def _paths(recorder: _Recorder) -> tuple[Any, DirectPut]:
    port = recorder.server_address[1]
    client = make_client(f"http://127.0.0.1:{port}", "us-east-1", credentials=CREDS)
    direct = DirectPut(fast.direct_for(client)._credentials, None)  # type: ignore[union-attr]
    template = _Template(
        "http", "127.0.0.1", port, f"127.0.0.1:{port}", "/b/", (), "us-east-1", "s3", "", None
    )
    direct._templates[_options_key("b", {})] = template
    return client, direct


@pytest.mark.parametrize(
    ("value", "direct_sends"),
    [
        ("text/plain; charset=utf-8", True),
        ("tëxt/plain", False),  # botocore: UTF-8 on the wire; latin-1 would be other bytes
        ("text/日本", False),  # not latin-1 at all: the direct path once failed with a codec error
        ("a\x01b", False),
        ("a\tb", False),
    ],
)
def test_content_type_bytes_or_decision_match_botocore(
    recorder: _Recorder, value: str, direct_sends: bool
) -> None:
    client, direct = _paths(recorder)
    client.put_object(Bucket="b", Key="k", Body=b"x", ContentType=value)
    (botocore_head,) = recorder.heads
    answer = direct.put(
        "b", "k", b"x", ("x-amz-checksum-crc32c", "AAAAAA=="), {"ContentType": value}
    )
    if direct_sends:
        assert answer is not None and answer["ETag"] == '"e"'
        assert _content_type(recorder.heads[1]) == _content_type(botocore_head)
    else:
        assert answer is None and len(recorder.heads) == 1  # botocore sends it, nothing else
    assert _content_type(botocore_head) == value.encode("utf-8")


def test_templates_with_values_it_cannot_send_are_neither_learned_nor_loaded(
    recorder: _Recorder,
) -> None:
    client, _ = _paths(recorder)
    learned = fast.direct_for(client)
    assert learned is not None
    for value, kept in (("text/plain", True), ("tëxt/plain", False)):
        learned._templates.clear()
        client.put_object(Bucket="b", Key="k", Body=b"x", ContentType=value)
        learned.learn("b", "k", {}, "http://x")
        assert bool(learned._templates) is kept
    good = _Template(
        "http", "h", 1, "h:1", "/b/", (("x-amz-meta-a", "b"),), "us-east-1", "s3", "", None
    ).to_json()
    assert _Template.from_json(good) is not None
    for bad in ("cafè", "a\x7fb", "a\tb"):
        assert _Template.from_json({**good, "headers": [["x-amz-meta-a", bad]]}) is None
