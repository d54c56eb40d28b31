"""`s3tui cleanup`: abort the multipart uploads killed runs left open (see engine/journal.py)."""

from __future__ import annotations

import sys
import time
from typing import Any

from s3tui.engine.redact import without_userinfo
from s3tui.errors import EXIT_FAILED, EXIT_OK

ABORT_DEADLINE = 30.0


def run_cleanup(
    *,
    dry_run: bool = False,
    endpoint_url: str | None = None,
    region: str | None = None,
    profile: str | None = None,
) -> int:
    from s3tui.engine import journal

    left = journal.orphans()
    if not left:
        print("s3tui: no multipart uploads left open by killed runs", file=sys.stderr)
        return EXIT_OK
    if dry_run:
        for _, e in left:
            print(f"would abort {_describe(e)}")
        print(
            f"s3tui: {len(left)} to abort; run without --dry-run to abort them (an aborted "
            "upload can no longer be resumed: rerunning its `s3tui put` resumes it instead)",
            file=sys.stderr,
        )
        return EXIT_OK

    from s3tui.engine.remote import Remote, RemoteError, classify, make_client
    from s3tui.engine.watchdog import Watchdog

    clients: dict[tuple[Any, ...], Any] = {}
    watchdog = Watchdog()
    failed = 0
    for path, e in left:
        where = (endpoint_url or e.endpoint, region or e.region, profile or e.profile)
        try:
            if where not in clients:
                clients[where] = make_client(*where)
            remote = Remote(clients[where], e.bucket)
            with watchdog.guard(ABORT_DEADLINE):
                if e.pending:  # a create whose answer was lost: look for what it opened
                    remote.abort_strays(e.key, e.opened)
                else:
                    remote.abort(e.key, e.upload_id)
        except RemoteError as err:
            failed += 1
            why = without_userinfo(str(err))
            print(f"s3tui: could not abort {_describe(e)}: {why}", file=sys.stderr)
            continue
        except Exception as err:  # one line per upload; the others are still tried
            failed += 1
            why = classify(err, e.bucket, e.key, where[0] or "").message
            print(f"s3tui: could not abort {_describe(e)}: {why}", file=sys.stderr)
            continue
        journal.remove_spool(e.spool_dir)
        path.unlink(missing_ok=True)
        print(f"aborted {_describe(e)}")
    watchdog.stop()
    if len(left) > failed:
        print(
            "s3tui: the aborted uploads can no longer be resumed: rerunning their `s3tui put` "
            "sends those files whole",
            file=sys.stderr,
        )
    if failed:
        print(
            f"s3tui: {failed} of {len(left)} uploads could not be aborted; they stay noted: "
            "fix the cause and run `s3tui cleanup` again",
            file=sys.stderr,
        )
        return EXIT_FAILED
    return EXIT_OK


def _describe(e: Any) -> str:
    when = time.strftime("%Y-%m-%d %H:%M", time.localtime(e.opened))
    if e.pending:
        return (
            f"s3://{e.bucket}/{e.key} (any upload opened by a create whose answer was lost, "
            f"{when}, pid {e.pid}" + (f", {e.endpoint}" if e.endpoint else "") + ")"
        )
    return (
        f"s3://{e.bucket}/{e.key} (upload {e.upload_id[:16]}..., opened {when} by pid {e.pid}"
        + (f", {e.endpoint}" if e.endpoint else "")
        + ")"
    )
