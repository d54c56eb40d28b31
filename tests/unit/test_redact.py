"""A URL's ``user:password@`` is removed from endpoints and from any message quoting one."""

from __future__ import annotations

import pytest

from s3tui.engine.job import Result
from s3tui.engine.progress import Progress
from s3tui.engine.redact import without_userinfo
from s3tui.engine.remote import Remote, classify
from s3tui.engine.stats import AttemptRecord, FileStat


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("http://user:secret@host:9000/b", "http://host:9000/b"),
        ("https://user:p@ss@[::1]:443", "https://[::1]:443"),  # an "@" in the password
        ("HTTP://only-user@host", "HTTP://host"),
        ("http://host:9000", "http://host:9000"),
        ('Could not connect to the endpoint URL: "http://u:secret@h:1/b/k"', None),
        ("a@b.c wrote http://h/x@y", "a@b.c wrote http://h/x@y"),  # not userinfo
        ("", ""),
    ],
)
def test_without_userinfo(text: str, expected: str | None) -> None:
    out = without_userinfo(text)
    if expected is None:
        assert out == 'Could not connect to the endpoint URL: "http://h:1/b/k"'
    else:
        assert out == expected


def test_messages_records_and_labels_never_hold_it() -> None:
    import botocore.exceptions as bx

    url = "http://user:secret@127.0.0.1:9"
    for exc in (
        bx.EndpointConnectionError(endpoint_url=url + "/b/k"),
        OSError(f"cannot reach {url}"),
        bx.HTTPClientError(error=OSError(f"reset by {url}")),
    ):
        f = classify(exc, "b", "k", url)
        assert "secret" not in f.message and "127.0.0.1:9" in f.message, f.message
    remote = Remote(None, "b", connect=lambda: None, endpoint=url)
    assert remote.endpoint == "http://127.0.0.1:9"
    result = Result(1, f"failed at {url}", failed_files=(("a", f"no {url}"),))
    assert "secret" not in repr(result)
    rec = AttemptRecord("p", 1, None, 1, 1, None, 1.0, 0.0, 0.0, 1.0, False, f"at {url}")
    stat = FileStat("f", "k", "failed", 1, 1, 1, None, 1.0, 0.0, 0.0, f"at {url}")
    assert "secret" not in rec.to_json() + stat.to_json()
    progress = Progress("-", f"{url}/b/k")
    assert "secret" not in progress.source + progress.dest
