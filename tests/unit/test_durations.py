"""Durations for --older-than, and ages as the uploads table shows them."""

from __future__ import annotations

import pytest

from s3tui.durations import format_age, parse_duration


@pytest.mark.parametrize(
    ("text", "seconds"),
    [
        ("30s", 30),
        ("90m", 5400),
        ("36h", 129600),
        ("7d", 604800),
        ("2w", 1209600),
        ("1d12h", 129600),
        ("1h30m", 5400),
        ("1.5h", 5400),
        (" 7D ", 604800),
        ("0s", 0),
    ],
)
def test_parse_duration(text: str, seconds: float) -> None:
    assert parse_duration(text) == seconds


@pytest.mark.parametrize("text", ["", "7", "7x", "d", "-1d", "1d-2h", "7 days", "1e9d", "1d 2"])
def test_bad_durations_say_what_is_accepted(text: str) -> None:
    with pytest.raises(ValueError, match=r"invalid duration.*e\.g\. 30s"):
        parse_duration(text)


def test_a_duration_of_many_digits_is_refused_not_overflowed() -> None:
    with pytest.raises(ValueError, match="too long"):
        parse_duration("9" * 400 + "w")


@pytest.mark.parametrize(
    ("seconds", "shown"),
    [
        (0, "0s"),
        (-5, "0s"),
        (12.7, "12s"),
        (243, "4m 3s"),
        (5 * 3600 + 12 * 60 + 9, "5h 12m"),
        (3 * 86400 + 4 * 3600 + 59, "3d 4h"),
        (3 * 86400 + 59, "3d 0h"),
    ],
)
def test_format_age(seconds: float, shown: str) -> None:
    assert format_age(seconds) == shown
