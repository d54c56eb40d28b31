"""Every put publishes its state: `s3tui ps` lists it, `s3tui watch` follows and steers it."""

from __future__ import annotations

import json
import os
import signal
import stat
import subprocess
import threading
import time
from pathlib import Path
from typing import Any

import pytest

from s3tui.live import store
from tests.helpers import MiB, assert_object_landed, random_bytes
from tests.integration.cli_runner import s3tui_cmd

pytestmark = pytest.mark.timeout(120)
URL_SECRET = "pa55-in-the-url"


def _start_put(
    dest: str, env: dict[str, str], endpoint: str, spool: Path, *extra: str
) -> subprocess.Popen[bytes]:
    cmd = s3tui_cmd(
        "put", "-", dest, "--endpoint-url", endpoint, "--spool-dir", str(spool), "--no-tui",
        "--chunk-size", "5MiB", *extra,
    )  # fmt: skip
    return subprocess.Popen(
        cmd, stdin=subprocess.PIPE, stdout=subprocess.PIPE, stderr=subprocess.PIPE, env=env
    )


def _feed(proc: subprocess.Popen[bytes], data: bytes, step: int, pause: float) -> threading.Thread:
    """Write ``data`` to the put's stdin ``step`` bytes at a time, ``pause`` s apart."""

    def run() -> None:
        assert proc.stdin is not None
        try:
            for i in range(0, len(data), step):
                proc.stdin.write(data[i : i + step])
                proc.stdin.flush()
                time.sleep(pause)
            proc.stdin.close()
        except (BrokenPipeError, ValueError):
            pass

    t = threading.Thread(target=run, daemon=True)
    t.start()
    return t


def _ps(env: dict[str, str], *extra: str) -> list[dict[str, Any]]:
    p = subprocess.run(
        s3tui_cmd("ps", "--json", *extra), env=env, capture_output=True, timeout=30, check=True
    )
    return json.loads(p.stdout)


def _wait_listed(env: dict[str, str], timeout: float = 15) -> dict[str, Any]:
    end = time.monotonic() + timeout
    while time.monotonic() < end:
        rows = _ps(env)
        if rows:
            return rows[0]
        time.sleep(0.3)
    raise AssertionError("the put was never listed by `s3tui ps`")


def _base(env: dict[str, str]) -> Path:
    return Path(env["XDG_STATE_HOME"]) / "s3tui" / "live"


def test_ps_lists_growing_upload_and_watch_exits_with_its_code(
    local_s3: Any, s3_client: Any, bucket: str, s3_env: dict[str, str], tmp_path: Path
) -> None:
    data = random_bytes(12 * MiB, seed=18)
    spool = tmp_path / "spool"
    env = s3_env
    # The lab server takes an endpoint with user:password@: it must not be published.
    endpoint = local_s3.endpoint_url.replace("://", f"://s3user:{URL_SECRET}@", 1)
    put = _start_put(f"s3://{bucket}/slow.bin", env, endpoint, spool)
    feeder = _feed(put, data, 512 * 1024, 0.25)  # ~2 MiB/s: the upload lasts ~6 s
    first = _wait_listed(env)
    assert first["status"] == "running" and first["pid"] == put.pid
    assert first["dest"] == f"s3://{bucket}/slow.bin"
    watcher = subprocess.Popen(
        s3tui_cmd("watch", "--no-tui", first["id"]),
        env=env,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
    )
    json_watcher = subprocess.Popen(
        s3tui_cmd("watch", "--no-tui", "--json", first["id"][:4]),  # a prefix of the id will do
        env=env,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
    )
    time.sleep(2.5)
    later = next(r for r in _ps(env) if r["id"] == first["id"])
    assert later["bytes_read"] > first["bytes_read"]
    feeder.join(30)
    assert put.wait(60) == 0, put.stderr.read().decode() if put.stderr else ""
    _, err = watcher.communicate(timeout=30)
    assert watcher.returncode == 0, err.decode()
    assert "s3tui: uploaded 12 MiB to s3://" in err.decode()
    _, err = json_watcher.communicate(timeout=30)
    lines = [json.loads(line) for line in err.decode().splitlines()]
    assert json_watcher.returncode == 0 and lines[0]["type"] == "progress"
    assert lines[-1]["type"] == "summary" and lines[-1]["exit_code"] == 0
    assert lines[-1]["id"] == first["id"] and lines[-1]["bytes"] == len(data)
    assert_object_landed(s3_client, bucket, "slow.bin", data, spool)
    # Finished: gone from `ps`, listed by `ps --all` with its result.
    assert not [r for r in _ps(env) if r["id"] == first["id"]]
    done = next(r for r in _ps(env, "--all") if r["id"] == first["id"])
    assert done["status"] == "finished" and done["exit_code"] == 0
    assert done["bytes_uploaded"] == len(data) and done["percent"] == 100.0
    # Private, and no secret in anything published.
    base = _base(env)
    assert stat.S_IMODE(base.stat().st_mode) == 0o700
    entry = base / first["id"]
    assert stat.S_IMODE(entry.stat().st_mode) == 0o700
    for f in entry.iterdir():
        assert stat.S_IMODE(f.stat().st_mode) == 0o600, f
        text = f.read_text()
        assert env["AWS_SECRET_ACCESS_KEY"] not in text
        assert env["AWS_ACCESS_KEY_ID"] not in text
        assert URL_SECRET not in text
    state = json.loads((entry / "state.json").read_text())
    assert state["endpoint"] == local_s3.endpoint_url
    assert state["history"] and state["history"][-1][1] >= len(data)
    assert state["result"]["exit_code"] == 0


def test_killed_put_watcher_says_gone_and_ps_marks_it_dead(
    local_s3: Any, bucket: str, s3_env: dict[str, str], tmp_path: Path
) -> None:
    data = random_bytes(8 * MiB, seed=19)
    put = _start_put(f"s3://{bucket}/killed.bin", s3_env, local_s3.endpoint_url, tmp_path / "sp")
    _feed(put, data, 256 * 1024, 0.25)
    first = _wait_listed(s3_env)
    watcher = subprocess.Popen(
        s3tui_cmd("watch", "--no-tui"),  # the only one running: no id needed
        env=s3_env,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
    )
    time.sleep(1.5)
    put.send_signal(signal.SIGKILL)
    put.wait(10)
    _, err = watcher.communicate(timeout=20)
    assert watcher.returncode == 1
    assert "process is gone" in err.decode() and "s3tui cleanup" in err.decode()
    rows = _ps(s3_env)
    assert [r["status"] for r in rows if r["id"] == first["id"]] == ["dead"]
    p = subprocess.run(s3tui_cmd("ps"), env=s3_env, capture_output=True, timeout=30)
    assert "dead" in p.stdout.decode() and "s3tui cleanup" in p.stderr.decode()


def test_watch_without_id_and_several_running_lists_them(s3_env: dict[str, str]) -> None:
    base = store.ensure_base(_base(s3_env))
    me = os.getpid()
    for ident in ("aaaa1111", "bbbb2222"):
        (base / ident).mkdir(mode=0o700)
        store.write_json(
            base / ident / "state.json",
            {"id": ident, "pid": me, "source": "stdin", "dest": "s3://b/k", "started": 1.0},
        )
    p = subprocess.run(s3tui_cmd("watch", "--no-tui"), env=s3_env, capture_output=True, timeout=30)
    assert p.returncode == 2
    err = p.stderr.decode()
    assert "aaaa1111" in err and "bbbb2222" in err and "name one" in err
    assert err.splitlines()[-1] == (
        "s3tui: error: 2 uploads are running (aaaa1111, bbbb2222): name one, `s3tui watch ID`"
    )
    p = subprocess.run(s3tui_cmd("watch", "--json"), env=s3_env, capture_output=True, timeout=30)
    assert p.returncode == 2
    listed = json.loads(p.stderr.decode().splitlines()[0])
    assert listed["type"] == "uploads"
    assert [u["id"] for u in listed["uploads"]] == ["aaaa1111", "bbbb2222"]
    assert "(aaaa1111, bbbb2222): name one" in p.stderr.decode().splitlines()[-1]
    p = subprocess.run(s3tui_cmd("watch", "--no-tui", "zz"), env=s3_env, capture_output=True)
    assert p.returncode == 1 and "no upload 'zz'" in p.stderr.decode()


def _state(env: dict[str, str], ident: str) -> dict[str, Any]:
    entry = store.Entry(ident, _base(env) / ident, {})
    for _ in range(20):
        if entry.reload():
            return entry.state
        time.sleep(0.05)
    raise AssertionError("state.json unreadable")


def _wait_state(env: dict[str, str], ident: str, check: Any, timeout: float = 15) -> dict[str, Any]:
    end = time.monotonic() + timeout
    while time.monotonic() < end:
        state = _state(env, ident)
        if check(state):
            return state
        time.sleep(0.2)
    raise AssertionError(f"never reached: {state}")


def test_pause_from_a_watcher_stops_bytes_and_concurrency_steers(
    local_s3: Any, s3_client: Any, bucket: str, s3_env: dict[str, str], tmp_path: Path
) -> None:
    data = random_bytes(30 * MiB, seed=20)
    spool = tmp_path / "spool"
    # One 5 MiB part at a time at 5 MB/s: a part in flight when pausing ends within ~1 s.
    put = _start_put(
        f"s3://{bucket}/paused.bin", s3_env, local_s3.endpoint_url, spool,
        "--concurrency", "1", "--bwlimit", "5MB",
    )  # fmt: skip
    _feed(put, data, 1 * MiB, 0.0)
    ident = _wait_listed(s3_env)["id"]
    entry = store.Entry(ident, _base(s3_env) / ident, {})
    _wait_state(s3_env, ident, lambda s: s["bytes_sent"] > 0)
    entry.send("pause")
    _wait_state(s3_env, ident, lambda s: s["paused"], timeout=5)
    time.sleep(2.5)  # the part in flight finishes
    before = _state(s3_env, ident)
    time.sleep(3)
    after = _state(s3_env, ident)
    assert after["updated"] > before["updated"]  # still published, and nothing moved
    assert after["bytes_sent"] == before["bytes_sent"] < len(data)
    assert not [p for p in after["parts"] if p["state"] in ("uploading", "retrying")]
    assert any("paused from a watcher" in e["reason"] for e in after["events"])
    entry.send("concurrency", delta=1)
    _wait_state(s3_env, ident, lambda s: s["concurrency_ceiling"] == 2, timeout=5)
    entry.send("resume")
    _wait_state(s3_env, ident, lambda s: s["bytes_sent"] > after["bytes_sent"], timeout=10)
    assert put.wait(60) == 0, put.stderr.read().decode() if put.stderr else ""
    assert_object_landed(s3_client, bucket, "paused.bin", data, spool)
    assert not list((_base(s3_env) / ident).glob("cmd-*"))  # every command was taken


def test_stop_from_a_watcher_aborts_the_upload(
    local_s3: Any, s3_client: Any, bucket: str, s3_env: dict[str, str], tmp_path: Path
) -> None:
    from tests.helpers import assert_no_incomplete_uploads

    put = _start_put(
        f"s3://{bucket}/stopped.bin", s3_env, local_s3.endpoint_url, tmp_path / "sp",
        "--concurrency", "1", "--bwlimit", "3MB",
    )  # fmt: skip
    _feed(put, random_bytes(30 * MiB, seed=23), 1 * MiB, 0.0)
    ident = _wait_listed(s3_env)["id"]
    _wait_state(s3_env, ident, lambda s: s["parts_done"] >= 1)
    watcher = subprocess.Popen(
        s3tui_cmd("watch", "--no-tui", "-q", ident), env=s3_env, stderr=subprocess.PIPE
    )
    time.sleep(1.0)
    store.Entry(ident, _base(s3_env) / ident, {}).send("stop")
    assert put.wait(30) == 130
    _, err = watcher.communicate(timeout=30)
    assert watcher.returncode == 130, err.decode()  # `watch ID && notify-send done` stays quiet
    assert "stopped from a watcher" in (put.stderr.read().decode() if put.stderr else "")
    assert_no_incomplete_uploads(s3_client, bucket)
    done = next(r for r in _ps(s3_env, "--all") if r["id"] == ident)
    assert done["exit_code"] == 130 and "stopped from a watcher" in done["message"]
