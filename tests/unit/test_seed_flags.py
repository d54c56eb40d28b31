"""The s3_uploader command line (Go-style flags) read as ``put``'s options."""

from __future__ import annotations

from s3tui.args import build_parser
from s3tui.put_args import check_put
from s3tui.seed_flags import translate


def test_a_seed_cron_line_becomes_a_put_from_stdin() -> None:
    line = [
        "-bucket", "B", "-key", "db/k.gz", "-chunk_size", "16777216", "-expected_size",
        "100000000", "-mime_type", "application/gzip", "-acl", "private", "-sse", "AES256",
        "-region", "eu-west-1",
    ]  # fmt: skip
    assert translate(line) == [
        "put", "-", "--bucket", "B", "--key", "db/k.gz", "--chunk-size", "16777216",
        "--expected-size", "100000000", "--mime-type", "application/gzip", "--acl", "private",
        "--sse", "AES256", "--region", "eu-west-1",
    ]  # fmt: skip


def test_go_spellings_equals_double_dashes_and_the_boolean_sse() -> None:
    assert translate(["-bucket=B", "--key=K", "--chunk_size=5MiB", "-sse"]) == [
        "put", "-", "--bucket", "B", "--key=K", "--chunk-size", "5MiB", "--sse", "AES256",
    ]  # fmt: skip
    assert translate(["put", "-", "-sse=true", "-bucket", "B"])[2:4] == ["--sse", "AES256"]
    assert translate(["put", "-", "-sse=false", "-bucket", "B"]) == ["put", "-", "--bucket", "B"]
    assert translate(["put", "-", "-sse", "false", "-key", "K"]) == ["put", "-", "--key", "K"]


def test_expected_size_zero_meant_no_expectation() -> None:
    assert translate(["-bucket", "B", "-expected_size", "0"]) == ["put", "-", "--bucket", "B"]


def test_s3tui_spellings_and_other_commands_are_left_alone() -> None:
    same = ["put", "-", "s3://b/k", "--tags", "a=b", "--acl", "private", "--", "-key"]
    assert translate(same) == same
    assert translate(["--version"]) == ["--version"]
    assert translate(["ps", "--all"]) == ["ps", "--all"]
    assert translate(["--bucket", "B", "--key", "K"]) == ["put", "-", "--bucket", "B", "--key", "K"]


def test_the_translated_line_checks_as_a_put() -> None:
    argv = "-bucket bkt -key k -chunk_size 16777216 -acl private -sse -region eu-west-1"
    args = check_put(build_parser().parse_args([*translate(argv.split()), "--no-tui"]))
    assert (args.sources, args.bucket, args.key, args.region) == (["-"], "bkt", "k", "eu-west-1")
    assert args.config.chunk_size == 16777216
    assert (args.options.acl, args.options.sse) == ("private", "AES256")
