import pytest
from hypothesis import given
from hypothesis import strategies as st

from s3tui.sizes import GiB, MiB, format_size, parse_size


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("0", 0),
        ("123", 123),
        ("50MB", 50_000_000),
        ("50mb", 50_000_000),
        ("64MiB", 64 * MiB),
        ("1.5GiB", int(1.5 * GiB)),
        ("5 MiB", 5 * MiB),
        ("2k", 2000),
        ("1TiB", 1024**4),
        ("8388608TiB", 8 * 1024**6),  # the largest accepted: 8 EiB
        ("0.1MB", 100_000),  # exact: no float rounding
    ],
)
def test_parse_size(text: str, expected: int) -> None:
    assert parse_size(text) == expected


@pytest.mark.parametrize(
    "text",
    ["", "MiB", "12XB", "-5MB", "1.5", "ten", "5 M i B", "nan", "inf", "1e400", "1" + "0" * 400],
)
def test_parse_size_rejects(text: str) -> None:
    with pytest.raises(ValueError, match="invalid size"):
        parse_size(text)


@given(st.integers(min_value=0, max_value=10**15))
def test_plain_bytes_round_trip(n: int) -> None:
    assert parse_size(str(n)) == n


def test_format_size() -> None:
    assert format_size(512) == "512 B"
    assert format_size(1.5 * GiB) == "1.5 GiB"
    assert format_size(8 * MiB) == "8 MiB"
