"""Resuming a tree upload on the S3 double: which parts are sent again, duplicate copies, changed
files, uploads of other writers, --no-resume, and the record of files already completed.

An interrupted run is made by hand: an upload opened on the double with some parts stored, and
a journal entry for it whose writer is gone (an exited process's pid), as SIGKILL leaves it.
"""

from __future__ import annotations

import hashlib
import io
import json
import os
import subprocess
import sys
from pathlib import Path

from s3tui.engine.crc import crc32c
from s3tui.engine.journal import Journal, Source
from s3tui.engine.progress import EventKind
from s3tui.engine.remote import composite_crc32c_b64
from s3tui.engine.remote.calls import multipart_etag
from s3tui.engine.remote.store import Part, PartInfo, Stored
from s3tui.engine.run_record import default_dir as records_dir
from s3tui.engine.tree import TreeUpload
from s3tui.engine.tree_resume import fingerprint, source_of
from s3tui.engine.walk import Filter, scan
from tests.s3double import S3Double, s3_error
from tests.unit.test_tree_on_double import PART, _cfg, _files


class CopiesDouble(S3Double):
    """Keeps every copy of a part sent twice and lists them all, as SeaweedFS does; completing
    with one copy's ETag makes that copy the part."""

    def __init__(self) -> None:
        super().__init__()
        self.copies: dict[str, list[tuple[int, bytes, str, int]]] = {}

    def upload_part(self, key, upload_id, number, body, size, crc):  # type: ignore[no-untyped-def]
        stored = super().upload_part(key, upload_id, number, body, size, crc)
        data = self.uploads[upload_id].parts[number][0]
        self.copies.setdefault(upload_id, []).append((number, data, stored.etag or "", crc))
        return stored

    def list_parts(self, key: str, upload_id: str) -> list[PartInfo]:
        self._call("list_parts", key, upload_id, lambda: None)
        self._upload(key, upload_id)
        listed = sorted(self.copies.get(upload_id, []), key=lambda c: c[0])
        return [PartInfo(n, len(d), etag, None) for n, d, etag, _ in listed]  # no CRC listed

    def complete(self, key: str, upload_id: str, parts: list[Part]) -> Stored:
        up = self._upload(key, upload_id)
        for n, etag, _ in parts:
            for m, d, tag, crc in self.copies.get(upload_id, []):
                if m == n and tag == etag:
                    up.parts[n] = (d, tag, crc)
        return super().complete(key, upload_id, parts)


def _gone_pid() -> int:
    child = subprocess.run(
        [sys.executable, "-c", "import os; print(os.getpid())"],
        capture_output=True,
        text=True,
        check=True,
    )
    return int(child.stdout)


def _dead(journal_dir: Path) -> None:
    """Every entry in the journal now belongs to a process that is gone."""
    pid = _gone_pid()
    for path in journal_dir.glob("*.json"):
        data = json.loads(path.read_text())
        path.write_text(json.dumps({**data, "pid": pid, "start_ticks": "1"}))


def _record_of_a_dead_run(record: Path) -> None:
    """The run record was written by this test's process: make it a dead run's."""
    header, *lines = record.read_text().splitlines()
    dead = {**json.loads(header), "pid": _gone_pid(), "start_ticks": "1"}
    record.write_text("\n".join([json.dumps(dead), *lines]) + "\n")


def _interrupted(
    s3: S3Double,
    root: Path,
    jdir: Path,
    name: str,
    stored: dict[int, bytes],
    part_size: int = PART,
    alive: bool = False,
    options: dict[str, str] | None = None,
) -> str:
    """An upload of ``root/name`` left open with ``stored`` parts, noted in the journal."""
    key = f"p/{name}"
    upload_id = s3.create_multipart(key, {})
    for n, data in stored.items():
        s3.upload_part(key, upload_id, n, _body(data), len(data), crc32c(data))
    (entry,) = [e for e in scan([str(root)], "p/", Filter(), False).entries if e.key == key]
    j = Journal(jdir)
    args = options if options is not None else _job(root, s3, jdir)._object_args(entry)
    j.describe(s3.bucket, key, source_of(entry, part_size, fingerprint(args)))
    j.opened(s3.bucket, key, upload_id)
    if not alive:
        _dead(jdir)
    s3.calls.clear()
    return upload_id


def _body(data: bytes) -> io.BytesIO:
    return io.BytesIO(data)


def _job(root: Path, s3: S3Double, jdir: Path, **kw: object) -> TreeUpload:
    cfg = kw.pop("cfg", None) or _cfg()
    return TreeUpload([str(root)], s3, "p/", cfg, journal=Journal(jdir), **kw)  # type: ignore[arg-type]


def _infos(job: TreeUpload) -> list[str]:
    return [
        f"{e.label}: {e.reason}" for e in job.progress.snapshot().events if e.kind is EventKind.INFO
    ]


def _cut(data: bytes, size: int = PART) -> dict[int, bytes]:
    return {i // size + 1: data[i : i + size] for i in range(0, len(data), size)}


def test_an_open_upload_of_a_dead_run_is_continued_sending_only_the_missing_parts(
    tmp_path: Path,
) -> None:
    root, jdir = tmp_path / "d", tmp_path / "j"
    data = _files(root, {"big": 4 * PART - 9})["p/big"]
    parts = _cut(data)
    s3 = S3Double()
    upload_id = _interrupted(s3, root, jdir, "big", {1: parts[1], 3: parts[3]})
    job = _job(root, s3, jdir)
    result = job.run()
    assert result.exit_code == 0, result.message
    assert sorted(s3.called("upload_part")) == [2, 4]
    assert s3.called("create_multipart") == [] and s3.called("abort") == []
    assert s3.called("complete") == [[1, 2, 3, 4]]
    assert s3.objects["p/big"].data == data and not s3.uploads
    assert s3.objects["p/big"].checksum_crc32c == composite_crc32c_b64(
        [crc32c(parts[n]) for n in (1, 2, 3, 4)]
    )
    assert s3.called("list_parts") == [upload_id]
    assert "resuming big: 2 of 4 parts (10 MiB) already stored" in _infos(job)
    assert "10 MiB already stored by the interrupted run" in result.message
    snap = job.progress.snapshot()
    assert snap.bytes_reused == 2 * PART and snap.bytes_uploaded == len(data)
    assert snap.bytes_sent == len(data) - 2 * PART  # kept parts count as done, not as sent
    assert sorted(r.part for r in job.records if r.part) == [2, 4]  # none for a kept part
    ((entry),) = [json.loads(p.read_text()) for p in jdir.glob("*.json")]
    assert entry["pid"] == os.getpid()  # taken over: a kill of this run leaves it resumable


def test_a_stored_part_that_is_not_the_local_bytes_is_sent_again_and_the_matching_copy_is_used(
    tmp_path: Path,
) -> None:
    root, jdir = tmp_path / "d", tmp_path / "j"
    data = _files(root, {"big": 3 * PART})["p/big"]
    parts = _cut(data)
    s3 = CopiesDouble()
    upload_id = _interrupted(s3, root, jdir, "big", {1: parts[1], 2: os.urandom(PART)})
    # Part 1 stored twice: a stale copy after the right one (the double keeps both).
    stale = os.urandom(PART)
    s3.upload_part("p/big", upload_id, 1, _body(stale), PART, crc32c(stale))
    s3.calls.clear()
    job = _job(root, s3, jdir)
    result = job.run()
    assert result.exit_code == 0, result.message
    assert sorted(s3.called("upload_part")) == [2, 3]
    assert s3.objects["p/big"].data == data
    assert s3.objects["p/big"].etag == multipart_etag(
        [hashlib.md5(parts[n]).hexdigest() for n in (1, 2, 3)]
    )
    assert "big#2: the stored copy is not the local bytes" in _infos(job)


def test_a_file_changed_since_the_interrupted_run_starts_over_and_its_old_upload_is_aborted(
    tmp_path: Path,
) -> None:
    root, jdir = tmp_path / "d", tmp_path / "j"
    data = _files(root, {"big": 2 * PART + 1})["p/big"]
    s3 = S3Double()
    old = _interrupted(s3, root, jdir, "big", {1: data[:PART]})
    os.utime(root / "big", ns=(1, 1))  # touched since: same bytes, but it says it changed
    job = _job(root, s3, jdir)
    result = job.run()
    assert result.exit_code == 0, result.message
    assert s3.called("abort") == [old] and s3.called("list_parts") == []
    assert len(s3.called("create_multipart")) == 1
    assert sorted(s3.called("upload_part")) == [1, 2, 3]
    assert s3.objects["p/big"].data == data and not s3.uploads
    assert any(
        "changed since the interrupted run (modified): starting it over" in i for i in _infos(job)
    )


def test_an_upload_opened_with_other_object_options_is_not_resumed(tmp_path: Path) -> None:
    root, jdir = tmp_path / "d", tmp_path / "j"
    data = _files(root, {"big": 2 * PART})["p/big"]
    s3 = S3Double()
    other = {"ContentType": "text/plain"}  # it keeps these headers: completing it would too
    old = _interrupted(s3, root, jdir, "big", {1: data[:PART]}, options=other)
    job = _job(root, s3, jdir)
    result = job.run()
    assert result.exit_code == 0, result.message
    assert s3.called("abort") == [old] and s3.called("list_parts") == []
    assert sorted(s3.called("upload_part")) == [1, 2]
    assert any("other object options" in i for i in _infos(job))


def test_the_upload_of_a_writer_that_still_runs_is_never_touched(tmp_path: Path) -> None:
    root, jdir = tmp_path / "d", tmp_path / "j"
    data = _files(root, {"big": 2 * PART})["p/big"]
    s3 = S3Double()
    live = _interrupted(s3, root, jdir, "big", {1: data[:PART]}, alive=True)
    result = _job(root, s3, jdir).run()
    assert result.exit_code == 0, result.message
    assert s3.called("abort") == [] and s3.called("list_parts") == []  # not even looked at
    assert sorted(s3.called("upload_part")) == [1, 2]
    assert list(s3.uploads) == [live]  # still open, as its writer left it
    assert s3.objects["p/big"].data == data


def test_without_a_journal_a_matching_open_upload_is_adopted_and_another_one_left_alone(
    tmp_path: Path,
) -> None:
    root, jdir = tmp_path / "d", tmp_path / "j"
    data = _files(root, {"big": 3 * PART})["p/big"]
    parts = _cut(data)
    s3 = S3Double()
    s3.clock = lambda: 1000.0
    ours = s3.create_multipart("p/big", {})
    for n in (1, 2):
        s3.upload_part("p/big", ours, n, _body(parts[n]), PART, crc32c(parts[n]))
    s3.clock = lambda: 2000.0  # newer, another writer's bytes: looked at first, left alone
    other = s3.create_multipart("p/big", {})
    junk = os.urandom(PART)
    s3.upload_part("p/big", other, 1, _body(junk), PART, crc32c(junk))
    s3.calls.clear()
    job = _job(root, s3, jdir)  # an empty journal: another host, or a lost state dir
    result = job.run()
    assert result.exit_code == 0, result.message
    assert s3.called("list_uploads") == [None]
    assert s3.called("list_parts") == [other, ours]
    assert s3.called("abort") == [] and s3.called("create_multipart") == []
    assert sorted(s3.called("upload_part")) == [3]
    assert s3.objects["p/big"].data == data
    assert list(s3.uploads) == [other]  # not ours to abort
    infos = _infos(job)
    assert any("holds no part of this file's bytes" in i and "left alone" in i for i in infos)
    assert any(i.startswith("resuming big: 2 of 3 parts") for i in infos)

    # Only a foreign upload with other bytes: left alone, and a new upload is made.
    s3.calls.clear()
    del s3.objects["p/big"]
    result = _job(root, s3, jdir).run()
    assert result.exit_code == 0, result.message
    assert s3.called("list_parts") == [other] and s3.called("abort") == []
    assert len(s3.called("create_multipart")) == 1
    assert sorted(s3.called("upload_part")) == [1, 2, 3]
    assert list(s3.uploads) == [other] and s3.objects["p/big"].data == data


def test_no_resume_aborts_own_uploads_and_sends_everything(tmp_path: Path) -> None:
    root, jdir = tmp_path / "d", tmp_path / "j"
    data = _files(root, {"big": 2 * PART})["p/big"]
    s3 = S3Double()
    old = _interrupted(s3, root, jdir, "big", {1: data[:PART], 2: data[PART:]})
    result = _job(root, s3, jdir, resume=False).run()
    assert result.exit_code == 0, result.message
    assert s3.called("abort") == [old]
    assert s3.called("list_parts") == [] and s3.called("list_uploads") == []
    assert sorted(s3.called("upload_part")) == [1, 2]
    assert s3.objects["p/big"].data == data and not s3.uploads


def test_parts_are_cut_as_the_interrupted_run_cut_them_whatever_the_chunk_size_says(
    tmp_path: Path,
) -> None:
    root, jdir = tmp_path / "d", tmp_path / "j"
    data = _files(root, {"big": 5 * PART})["p/big"]
    parts = _cut(data)
    s3 = S3Double()
    _interrupted(s3, root, jdir, "big", {1: parts[1], 2: parts[2]})
    job = _job(root, s3, jdir, cfg=_cfg(chunk_size=2 * PART))
    result = job.run()
    assert result.exit_code == 0, result.message
    assert sorted(s3.called("upload_part")) == [3, 4, 5]
    assert s3.objects["p/big"].data == data
    assert any("in 5 MiB parts as that run cut them" in i for i in _infos(job))


def test_files_an_interrupted_run_completed_are_not_sent_again_until_a_run_succeeds(
    tmp_path: Path,
) -> None:
    root, jdir = tmp_path / "d", tmp_path / "j"
    data = _files(root, {"a": 100, "b": 200, "c": 300, "big": PART})
    s3 = S3Double()
    s3.inject("put_object", s3_error("AccessDenied", 403), key="p/c")
    first = _job(root, s3, jdir).run()
    assert first.exit_code == 1 and set(s3.objects) == {"p/a", "p/b", "p/big"}
    (record,) = records_dir().glob("*.jsonl")
    assert oct(record.stat().st_mode & 0o777) == "0o600"
    assert oct(record.parent.stat().st_mode & 0o777) == "0o700"
    _record_of_a_dead_run(record)
    (root / "b").write_bytes(b"B" * 200)  # changed since: sent again
    data["p/b"] = b"B" * 200
    s3.calls.clear()

    job = _job(root, s3, jdir)
    second = job.run()
    assert second.exit_code == 0, second.message
    assert sorted(k for m, k, _ in s3.calls if m in ("put_object", "create_multipart")) == [
        "p/b",
        "p/c",
    ]
    assert s3.called("head") == []  # the record knew: no request for a or big
    assert {k: o.data for k, o in s3.objects.items()} == data
    assert "2 uploaded by the interrupted run (unchanged, not sent again)" in second.message
    assert not list(records_dir().glob("*.jsonl"))  # a run that succeeded leaves no record

    s3.calls.clear()
    third = _job(root, s3, jdir).run()  # after a success: everything goes again, as before
    assert third.exit_code == 0, third.message
    assert len([m for m, _, _ in s3.calls if m in ("put_object", "create_multipart")]) == 4


def test_journal_entries_note_the_source_and_old_entries_still_load(tmp_path: Path) -> None:
    j = Journal(tmp_path)
    j.describe("bkt", "k", Source("/data/f", 10, 123, PART))
    j.opened("bkt", "k", "up-1")
    j.opened("bkt", "other", "up-2")
    from s3tui.engine import journal

    found = {e.upload_id: e for _, e in journal.entries(tmp_path)}
    assert found["up-1"].source == Source("/data/f", 10, 123, PART)
    assert found["up-2"].source is None
    (path,) = [p for p, e in journal.entries(tmp_path) if e.upload_id == "up-1"]
    old = {k: v for k, v in json.loads(path.read_text()).items() if k not in ("path", "size")}
    old.pop("mtime_ns"), old.pop("part_size")
    path.write_text(json.dumps(old))  # as an older s3tui wrote it
    assert {e.upload_id for _, e in journal.entries(tmp_path)} == {"up-1", "up-2"}
