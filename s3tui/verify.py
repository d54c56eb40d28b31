"""``s3tui verify LOCAL DEST``: whether the stored objects hold the local bytes.

The files and their keys are listed exactly as ``s3tui put LOCAL DEST`` lists them
(:func:`s3tui.engine.walk.scan`, same filters); each file is checked by
:func:`s3tui.engine.verify.check_file` on a small thread pool. Prints one row per file (path,
size, how it was checked, result), the objects under the prefix that have no local file ("only
in S3", never a failure), and a summary. Exit 0 when every file matches, 1 when one differs, is
missing or could not be checked, 2 for bad input.
"""

from __future__ import annotations

import argparse
import json
import os
import sys
import threading
import time
from concurrent.futures import ThreadPoolExecutor
from typing import Any, TextIO

from s3tui.errors import S3tuiError, UsageError
from s3tui.put_args import check_bucket, check_endpoint, check_region, parse_dest
from s3tui.settings import apply
from s3tui.sizes import format_size

# Tried again before a file is reported as not checked: a reset or a 503 is not an answer.
_ATTEMPTS = 3


def run_verify(ns: argparse.Namespace) -> int:
    from s3tui.engine.walk import Filter, SourceError, scan

    bucket, key = parse_dest(ns.dest)
    check_bucket(bucket)
    apply(ns)  # endpoint, region and profile from --store / [defaults], as for put
    check_region(ns.region)
    check_endpoint(ns.endpoint_url)
    if ns.local == "-":
        raise UsageError("verify compares files: name a file or a directory, not '-'")
    if not os.path.exists(ns.local):
        raise UsageError(f"{ns.local}: no such file or directory")
    if not 1 <= ns.concurrency <= 64:
        raise UsageError("--concurrency must be a whole number from 1 to 64")
    is_dir = os.path.isdir(ns.local)
    try:
        listing = scan(
            [ns.local], key, Filter(tuple(ns.include), tuple(ns.exclude)), ns.follow_symlinks
        )
    except SourceError as e:
        raise UsageError(str(e)) from None
    remote = _remote(bucket, ns)
    out = _Output(sys.stdout, sys.stderr, ns.json, ns.quiet)
    for path, why in listing.warnings:
        out.warning(path, why)
    # Listed first: a missing bucket or bad credentials is one line, not every file "missing"
    # (HeadObject answers a bare 404 for a missing bucket too).
    from s3tui.engine.walk import prefix_of

    stored = _listed(remote, prefix_of(key) if is_dir else key, None if is_dir else 1)
    verdicts = _check_all(remote, listing.entries, ns, out)
    known = {e.key for e in listing.entries}
    extra = [(k, n) for k, n in stored if k not in known] if is_dir else []
    return out.finish(verdicts, listing.failures, extra, bucket)


def _remote(bucket: str, ns: argparse.Namespace) -> Any:
    from s3tui.engine.remote import RemoteError, open_remote

    try:
        return open_remote(
            bucket,
            endpoint_url=ns.endpoint_url,
            region=ns.region,
            profile=ns.profile,
            max_connections=ns.concurrency + 4,
        )
    except RemoteError as e:
        raise S3tuiError(str(e)) from None


def _listed(remote: Any, prefix: str, limit: int | None) -> list[tuple[str, int]]:
    from s3tui.engine.remote import classify

    try:
        return list(remote.list_keys(prefix, limit))
    except Exception as e:
        raise S3tuiError(classify(e, remote.bucket, prefix, remote.endpoint).message) from None


def _check_all(remote: Any, entries: list[Any], ns: argparse.Namespace, out: _Output) -> list[Any]:
    """Every file on a pool; a failure that dooms every file (no bucket, bad credentials)
    stops the run with one line."""
    from s3tui.engine.verify import Counter

    counter = Counter()
    stop = threading.Event()
    total = sum(e.size for e in entries)
    progress = threading.Thread(
        target=out.progress, args=(counter, len(entries), total, stop), daemon=True
    )
    progress.start()
    try:
        with ThreadPoolExecutor(max_workers=ns.concurrency) as pool:
            futures = [pool.submit(_one, remote, e, counter, not ns.no_download) for e in entries]
            try:
                return [f.result() for f in futures]
            except BaseException:
                for f in futures:
                    f.cancel()
                raise
    finally:
        stop.set()
        progress.join()


def _one(remote: Any, entry: Any, counter: Any, download: bool) -> Any:
    from s3tui.engine.localfile import FileProblem
    from s3tui.engine.remote import Scope, classify
    from s3tui.engine.verify import ERROR, Verdict, check_file

    try:
        for attempt in range(1, _ATTEMPTS + 1):
            try:
                return check_file(
                    remote,
                    entry.path,
                    entry.key,
                    entry.size,
                    counted=counter.add_hashed,
                    downloaded=counter.add_downloaded,
                    download=download,
                )
            except FileProblem as e:
                return Verdict(entry.path, entry.key, entry.size, "", ERROR, str(e))
            except Exception as e:
                f = classify(e, remote.bucket, entry.key, remote.endpoint)
                if f.scope is Scope.JOB:
                    raise S3tuiError(f.message) from None
                if not f.retryable or attempt == _ATTEMPTS:
                    return Verdict(entry.path, entry.key, entry.size, "", ERROR, f.message)
                time.sleep(0.5 * attempt)
        raise AssertionError("unreachable")
    finally:
        counter.file_done()


class _Output:
    """The table (or JSON lines) on stdout; progress and warnings on stderr."""

    def __init__(self, out: TextIO, err: TextIO, as_json: bool, quiet: bool) -> None:
        self.out, self.err, self.json, self.quiet = out, err, as_json, quiet

    def warning(self, path: str, why: str) -> None:
        if self.json:
            print(json.dumps({"type": "warning", "path": path, "reason": why}), file=self.err)
        else:
            print(f"s3tui: warning {path}: {why}", file=self.err)

    def progress(self, counter: Any, files: int, total: int, stop: threading.Event) -> None:
        """A line on stderr while the work is long: every second on a terminal (rewritten in
        place), every 10 s into a file or pipe; nothing for a run under 2 s."""
        if self.quiet:
            return
        tty = self.err.isatty()
        every = 1.0 if tty else 10.0
        shown = False
        if stop.wait(2.0):
            return
        while True:
            line = (
                f"s3tui: verify: {counter.files_done}/{files} files, "
                f"{format_size(counter.hashed)} of {format_size(total)} read locally, "
                f"{format_size(counter.downloaded)} downloaded"
            )
            try:
                if self.json:
                    row = {
                        "type": "progress",
                        "files_done": counter.files_done,
                        "files": files,
                        "bytes_read": counter.hashed,
                        "bytes_downloaded": counter.downloaded,
                    }
                    print(json.dumps(row), file=self.err, flush=True)
                elif tty:
                    print(f"\r\x1b[K{line}", end="", file=self.err, flush=True)
                    shown = True
                else:
                    print(line, file=self.err, flush=True)
            except (OSError, ValueError):
                return  # a stderr that went away never stops the check
            if stop.wait(every):
                break
        if shown:
            print("\r\x1b[K", end="", file=self.err, flush=True)

    def finish(
        self,
        verdicts: list[Any],
        failures: list[tuple[str, str]],
        extra: list[tuple[str, int]],
        bucket: str,
    ) -> int:
        from s3tui.engine.verify import ERROR, MATCH, Verdict

        rows = list(verdicts) + [Verdict(p, "", 0, "", ERROR, why) for p, why in failures]
        counts: dict[str, int] = {}
        for v in rows:
            counts[v.result] = counts.get(v.result, 0) + 1
        bad = len(rows) - counts.get(MATCH, 0)
        if self.json:
            for v in rows:
                row = {"type": "file", "path": v.path, "key": v.key, "size": v.size}
                row |= {"checked": v.method or None, "result": v.result, "detail": v.detail}
                print(json.dumps(row, ensure_ascii=False), file=self.out)
            for k, n in extra:
                row = {"type": "only_in_s3", "key": k, "size": n}
                print(json.dumps(row, ensure_ascii=False), file=self.out)
            summary = {"type": "summary", "files": len(rows), **counts, "only_in_s3": len(extra)}
            print(json.dumps({**summary, "ok": bad == 0}), file=self.out)
            return 1 if bad else 0
        self._table(rows, extra, bucket)
        words = ", ".join(f"{n} {r}" for r, n in sorted(counts.items())) or "nothing to check"
        n = len(rows)
        line = f"s3tui: verify: {n} file{'s' if n != 1 else ''}: {words}"
        if extra:
            line += (
                f"; {len(extra)} object{'s' if len(extra) != 1 else ''} only in S3 "
                "(no local file: not a failure)"
            )
        print(line, file=self.out)
        return 1 if bad else 0

    def _table(self, rows: list[Any], extra: list[tuple[str, int]], bucket: str) -> None:
        table = [("PATH", "SIZE", "CHECKED", "RESULT", "")]
        for v in rows:
            table.append((v.path, str(v.size), v.method or "-", v.result, v.detail))
        for k, n in extra:
            table.append((f"s3://{bucket}/{k}", str(n), "-", "only in S3", "no local file"))
        widths = [max(len(r[i]) for r in table) for i in range(4)]
        for r in table:
            cells = [r[0].ljust(widths[0]), r[1].rjust(widths[1])]
            cells += [r[2].ljust(widths[2]), r[3].ljust(widths[3]), r[4]]
            print("  ".join(cells).rstrip(), file=self.out)
