"""``s3tui put`` once its arguments are checked: a stream (stdin or ``--from CMD``'s output), or
files and directories (or only their listing, ``--dry-run``), run headless or in the dashboard.

boto3/botocore and Textual are imported here only when a job needs them (start-up time).
"""

from __future__ import annotations

import os
import sys
from pathlib import Path
from typing import TYPE_CHECKING

from s3tui.errors import S3tuiError, UsageError

if TYPE_CHECKING:
    from collections.abc import Callable

    from s3tui.engine.config import UploadConfig
    from s3tui.engine.job import Result, UploadJob
    from s3tui.engine.journal import Journal
    from s3tui.engine.remote import Remote
    from s3tui.engine.stats import StatsFile
    from s3tui.engine.stream_resume import ResumeFrom
    from s3tui.engine.walk import Filter
    from s3tui.put_args import PutArgs


def run_put(args: PutArgs, on_done: Callable[[Result], None] | None = None) -> int:
    """``on_done`` gets the job's result once it has one (``--metrics-file`` writes it)."""
    if args.sources != ["-"]:
        return run_tree(args, on_done)
    if args.from_cmd is not None:
        return run_from(args, args.from_cmd, on_done)
    return run_stdin(args, on_done)


def run_stdin(args: PutArgs, on_done: Callable[[Result], None] | None = None) -> int:
    """``put - DEST``: the stream is stdin."""
    from s3tui.drive import drive_job
    from s3tui.engine.stream import StreamUpload  # not for trees: ~6 ms of their start-up

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
        resume=_resume_from(args),
    )
    try:
        return drive_job(
            job,
            tui=args.tui,
            json_lines=args.json,
            quiet=args.quiet,
            on_start=_checksum_notices(remote, job),
            on_done=on_done,
        )
    finally:
        _close_stats(stats)


def _checksum_notices(remote: Remote, job: UploadJob) -> Callable[[], None]:
    """Once the output listens: a checksum fallback (found now or remembered) is one warning
    line in the output and the retry log."""
    from s3tui.engine.progress import EventKind

    def start() -> None:
        remote.support.set_listener(
            lambda line: job.progress.event(EventKind.WARNING, "checksum", reason=line)
        )

    return start


def run_from(args: PutArgs, command: str, on_done: Callable[[Result], None] | None = None) -> int:
    """``put --from CMD``: the stream is CMD's stdout, and only its exit 0 lets the upload
    complete (a pipe cannot tell a finished producer from a dead one)."""
    import subprocess

    from s3tui.drive import drive_job
    from s3tui.engine.producer import CommandProducer, command_label
    from s3tui.engine.stream import StreamUpload

    stats = _open_stats(args.stats_file)
    cmd_stdin = _command_stdin(args.tui)
    remote = _remote(args)
    producer = CommandProducer(command, stdin=cmd_stdin)
    job = StreamUpload(
        source_fd=producer.stdout_fd,
        remote=remote,
        key=args.key,
        cfg=args.config,
        options=args.options,
        on_record=[stats] if stats else None,
        source_label=command_label(command),
        producer=producer,
        resume=_resume_from(args),
    )

    notices = _checksum_notices(remote, job)

    def start() -> None:
        notices()
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
        return drive_job(
            job,
            tui=args.tui,
            json_lines=args.json,
            quiet=args.quiet,
            on_start=start,
            on_done=on_done,
        )
    finally:
        producer.stop()  # the job stops it on every way out; this covers a failed start
        _close_stats(stats)


def _command_stdin(tui: bool) -> int:
    """The --from command's stdin: s3tui's (`--from 'gzip -c' < dump.sql`), but not a terminal:
    the dashboard reads its keys there, and a command in a session of its own cannot prompt."""
    import subprocess

    if not _readable(0) or os.isatty(0):
        return subprocess.DEVNULL
    if tui:
        from s3tui.tui.terminal import swap_tty_onto_stdin

        return swap_tty_onto_stdin()  # the terminal on fd 0 for the keys
    return 0


def _readable(fd: int) -> bool:
    try:
        os.fstat(fd)
    except OSError:
        return False
    return True


def run_tree(args: PutArgs, on_done: Callable[[Result], None] | None = None) -> int:
    """Files and directories: a TreeUpload, or with --dry-run only the listing (no S3 at all)."""
    from s3tui.engine.walk import Filter, SourceError

    opts = args.tree
    filt = Filter(include=opts.include, exclude=opts.exclude)
    if opts.dry_run:
        try:
            return _dry_run(args, filt)
        except SourceError as e:
            raise S3tuiError(str(e)) from None
    from s3tui.drive import drive_job
    from s3tui.engine.tree import TreeUpload

    # --skip-existing starts with HeadObject, which needs botocore anyway.
    stats = _open_stats(args.stats_file)
    journal = _journal(args)
    try:
        remote = _remote(args, quick=not opts.skip_existing, journal=journal)
        job = TreeUpload(
            args.sources,
            remote,
            args.key,
            args.config,
            args.options,
            filt=filt,
            follow_symlinks=opts.follow_symlinks,
            skip_existing=opts.skip_existing,
            on_record=[stats] if stats else None,
            on_file=[stats] if stats else None,
            journal=journal,
            resume=opts.resume,
        )
        return drive_job(
            job,
            tui=args.tui,
            json_lines=args.json,
            quiet=args.quiet,
            on_start=_checksum_notices(remote, job),
            on_done=on_done,
        )
    finally:
        _close_stats(stats)


def _dry_run(args: PutArgs, filt: Filter) -> int:
    """What would go where (stdout), warnings and a total (stderr); exit 1 when some file could
    not be listed, as the real run would."""
    import json

    from s3tui.engine.walk import exact_key, prefix_of, scan
    from s3tui.sizes import format_size

    listing = scan(args.sources, args.key, filt, args.tree.follow_symlinks)
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


def _journal(args: PutArgs) -> Journal:
    from s3tui.engine.journal import Journal

    return Journal(endpoint=args.endpoint_url, region=args.region, profile=args.profile)


def _resume_from(args: PutArgs) -> ResumeFrom | None:
    """With --resume, where the stream's job looks for the upload to continue. Without it, a
    dead run's upload of the same key is pointed at (once), and left as it is."""
    from s3tui.engine.journal import left_open
    from s3tui.engine.stream_resume import ResumeFrom

    if args.resume:
        return ResumeFrom(args.endpoint_url)
    if left_open(args.endpoint_url, args.bucket, args.key) and not args.quiet:
        print(
            f"s3tui: note: a killed run left its upload of s3://{args.bucket}/{args.key} open: "
            "`--resume` continues it if the stream can be produced again byte for byte "
            "(`s3tui cleanup` drops it); uploading it whole",
            file=sys.stderr,
        )
    return None


def _remote(args: PutArgs, quick: bool = False, journal: Journal | None = None) -> Remote:
    """The destination, with a journal of the uploads this run opens (for `s3tui cleanup`, and
    for a rerun to resume).

    ``quick``: the job may start with small PutObjects, which a template remembered from an
    earlier run can send before botocore is imported (see engine/remote/templates.py).
    """
    from s3tui.engine.gate import LIGHT_PER_SLOT
    from s3tui.engine.journal import orphans
    from s3tui.engine.remote import RemoteError, open_remote

    left = orphans()
    if args.sources == ["-"]:  # the stream's own key has a line of its own (_resume_from)
        left = [(p, e) for p, e in left if (e.bucket, e.key) != (args.bucket, args.key)]
    if left and not args.quiet:
        n = len(left)
        print(
            f"s3tui: note: {n} multipart upload{'s' if n != 1 else ''} left open by killed runs "
            "(storage is billed until aborted): rerunning the same `s3tui put` of files resumes "
            "them; `s3tui cleanup` aborts them",
            file=sys.stderr,
        )
    journal = journal or _journal(args)
    try:
        remote = open_remote(
            args.bucket,
            endpoint_url=args.endpoint_url,
            region=args.region,
            profile=args.profile,
            # Light requests (small files, heads) run up to 4 per slot.
            max_connections=LIGHT_PER_SLOT * _most_in_flight(args.config) + 4,
            journal=journal,
            quick=quick,
            checksum=args.checksum,
            reprobe=args.checksum_explicit,
        )
    except RemoteError as e:
        raise S3tuiError(str(e)) from None
    if args.options.object_lock:
        _check_object_lock(remote)
    return remote


def _check_object_lock(remote: Remote) -> None:
    """Object lock asked for: the bucket must allow it, said before anything is read or sent
    (the server's own refusal comes only at the first PutObject, or at the complete)."""
    from s3tui.engine.remote import classify
    from s3tui.engine.remote.errors import no_object_lock

    try:
        enabled = remote.object_lock_enabled()
    except Exception as e:
        raise S3tuiError(classify(e, remote.bucket, "", remote.endpoint).message) from None
    if enabled is False:
        raise S3tuiError(no_object_lock(remote.bucket))


def _most_in_flight(cfg: UploadConfig) -> int:
    """Slots the job may use: tuned concurrency may climb to 64."""
    return 64 if cfg.auto_concurrency else cfg.concurrency


def _open_stats(path: Path | None) -> StatsFile | None:
    """The --stats-file sink, opened before any request: a path that cannot be written is a
    usage error (it was an 'unexpected IsADirectoryError' after the client was made)."""
    if path is None:
        return None
    from s3tui.engine.stats import StatsFile

    try:
        return StatsFile(path)
    except OSError as e:
        raise UsageError(f"--stats-file {path}: {e.strerror}: pass a writable file") from None


def _close_stats(stats: StatsFile | None) -> None:
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
