"""--patience: durations, the option, and the config file's ``patience`` key."""

from __future__ import annotations

import pytest

from s3tui.args import build_parser
from s3tui.durations import LONGEST_WAIT, parse_duration
from s3tui.engine.config import UploadConfig
from s3tui.errors import UsageError
from s3tui.put_args import PutArgs, check_put
from s3tui.settings import apply, config_path, load


def _put(*argv: str) -> PutArgs:
    return check_put(apply(build_parser().parse_args(["put", "-", "s3://bucket/k", *argv])))


@pytest.mark.parametrize(
    ("text", "seconds"),
    [("90", 90), ("45s", 45), ("30m", 1800), ("1h30m", 5400), ("1.5h", 5400), ("2d", 172800)],
)
def test_durations(text: str, seconds: float) -> None:
    assert parse_duration(text, bare_seconds=True, longest=LONGEST_WAIT) == seconds


@pytest.mark.parametrize("text", ["", "soon", "5x", "1h5", "-3", "400d"])
def test_bad_durations_say_what_is_accepted(text: str) -> None:
    with pytest.raises(ValueError, match="duration"):
        parse_duration(text, bare_seconds=True, longest=LONGEST_WAIT)


def test_the_default_suits_a_nightly_dump_and_the_option_sets_it() -> None:
    assert UploadConfig().patience >= 30 * 60
    assert _put("--no-tui").config.patience == UploadConfig.patience
    assert _put("--no-tui", "--patience", "5s").config.patience == 5


def test_a_bad_patience_is_a_usage_error() -> None:
    with pytest.raises(UsageError, match=r"--patience: invalid duration 'soon'"):
        _put("--no-tui", "--patience", "soon")


def test_the_config_file_sets_it_and_the_command_line_wins() -> None:
    path = config_path()
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text('[defaults]\npatience = "2h"\n')
    assert _put("--no-tui").config.patience == 7200
    assert _put("--no-tui", "--patience", "10m").config.patience == 600
    path.write_text('[defaults]\npatience = "later"\n')
    with pytest.raises(UsageError, match=r"line 2: defaults.patience: 'later'"):
        load()
