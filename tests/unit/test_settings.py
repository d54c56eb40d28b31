"""The config file (s3tui.settings): precedence command line > store > defaults, `config path`
and `config show`, and every bad file as one line naming the file, the line and the key."""

from __future__ import annotations

from pathlib import Path

import pytest

from s3tui.args import build_parser
from s3tui.cli import main
from s3tui.errors import UsageError
from s3tui.put_args import PutArgs, check_put
from s3tui.settings import apply, config_path

MiB = 1024 * 1024

CONFIG = """\
# s3tui settings
[defaults]
chunk_size = "16MiB"
concurrency = 4
region = "eu-west-1"

[stores.minio]
endpoint_url = "http://backup:s3cr3t@minio.local:9000"
region = "us-east-1"
max_spool = "256MiB"
bwlimit = "20MB"
profile = "backup"

[stores."aws-archive"]
chunk_size = 67108864
spool_dir = "~/spool"
"""


def _write(text: str) -> Path:
    path = config_path()
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(text)
    return path


def _put(*argv: str) -> PutArgs:
    return check_put(apply(build_parser().parse_args(["put", "-", "s3://bucket/k", *argv])))


def test_the_file_lives_in_the_user_config_dir(isolated_env: Path, capsys) -> None:
    assert config_path() == isolated_env / "config" / "s3tui" / "config.toml"
    assert main(["config", "path"]) == 0
    assert capsys.readouterr().out.strip() == str(config_path())


def test_no_file_changes_nothing() -> None:
    args = _put("--no-tui")
    assert (args.config.chunk_size, args.config.concurrency, args.region) == (8 * MiB, 8, None)


def test_defaults_then_store_then_command_line() -> None:
    _write(CONFIG)
    args = _put("--no-tui")
    assert (args.config.chunk_size, args.config.concurrency, args.region) == (
        16 * MiB,
        4,
        "eu-west-1",
    )
    assert args.endpoint_url is None

    args = _put("--no-tui", "--store", "minio")
    assert args.endpoint_url == "http://backup:s3cr3t@minio.local:9000"
    assert (args.region, args.profile) == ("us-east-1", "backup")  # the store over the defaults
    assert (args.config.chunk_size, args.config.concurrency) == (16 * MiB, 4)  # defaults stay
    assert (args.config.max_spool, args.config.bwlimit) == (256 * MiB, 20_000_000)

    args = _put("--no-tui", "--store", "minio", "--region", "ap-south-1", "--concurrency", "2")
    assert (args.region, args.config.concurrency) == ("ap-south-1", 2)  # the command line wins

    args = _put("--no-tui", "--store", "aws-archive")
    assert (
        args.config.chunk_size == 64 * MiB and args.config.spool_dir == Path("~/spool").expanduser()
    )


def test_config_show_says_where_each_value_comes_from_and_no_secret(capsys) -> None:
    path = _write(CONFIG)
    assert main(["config", "show", "--store", "minio"]) == 0
    out = capsys.readouterr().out
    assert str(path) in out and "s3cr3t" not in out and "backup:" not in out
    lines = {line.split("=")[0].strip(): line for line in out.splitlines() if "=" in line}
    assert (
        "http://minio.local:9000" in lines["endpoint_url"]
        and "[stores.minio] line 8" in lines["endpoint_url"]
    )
    assert "us-east-1" in lines["region"] and "[stores.minio] line 9" in lines["region"]
    assert "16MiB" in lines["chunk_size"] and "[defaults] line 3" in lines["chunk_size"]
    assert "built-in" in lines["spool_dir"]
    assert "aws-archive, minio" in out


def test_config_show_says_concurrency_is_tuned_unless_set(capsys) -> None:
    """What show says is what put does: no value tunes (auto_concurrency), a value pins."""
    assert main(["config", "show"]) == 0
    line = next(x for x in capsys.readouterr().out.splitlines() if x.startswith("concurrency"))
    assert "tuned while running" in line and "built-in" in line
    assert _put("--no-tui").config.auto_concurrency
    _write("[defaults]\nconcurrency = 4\n")
    assert main(["config", "show"]) == 0
    line = next(x for x in capsys.readouterr().out.splitlines() if x.startswith("concurrency"))
    assert "= 4" in line and "[defaults] line 2" in line
    args = _put("--no-tui")
    assert args.config.concurrency == 4 and not args.config.auto_concurrency


def test_config_show_without_a_file(capsys) -> None:
    assert main(["config", "show"]) == 0
    out = capsys.readouterr().out
    assert "not there" in out and "8MiB" in out


@pytest.mark.parametrize(
    ("text", "needle"),
    [
        ("[defaults]\nchunk_size = \n", "not valid TOML: Invalid value (at line 2, column 14)"),
        (
            "[defaults]\nregion = 'x'\nchunk_sise = '8MiB'\n",
            "line 3: defaults.chunk_sise: unknown key",
        ),
        (
            "[stores.a]\naws_secret_access_key = 'x'\n",
            "line 2: stores.a.aws_secret_access_key: unknown key (credentials are never read",
        ),
        (
            "[defaults]\n\nconcurrency = 0\n",
            "line 3: defaults.concurrency: 0: must be a whole number",
        ),
        ("[defaults]\nconcurrency = '8'\n", "line 2: defaults.concurrency: '8': must be a whole"),
        ("[stores.b]\nchunk_size = '1MiB'\n", "line 2: stores.b.chunk_size: '1MiB': chunk size"),
        ("[stores.b]\nmax_spool = 'lots'\n", "line 2: stores.b.max_spool: 'lots': "),
        ("[stores.b]\nbwlimit = '1KB'\n", "line 2: stores.b.bwlimit: '1KB': below 64KB"),
        ("[stores.b]\nregion = 'eu west'\n", "line 2: stores.b.region: 'eu west': --region"),
        (
            "[stores.b]\nendpoint_url = 'ftp://u:pw@h'\n",
            "line 2: stores.b.endpoint_url: 'ftp://h': 'ftp://h' is not a URL",
        ),
        ("[global]\nregion = 'x'\n", "line 1: global: unknown table or key"),
        ("[stores]\nregion = 'x'\n", "line 2: stores.region: must be a table: [stores.region]"),
        ("defaults = 5\n", "line 1: defaults: must be a table: [defaults]"),
    ],
)
def test_a_bad_file_is_one_line_with_file_line_and_key(text: str, needle: str, capsys) -> None:
    path = _write(text)
    assert main(["put", "-", "s3://bucket/k", "--no-tui"]) == 2
    err = capsys.readouterr().err
    assert err.count("\n") == 1 and err.startswith(f"s3tui: error: {path}")
    assert needle in err and "pw@" not in err


def test_an_unknown_store_names_the_known_ones(capsys) -> None:
    path = _write(CONFIG)
    with pytest.raises(
        UsageError, match=r"has no \[stores.nope\] table \(stores: aws-archive, minio\)"
    ):
        _put("--store", "nope")
    path.unlink()
    assert main(["put", "-", "s3://bucket/k", "--store", "minio"]) == 2
    assert "there is no config file" in capsys.readouterr().err


def test_a_value_the_upload_refuses_says_it_came_from_the_file() -> None:
    path = _write("[defaults]\nmax_spool = '6MiB'\n")
    with pytest.raises(
        UsageError, match=rf"--max-spool '6MiB' \(from {path} line 2, \[defaults\]\)"
    ):
        _put("--no-tui")
