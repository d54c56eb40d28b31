"""The direct path's SigV4 must produce botocore's exact signature for the same request."""

from __future__ import annotations

import datetime

import botocore.auth
import botocore.awsrequest
import botocore.credentials
import pytest
from botocore.config import Config

from s3tui.engine.remote.fast.direct import _host_header, _quoted_key
from s3tui.engine.remote.fast.sigv4 import Signer

NOW = datetime.datetime(2026, 11, 22, 7, 45, 12, tzinfo=datetime.UTC)


def _botocore_authorization(
    monkeypatch: pytest.MonkeyPatch,
    creds: botocore.credentials.Credentials,
    region: str,
    url: str,
    headers: dict[str, str],
) -> tuple[str, dict[str, str]]:
    monkeypatch.setattr(botocore.auth, "get_current_datetime", lambda: NOW.replace(tzinfo=None))
    request = botocore.awsrequest.AWSRequest("PUT", url, headers=dict(headers), data=b"x")
    request.context["client_config"] = Config(s3={"payload_signing_enabled": False})
    botocore.auth.S3SigV4Auth(creds, "s3", region).add_auth(request)
    return request.headers["Authorization"], dict(request.headers.items())


@pytest.mark.parametrize(
    ("endpoint", "key", "token"),
    [
        ("http://127.0.0.1:8333/bucket", "plain/key.bin", None),
        ("https://bucket.s3.eu-west-1.amazonaws.com", "dir with space/é ü/%2B+~x.txt", "tok/en=="),
        ("http://[::1]:9000/bucket", "a/b", None),
        ("https://s3.example.com:443/b-1", "日本/データ.csv", "session"),
    ],
)
def test_signature_matches_botocore(
    monkeypatch: pytest.MonkeyPatch, endpoint: str, key: str, token: str | None
) -> None:
    creds = botocore.credentials.Credentials("AKIDEXAMPLE", "wJalrXUtnFEMI/K7MDENG+bPxRfiCY", token)
    region = "eu-west-1"
    url = f"{endpoint}/{_quoted_key(key)}"
    from urllib.parse import urlsplit

    parts = urlsplit(url)
    common = {
        "Content-Type": "text/plain;  charset=utf-8",  # runs of spaces are collapsed when signed
        "Content-Length": "1",
        "x-amz-checksum-crc32c": "G0hy+Q==",
        "x-amz-meta-owner": "  backup job ",
        "x-amz-storage-class": "STANDARD_IA",
        "User-Agent": "Botocore/1.44 ua/2.1",  # never signed
    }
    expected, botocore_headers = _botocore_authorization(monkeypatch, creds, region, url, common)

    ours = dict(common)
    ours["Host"] = _host_header(parts.scheme, parts.hostname or "", parts.port)
    Signer(creds, region, "s3").sign("PUT", parts.path, ours, now=NOW)

    assert ours["Authorization"] == expected
    assert ours["X-Amz-Date"] == botocore_headers["X-Amz-Date"]
    assert ours["X-Amz-Content-SHA256"] == "UNSIGNED-PAYLOAD"
    assert ours.get("X-Amz-Security-Token") == botocore_headers.get("X-Amz-Security-Token")


def test_signing_key_follows_the_day_and_the_secret() -> None:
    """A cached key must not outlive its day or a refreshed secret."""

    class Rotating:
        def __init__(self) -> None:
            self.secret = "first"

        def get_frozen_credentials(self) -> botocore.credentials.ReadOnlyCredentials:
            return botocore.credentials.ReadOnlyCredentials("AK", self.secret, None)

    creds = Rotating()
    signer = Signer(creds, "us-east-1", "s3")

    def auth(now: datetime.datetime) -> str:
        headers = {"Host": "h"}
        signer.sign("PUT", "/b/k", headers, now=now)
        return headers["Authorization"]

    day1 = auth(NOW)
    assert auth(NOW) == day1
    assert "/20261123/" in auth(NOW + datetime.timedelta(days=1))
    creds.secret = "second"
    fresh = Signer(creds, "us-east-1", "s3")
    headers = {"Host": "h"}
    fresh.sign("PUT", "/b/k", headers, now=NOW)
    assert auth(NOW) == headers["Authorization"] != day1
