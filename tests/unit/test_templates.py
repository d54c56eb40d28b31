"""When a remembered PutObject template may be used, and what names and holds it."""

from __future__ import annotations

import os
from pathlib import Path

import pytest

from s3tui.engine.remote.fast.direct import _Template
from s3tui.engine.remote.fast.templates import (
    KEEP,
    EnvCredentials,
    TemplateCache,
    env_credentials,
    inputs_digest,
)


def test_only_environment_credentials_that_botocore_takes_first(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    assert env_credentials(None) is None  # nothing in the env: botocore's chain decides
    monkeypatch.setenv("AWS_ACCESS_KEY_ID", "AKID")
    assert env_credentials(None) is None  # partial: botocore explains
    monkeypatch.setenv("AWS_SECRET_ACCESS_KEY", "s3cret")
    assert env_credentials(None) == EnvCredentials("AKID", "s3cret", None)
    assert env_credentials("work") is None  # an explicit profile outranks the env
    monkeypatch.setenv("AWS_SESSION_TOKEN", "tok")
    assert env_credentials(None) == EnvCredentials("AKID", "s3cret", "tok")
    monkeypatch.setenv("AWS_CREDENTIAL_EXPIRATION", "2030-01-01T00:00:00Z")
    assert env_credentials(None) is None  # refreshable: botocore's business
    assert TemplateCache.for_run(None, None, None) is None
    for name in ("AWS_ACCESS_KEY_ID", "AWS_SECRET_ACCESS_KEY", "AWS_SESSION_TOKEN"):
        monkeypatch.delenv(name)
    monkeypatch.delenv("AWS_CREDENTIAL_EXPIRATION")
    monkeypatch.setenv("AWS_ACCESS_KEY", "SEED")  # the s3_uploader names, as make_client reads them
    monkeypatch.setenv("AWS_SECRET_KEY", "seedsecret")
    assert env_credentials(None) == EnvCredentials("SEED", "seedsecret", None)


def test_everything_that_shapes_the_request_names_another_entry(
    monkeypatch: pytest.MonkeyPatch, isolated_env: Path
) -> None:
    base = inputs_digest("http://127.0.0.1:9000", None)
    assert inputs_digest("http://127.0.0.1:9000", None) == base
    assert inputs_digest("http://127.0.0.1:9001", None) != base
    assert inputs_digest("http://127.0.0.1:9000", "eu-west-1") != base
    for name, value in (
        ("AWS_S3_ADDRESSING_STYLE", "virtual"),
        ("AWS_SECRET_ACCESS_KEY", "rotated"),
        ("https_proxy", "http://proxy:3128"),
    ):
        monkeypatch.setenv(name, value)
        assert inputs_digest("http://127.0.0.1:9000", None) != base, name
        monkeypatch.delenv(name)
    assert inputs_digest("http://127.0.0.1:9000", None) == base
    config = Path(os.environ["AWS_CONFIG_FILE"])
    config.write_text("[default]\ns3 =\n  addressing_style = path\n")
    with_config = inputs_digest("http://127.0.0.1:9000", None)
    assert with_config != base
    os.utime(config, ns=(1, 1))
    assert inputs_digest("http://127.0.0.1:9000", None) not in (base, with_config)


def test_the_cache_keeps_drops_and_prunes_its_entries(tmp_path: Path) -> None:
    d = tmp_path / "templates"
    cache = TemplateCache("a" * 64, d)
    assert cache.load() == {}
    cache.save("opts1", {"host": "h1"})
    cache.save("opts2", {"host": "h2"})
    assert TemplateCache("a" * 64, d).load() == {"opts1": {"host": "h1"}, "opts2": {"host": "h2"}}
    cache.drop("opts1")
    assert TemplateCache("a" * 64, d).load() == {"opts2": {"host": "h2"}}
    assert TemplateCache("b" * 64, d).load() == {}
    for i in range(KEEP + 5):
        TemplateCache(f"{i:040d}" + "0" * 24, d).save("o", {"i": i})
    names = {p.name for p in d.glob("*.json")}
    assert len(names) == KEEP and f"{KEEP + 4:040d}.json" in names
    (d / f"{KEEP + 4:040d}.json").write_text("{not json")
    assert TemplateCache(f"{KEEP + 4:040d}" + "0" * 24, d).load() == {}


def test_a_directory_others_can_write_is_never_used(tmp_path: Path) -> None:
    shared = tmp_path / "shared"
    shared.mkdir()
    shared.chmod(0o777)
    TemplateCache("c" * 64, shared).save("o", {"host": "evil"})
    assert list(shared.iterdir()) == []


def _entry(**changes: object) -> dict[str, object]:
    entry: dict[str, object] = {
        "scheme": "http",
        "host": "127.0.0.1",
        "port": 9000,
        "host_header": "127.0.0.1:9000",
        "path_prefix": "/b/",
        "headers": [["User-Agent", "Botocore/1"]],
        "region": "us-east-1",
        "service": "s3",
        "endpoint": "http://127.0.0.1:9000",
        "cafile": None,
    }
    return entry | changes


def test_a_remembered_template_is_untried_and_a_malformed_one_is_ignored() -> None:
    t = _Template.from_json(_entry())
    assert t is not None and not t.tried and t.to_json() == _entry()
    assert _Template.from_json(_entry(scheme="ftp")) is None
    assert _Template.from_json(_entry(port="x")) is None
    assert _Template.from_json(_entry(headers=[["X-Evil", "a\r\nHost: other"]])) is None
    broken = _entry()
    del broken["region"]
    assert _Template.from_json(broken) is None


def test_an_entry_written_with_a_password_in_its_endpoint_is_rewritten_without(
    tmp_path: Path,
) -> None:
    d = tmp_path / "put-templates"
    cache = TemplateCache("b" * 64, d)
    cache.save("opts", {"host": "h", "endpoint": "http://u:secret@h:9"})  # as older runs did
    assert cache.load() == {"opts": {"host": "h", "endpoint": "http://h:9"}}
    (path,) = d.glob("*.json")
    assert "secret" not in path.read_text()
