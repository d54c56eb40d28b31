"""The ``s3tui`` command: parse and check arguments, pick dashboard or headless, map exit codes.

Everything a user can get wrong on the command line is checked here, before a byte of stdin is
read, and reported as one line with exit code 2. Heavy imports (boto3, Textual) happen only after
that, and Textual only when the dashboard is actually shown.
"""

from __future__ import annotations

import argparse
import gc
import os
import re
import sys
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, NoReturn
from urllib.parse import urlparse

from s3tui import __version__
from s3tui.engine.redact import without_userinfo
from s3tui.errors import EXIT_SIGINT, S3tuiError, UsageError
from s3tui.sizes import parse_size

CANNED_ACLS = (
    "private",
    "public-read",
    "public-read-write",
    "authenticated-read",
    "aws-exec-read",
    "bucket-owner-read",
    "bucket-owner-full-control",
)
SSE_CHOICES = ("AES256", "aws:kms", "aws:kms:dsse")


class _Parser(argparse.ArgumentParser):
    """argparse, but a usage error is one line (plus a hint), not the whole usage block."""

    def error(self, message: str) -> NoReturn:
        raise UsageError(f"{message} (see `{self.prog} --help`)")


def build_parser() -> argparse.ArgumentParser:
    p = _Parser(
        prog="s3tui",
        description="Stream data into S3 with concurrent multipart uploads and a live dashboard.",
    )
    p.add_argument("--version", action="version", version=f"s3tui {__version__}")
    sub = p.add_subparsers(dest="command", metavar="COMMAND", parser_class=_Parser)

    put = sub.add_parser(
        "put",
        help="upload the output of a command (--from), stdin ('-'), a file or a directory tree",
        description="Upload SOURCE to DEST (s3://BUCKET/KEY). SOURCE '-' reads stdin. "
        "For backups use --from CMD instead of a pipe: a pipe ends the same way whether its "
        "producer finished or died, so `pg_dump | s3tui put - DEST` stores a truncated dump "
        "when pg_dump is killed; `s3tui put --from 'pg_dump db | gzip' DEST` stores the object "
        "only if the command exits 0. For a bare pipe, --min-size (against a short stream) and "
        "--expected-size (a long one) are the only guards.",
    )
    put.add_argument(
        "paths",
        nargs="*",
        metavar="SOURCE... DEST",
        help="'-' for stdin (s3tui cannot see whether the producer of a pipe succeeded), then "
        "s3://BUCKET/KEY; with --from, DEST alone",
    )
    put.add_argument(
        "--from",
        dest="from_cmd",
        metavar="CMD",
        help="run CMD (bash -o pipefail -c CMD) and upload its stdout; its stderr is shown; the "
        "object is stored only if CMD exits 0, else nothing at DEST changes (exit 1)",
    )
    put.add_argument("--bucket", help="destination bucket (instead of DEST)")
    put.add_argument("--key", help="destination key (with --bucket)")
    g = put.add_argument_group("endpoint and credentials")
    g.add_argument("--endpoint-url", help="S3-compatible endpoint, e.g. http://127.0.0.1:9000")
    g.add_argument("--region", help="region (default: from the AWS config, else us-east-1)")
    g.add_argument("--profile", help="named profile from ~/.aws/config")
    g = put.add_argument_group("sizes and limits")
    g.add_argument(
        "--chunk-size",
        metavar="SIZE",
        help="first part size, 5MiB-5GiB "
        "(default 8MiB; doubles every 1,000 parts when the size is unknown)",
    )
    g.add_argument(
        "--expected-size",
        metavar="SIZE",
        help="size hint: plans part sizes, fails if the stream grows past it",
    )
    g.add_argument(
        "--min-size",
        metavar="SIZE",
        help="fail, storing nothing, if the stream ends shorter than this",
    )
    g.add_argument(
        "--concurrency",
        type=int,
        default=8,
        metavar="N",
        help="parts in flight (default 8); files up to 1 MiB count a quarter each",
    )
    g.add_argument(
        "--max-spool",
        metavar="SIZE",
        help="cap on temp-disk use; reading pauses when reached (default: room for two "
        "chunks per request in flight, 128MiB at the defaults)",
    )
    g.add_argument(
        "--spool-dir",
        metavar="DIR",
        help="where chunks are spooled (default $TMPDIR, else the user cache dir)",
    )
    g = put.add_argument_group("retries and deadlines")
    g.add_argument(
        "--retries",
        type=int,
        default=None,
        metavar="N",
        help="attempts per part after the first (default 9)",
    )
    g.add_argument(
        "--timeout-factor",
        type=float,
        default=None,
        metavar="X",
        help="deadline = latency + size/estimate * X (default 3)",
    )
    g.add_argument("--bwlimit", metavar="RATE", help="cap the upload rate, e.g. 20MB (per second)")
    g = put.add_argument_group("object")
    g.add_argument(
        "--content-type",
        "--mime-type",
        dest="content_type",
        metavar="T",
        help="Content-Type (default binary/octet-stream for streams)",
    )
    g.add_argument(
        "--acl", choices=CANNED_ACLS, metavar="CANNED", help="canned ACL (none sent by default)"
    )
    g.add_argument("--sse", choices=SSE_CHOICES, help="server-side encryption")
    g.add_argument("--sse-kms-key-id", metavar="ID", help="KMS key for --sse aws:kms")
    g.add_argument("--storage-class", metavar="C", help="e.g. STANDARD_IA, GLACIER_IR")
    g.add_argument(
        "--metadata", action="append", default=[], metavar="K=V", help="user metadata (repeatable)"
    )
    g = put.add_argument_group(
        "files and directories",
        "A DEST ending in '/' is a prefix: a directory's contents and named files go under it, "
        "joined with '/'. One file to a DEST without a trailing '/' is stored under exactly "
        "that key. Files below --chunk-size are one PutObject each, bigger ones multipart.",
    )
    g.add_argument(
        "--include",
        action="append",
        default=[],
        metavar="GLOB",
        help="upload only files matching GLOB (repeatable; fnmatch on the path relative to the "
        "directory, '*' crosses '/', a GLOB without '/' also matches the file name)",
    )
    g.add_argument(
        "--exclude",
        action="append",
        default=[],
        metavar="GLOB",
        help="skip files (and whole directories) matching GLOB (repeatable; wins over "
        "--include); hidden files are included unless excluded",
    )
    g.add_argument(
        "--follow-symlinks",
        action="store_true",
        help="follow symbolic links inside directories (loops are skipped)",
    )
    g.add_argument(
        "--skip-existing",
        action="store_true",
        help="skip files whose object exists with the same size and checksum (CRC32C/CRC32/MD5;"
        " size alone when the object has none)",
    )
    g.add_argument(
        "--dry-run",
        action="store_true",
        help="list what would be uploaded where, with sizes; send nothing",
    )
    g = put.add_argument_group("output")
    g.add_argument("--no-tui", action="store_true", help="headless: progress on stderr")
    g.add_argument("--tui", action="store_true", help="dashboard even with stdin piped")
    g.add_argument("--json", action="store_true", help="progress and summary as JSON lines")
    g.add_argument("--quiet", "-q", action="store_true", help="only errors and warnings")
    g.add_argument(
        "--stats-file",
        metavar="PATH",
        help="append one JSON line per request attempt (perf_data columns)",
    )

    cleanup = sub.add_parser(
        "cleanup",
        help="abort multipart uploads that killed runs left open, and delete their spool files",
        description="s3tui notes each multipart upload it opens until it is completed or "
        "aborted. A run killed with SIGKILL (OOM killer, reboot) cannot abort its upload: this "
        "aborts those whose process is gone, with the endpoint, region and profile they used.",
    )
    cleanup.add_argument(
        "--dry-run", action="store_true", help="list them; abort nothing, delete nothing"
    )
    cleanup.add_argument("--endpoint-url", metavar="URL", help="override the noted endpoint")
    cleanup.add_argument("--region", help="override the noted region")
    cleanup.add_argument("--profile", help="override the noted AWS profile")

    ps = sub.add_parser("ps", help="list the uploads running for this user on this host")
    ps.add_argument("-a", "--all", action="store_true", help="add finished ones (last 3 days)")
    ps.add_argument("--json", action="store_true", help="one JSON array on stdout")
    watch = sub.add_parser("watch", help="follow a running upload (started anywhere, any mode)")
    watch.add_argument("id", nargs="?", metavar="ID", help="from `s3tui ps` (none: the only one)")
    watch.add_argument("--no-tui", action="store_true", help="progress lines on stderr")
    watch.add_argument("--json", action="store_true", help="progress lines as JSON objects")
    watch.add_argument("-q", "--quiet", action="store_true", help="only the result")

    demo = sub.add_parser(
        "demo", help="a first run: local S3 server, a slow stream with faults, the dashboard"
    )
    demo.add_argument("--no-tui", action="store_true", help="headless: progress on stderr")
    demo.add_argument("--size", default="120MiB", metavar="SIZE", help="stream size (120MiB)")
    return p


@dataclass
class PutArgs:
    sources: list[str]
    bucket: str
    key: str
    endpoint_url: str | None
    region: str | None
    profile: str | None
    config: Any  # UploadConfig
    options: Any  # ObjectOptions
    tui: bool
    json: bool
    quiet: bool
    stats_file: Path | None
    extra: dict[str, Any] = field(default_factory=dict)
    from_cmd: str | None = None  # put --from CMD: the stream is CMD's stdout


def _size(value: str | None, flag: str) -> int | None:
    if value is None:
        return None
    try:
        return parse_size(value)
    except ValueError as e:
        raise UsageError(f"{flag}: {e}") from None


# The option that sets each checked field of UploadConfig / ObjectOptions (see _usage).
_FLAGS = {
    "concurrency": "--concurrency",
    "chunk_size": "--chunk-size",
    "max_spool": "--max-spool",
    "expected_size": "--expected-size",
    "min_size": "--min-size",
    "timeout_factor": "--timeout-factor",
    "max_attempts": "--retries",
    "bwlimit": "--bwlimit",
    "content_type": "--content-type",
    "acl": "--acl",
    "sse": "--sse",
    "sse_kms_key_id": "--sse-kms-key-id",
    "storage_class": "--storage-class",
    "metadata": "--metadata",
}


def _usage(e: Any, ns: argparse.Namespace) -> UsageError:
    """A config object's OptionError, told in the command line's words: the option as typed."""
    flag = _FLAGS.get(e.name, e.name)
    typed = {"max_attempts": ns.retries}.get(e.name, getattr(ns, e.name, None))
    value = typed if isinstance(typed, str | float | int) and e.name != "metadata" else e.value
    return UsageError(f"{flag} {value!r}: {e.problem}")


def _check_endpoint(url: str | None) -> None:
    """The endpoint becomes the Host header and every request line: a space, a CR/LF or a
    non-ASCII host was an 'unexpected ValueError' (several lines with a CR/LF)."""
    if not url:
        return
    u = urlparse(url)
    try:
        port_ok = u.port is None or u.port > 0
    except ValueError:
        port_ok = False
    if u.scheme not in ("http", "https") or not u.netloc or not port_ok:
        raise UsageError(
            f"--endpoint-url {without_userinfo(url)!r} is not a URL: write e.g. "
            "http://127.0.0.1:9000 or https://s3.example.com"
        )
    if not all(0x21 <= ord(ch) <= 0x7E for ch in url):
        raise UsageError(
            f"--endpoint-url {without_userinfo(url)!r}: only printable US-ASCII, no spaces "
            "(write an international host name in its xn-- form)"
        )


# botocore's rule for a region (a host label), anchored at the very end: its own ``$`` lets a
# trailing newline through into the signature's credential scope.
_REGION = re.compile(r"(?![0-9]+\Z)(?!-)[a-zA-Z0-9-]{1,63}(?<!-)")


def _check_region(region: str | None) -> None:
    """--region goes into the endpoint's host name and every request's signature: a bad one was
    an 'unexpected InvalidRegionError' (several lines with a CR/LF) after the client was made."""
    if region is not None and not _REGION.fullmatch(region):
        raise UsageError(
            f"--region {region!r} is not a region name (letters, digits and '-', e.g. eu-west-1)"
        )


def parse_dest(url: str) -> tuple[str, str]:
    if not url.startswith("s3://"):
        raise UsageError(f"destination {url!r} is not an S3 URL: write s3://BUCKET/KEY")
    rest = url[5:]
    bucket, _, key = rest.partition("/")
    if not bucket:
        raise UsageError(f"destination {url!r} has no bucket: write s3://BUCKET/KEY")
    return bucket, key


def check_put(ns: argparse.Namespace) -> PutArgs:
    """Turn parsed arguments into a checked plan, or raise UsageError (exit 2)."""
    from s3tui.engine.config import ObjectOptions, OptionError, UploadConfig
    from s3tui.engine.plan import DEFAULT_CHUNK, validate_chunk_size
    from s3tui.engine.remote import check_bucket_name

    paths = list(ns.paths)
    from_cmd = ns.from_cmd
    if from_cmd is not None:
        if not from_cmd.strip():
            raise UsageError("--from needs a command, e.g. --from 'pg_dump mydb | gzip'")
        if len(paths) > (0 if ns.bucket else 1):
            raise UsageError(
                "--from CMD is the source: give only DEST, e.g. "
                "`s3tui put --from 'pg_dump mydb | gzip' s3://bucket/key`"
            )
        if not ns.bucket and not paths:
            raise UsageError("put --from CMD needs DEST, e.g. s3://bucket/key")
        paths = ["-", *paths]  # checked as a stream (flags, full key); not read from stdin
    if ns.bucket:
        if not ns.key:
            raise UsageError("--bucket needs --key KEY (or write DEST as s3://BUCKET/KEY)")
        bucket, key = ns.bucket, ns.key
        sources = paths
    else:
        if ns.key:
            raise UsageError("--key needs --bucket BUCKET")
        if len(paths) < 2:
            raise UsageError("put needs SOURCE and DEST, e.g. `s3tui put - s3://bucket/key`")
        bucket, key = parse_dest(paths[-1])
        sources = paths[:-1]
    if not sources:
        raise UsageError("put needs a SOURCE: '-' for stdin")
    try:
        check_bucket_name(bucket)
    except ValueError as e:
        raise UsageError(str(e)) from None
    extra = _check_sources(ns, sources, key)
    _check_region(ns.region)

    _check_endpoint(ns.endpoint_url)
    chunk = _size(ns.chunk_size, "--chunk-size") or DEFAULT_CHUNK
    try:
        validate_chunk_size(chunk)
    except ValueError as e:
        raise UsageError(f"--chunk-size: {e}") from None
    expected = _size(ns.expected_size, "--expected-size")
    min_size = _size(ns.min_size, "--min-size")
    if expected is not None and min_size is not None and min_size > expected:
        raise UsageError("--min-size is larger than --expected-size: no stream can satisfy both")
    max_spool = _size(ns.max_spool, "--max-spool")
    if max_spool is not None and max_spool < chunk:
        raise UsageError(
            f"--max-spool {ns.max_spool} is smaller than one chunk "
            f"({ns.chunk_size or '8MiB'}): raise it or lower --chunk-size"
        )
    if not 1 <= ns.concurrency <= 64:
        raise UsageError("--concurrency must be between 1 and 64")
    cfg_kw: dict[str, Any] = {}
    if ns.retries is not None:
        if ns.retries < 0:
            raise UsageError("--retries must be 0 or more")
        cfg_kw["max_attempts"] = ns.retries + 1
    if ns.timeout_factor is not None:
        if ns.timeout_factor <= 0:
            raise UsageError("--timeout-factor must be positive, e.g. 3")
        cfg_kw["timeout_factor"] = ns.timeout_factor
    bwlimit = _size(ns.bwlimit, "--bwlimit")
    if bwlimit is not None and bwlimit < 64 * 1024:
        raise UsageError("--bwlimit is below 64KB per second: write e.g. --bwlimit 5MB")
    metadata: dict[str, str] = {}
    for item in ns.metadata:
        k, sep, v = item.partition("=")
        if not sep or not k:
            raise UsageError(f"--metadata {item!r}: write KEY=VALUE")
        metadata[k] = v
    if ns.sse_kms_key_id and ns.sse not in ("aws:kms", "aws:kms:dsse"):
        raise UsageError("--sse-kms-key-id needs --sse aws:kms")
    spool_dir = Path(ns.spool_dir).expanduser() if ns.spool_dir else None
    if spool_dir is not None and spool_dir.exists() and not spool_dir.is_dir():
        raise UsageError(f"--spool-dir {spool_dir} is not a directory")
    stats = Path(ns.stats_file).expanduser() if ns.stats_file else None
    if stats is not None and not stats.parent.is_dir():
        raise UsageError(f"--stats-file: directory {stats.parent} does not exist")
    if ns.tui and ns.no_tui:
        raise UsageError("--tui and --no-tui contradict each other: pick one")
    tui = not extra.get("dry_run") and want_dashboard(
        ns.tui, ns.no_tui, stdin_is_data=sources == ["-"] and from_cmd is None
    )

    try:
        cfg = UploadConfig(
            concurrency=ns.concurrency,
            chunk_size=chunk,
            max_spool=max_spool,
            spool_dir=spool_dir,
            expected_size=expected,
            min_size=min_size,
            bwlimit=bwlimit,
            **cfg_kw,
        )
        options = ObjectOptions(
            content_type=ns.content_type,
            acl=ns.acl,
            sse=ns.sse,
            sse_kms_key_id=ns.sse_kms_key_id,
            storage_class=ns.storage_class,
            metadata=metadata,
        )
    except OptionError as e:
        raise _usage(e, ns) from None
    return PutArgs(
        sources,
        bucket,
        key,
        ns.endpoint_url,
        ns.region,
        ns.profile,
        cfg,
        options,
        tui=tui,
        json=ns.json,
        quiet=ns.quiet,
        stats_file=stats,
        extra=extra,
        from_cmd=from_cmd,
    )


def _check_sources(ns: argparse.Namespace, sources: list[str], key: str) -> dict[str, Any]:
    """Stdin needs a full key; files and directories must exist (exit 2 otherwise). Returns the
    tree options for :func:`run_tree` (empty for stdin)."""
    tree_flags = {
        "--include": bool(ns.include),
        "--exclude": bool(ns.exclude),
        "--follow-symlinks": ns.follow_symlinks,
        "--skip-existing": ns.skip_existing,
        "--dry-run": ns.dry_run,
    }
    if sources == ["-"]:
        used = [flag for flag, on in tree_flags.items() if on]
        if used:
            raise UsageError(f"{used[0]} applies to files and directories, not to stdin or --from")
        if not key or key.endswith("/"):
            raise UsageError("a stream needs a full key: write s3://BUCKET/path/name, not a prefix")
        if not _stdin_open():
            raise UsageError(
                "stdin is closed: pipe the data in (e.g. `pg_dump db | s3tui put - s3://b/k`), "
                "or name a file instead of '-'"
            )
        return {}
    if "-" in sources:
        raise UsageError("'-' (stdin) cannot be combined with other sources")
    for flag, value in (("--expected-size", ns.expected_size), ("--min-size", ns.min_size)):
        if value is not None:
            raise UsageError(f"{flag} applies to streams (stdin) only, not to files")
    from s3tui.engine.walk import SourceError, check_sources

    try:
        check_sources(sources)
    except SourceError as e:
        raise UsageError(str(e)) from None
    return {
        "include": tuple(ns.include),
        "exclude": tuple(ns.exclude),
        "follow_symlinks": ns.follow_symlinks,
        "skip_existing": ns.skip_existing,
        "dry_run": ns.dry_run,
    }


def _stdin_open() -> bool:
    """Whether there is a stdin to read (``<&-`` closes it; Python then sets sys.stdin None)."""
    if sys.stdin is None:
        return False
    try:
        os.fstat(0)
    except OSError:
        return False
    return True


def want_dashboard(tui_flag: bool, no_tui: bool, stdin_is_data: bool) -> bool:
    """Dashboard in a terminal; headless with stdin piped (unless --tui), for cron, or --no-tui."""
    if no_tui or (stdin_is_data and not tui_flag):
        return False  # decided without importing the dashboard package (start-up time)
    from s3tui.tui.terminal import terminal_available

    if tui_flag:
        if not terminal_available():
            raise UsageError("--tui needs a terminal, and there is none (cron, CI?): drop --tui")
        return True
    return os.isatty(2) and terminal_available()


def _remote(args: PutArgs, quick: bool = False) -> object:
    """The destination, with a journal of the uploads this run opens (for `s3tui cleanup`).

    ``quick``: the job may start with small PutObjects, which a template remembered from an
    earlier run can send before botocore is imported (see engine/remote/templates.py).
    """
    from s3tui.engine.gate import LIGHT_PER_SLOT
    from s3tui.engine.journal import Journal, orphans
    from s3tui.engine.remote import RemoteError, open_remote

    left = orphans()
    if left and not args.quiet:
        n = len(left)
        print(
            f"s3tui: note: {n} multipart upload{'s' if n != 1 else ''} left open by killed runs "
            "(storage is billed until aborted): `s3tui cleanup` aborts them",
            file=sys.stderr,
        )
    journal = Journal(endpoint=args.endpoint_url, region=args.region, profile=args.profile)
    try:
        return open_remote(
            args.bucket,
            endpoint_url=args.endpoint_url,
            region=args.region,
            profile=args.profile,
            # Light requests (small files, heads) run up to 4 per slot.
            max_connections=LIGHT_PER_SLOT * args.config.concurrency + 4,
            journal=journal,
            quick=quick,
        )
    except RemoteError as e:
        raise S3tuiError(str(e)) from None


def run_put(args: PutArgs) -> int:
    if args.sources != ["-"]:
        return run_tree(args)
    from s3tui.drive import drive_job
    from s3tui.engine.stream import StreamUpload  # not for trees: ~6 ms of their start-up

    if args.from_cmd is not None:
        return run_from(args)
    source_fd = sys.stdin.fileno()
    if args.tui:
        from s3tui.tui.terminal import swap_tty_onto_stdin

        # Keys come from the terminal on fd 0; the piped data is read from a duplicate.
        source_fd = swap_tty_onto_stdin()
    stats = _open_stats(args.stats_file)
    remote = _remote(args)
    job = StreamUpload(
        source_fd=source_fd,
        remote=remote,
        key=args.key,
        cfg=args.config,
        options=args.options,
        on_record=[stats] if stats else None,
    )
    try:
        return drive_job(job, tui=args.tui, json_lines=args.json, quiet=args.quiet)
    finally:
        _close_stats(stats)


def _open_stats(path: Path | None) -> Any:
    """The --stats-file sink, opened before any request: a path that cannot be written is a
    usage error (it was an 'unexpected IsADirectoryError' after the client was made)."""
    if path is None:
        return None
    from s3tui.engine.stats import StatsFile

    try:
        return StatsFile(path)
    except OSError as e:
        raise UsageError(f"--stats-file {path}: {e.strerror}: pass a writable file") from None


def _close_stats(stats: Any) -> None:
    """Close the sink; a write that failed during the run is a warning (the upload stands)."""
    if stats is None:
        return
    stats.close()
    if stats.error is not None:
        print(
            f"s3tui: warning: --stats-file {stats.path}: writing failed ({stats.error}); "
            "its records are incomplete",
            file=sys.stderr,
        )


def run_from(args: PutArgs) -> int:
    """``put --from CMD``: the stream is CMD's stdout, and only its exit 0 lets the upload
    complete (a pipe cannot tell a finished producer from a dead one)."""
    import subprocess

    from s3tui.drive import drive_job
    from s3tui.engine.producer import CommandProducer, command_label
    from s3tui.engine.stats import StatsFile
    from s3tui.engine.stream import StreamUpload

    assert args.from_cmd is not None
    # The command may read s3tui's stdin (`--from 'gzip -c' < dump.sql`), but not a terminal:
    # the dashboard reads its keys there, and a command in a session of its own cannot prompt.
    cmd_stdin = subprocess.DEVNULL
    if _readable(0) and not os.isatty(0):
        cmd_stdin = 0
        if args.tui:
            from s3tui.tui.terminal import swap_tty_onto_stdin

            cmd_stdin = swap_tty_onto_stdin()  # the terminal on fd 0 for the keys
    remote = _remote(args)
    producer = CommandProducer(args.from_cmd, stdin=cmd_stdin)
    stats = StatsFile(args.stats_file) if args.stats_file else None
    job = StreamUpload(
        source_fd=producer.stdout_fd,
        remote=remote,
        key=args.key,
        cfg=args.config,
        options=args.options,
        on_record=[stats] if stats else None,
        source_label=command_label(args.from_cmd),
        producer=producer,
    )

    def start() -> None:
        try:
            producer.start(job.progress, job.transfer.stop)
        except OSError as e:
            raise S3tuiError(
                f"cannot run the command with {producer.shell.argv[0]}: {e.strerror or e}"
            ) from None
        finally:
            if cmd_stdin not in (0, subprocess.DEVNULL):
                os.close(cmd_stdin)  # the command has its own copy

    try:
        return drive_job(job, tui=args.tui, json_lines=args.json, quiet=args.quiet, on_start=start)
    finally:
        producer.stop()  # the job stops it on every way out; this covers a failed start
        if stats:
            stats.close()


def _readable(fd: int) -> bool:
    try:
        os.fstat(fd)
    except OSError:
        return False
    return True


def run_tree(args: PutArgs) -> int:
    """Files and directories: a TreeUpload, or with --dry-run only the listing (no S3 at all)."""
    from s3tui.engine.walk import Filter, SourceError

    opts = args.extra
    filt = Filter(include=opts["include"], exclude=opts["exclude"])
    if opts["dry_run"]:
        try:
            return _dry_run(args, filt)
        except SourceError as e:
            raise S3tuiError(str(e)) from None
    from s3tui.drive import drive_job
    from s3tui.engine.tree import TreeUpload

    # --skip-existing starts with HeadObject, which needs botocore anyway.
    stats = _open_stats(args.stats_file)
    try:
        job = TreeUpload(
            args.sources,
            _remote(args, quick=not opts["skip_existing"]),
            args.key,
            args.config,
            args.options,
            filt=filt,
            follow_symlinks=opts["follow_symlinks"],
            skip_existing=opts["skip_existing"],
            on_record=[stats] if stats else None,
            on_file=[stats] if stats else None,
        )
        return drive_job(job, tui=args.tui, json_lines=args.json, quiet=args.quiet)
    finally:
        _close_stats(stats)


def _dry_run(args: PutArgs, filt: Any) -> int:
    """What would go where (stdout), warnings and a total (stderr); exit 1 when some file could
    not be listed, as the real run would."""
    import json

    from s3tui.engine.walk import exact_key, prefix_of, scan
    from s3tui.sizes import format_size

    listing = scan(args.sources, args.key, filt, args.extra["follow_symlinks"])
    target = exact_key(args.key, args.sources) or prefix_of(args.key)
    out, err = sys.stdout, sys.stderr
    for path, why in listing.warnings:
        if args.json:
            print(json.dumps({"type": "warning", "path": path, "reason": why}), file=err)
        else:
            print(f"s3tui: warning {path}: {why}", file=err)
    for e in listing.entries:
        if args.json:
            row = {"type": "dry-run", "path": e.path, "key": e.key, "size": e.size}
            print(json.dumps(row, ensure_ascii=False), file=out)
        else:
            print(f"{e.size:>14}  {e.path} -> s3://{args.bucket}/{e.key}", file=out)
    for path, why in listing.failures:
        print(f"s3tui: error: {path}: {why}", file=err)
    n, total = len(listing.entries), listing.total_size
    if args.json:
        summary = {"type": "summary", "dry_run": True, "files": n, "bytes": total}
        print(json.dumps({**summary, "failed": len(listing.failures)}), file=err)
    elif not args.quiet:
        print(
            f"s3tui: dry run: {n} file{'s' if n != 1 else ''}, {format_size(total)} would be "
            f"uploaded to s3://{args.bucket}/{target}; nothing was sent",
            file=err,
        )
    return 1 if listing.failures else 0


def main(argv: list[str] | None = None) -> int:
    # No cyclic GC while botocore is imported and its models parsed: start-up allocates many
    # long-lived objects and collections of them were ~45 ms of a ~220 ms start-up. drive_job
    # freezes what exists by then and turns the GC back on; the finally covers every other path.
    gc_was_enabled = gc.isenabled()
    gc.disable()
    parser = build_parser()
    try:
        ns = parser.parse_args(argv)
        if ns.command == "put":
            return run_put(check_put(ns))
        if ns.command == "cleanup":
            from s3tui.cleanup import run_cleanup

            _check_region(ns.region)
            _check_endpoint(ns.endpoint_url)

            return run_cleanup(
                dry_run=ns.dry_run,
                endpoint_url=ns.endpoint_url,
                region=ns.region,
                profile=ns.profile,
            )
        if ns.command == "ps":
            from s3tui.live.ps import run_ps

            return run_ps(show_all=ns.all, as_json=ns.json)
        if ns.command == "watch":
            from s3tui.live.follow import run_watch

            return run_watch(ns.id, no_tui=ns.no_tui, json_lines=ns.json, quiet=ns.quiet)
        if ns.command == "demo":
            from s3tui.demo import run_demo

            try:
                size = parse_size(ns.size)
            except ValueError as e:
                raise UsageError(f"--size: {e}") from None
            # Like put: the dashboard in a terminal, headless without one or with --no-tui.
            tui = want_dashboard(False, ns.no_tui, stdin_is_data=not os.isatty(0))
            return run_demo(size=size, tui=tui)
        parser.print_help(sys.stderr)
        return 2
    except S3tuiError as e:
        print(f"s3tui: error: {without_userinfo(str(e))}", file=sys.stderr)
        return e.exit_code
    except KeyboardInterrupt:
        print("s3tui: interrupted", file=sys.stderr)
        return EXIT_SIGINT
    except BrokenPipeError:
        os._exit(1)
    except Exception as e:  # a bug: one line for the user, the traceback on request
        if os.environ.get("S3TUI_DEBUG"):
            raise
        print(
            f"s3tui: error: unexpected {type(e).__name__}: {without_userinfo(str(e))} (set "
            "S3TUI_DEBUG=1 for a "
            "traceback, and please report it)",
            file=sys.stderr,
        )
        return 1
    finally:
        if gc_was_enabled:
            gc.enable()
