"""The direct path stands aside exactly when botocore would use a proxy (urllib's rules)."""

from __future__ import annotations

import os
import urllib.request

import pytest

from s3tui.engine.remote.fast.direct import _proxied

CASES = [
    ({}, "http", "s3.example.com", False),
    ({"HTTP_PROXY": "http://proxy:3128"}, "http", "s3.example.com", True),
    ({"http_proxy": "http://proxy:3128"}, "https", "s3.example.com", False),
    ({"https_proxy": "http://proxy:3128"}, "https", "s3.example.com", True),
    ({"HTTPS_PROXY": "http://p:1", "NO_PROXY": "example.com"}, "https", "s3.example.com", False),
    ({"https_proxy": "http://p:1", "no_proxy": "other.org"}, "https", "s3.example.com", True),
    ({"ALL_PROXY": "socks5://p:1"}, "https", "s3.example.com", False),  # as urllib: not https
    ({"NO_PROXY": "*"}, "https", "s3.example.com", False),
]


@pytest.mark.parametrize(("env", "scheme", "host", "expect"), CASES)
def test_proxied_follows_urllib(
    monkeypatch: pytest.MonkeyPatch, env: dict[str, str], scheme: str, host: str, expect: bool
) -> None:
    for name in [n for n in os.environ if n.lower().endswith("_proxy")]:
        monkeypatch.delenv(name)
    for name, value in env.items():
        monkeypatch.setenv(name, value)
    want = scheme in urllib.request.getproxies() and not urllib.request.proxy_bypass(host)
    assert _proxied(scheme, host) is want is expect
