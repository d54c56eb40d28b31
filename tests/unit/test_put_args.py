"""put's arguments -> PutArgs (s3tui.put_args), without a server: typed options, and the config
objects' OptionError told in the command line's words."""

from __future__ import annotations

from pathlib import Path

import pytest

from s3tui.args import build_parser
from s3tui.engine.config import ObjectOptions, UploadConfig
from s3tui.errors import UsageError
from s3tui.put_args import PutArgs, TreeOptions, check_put


def _check(*argv: str) -> PutArgs:
    return check_put(build_parser().parse_args(["put", *argv]))


def test_files_get_their_tree_options(tmp_path: Path) -> None:
    args = _check(
        str(tmp_path), "s3://bucket/p/", "--include", "*.txt", "--exclude", ".git",
        "--skip-existing", "--no-tui", "--content-type", "text/plain",
    )  # fmt: skip
    assert (args.sources, args.bucket, args.key) == ([str(tmp_path)], "bucket", "p/")
    assert args.tree == TreeOptions(include=("*.txt",), exclude=(".git",), skip_existing=True)
    assert isinstance(args.config, UploadConfig) and args.config.chunk_size == 8 * 1024 * 1024
    assert args.options == ObjectOptions(content_type="text/plain")
    assert args.from_cmd is None and not args.tui


def test_a_stream_has_no_tree_options_and_maps_retries() -> None:
    args = _check("-", "s3://bucket/k", "--no-tui", "--retries", "2", "--timeout-factor", "1.5")
    assert args.tree == TreeOptions()
    assert (args.config.max_attempts, args.config.timeout_factor) == (3, 1.5)


def test_from_is_a_stream_of_the_command() -> None:
    args = _check("--from", "pg_dump db | gzip", "s3://bucket/db.gz", "--no-tui")
    assert (args.sources, args.from_cmd, args.key) == (["-"], "pg_dump db | gzip", "db.gz")


def test_dry_run_never_opens_the_dashboard(tmp_path: Path) -> None:
    args = _check(str(tmp_path), "s3://bucket/p/", "--dry-run", "--tui")
    assert args.tree.dry_run and not args.tui


@pytest.mark.parametrize(
    ("argv", "message"),
    [
        (["--concurrency", "0"], "--concurrency 0: must be a whole number from 1 to 64"),
        (["--chunk-size", "0"], "--chunk-size '0': chunk size 0 B is outside S3's part limits"),
        (["--timeout-factor", "-1"], "--timeout-factor -1.0: must be a positive number"),
        (
            ["--max-spool", "10MiB", "--chunk-size", "16MiB"],
            "--max-spool '10MiB': must be at least one chunk (16MiB): raise it or lower",
        ),
        (["--metadata", "k=v\n"], "--metadata 'k=v\\n': the value contains the control"),
        (["--retries", "-1"], "--retries must be 0 or more"),
        (["--tags", "novalue"], "--tags 'novalue': write KEY=VALUE"),
        (["--tags", "=v"], "--tags '=v': write KEY=VALUE"),
        (["--tags", "k=1", "--tags", "k=2"], "--tags: the key 'k' is given twice"),
        (["--tags", "k=caf\u00e9"], "--tags 'k=caf\u00e9': the value contains '\u00e9'"),
        (["--tags", f"{'k' * 129}=v"], f"--tags '{'k' * 129}=v': a tag key is at most 128"),
        (["--tags", f"k={'v' * 257}"], f"--tags 'k={'v' * 257}': a tag value is at most 256"),
        ([a for i in range(11) for a in ("--tags", f"k{i}=v")], "--tags '11 tags': S3 keeps at"),
    ],
)
def test_a_bad_value_is_told_with_the_option_as_typed(argv: list[str], message: str) -> None:
    with pytest.raises(UsageError) as e:
        _check("-", "s3://bucket/k", "--no-tui", *argv)
    assert str(e.value).startswith(message), str(e.value)


def test_tags_and_no_clobber_reach_the_object_options() -> None:
    args = _check(
        "-", "s3://bucket/k", "--no-tui", "--tags", "a b=c&d", "--tags", "x=", "--no-clobber"
    )
    assert args.options == ObjectOptions(tags={"a b": "c&d", "x": ""}, no_clobber=True)
    assert args.options.to_s3_args() == {"Tagging": "a%20b=c%26d&x=", "IfNoneMatch": "*"}
