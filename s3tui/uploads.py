"""``s3tui uploads ls|abort s3://BUCKET[/PREFIX]``: every incomplete multipart upload under a
prefix, whoever opened it, with the bytes it holds; and aborting them, confirmed by ListParts.

``s3tui cleanup`` settles this host's own dead runs from its journal; this looks at the bucket
itself, so it finds what other hosts, other tools and lost state dirs left too. Uploads this
host's s3tui is writing right now are marked, and ``abort`` leaves them alone unless
``--force``. The work is in :mod:`s3tui.engine.uploads`; here: arguments, table and JSON.
"""

from __future__ import annotations

import argparse
import datetime as dt
import json
import sys
import time
from collections.abc import Callable
from typing import TYPE_CHECKING, Any, TextIO

from s3tui.durations import format_age, parse_duration
from s3tui.errors import EXIT_FAILED, EXIT_OK, UploadError, UsageError
from s3tui.sizes import format_size

if TYPE_CHECKING:
    from s3tui.engine.uploads import AbortOutcome, OpenUpload, Survey


def run_uploads(ns: argparse.Namespace) -> int:
    """``uploads ls`` or ``uploads abort``; bad input raises UsageError (exit 2) before any
    request is sent."""
    from s3tui.put_args import check_endpoint, check_region
    from s3tui.settings import apply

    bucket, prefix = parse_location(ns.url)
    older_than = None
    if ns.uploads_command == "abort" and ns.older_than is not None:
        try:
            older_than = parse_duration(ns.older_than)
        except ValueError as e:
            raise UsageError(f"--older-than: {e}") from None
    apply(ns)  # endpoint, region and profile from --store / [defaults], as for put
    check_region(ns.region)
    check_endpoint(ns.endpoint_url)
    where = f"s3://{bucket}/{prefix}" if prefix else f"s3://{bucket}"
    if ns.uploads_command == "ls":
        survey = _survey(ns, bucket, prefix)
        return _show(survey, bucket, where, as_json=ns.json)
    return _abort(ns, bucket, prefix, where, older_than)


def parse_location(url: str) -> tuple[str, str]:
    """``s3://BUCKET[/PREFIX]`` -> (bucket, prefix); the prefix is S3's: a plain string start."""
    from s3tui.engine.remote import check_bucket_name

    if not url.startswith("s3://"):
        raise UsageError(f"{url!r} is not an S3 URL: write s3://BUCKET or s3://BUCKET/PREFIX")
    bucket, _, prefix = url[5:].partition("/")
    if not bucket:
        raise UsageError(f"{url!r} has no bucket: write s3://BUCKET or s3://BUCKET/PREFIX")
    try:
        check_bucket_name(bucket)
    except ValueError as e:
        raise UsageError(str(e)) from None
    return bucket, prefix


# --- talking to the store -------------------------------------------------------------------


class _Session:
    """The store and the watchdog that bounds each request, for one command."""

    def __init__(self, ns: argparse.Namespace, bucket: str) -> None:
        from s3tui.engine import journal
        from s3tui.engine.remote import Remote, RemoteError, make_client
        from s3tui.engine.uploads import WORKERS, writers
        from s3tui.engine.watchdog import Watchdog

        try:
            client = make_client(
                ns.endpoint_url, ns.region, ns.profile, max_connections=WORKERS + 2
            )
        except RemoteError as e:
            raise UploadError(str(e)) from None
        self.remote = Remote(client, bucket)
        self.own = writers([e for _, e in journal.entries()], ns.endpoint_url, bucket)
        self.watchdog = Watchdog()

    def failed(self, e: Exception, what: str) -> UploadError:
        from s3tui.engine.remote import classify

        f = classify(e, self.remote.bucket, "", self.remote.endpoint)
        return UploadError(f"{what}: {f.message}")


def _survey(ns: argparse.Namespace, bucket: str, prefix: str) -> Survey:
    s = _Session(ns, bucket)
    try:
        return _survey_in(s, prefix)
    finally:
        s.watchdog.stop()


def _survey_in(s: _Session, prefix: str) -> Survey:
    from s3tui.engine.uploads import survey

    progress = _Progress("listing parts")
    try:
        return survey(
            s.remote, prefix, own=s.own, guard=s.watchdog.guard, on_progress=progress.update
        )
    except Exception as e:
        raise s.failed(e, f"cannot list the uploads of s3://{s.remote.bucket}") from None
    finally:
        progress.close()


# --- ls -------------------------------------------------------------------------------------


def _show(
    survey: Survey, bucket: str, where: str, *, as_json: bool, out: TextIO | None = None
) -> int:
    out = out or sys.stdout
    unknown = [u for u in survey.uploads if u.error]
    if as_json:
        out.write(json.dumps([upload_json(u) for u in survey.uploads]) + "\n")
    elif not survey.uploads:
        print(f"s3tui: no incomplete uploads under {where}", file=sys.stderr)
    else:
        for line in table(survey.uploads):
            out.write(line + "\n")
        held = sum(u.stored_bytes or 0 for u in survey.uploads)
        n = len(survey.uploads)
        live = sum(1 for u in survey.uploads if u.writer and u.writer.alive)
        note = f"; {live} being written now by s3tui on this host" if live else ""
        print(
            f"s3tui: {_count(n, 'incomplete upload')} under {where} holding "
            f"{format_size(held)}{' or more' if unknown else ''}{note}",
            file=sys.stderr,
        )
    for u in unknown:
        print(f"s3tui: could not list the parts of {_name(bucket, u)}: {u.error}", file=sys.stderr)
    return EXIT_FAILED if unknown else EXIT_OK


def table(uploads: list[OpenUpload]) -> list[str]:
    """Aligned columns; the upload id last and whole (ids run to 100+ characters, and a
    shortened one cannot be passed to another tool)."""
    head = ("KEY", "INITIATED", "AGE", "PARTS", "HELD", "THIS HOST", "UPLOAD ID")
    rows = [
        (
            u.key,
            _local_iso(u.initiated),
            format_age(u.age) if u.age is not None else "?",
            "?" if u.parts is None else str(u.parts),
            "?" if u.stored_bytes is None else format_size(u.stored_bytes),
            _writer(u),
            u.upload_id,
        )
        for u in uploads
    ]
    widths = [max(len(r[i]) for r in [head, *rows]) for i in range(len(head))]
    right = {2, 3, 4}  # numbers line up on the right

    def line(r: tuple[str, ...]) -> str:
        cells = [
            c.rjust(w) if i in right else c.ljust(w)
            for i, (c, w) in enumerate(zip(r, widths, strict=True))
        ]
        return "  ".join(cells[:-1]) + "  " + r[-1]

    return [line(head)] + [line(r) for r in rows]


def upload_json(u: OpenUpload) -> dict[str, Any]:
    w = u.writer
    return {
        "key": u.key,
        "upload_id": u.upload_id,
        "initiated": _utc_iso(u.initiated),
        "age_seconds": None if u.age is None else round(u.age),
        "parts": u.parts,
        "part_copies": u.part_copies,
        "bytes": u.stored_bytes,
        "this_host": None if w is None else {"pid": w.pid, "writing": w.alive},
        "error": u.error,
    }


# --- abort ----------------------------------------------------------------------------------


def _abort(
    ns: argparse.Namespace, bucket: str, prefix: str, where: str, older_than: float | None
) -> int:
    s = _Session(ns, bucket)
    try:
        survey = _survey_in(s, prefix)
        picked = [
            u
            for u in survey.uploads
            if older_than is None or (u.age is not None and u.age >= older_than)
        ]
        live = [u for u in picked if u.writer and u.writer.alive and not ns.force]
        doomed = [u for u in picked if u not in live]
        if not picked:
            younger = len(survey.uploads)
            what = f" older than {ns.older_than}" if older_than is not None else ""
            rest = f" ({_count(younger, 'younger one')})" if younger else ""
            if ns.json:
                print("[]")
            print(f"s3tui: no incomplete uploads{what} under {where}{rest}", file=sys.stderr)
            return EXIT_OK
        if ns.dry_run:
            return _dry_run(doomed, live, bucket, where, as_json=ns.json)
        from s3tui.engine.uploads import abort_all

        progress = _Progress("aborting")
        try:
            outcomes = abort_all(
                s.remote, doomed, guard=s.watchdog.guard, on_progress=progress.update
            )
        finally:
            progress.close()
    finally:
        s.watchdog.stop()
    for o in outcomes:
        if o.confirmed:
            _forget(o.upload)
    return _report(outcomes, live, bucket, where, as_json=ns.json)


def _dry_run(
    doomed: list[OpenUpload], live: list[OpenUpload], bucket: str, where: str, *, as_json: bool
) -> int:
    if as_json:
        rows = [{**upload_json(u), "action": "would_abort"} for u in doomed]
        rows += [{**upload_json(u), "action": "skipped", "reason": _LIVE} for u in live]
        print(json.dumps(rows))
    else:
        for u in doomed:
            print(f"would abort {_name(bucket, u)}, {_holding(u)}")
        for u in live:
            print(f"would skip {_name(bucket, u)}: {_live_why(u)}")
    held = sum(u.stored_bytes or 0 for u in doomed)
    print(
        f"s3tui: {_count(len(doomed), 'upload')} under {where} to abort ({format_size(held)}); "
        "run without --dry-run to abort them",
        file=sys.stderr,
    )
    return EXIT_OK


def _report(
    outcomes: list[AbortOutcome],
    live: list[OpenUpload],
    bucket: str,
    where: str,
    *,
    as_json: bool,
) -> int:
    failed = [o for o in outcomes if not o.confirmed]
    if as_json:
        rows = [
            {
                **upload_json(o.upload),
                "action": "aborted" if o.confirmed else "failed",
                "aborts": o.aborts,
                "reason": o.error,
            }
            for o in outcomes
        ]
        rows += [{**upload_json(u), "action": "skipped", "reason": _LIVE} for u in live]
        print(json.dumps(rows))
    else:
        for o in outcomes:
            if o.confirmed:
                again = f", after {o.aborts} aborts" if o.aborts > 1 else ""
                print(f"aborted {_name(bucket, o.upload)}, {_holding(o.upload)}{again}")
        for u in live:
            print(f"skipped {_name(bucket, u)}: {_live_why(u)}")
    for o in failed:
        print(f"s3tui: could not abort {_name(bucket, o.upload)}: {o.error}", file=sys.stderr)
    done = [o for o in outcomes if o.confirmed]
    freed = sum(o.upload.stored_bytes or 0 for o in done)
    line = f"s3tui: aborted {len(done)} of {_count(len(outcomes) + len(live), 'upload')} under "
    line += f"{where} ({format_size(freed)} freed, confirmed by ListParts)"
    if live:
        line += f"; {len(live)} skipped: being written now by s3tui on this host (--force aborts)"
    if failed:
        line += f"; {len(failed)} could not be aborted: fix the cause and run it again"
    print(line, file=sys.stderr)
    return EXIT_FAILED if failed else EXIT_OK


def _forget(u: OpenUpload) -> None:
    """An aborted upload of this host's dead run needs no `s3tui cleanup` any more: drop its
    journal entry and the spool files it left (a live writer's are its own to close)."""
    if u.writer is None or u.writer.alive:
        return
    from s3tui.engine import journal

    for path, e in journal.entries():
        if e.upload_id == u.upload_id and e.bucket == u.writer.entry.bucket:
            journal.remove_spool(e.spool_dir)
            path.unlink(missing_ok=True)


# --- words ----------------------------------------------------------------------------------

_LIVE = "being written now by s3tui on this host"


def _live_why(u: OpenUpload) -> str:
    pid = u.writer.pid if u.writer else "?"
    return f"{_LIVE} (pid {pid}); --force aborts it"


def _writer(u: OpenUpload) -> str:
    if u.writer is None:
        return "-"
    return f"{'writing' if u.writer.alive else 'dead run'} (pid {u.writer.pid})"


def _name(bucket: str, u: OpenUpload) -> str:
    return f"s3://{bucket}/{u.key} (upload {u.upload_id})"


def _holding(u: OpenUpload) -> str:
    age = format_age(u.age) + " old" if u.age is not None else "age unknown"
    if u.parts is None:
        return f"{age}, parts unknown"
    return f"{age}, {_count(u.parts, 'part')}, {format_size(u.stored_bytes or 0)}"


def _count(n: int, what: str) -> str:
    return f"{n:,} {what}{'' if n == 1 else 's'}"


def _local_iso(t: float | None) -> str:
    if t is None:
        return "?"
    return dt.datetime.fromtimestamp(t).astimezone().isoformat(timespec="seconds")


def _utc_iso(t: float | None) -> str | None:
    if t is None:
        return None
    return dt.datetime.fromtimestamp(t, dt.UTC).isoformat(timespec="seconds")


class _Progress:
    """``listing parts: 120/400`` on stderr, redrawn in place, only on a terminal and only
    once a listing takes long enough to wonder about (half a second)."""

    def __init__(
        self,
        what: str,
        stream: TextIO | None = None,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        self._what = what
        self._stream = stream or sys.stderr
        self._on = self._stream.isatty()
        self._clock = clock
        self._start = clock()
        self._last = 0.0
        self._shown = False

    def update(self, done: int, total: int) -> None:
        if not self._on:
            return
        now = self._clock()
        if now - self._start < 0.5 or (now - self._last < 0.1 and done < total):
            return
        self._last = now
        self._shown = True
        self._stream.write(f"\r\033[K{self._what}: {done:,}/{total:,}")
        self._stream.flush()

    def close(self) -> None:
        if self._shown:
            self._stream.write("\r\033[K")
            self._stream.flush()
