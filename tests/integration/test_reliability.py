"""Against a real SeaweedFS: bad options are refused up front (exit
2, one line, no request, stdin unread), a local error is told as what it is, a stop is not held up
by --bwlimit, and a kernel file whose size says 0 is uploaded with its content."""

from __future__ import annotations

import contextlib
import os
import signal
import subprocess
import time
from pathlib import Path
from typing import Any

import pytest

from s3tui.lab import LocalS3
from tests.helpers import (
    assert_landed,
    assert_no_incomplete_uploads,
    assert_spool_empty,
    random_bytes,
    write_tree,
)
from tests.integration.cli_runner import run_put, run_put_paths, s3tui_cmd

MiB = 1024 * 1024
UNREAD = b"stdin must not be read by a usage error\n"


def _nothing_stored(client: Any, bucket: str, spool: Path) -> None:
    assert client.list_objects_v2(Bucket=bucket).get("KeyCount", 0) == 0, "something was stored"
    assert_no_incomplete_uploads(client, bucket)
    assert_spool_empty(spool)


def _one_line_usage_error(p: subprocess.CompletedProcess, *hints: str) -> str:
    err = p.stderr.decode()
    assert p.returncode == 2, err
    assert err.startswith("s3tui: error: ") and len(err.strip().splitlines()) == 1, err
    assert "unexpected" not in err and "Traceback" not in err, err
    for hint in hints:
        assert hint in err, err
    return err


BAD_OPTIONS = [
    (["--content-type", "tëxt/plain"], ["--content-type 'tëxt/plain'", "US-ASCII", "RFC 2047"]),
    (["--content-type", "text/日本"], ["--content-type", "percent-encoding"]),
    (["--content-type", "text/plain\r\nX-Injected: 1"], ["--content-type", "control character"]),
    (["--metadata", "note=line1\r\nline2"], ["--metadata", "control character"]),
    (["--metadata", "note=café"], ["--metadata 'note=café'", "US-ASCII"]),
    (["--metadata", "nöte=v"], ["--metadata", "header name"]),
    (["--storage-class", "STANDARD\n"], ["--storage-class", "control character"]),
    (["--sse", "aws:kms", "--sse-kms-key-id", "clé"], ["--sse-kms-key-id", "US-ASCII"]),
    (["--timeout-factor", "nan"], ["--timeout-factor nan", "finite"]),
    (["--timeout-factor", "inf"], ["--timeout-factor inf", "finite"]),
    (["--timeout-factor", "1e400"], ["--timeout-factor", "finite"]),
    (["--expected-size", "100TiB"], ["--expected-size '100TiB'", "largest object"]),
    (["--min-size", "20TiB"], ["--min-size '20TiB'", "10,000 parts"]),
    (["--chunk-size", "1" + "0" * 400], ["--chunk-size", "too large"]),
    (["--bwlimit", "1" + "0" * 400], ["--bwlimit", "too large"]),
    (["--region", "eü-west-1"], ["--region 'eü-west-1'", "not a region name"]),
    (["--region", "us-east-1\r\n"], ["--region", "not a region name"]),
    (["--endpoint-url", "http://ünï.example:9000"], ["--endpoint-url", "US-ASCII", "xn--"]),
    (["--endpoint-url", "http://127.0.0.1:9000\r\n"], ["--endpoint-url", "US-ASCII"]),
    (["--endpoint-url", "http://127.0.0.1:9000 "], ["--endpoint-url", "is not a URL"]),
]


@pytest.mark.parametrize(("args", "hints"), BAD_OPTIONS, ids=[" ".join(a) for a, _ in BAD_OPTIONS])
def test_bad_option_is_exit_2_before_any_request_and_before_stdin_is_read(
    args: list[str],
    hints: list[str],
    local_s3: LocalS3,
    s3_client: Any,
    bucket: str,
    s3_env: dict[str, str],
    tmp_path: Path,
) -> None:
    spool = tmp_path / "spool"
    cmd = s3tui_cmd(
        "put", "-", f"s3://{bucket}/k", "--endpoint-url", local_s3.endpoint_url,
        "--spool-dir", str(spool), *args,
    )  # fmt: skip
    r, w = os.pipe()  # never ends: only an up-front refusal can end the process in time
    try:
        os.write(w, UNREAD)
        p = subprocess.run(cmd, stdin=r, env=s3_env, capture_output=True, timeout=20)
        os.set_blocking(r, False)
        assert os.read(r, 100) == UNREAD  # still in the pipe: stdin was not read
    finally:
        os.close(r)
        os.close(w)
    _one_line_usage_error(p, *hints)
    _nothing_stored(s3_client, bucket, spool)


def test_bad_content_type_on_a_tree_stores_nothing(
    local_s3: LocalS3, s3_client: Any, bucket: str, s3_env: dict[str, str], tmp_path: Path
) -> None:
    """It stored the first file, then failed the job with a misleading SignatureDoesNotMatch."""
    src = tmp_path / "src"
    write_tree(src, {f"f{i}.txt": b"x" * (i + 1) for i in range(5)})
    for ctype in ("tëxt/plain", "text/日本", "text/plain\r\n"):
        r = run_put_paths(
            str(src), f"s3://{bucket}/p/", "--content-type", ctype,
            env=s3_env, endpoint=local_s3.endpoint_url, spool=tmp_path / "spool",
        )  # fmt: skip
        assert r.code == 2 and "--content-type" in r.stderr, r.stderr
        assert len(r.stderr.strip().splitlines()) == 1, r.stderr
    _nothing_stored(s3_client, bucket, tmp_path / "spool")


def test_closed_stdin_is_exit_2_before_any_request(
    local_s3: LocalS3, s3_client: Any, bucket: str, s3_env: dict[str, str], tmp_path: Path
) -> None:
    """`s3tui put - s3://b/k <&-` ended in 'unexpected AttributeError ... please report it'."""
    cmd = s3tui_cmd(
        "put", "-", f"s3://{bucket}/k", "--endpoint-url", local_s3.endpoint_url,
        "--spool-dir", str(tmp_path / "spool"),
    )  # fmt: skip
    p = subprocess.run(
        cmd, preexec_fn=lambda: os.close(0), env=s3_env, capture_output=True, timeout=20
    )
    _one_line_usage_error(p, "stdin is closed")
    _nothing_stored(s3_client, bucket, tmp_path / "spool")


@contextlib.contextmanager
def _small_tmpfs(where: Path, size: str) -> Any:
    where.mkdir()
    try:
        subprocess.run(
            ["mount", "-t", "tmpfs", "-o", f"size={size},mode=0700", "tmpfs", str(where)],
            check=True,
            capture_output=True,
            timeout=10,
        )
    except (OSError, subprocess.SubprocessError) as e:
        pytest.skip(f"cannot mount a small tmpfs here (needs root): {e}")
    try:
        yield where
    finally:
        subprocess.run(["umount", str(where)], check=False, capture_output=True, timeout=30)


def test_full_spool_disk_with_piped_stdin_says_so(
    local_s3: LocalS3, s3_client: Any, bucket: str, s3_env: dict[str, str], tmp_path: Path
) -> None:
    """splice() reported the spool file's ENOSPC as 'cannot read stdin: No space left on
    device'. An 8 MiB tmpfs with 6 MiB taken cannot hold one 5 MiB chunk: always ENOSPC."""
    with _small_tmpfs(tmp_path / "small", "8m") as disk:
        (disk / "filler").write_bytes(b"\0" * (6 * MiB))
        spool = disk / "spool"
        r = run_put(
            random_bytes(12 * MiB), f"s3://{bucket}/k", "--chunk-size", "5MiB",
            env=s3_env, endpoint=local_s3.endpoint_url, spool=spool,
        )  # fmt: skip
        assert r.code == 1, r.stderr
        assert f"the spool disk is full at {spool}" in r.stderr, r.stderr
        assert "--spool-dir on a bigger disk" in r.stderr
        assert "cannot read stdin" not in r.stderr and "Traceback" not in r.stderr
        _nothing_stored(s3_client, bucket, spool)


def test_sigterm_with_a_low_bwlimit_stops_at_once(
    local_s3: LocalS3, s3_client: Any, bucket: str, s3_env: dict[str, str], tmp_path: Path
) -> None:
    """Workers slept out each --bwlimit wait (a 1 MiB block at 64 KiB/s is 12-16 s), so a
    SIGTERM took ~30 s (the workers' join timeout) before the upload was aborted."""
    spool = tmp_path / "spool"
    cmd = s3tui_cmd(
        "put", "-", f"s3://{bucket}/slow", "--endpoint-url", local_s3.endpoint_url,
        "--spool-dir", str(spool), "--chunk-size", "5MiB", "--bwlimit", "64KiB",
    )  # fmt: skip
    p = subprocess.Popen(cmd, stdin=subprocess.PIPE, env=s3_env, stderr=subprocess.PIPE)
    assert p.stdin is not None and p.stderr is not None
    try:
        p.stdin.write(random_bytes(12 * MiB))  # two full parts to send, slowly
        p.stdin.flush()
        end = time.monotonic() + 20
        while not s3_client.list_multipart_uploads(Bucket=bucket).get("Uploads"):
            assert time.monotonic() < end, "the upload never started"
            time.sleep(0.05)
        time.sleep(1.5)  # parts are in flight, their workers waiting in the rate limiter
        p.send_signal(signal.SIGTERM)
        t0 = time.monotonic()
        code = p.wait(60)
        took = time.monotonic() - t0
    finally:
        p.kill() if p.poll() is None else None
        p.stdin.close()
    err = p.stderr.read().decode()
    assert code == 143, err
    assert took < 3.0, f"SIGTERM took {took:.1f}s"
    assert "nothing was stored" in err and "Traceback" not in err
    _nothing_stored(s3_client, bucket, spool)


@pytest.mark.skipif(not Path("/proc/filesystems").is_file(), reason="needs procfs")
def test_kernel_files_whose_size_says_0_land_with_their_content(
    local_s3: LocalS3, s3_client: Any, bucket: str, s3_env: dict[str, str], tmp_path: Path
) -> None:
    """`s3tui put /proc/cpuinfo s3://b/k` stored an empty object: the listed size is 0. A sysfs
    attribute (listed 4096, a few bytes) failed as 'changed while being uploaded'."""
    version, filesystems = Path("/proc/version"), Path("/proc/filesystems")  # stable content
    assert version.stat().st_size == 0 and version.read_bytes()
    sysfs = Path("/sys/kernel/mm/transparent_hugepage/enabled")
    extra = [sysfs] if sysfs.is_file() else []
    spool = tmp_path / "spool"
    r = run_put_paths(
        str(version), str(filesystems), *map(str, extra), f"s3://{bucket}/p/",
        env=s3_env, endpoint=local_s3.endpoint_url, spool=spool,
    )  # fmt: skip
    assert r.code == 0, r.stderr
    r = run_put_paths(
        str(version), f"s3://{bucket}/one", env=s3_env, endpoint=local_s3.endpoint_url, spool=spool
    )
    assert r.code == 0, r.stderr
    expect = {
        "p/version": version.read_bytes(),
        "p/filesystems": filesystems.read_bytes(),
        "one": version.read_bytes(),
        **{f"p/{f.name}": f.read_bytes() for f in extra},
    }
    assert_landed(s3_client, bucket, expect, spool)


@pytest.mark.skipif(not Path("/dev/full").exists(), reason="needs /dev/full")
def test_a_stats_file_that_cannot_be_written_does_not_fail_the_upload(
    local_s3: LocalS3, s3_client: Any, bucket: str, s3_env: dict[str, str], tmp_path: Path
) -> None:
    """Its ENOSPC, raised in the request path, was reported as 'the spool disk is full' and left
    the preflight's multipart upload open; a directory was an 'unexpected IsADirectoryError'."""
    spool = tmp_path / "spool"
    data = random_bytes(12 * MiB)
    r = run_put(
        data, f"s3://{bucket}/k", "--chunk-size", "5MiB", "--stats-file", "/dev/full",
        env=s3_env, endpoint=local_s3.endpoint_url, spool=spool,
    )  # fmt: skip
    assert r.code == 0, r.stderr
    assert "warning: --stats-file /dev/full: writing failed (No space left on device)" in r.stderr
    assert "spool disk" not in r.stderr and "unexpected" not in r.stderr
    assert_landed(s3_client, bucket, {"k": data}, spool)
    cmd = s3tui_cmd(
        "put", "-", f"s3://{bucket}/k2", "--endpoint-url", local_s3.endpoint_url,
        "--spool-dir", str(spool), "--stats-file", str(tmp_path),
    )  # fmt: skip
    p = subprocess.run(cmd, input=b"x", env=s3_env, capture_output=True, timeout=20)
    _one_line_usage_error(p, "--stats-file", "Is a directory")
    assert_landed(s3_client, bucket, {"k": data}, spool)
