"""The journal of open uploads: who is an orphan, what is written, what cleanup may delete."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

from s3tui.engine import journal
from s3tui.engine.journal import Journal


def test_entries_of_this_process_are_live_and_go_away_when_closed(tmp_path: Path) -> None:
    j = Journal(tmp_path / "j", endpoint="https://user:s3cret@minio.lan:9000/", region="eu-1")
    j.opened("bkt", "db/dump.gz", "upload-1", spool_dir="/tmp/s3tui-x")
    ((path, entry),) = journal.entries(tmp_path / "j")
    assert (entry.bucket, entry.key, entry.upload_id, entry.region) == (
        "bkt",
        "db/dump.gz",
        "upload-1",
        "eu-1",
    )
    assert entry.endpoint == "https://minio.lan:9000/"  # no userinfo written down
    assert "s3cret" not in path.read_text()
    assert entry.writer_alive() and journal.orphans(tmp_path / "j") == []
    j.closed("upload-1")
    assert journal.entries(tmp_path / "j") == []


def test_a_dead_or_reused_pid_makes_an_orphan(tmp_path: Path) -> None:
    j = Journal(tmp_path)
    j.opened("bkt", "k", "up")
    (path,) = tmp_path.glob("*.json")
    data = json.loads(path.read_text())
    child = subprocess.run(
        [sys.executable, "-c", "import os; print(os.getpid())"],
        capture_output=True,
        text=True,
        check=True,
    )
    path.write_text(json.dumps({**data, "pid": int(child.stdout)}))  # exited
    assert [e.upload_id for _, e in journal.orphans(tmp_path)] == ["up"]
    path.write_text(json.dumps({**data, "start_ticks": "1"}))  # our pid, another process's start
    assert len(journal.orphans(tmp_path)) == 1
    path.write_text(json.dumps({**data, "boot_id": "another-boot"}))
    assert len(journal.orphans(tmp_path)) == 1
    path.write_text("{not json")
    assert journal.entries(tmp_path) == []  # unreadable entries are skipped, not fatal


def test_remove_spool_only_touches_an_s3tui_spool_dir(tmp_path: Path) -> None:
    spool = tmp_path / "s3tui-abc"
    spool.mkdir()
    (spool / "part-00001").write_bytes(b"x")
    other = tmp_path / "precious"
    other.mkdir()
    (other / "keep").write_bytes(b"y")
    journal.remove_spool(str(other))
    journal.remove_spool(None)
    assert (other / "keep").exists()
    journal.remove_spool(str(spool))
    assert not spool.exists()


def test_an_unwritable_journal_never_stops_an_upload(tmp_path: Path) -> None:
    blocker = tmp_path / "file"
    blocker.write_text("")
    Journal(blocker / "sub").opened("b", "k", "u")  # cannot mkdir under a file: ignored
    Journal(blocker / "sub").closed("u")
    assert os.path.isfile(blocker)


def test_left_open_lists_dead_runs_uploads_of_one_key_newest_first(tmp_path: Path) -> None:
    j = Journal(tmp_path, endpoint="http://user:secret@s3.test:9000")
    j.opened("bkt", "k", "old")
    j.opened("bkt", "k", "new")
    j.opened("bkt", "other", "x")
    j.creating("bkt", "k", 0.0)  # pending: no id to resume
    assert journal.left_open("http://s3.test:9000", "bkt", "k", tmp_path) == []  # writer alive
    for path in tmp_path.glob("*.json"):
        data = json.loads(path.read_text())
        opened = {"old": 1.0, "new": 2.0}.get(data["upload_id"], 0.0)
        path.write_text(json.dumps({**data, "boot_id": "another-boot", "opened": opened}))
    found = journal.left_open("http://s3.test:9000", "bkt", "k", tmp_path)
    assert [e.upload_id for _, e in found] == ["new", "old"]
    assert journal.left_open("http://elsewhere:9000", "bkt", "k", tmp_path) == []
