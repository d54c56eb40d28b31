"""``s3tui put``'s parsed arguments turned into a checked plan, :class:`PutArgs`, or a UsageError.

Everything a user can get wrong on the command line is found here, before a byte of stdin is
read, and reported as one line with exit code 2. The values of the upload and the object are
checked by the config objects themselves (``UploadConfig`` and ``ObjectOptions`` raise
``OptionError``), whose error is told here in the option's words; what is left here is what
they cannot know: the destination and the sources, the endpoint and region, the command-line
spellings (sizes, KEY=VALUE), the local paths, and which options go together.
"""

from __future__ import annotations

import argparse
import os
import re
import sys
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import TYPE_CHECKING
from urllib.parse import urlparse

from s3tui.durations import LONGEST_WAIT, parse_duration
from s3tui.engine.checksums import DEFAULT as DEFAULT_CHECKSUM
from s3tui.engine.checksums import Checksum
from s3tui.engine.redact import without_userinfo
from s3tui.errors import UsageError
from s3tui.sizes import parse_size

if TYPE_CHECKING:  # the config module is imported once put's arguments are checked
    from s3tui.engine.config import ObjectOptions, OptionError, UploadConfig


@dataclass(frozen=True)
class TreeOptions:
    """How files and directories are walked and sent; all off for a stream."""

    include: tuple[str, ...] = ()
    exclude: tuple[str, ...] = ()
    follow_symlinks: bool = False
    skip_existing: bool = False
    dry_run: bool = False  # list what would go where; send nothing
    resume: bool = True  # continue what an interrupted run of the same command left


@dataclass(frozen=True)
class PutArgs:
    """A checked ``s3tui put``: what is sent where, how, and how the run is shown."""

    sources: list[str]  # ["-"] for a stream: stdin, or the output of from_cmd
    bucket: str
    key: str  # a full key for a stream; a key or a prefix for files
    endpoint_url: str | None
    region: str | None
    profile: str | None
    config: UploadConfig
    options: ObjectOptions
    tree: TreeOptions
    from_cmd: str | None  # put --from CMD: the stream is CMD's stdout
    resume: bool  # a stream continues the upload a killed run left open for the key
    tui: bool  # the dashboard, else headless
    json: bool
    quiet: bool
    stats_file: Path | None
    metrics_file: Path | None = None  # put --metrics-file: the run's result for Prometheus
    checksum: Checksum = DEFAULT_CHECKSUM
    # --checksum on the command line (not from the config file): probe the store again even
    # if it was remembered to refuse checksum headers.
    checksum_explicit: bool = False


def check_put(ns: argparse.Namespace) -> PutArgs:
    """Turn parsed arguments into a checked plan, or raise UsageError (exit 2)."""
    sources, bucket, key = _destination(ns)
    check_bucket(bucket)
    tree = _check_sources(ns, sources, key)
    check_region(ns.region)
    check_endpoint(ns.endpoint_url)
    config = _upload_config(ns)
    options = _object_options(ns)
    stats = _stats_path(ns.stats_file)
    checksum = _checksum(ns)
    stdin_is_data = sources == ["-"] and ns.from_cmd is None
    tui = _dashboard(ns, stdin_is_data, tree.dry_run)
    return PutArgs(
        sources=sources,
        bucket=bucket,
        key=key,
        endpoint_url=ns.endpoint_url,
        region=ns.region,
        profile=ns.profile,
        config=config,
        options=options,
        tree=tree,
        from_cmd=ns.from_cmd,
        resume=ns.resume,
        tui=tui,
        json=ns.json,
        quiet=ns.quiet,
        stats_file=stats,
        metrics_file=_metrics_path(ns.metrics_file, tree.dry_run),
        checksum=checksum,
        checksum_explicit=ns.checksum is not None and "checksum" not in _origins(ns),
    )


def _origins(ns: argparse.Namespace) -> dict[str, str]:
    return getattr(ns, "origins", {})


def _checksum(ns: argparse.Namespace) -> Checksum:
    from s3tui.engine.checksums import choose

    try:
        return choose(ns.checksum, ns.checksum_type)
    except ValueError as e:
        where = {k: f" (from {v})" for k, v in _origins(ns).items()}
        came = where.get("checksum_type", where.get("checksum", ""))
        raise UsageError(f"--checksum-type {ns.checksum_type}: {e}{came}") from None


# --- where from, where to ---


def _destination(ns: argparse.Namespace) -> tuple[list[str], str, str]:
    """SOURCE... DEST, or SOURCE... --bucket B --key K: the sources, the bucket and the key."""
    paths = _from_paths(ns) if ns.from_cmd is not None else list(ns.paths)
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
    return sources, bucket, key


def _from_paths(ns: argparse.Namespace) -> list[str]:
    """``--from CMD`` is the source: DEST alone may follow. The command's output is checked as a
    stream, so the paths get a '-' in front (it is not read from stdin)."""
    if not ns.from_cmd.strip():
        raise UsageError("--from needs a command, e.g. --from 'pg_dump mydb | gzip'")
    paths = list(ns.paths)
    if len(paths) > (0 if ns.bucket else 1):
        raise UsageError(
            "--from CMD is the source: give only DEST, e.g. "
            "`s3tui put --from 'pg_dump mydb | gzip' s3://bucket/key`"
        )
    if not ns.bucket and not paths:
        raise UsageError("put --from CMD needs DEST, e.g. s3://bucket/key")
    return ["-", *paths]


def parse_dest(url: str) -> tuple[str, str]:
    if not url.startswith("s3://"):
        raise UsageError(f"destination {url!r} is not an S3 URL: write s3://BUCKET/KEY")
    rest = url[5:]
    bucket, _, key = rest.partition("/")
    if not bucket:
        raise UsageError(f"destination {url!r} has no bucket: write s3://BUCKET/KEY")
    return bucket, key


def check_bucket(bucket: str) -> None:
    from s3tui.engine.remote import check_bucket_name

    try:
        check_bucket_name(bucket)
    except ValueError as e:
        raise UsageError(str(e)) from None


def _check_sources(ns: argparse.Namespace, sources: list[str], key: str) -> TreeOptions:
    """Stdin needs a full key; files and directories must exist. Returns how the files are
    walked (all off for a stream)."""
    if sources == ["-"]:
        _check_stream(ns, key)
        return TreeOptions()
    return _check_files(ns, sources)


def _check_stream(ns: argparse.Namespace, key: str) -> None:
    tree_flags = {
        "--include": bool(ns.include),
        "--exclude": bool(ns.exclude),
        "--follow-symlinks": ns.follow_symlinks,
        "--skip-existing": ns.skip_existing,
        "--dry-run": ns.dry_run,
        "--no-resume": ns.no_resume,
    }
    used = [flag for flag, on in tree_flags.items() if on]
    if used:
        raise UsageError(f"{used[0]} applies to files and directories, not to stdin or --from")
    if not key or key.endswith("/"):
        raise UsageError("a stream needs a full key: write s3://BUCKET/path/name, not a prefix")
    if not ns.from_cmd and not _stdin_open():  # with --from, stdin is only the command's
        raise UsageError(
            "stdin is closed: pipe the data in (e.g. `pg_dump db | s3tui put - s3://b/k`), "
            "or name a file instead of '-'"
        )


def _check_files(ns: argparse.Namespace, sources: list[str]) -> TreeOptions:
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
    return TreeOptions(
        include=tuple(ns.include),
        exclude=tuple(ns.exclude),
        follow_symlinks=ns.follow_symlinks,
        skip_existing=ns.skip_existing,
        dry_run=ns.dry_run,
        resume=not ns.no_resume,
    )


def _stdin_open() -> bool:
    """Whether there is a stdin to read (``<&-`` closes it; Python then sets sys.stdin None)."""
    if sys.stdin is None:
        return False
    try:
        os.fstat(0)
    except OSError:
        return False
    return True


# --- the endpoint (put and cleanup) ---


def check_endpoint(url: str | None) -> None:
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


def check_region(region: str | None) -> None:
    """--region goes into the endpoint's host name and every request's signature: a bad one was
    an 'unexpected InvalidRegionError' (several lines with a CR/LF) after the client was made."""
    if region is not None and not _REGION.fullmatch(region):
        raise UsageError(
            f"--region {region!r} is not a region name (letters, digits and '-', e.g. eu-west-1)"
        )


# --- the upload and the object: parsed here, checked by the config objects ---


def _upload_config(ns: argparse.Namespace) -> UploadConfig:
    """Sizes, limits, retries and deadlines. UploadConfig checks the values; only what it cannot
    say in the option's words (or does not check) is checked here."""
    from s3tui.engine.config import OptionError, UploadConfig
    from s3tui.engine.plan import DEFAULT_CHUNK

    chunk = _size(ns.chunk_size, "--chunk-size")
    expected = _size(ns.expected_size, "--expected-size")
    min_size = _size(ns.min_size, "--min-size")
    if expected is not None and min_size is not None and min_size > expected:
        # UploadConfig refuses it too, but names the 10,000-part limit as the reason.
        raise UsageError("--min-size is larger than --expected-size: no stream can satisfy both")
    if ns.retries is not None and ns.retries < 0:
        # Checked here: UploadConfig's max_attempts counts the first try (its "1 or more").
        raise UsageError("--retries must be 0 or more")
    bwlimit = _size(ns.bwlimit, "--bwlimit")
    if bwlimit is not None and bwlimit < 64 * 1024:
        raise UsageError("--bwlimit is below 64KB per second: write e.g. --bwlimit 5MB")
    max_spool = _size(ns.max_spool, "--max-spool")
    spool_dir = _spool_dir(ns.spool_dir)
    patience = _duration(getattr(ns, "patience", None), "--patience", ns)
    try:
        return UploadConfig(
            concurrency=UploadConfig.concurrency if ns.concurrency is None else ns.concurrency,
            # Not pinned (neither the option nor the config file): tuned while running.
            auto_concurrency=ns.concurrency is None,
            chunk_size=DEFAULT_CHUNK if chunk is None else chunk,
            max_spool=max_spool,
            spool_dir=spool_dir,
            expected_size=expected,
            min_size=min_size,
            max_attempts=UploadConfig.max_attempts if ns.retries is None else ns.retries + 1,
            timeout_factor=(
                UploadConfig.timeout_factor if ns.timeout_factor is None else ns.timeout_factor
            ),
            bwlimit=bwlimit,
            patience=UploadConfig.patience if patience is None else patience,
        )
    except OptionError as e:
        raise _usage(e, ns) from None


def _object_options(ns: argparse.Namespace) -> ObjectOptions:
    """What is stored with the object; ObjectOptions checks the header values."""
    from s3tui.engine.config import ObjectOptions, OptionError

    metadata: dict[str, str] = {}
    for item in ns.metadata:
        k, sep, v = item.partition("=")
        if not sep or not k:
            raise UsageError(f"--metadata {item!r}: write KEY=VALUE")
        metadata[k] = v
    tags: dict[str, str] = {}
    for item in ns.tags:
        k, sep, v = item.partition("=")
        if not sep or not k:
            raise UsageError(f"--tags {item!r}: write KEY=VALUE")
        if k in tags:
            raise UsageError(f"--tags: the key {k!r} is given twice (S3 keeps one value per key)")
        tags[k] = v
    mode, until = _retention(ns)
    if ns.sse_kms_key_id and ns.sse not in ("aws:kms", "aws:kms:dsse"):
        raise UsageError("--sse-kms-key-id needs --sse aws:kms")
    try:
        return ObjectOptions(
            content_type=ns.content_type,
            acl=ns.acl,
            sse=ns.sse,
            sse_kms_key_id=ns.sse_kms_key_id,
            storage_class=ns.storage_class,
            metadata=metadata,
            tags=tags,
            no_clobber=ns.no_clobber,
            object_lock_mode=mode,
            retain_until=until,
            legal_hold=getattr(ns, "legal_hold", False),
        )
    except OptionError as e:
        raise _usage(e, ns) from None


def _retention(ns: argparse.Namespace) -> tuple[str | None, datetime | None]:
    """--object-lock-mode with --retain-until DATE or --retain-for SPAN: the mode and the date
    (UTC when the date has no zone), which must lie in the future."""
    mode = getattr(ns, "object_lock_mode", None)
    until_text, span = getattr(ns, "retain_until", None), getattr(ns, "retain_for", None)
    if until_text and span:
        raise UsageError("--retain-until and --retain-for say the same thing: give one")
    if mode is None:
        if until_text or span:
            flag = "--retain-until" if until_text else "--retain-for"
            raise UsageError(f"{flag} needs --object-lock-mode GOVERNANCE or COMPLIANCE")
        return None, None
    now = datetime.now(UTC)
    if span:
        try:
            seconds = parse_duration(span)
        except ValueError:
            raise UsageError(
                f"--retain-for {span!r}: write a span with a unit, e.g. 30d, 12w or 36h"
            ) from None
        if seconds <= 0:
            raise UsageError(f"--retain-for {span!r} is not in the future")
        until = now + timedelta(seconds=seconds)
    elif until_text:
        try:
            until = datetime.fromisoformat(until_text.strip())
        except ValueError:
            raise UsageError(
                f"--retain-until {until_text!r} is not an ISO 8601 date: write e.g. 2027-01-31 "
                "or 2027-01-31T12:00:00Z"
            ) from None
        if until.tzinfo is None:
            until = until.replace(tzinfo=UTC)
        if until <= now:
            raise UsageError(f"--retain-until {until_text!r} is not in the future")
    else:
        raise UsageError(f"--object-lock-mode {mode} needs --retain-until DATE or --retain-for N")
    return mode, until


def _size(value: str | None, flag: str) -> int | None:
    if value is None:
        return None
    try:
        return parse_size(value)
    except ValueError as e:
        raise UsageError(f"{flag}: {e}") from None


def _duration(value: str | None, flag: str, ns: argparse.Namespace) -> float | None:
    if value is None:
        return None
    try:
        return parse_duration(value, bare_seconds=True, longest=LONGEST_WAIT)
    except ValueError as e:
        origin = getattr(ns, "origins", {}).get(flag.lstrip("-").replace("-", "_"))
        source = f" (from {origin})" if origin else ""
        raise UsageError(f"{flag}{source}: {e}") from None


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
    "patience": "--patience",
    "content_type": "--content-type",
    "acl": "--acl",
    "sse": "--sse",
    "sse_kms_key_id": "--sse-kms-key-id",
    "storage_class": "--storage-class",
    "metadata": "--metadata",
    "tags": "--tags",
    "object_lock_mode": "--object-lock-mode",
    "retain_until": "--retain-until",
}


def _usage(e: OptionError, ns: argparse.Namespace) -> UsageError:
    """A config object's OptionError, told in the command line's words: the option as typed."""
    flag = _FLAGS.get(e.name, e.name)
    typed = {"max_attempts": ns.retries}.get(e.name, getattr(ns, e.name, None))
    value = typed if isinstance(typed, str | float | int) and e.name != "metadata" else e.value
    origin = getattr(ns, "origins", {}).get(e.name)  # a value from the config file
    source = f" (from {origin})" if origin else ""
    return UsageError(f"{flag} {value!r}{source}: {e.problem}{_hint(e.name, ns)}")


def _hint(name: str, ns: argparse.Namespace) -> str:
    """What to do, where the config object's words do not say it in the command line's terms."""
    if name == "max_spool":
        return f" ({ns.chunk_size or '8MiB'}): raise it or lower --chunk-size"
    return ""


# --- local paths and output ---


def _spool_dir(value: str | None) -> Path | None:
    spool_dir = Path(value).expanduser() if value else None
    if spool_dir is not None and spool_dir.exists() and not spool_dir.is_dir():
        raise UsageError(f"--spool-dir {spool_dir} is not a directory")
    return spool_dir


def _stats_path(value: str | None) -> Path | None:
    stats = Path(value).expanduser() if value else None
    if stats is not None and not stats.parent.is_dir():
        raise UsageError(f"--stats-file: directory {stats.parent} does not exist")
    return stats


def _metrics_path(value: str | None, dry_run: bool) -> Path | None:
    path = Path(value).expanduser() if value else None
    if path is not None and dry_run:
        raise UsageError("--metrics-file records an upload, and --dry-run sends nothing: drop one")
    if path is not None and not path.parent.is_dir():
        raise UsageError(f"--metrics-file: directory {path.parent} does not exist")
    if path is not None and path.is_dir():
        raise UsageError(f"--metrics-file {path} is a directory: name a file in it (*.prom)")
    return path


def _dashboard(ns: argparse.Namespace, stdin_is_data: bool, dry_run: bool) -> bool:
    if ns.tui and ns.no_tui:
        raise UsageError("--tui and --no-tui contradict each other: pick one")
    return not dry_run and want_dashboard(ns.tui, ns.no_tui, stdin_is_data)


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
