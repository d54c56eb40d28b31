"""The ``s3tui`` command: parse the arguments, run the subcommand, map errors to exit codes.

The argument table is :mod:`s3tui.args`; ``put``'s checks (everything a user can get wrong is
reported before a byte of stdin is read, as one line with exit code 2) are
:mod:`s3tui.put_args`, and its runners :mod:`s3tui.put`. Heavy imports (boto3, Textual) happen
only after the checks, and Textual only when the dashboard is actually shown.
"""

from __future__ import annotations

import argparse
import gc
import os
import sys

from s3tui.args import build_parser
from s3tui.engine.redact import without_userinfo
from s3tui.errors import EXIT_SIGINT, S3tuiError, UsageError
from s3tui.put import run_put
from s3tui.put_args import check_endpoint, check_put, check_region, want_dashboard
from s3tui.seed_flags import translate
from s3tui.sizes import parse_size


def main(argv: list[str] | None = None) -> int:
    # No cyclic GC while botocore is imported and its models parsed: start-up allocates many
    # long-lived objects and collections of them were ~45 ms of a ~220 ms start-up. drive_job
    # freezes what exists by then and turns the GC back on; the finally covers every other path.
    gc_was_enabled = gc.isenabled()
    gc.disable()
    parser = build_parser()
    try:
        return _run(parser, parser.parse_args(translate(sys.argv[1:] if argv is None else argv)))
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


def _put(ns: argparse.Namespace) -> int:
    from s3tui.settings import apply

    if not ns.metrics_file:
        return run_put(check_put(apply(ns)))
    from pathlib import Path

    from s3tui.report.metrics import MetricsFile

    # Every outcome reaches the file, a usage error (a broken config on a cron host) included.
    metrics = MetricsFile(Path(ns.metrics_file).expanduser())
    with metrics.recording():
        args = check_put(apply(ns))
        metrics.destination(args.bucket, args.key)
        return run_put(args, on_done=metrics.done)


def _run(parser: argparse.ArgumentParser, ns: argparse.Namespace) -> int:
    """The subcommand; a usage error raises UsageError (exit 2)."""
    if ns.command == "put":
        return _put(ns)
    if ns.command == "config":
        from s3tui.settings import run_config

        return run_config(ns)
    if ns.command == "verify":
        from s3tui.verify import run_verify

        return run_verify(ns)
    if ns.command == "cleanup":
        from s3tui.cleanup import run_cleanup

        check_region(ns.region)
        check_endpoint(ns.endpoint_url)
        return run_cleanup(
            dry_run=ns.dry_run,
            endpoint_url=ns.endpoint_url,
            region=ns.region,
            profile=ns.profile,
        )
    if ns.command == "uploads":
        from s3tui.uploads import run_uploads

        return run_uploads(ns)
    if ns.command == "ps":
        from s3tui.live.ps import run_ps

        return run_ps(show_all=ns.all, as_json=ns.json)
    if ns.command == "watch":
        from s3tui.live.follow import run_watch
        from s3tui.tui.terminal import terminal_available

        tty = sys.stdout.isatty() and sys.stdin.isatty()
        if not (ns.no_tui or ns.json) and tty and terminal_available():
            from s3tui.tui.watch_app import watch_dashboard

            return watch_dashboard(ns.id)
        return run_watch(ns.id, json_lines=ns.json, quiet=ns.quiet)
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
