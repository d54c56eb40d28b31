"""The ``s3tui`` command line's argument table: every subcommand, option and help text.

Parsing only: what the values mean and whether they can work is checked in
:mod:`s3tui.put_args` (and the config objects it builds). A parse error is one line, exit 2.
"""

from __future__ import annotations

import argparse
from typing import NoReturn

from s3tui import __version__
from s3tui.engine.checksums import CHOICES as CHECKSUM_CHOICES
from s3tui.engine.checksums import FULL_OBJECT_TYPES
from s3tui.errors import UsageError

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
    put.add_argument(
        "--resume",
        action="store_true",
        help="a stream: continue the upload a killed run left open for DEST, skipping the parts "
        "already stored that the stream produces again byte for byte (zfs send of a snapshot, "
        "tar of a frozen tree); from the first part that differs on, parts are sent",
    )
    put.add_argument("--bucket", help="destination bucket (instead of DEST)")
    put.add_argument("--key", help="destination key (with --bucket)")
    g = put.add_argument_group(
        "endpoint and credentials",
        "--endpoint-url, --region, --profile, --chunk-size, --concurrency, --spool-dir, "
        "--max-spool, --bwlimit and --patience may also come from the config file "
        "(`s3tui config path`): --store NAME's table, then its [defaults]; the command line wins.",
    )
    g.add_argument(
        "--store",
        metavar="NAME",
        help="take unset options from [stores.NAME] in the config file, then its [defaults]",
    )
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
        default=None,  # None: not given, so the config file may set it
        metavar="N",
        help="parts in flight, pinned (default: start at 8 and tune it while running, 1-64, "
        "to what the link carries); files up to 1 MiB count a quarter each",
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
    g.add_argument(
        "--patience",
        metavar="DURATION",
        help="how long an unreachable endpoint is waited out (probing it; a stream stops "
        "reading meanwhile) before the upload gives up, e.g. 30m, 2h (default 1h)",
    )
    g.add_argument("--bwlimit", metavar="RATE", help="cap the upload rate, e.g. 20MB (per second)")
    g = put.add_argument_group("integrity")
    g.add_argument(
        "--checksum",
        choices=CHECKSUM_CHOICES,
        help="checksum sent with every part and verified at completion (default crc32c; md5 "
        "is Content-MD5; none checks sizes only). Given here, a store remembered to refuse "
        "checksum headers is probed again",
    )
    g.add_argument(
        "--checksum-type",
        choices=FULL_OBJECT_TYPES,
        help="what S3 keeps for a multipart object with a CRC: a checksum of the whole object "
        "(full-object; crc64nvme always) or of its parts' checksums (composite; the default "
        "for crc32c and crc32)",
    )
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
    g.add_argument(
        "--tags",
        action="append",
        default=[],
        metavar="K=V",
        help="object tags (repeatable; at most 10, key up to 128 and value up to 256 characters)",
    )
    g.add_argument(
        "--no-clobber",
        action="store_true",
        help="never replace an existing object (a conditional write, If-None-Match: *): an "
        "existing key fails, and its object stays as it was",
    )
    g.add_argument(
        "--object-lock-mode",
        type=str.upper,
        choices=("GOVERNANCE", "COMPLIANCE"),
        help="retention (WORM) for the object, with --retain-until or --retain-for; the "
        "bucket must have object lock enabled",
    )
    g.add_argument(
        "--retain-until",
        metavar="DATE",
        help="retention end, ISO 8601 (2027-01-31, 2027-01-31T12:00:00+01:00; no zone: UTC)",
    )
    g.add_argument("--retain-for", metavar="SPAN", help="retention from now, e.g. 30d, 12w, 36h")
    g.add_argument("--legal-hold", action="store_true", help="put a legal hold on the object")
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
    g.add_argument(
        "--no-resume",
        action="store_true",
        help="start over: send every file again, aborting uploads of these keys that killed "
        "runs of s3tui left open (default: a rerun after an interruption continues it)",
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
    g.add_argument(
        "--metrics-file",
        metavar="PATH",
        help="at the end, whatever the outcome, write the run's result (success, exit code, "
        "bytes, duration, retries, end time) in the Prometheus text format, atomically, for "
        "node_exporter's textfile collector (name it *.prom)",
    )

    cleanup = sub.add_parser(
        "cleanup",
        help="abort multipart uploads that killed runs left open, and delete their spool files",
        description="s3tui notes each multipart upload it opens until it is completed or "
        "aborted. A run killed with SIGKILL (OOM killer, reboot) cannot abort its upload: this "
        "aborts those whose process is gone, with the endpoint, region and profile they used. "
        "It knows only this host's own runs: `s3tui uploads ls|abort s3://BUCKET[/PREFIX]` "
        "finds every incomplete upload in a bucket, whoever left it. "
        "An aborted upload can no longer be resumed by rerunning its put.",
    )
    cleanup.add_argument(
        "--dry-run", action="store_true", help="list them; abort nothing, delete nothing"
    )
    cleanup.add_argument("--endpoint-url", metavar="URL", help="override the noted endpoint")
    cleanup.add_argument("--region", help="override the noted region")
    cleanup.add_argument("--profile", help="override the noted AWS profile")

    _add_uploads(sub)

    ps = sub.add_parser("ps", help="list the uploads running for this user on this host")
    ps.add_argument("-a", "--all", action="store_true", help="add finished ones (last 3 days)")
    ps.add_argument("--json", action="store_true", help="one JSON array on stdout")
    watch = sub.add_parser("watch", help="follow a running upload (started anywhere, any mode)")
    watch.add_argument(
        "id", nargs="?", metavar="ID", help="from `s3tui ps` (none: the only one, else a choice)"
    )
    watch.add_argument("--no-tui", action="store_true", help="progress lines on stderr")
    watch.add_argument("--json", action="store_true", help="progress lines as JSON objects")
    watch.add_argument("-q", "--quiet", action="store_true", help="only the result")
    config = sub.add_parser(
        "config",
        help="where the config file is, and the values it gives",
        description="The config file (TOML) holds [defaults] and [stores.NAME] tables whose keys "
        "are put's long options with '_' for '-': endpoint_url, region, profile, chunk_size, "
        "concurrency, spool_dir, max_spool, bwlimit, patience. No credentials.",
    )
    config_sub = config.add_subparsers(
        dest="config_command", metavar="COMMAND", parser_class=_Parser, required=True
    )
    config_sub.add_parser("path", help="print the config file's path")
    show = config_sub.add_parser(
        "show", help="the effective values and where each comes from (never a secret)"
    )
    show.add_argument("--store", metavar="NAME", help="with [stores.NAME] over the defaults")

    _add_verify(sub)
    demo = sub.add_parser(
        "demo", help="a first run: local S3 server, a slow stream with faults, the dashboard"
    )
    demo.add_argument("--no-tui", action="store_true", help="headless: progress on stderr")
    demo.add_argument("--size", default="120MiB", metavar="SIZE", help="stream size (120MiB)")
    return p


def _add_verify(sub: argparse._SubParsersAction) -> None:
    v = sub.add_parser(
        "verify",
        help="check that stored objects hold the local bytes (stored checksums, else download)",
        description="Check LOCAL (a file, or a directory's files, mapped to keys as `s3tui put "
        "LOCAL DEST` maps them) against the objects at DEST. A stored checksum (CRC32C, "
        "CRC64NVME, CRC32, SHA-256, SHA-1) or an MD5 ETag decides without a download; else the "
        "object is streamed and compared. Exit 0: all match; 1: one differs, is missing or "
        "could not be checked; 2: bad input. Objects under the prefix with no local file are "
        "listed as 'only in S3' and do not fail the check.",
    )
    v.add_argument("local", metavar="LOCAL", help="a file or a directory")
    v.add_argument("dest", metavar="DEST", help="s3://BUCKET/KEY, or s3://BUCKET/prefix/")
    _add_endpoint(v)
    v.add_argument("--include", action="append", default=[], metavar="GLOB", help="as for put")
    v.add_argument("--exclude", action="append", default=[], metavar="GLOB", help="as for put")
    v.add_argument("--follow-symlinks", action="store_true", help="as for put")
    v.add_argument(
        "--concurrency", type=int, default=8, metavar="N", help="files checked at once (8)"
    )
    v.add_argument(
        "--no-download",
        action="store_true",
        help="never download: a file no stored checksum decides is reported as not checked",
    )
    v.add_argument("--json", action="store_true", help="one JSON object per line on stdout")
    v.add_argument("-q", "--quiet", action="store_true", help="no progress, only the table")


def _add_endpoint(p: argparse.ArgumentParser) -> None:
    """Where a command other than put talks to: the same options, the same config file."""
    g = p.add_argument_group(
        "endpoint and credentials",
        "--endpoint-url, --region and --profile may come from the config file (--store NAME, "
        "then [defaults]), as for put",
    )
    g.add_argument("--store", metavar="NAME", help="take unset options from [stores.NAME]")
    g.add_argument("--endpoint-url", metavar="URL", help="S3-compatible endpoint")
    g.add_argument("--region", help="region (default: from the AWS config, else us-east-1)")
    g.add_argument("--profile", help="named profile from ~/.aws/config")


def _add_uploads(sub: argparse._SubParsersAction) -> None:
    """``s3tui uploads ls|abort s3://BUCKET[/PREFIX]``."""
    where = argparse.ArgumentParser(add_help=False)
    where.add_argument(
        "url",
        metavar="s3://BUCKET[/PREFIX]",
        help="the bucket, or the uploads whose key starts with PREFIX",
    )
    _add_endpoint(where)
    where.add_argument("--json", action="store_true", help="one JSON array on stdout")

    uploads = sub.add_parser(
        "uploads",
        help="incomplete multipart uploads in a bucket, whoever left them: list, abort",
        description="Incomplete multipart uploads keep their parts (and their bill) until "
        "completed or aborted. `ls` lists them with the parts and bytes each holds (ListParts); "
        "`abort` aborts them and confirms with ListParts that the parts are gone. Uploads that "
        "s3tui on this host is writing right now are marked and never aborted without --force. "
        "(`s3tui cleanup` settles this host's own killed runs from its journal.)",
    )
    uploads_sub = uploads.add_subparsers(
        dest="uploads_command", metavar="COMMAND", parser_class=_Parser, required=True
    )
    uploads_sub.add_parser(
        "ls",
        parents=[where],
        help="list them: key, initiated, age, parts, bytes held, this host's, upload id",
    )
    abort = uploads_sub.add_parser(
        "abort",
        parents=[where],
        help="abort them (--older-than, --dry-run); exit 1 if one could not be aborted",
    )
    abort.add_argument(
        "--older-than",
        metavar="DURATION",
        help="only uploads initiated at least this long ago by the server's clock, e.g. 7d, "
        "36h, 1d12h, 90m",
    )
    abort.add_argument("--dry-run", action="store_true", help="list what would be aborted")
    abort.add_argument(
        "--force",
        action="store_true",
        help="also abort uploads that s3tui on this host is writing right now (they fail)",
    )
