import math

import pytest

from s3tui.engine.config import ObjectOptions, OptionError, UploadConfig
from s3tui.sizes import MiB, TiB


def test_default_spool_limit_follows_part_size_and_concurrency() -> None:
    cfg = UploadConfig()
    assert cfg.spool_limit(8 * MiB, 8) == 128 * MiB
    assert cfg.spool_limit(16 * MiB, 8) == 256 * MiB  # parts grew after 1,000 parts
    assert cfg.spool_limit(8 * MiB, 2) == 32 * MiB


def test_explicit_spool_limit_wins() -> None:
    assert UploadConfig(max_spool=50 * MiB).spool_limit(16 * MiB, 8) == 50 * MiB


def test_object_options_map_to_s3_arguments() -> None:
    opts = ObjectOptions(
        content_type="application/gzip",
        sse="aws:kms",
        sse_kms_key_id="k",
        storage_class="STANDARD_IA",
        acl="private",
        metadata={"a": "b"},
    )
    assert opts.to_s3_args() == {
        "ContentType": "application/gzip",
        "ACL": "private",
        "ServerSideEncryption": "aws:kms",
        "SSEKMSKeyId": "k",
        "StorageClass": "STANDARD_IA",
        "Metadata": {"a": "b"},
    }
    assert ObjectOptions().to_s3_args() == {}


@pytest.mark.parametrize(
    ("field", "value", "why"),
    [
        ("content_type", "tëxt/plain", "US-ASCII"),
        ("content_type", "text/日本", "RFC 2047"),
        ("content_type", "text/plain\r\nX-Injected: 1", "control character"),
        ("storage_class", "STANDARD\t", "control character"),
        ("sse_kms_key_id", "clé", "US-ASCII"),
        ("metadata", {"note": "a\nb"}, "control character"),
        ("metadata", {"note": "café"}, "US-ASCII"),
        ("metadata", {"my key": "v"}, "header name"),
        ("metadata", {"clé": "v"}, "header name"),
        ("metadata", {"key\n": "v"}, "header name"),
    ],
)
def test_object_options_refuse_what_a_header_cannot_carry(
    field: str, value: object, why: str
) -> None:
    """A library user gets a ValueError naming the field, before any request."""
    with pytest.raises(ValueError, match=why) as info:
        ObjectOptions(**{field: value})  # type: ignore[arg-type]
    assert isinstance(info.value, OptionError) and info.value.name == field
    assert len(str(info.value).splitlines()) == 1  # repr keeps a CR/LF visible, on one line


def test_object_options_accept_printable_ascii() -> None:
    opts = ObjectOptions(content_type='text/plain; charset="utf-8"', metadata={"a-b_c.d": "x y~"})
    assert opts.to_s3_args()["ContentType"] == 'text/plain; charset="utf-8"'


@pytest.mark.parametrize(
    ("field", "value"),
    [
        ("timeout_factor", math.nan),
        ("timeout_factor", math.inf),
        ("timeout_factor", 0.0),
        ("min_deadline", math.nan),
        ("max_deadline", math.inf),
        ("initial_bandwidth", math.nan),
        ("ewma_alpha", math.nan),
        ("retry_max_delay", math.inf),
        ("give_up_after", math.nan),
        ("bwlimit", math.nan),
        ("bwlimit", math.inf),
        ("concurrency", 0),
        ("chunk_size", 4 * MiB),
        ("max_spool", MiB),
        ("max_attempts", 0),
        ("expected_size", 100 * TiB),
        ("min_size", 100 * TiB),
    ],
)
def test_upload_config_refuses_numbers_that_cannot_work(field: str, value: float) -> None:
    """A NaN deadline never expires: the watchdog busy-spun and stalls were never cut."""
    with pytest.raises(OptionError) as info:
        UploadConfig(**{field: value})  # type: ignore[arg-type]
    assert info.value.name == field


def test_min_size_is_checked_against_what_the_plan_holds() -> None:
    UploadConfig(min_size=7 * TiB)  # 10,000 growing parts from 8 MiB hold ~7.8 TiB
    with pytest.raises(OptionError, match="10,000 parts"):
        UploadConfig(min_size=8 * TiB)
    UploadConfig(min_size=8 * TiB, chunk_size=64 * MiB)
    with pytest.raises(OptionError):
        UploadConfig(min_size=2 * TiB, expected_size=TiB)


def test_min_size_above_expected_size_names_the_real_reason() -> None:
    with pytest.raises(OptionError, match="at most expected_size"):
        UploadConfig(min_size=10 * 1024 * 1024, expected_size=5 * 1024 * 1024)
