"""A run of small files sends from the PutObject template an earlier run learned, without
importing botocore; a template that no longer fits is dropped and botocore takes over."""

from __future__ import annotations

import json
import stat
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest

from s3tui.engine.remote import fast
from s3tui.lab import FaultProxy, LocalS3
from s3tui.lab.faultproxy import Fault
from tests.helpers import MiB, assert_landed, random_bytes, write_tree

pytestmark = pytest.mark.skipif(
    not fast.enabled(), reason="S3TUI_FAST_PATH=0: these test the fast path itself"
)
# The CLI, reporting on stderr whether botocore was ever imported.
_WRAPPER = (
    "import atexit, sys\n"
    "atexit.register(lambda: print('botocore imported:', 'botocore' in sys.modules,"
    " file=sys.stderr))\n"
    "from s3tui.cli import main\n"
    "sys.exit(main(sys.argv[1:]))\n"
)


def _put(
    src: Path, dest: str, env: dict[str, str], endpoint: str, spool: Path, *extra: str
) -> tuple[int, str]:
    cmd = [sys.executable, "-c", _WRAPPER, "put", str(src), dest, "--endpoint-url", endpoint]
    cmd += ["--spool-dir", str(spool), "--chunk-size", "5MiB", *extra]
    p = subprocess.run(
        cmd, env=env, stdin=subprocess.DEVNULL, capture_output=True, text=True, timeout=60
    )
    return p.returncode, p.stderr


def _small(root: Path) -> dict[str, bytes]:
    return write_tree(
        root,
        {
            "a.txt": b"alpha",
            "empty.json": b"",
            "sub/ünïcødé 名前.html": "<p>ü</p>".encode(),
            **{f"sub/f{i:02d}.bin": random_bytes(1000 + 97 * i, seed=i) for i in range(12)},
        },
    )


def _cache_files(env_root: Path) -> list[Path]:
    return sorted((env_root / "cache" / "s3tui" / "put-templates").glob("*.json"))


def _template(path: Path) -> dict[str, Any]:
    """The one template in a cache file, less botocore's User-Agent (its feature list has no
    fixed order)."""
    (entry,) = json.loads(path.read_text())["templates"].values()
    return {k: v for k, v in entry.items() if k != "headers"} | {
        "headers": [h for h in entry["headers"] if h[0].lower() != "user-agent"]
    }


def test_second_run_sends_from_the_remembered_template_without_botocore(
    local_s3: LocalS3,
    s3_client: Any,
    bucket: str,
    s3_env: dict[str, str],
    isolated_env: Path,
    tmp_path: Path,
) -> None:
    files = _small(tmp_path / "src")
    spool = tmp_path / "spool"
    code, err = _put(tmp_path / "src", f"s3://{bucket}/one/", s3_env, local_s3.endpoint_url, spool)
    assert code == 0, err
    assert "botocore imported: True" in err  # the first run learns through botocore
    (cached,) = _cache_files(isolated_env)
    assert stat.S_IMODE(cached.stat().st_mode) == 0o600
    assert stat.S_IMODE(cached.parent.stat().st_mode) == 0o700
    text = cached.read_text()
    for secret in (s3_env["AWS_ACCESS_KEY_ID"], s3_env["AWS_SECRET_ACCESS_KEY"]):
        assert secret not in text
    assert "Authorization" not in text and f"/{bucket}/" in text

    code, err = _put(tmp_path / "src", f"s3://{bucket}/two/", s3_env, local_s3.endpoint_url, spool)
    assert code == 0, err
    assert "botocore imported: False" in err, err
    expect = {f"{p}/{rel}": d for p in ("one", "two") for rel, d in files.items()}
    assert_landed(s3_client, bucket, expect, spool)
    head = s3_client.head_object(Bucket=bucket, Key="two/sub/ünïcødé 名前.html")
    assert head["ContentType"] == "text/html"
    assert s3_client.head_object(Bucket=bucket, Key="two/empty.json")["ContentLength"] == 0


def test_a_template_that_no_longer_fits_is_dropped_and_botocore_sends(
    local_s3: LocalS3,
    s3_client: Any,
    bucket: str,
    s3_env: dict[str, str],
    isolated_env: Path,
    tmp_path: Path,
) -> None:
    files = _small(tmp_path / "src")
    spool = tmp_path / "spool"
    code, err = _put(tmp_path / "src", f"s3://{bucket}/one/", s3_env, local_s3.endpoint_url, spool)
    assert code == 0, err
    (cached,) = _cache_files(isolated_env)
    good = _template(cached)
    # The server moved (the same inputs, but a port where nobody listens): the first request
    # from the template fails to connect, and botocore sends it to the real endpoint.
    data = json.loads(cached.read_text())
    (options,) = data["templates"]
    data["templates"][options] |= {"port": 9, "host_header": "127.0.0.1:9"}
    cached.write_text(json.dumps(data))
    code, err = _put(tmp_path / "src", f"s3://{bucket}/two/", s3_env, local_s3.endpoint_url, spool)
    assert code == 0, err
    assert "botocore imported: True" in err and "0 retries" in err, err
    assert _template(cached) == good  # learned afresh from botocore's request
    # A template naming another bucket's path: the server refuses it (NoSuchBucket), and no
    # object may land anywhere but where botocore puts it.
    data["templates"][options] |= {"port": good["port"], "host_header": good["host_header"]}
    data["templates"][options]["path_prefix"] = "/no-such-bucket-here/"
    cached.write_text(json.dumps(data))
    code, err = _put(
        tmp_path / "src", f"s3://{bucket}/three/", s3_env, local_s3.endpoint_url, spool
    )
    assert code == 0, err
    assert "botocore imported: True" in err and "0 retries" in err, err
    assert _template(cached) == good
    buckets = {b["Name"] for b in s3_client.list_buckets()["Buckets"]}
    assert "no-such-bucket-here" not in buckets
    expect = {f"{p}/{rel}": d for p in ("one", "two", "three") for rel, d in files.items()}
    assert_landed(s3_client, bucket, expect, spool)


def test_a_big_file_on_a_quick_start_makes_the_client_for_its_multipart_upload(
    local_s3: LocalS3,
    s3_client: Any,
    bucket: str,
    s3_env: dict[str, str],
    tmp_path: Path,
) -> None:
    small = _small(tmp_path / "small")
    spool = tmp_path / "spool"
    code, err = _put(tmp_path / "small", f"s3://{bucket}/s/", s3_env, local_s3.endpoint_url, spool)
    assert code == 0, err
    mixed = write_tree(
        tmp_path / "mixed",
        {"big.bin": random_bytes(11 * MiB + 3, seed=9), "x.txt": b"x", "y.txt": b"yy"},
    )
    code, err = _put(tmp_path / "mixed", f"s3://{bucket}/m/", s3_env, local_s3.endpoint_url, spool)
    assert code == 0, err
    expect = {f"s/{k}": v for k, v in small.items()} | {f"m/{k}": v for k, v in mixed.items()}
    assert_landed(s3_client, bucket, expect, spool)
    assert s3_client.head_object(Bucket=bucket, Key="m/big.bin")["ETag"].strip('"').endswith("-3")


def test_failures_on_a_quick_start_read_as_usual(
    local_s3: LocalS3,
    s3_client: Any,
    bucket: str,
    s3_env: dict[str, str],
    tmp_path: Path,
    fault_proxy: FaultProxy,
) -> None:
    """A 503 SlowDown and a reset on the direct path after the template proved itself: retried
    as always (botocore's exception types are imported only to say what went wrong)."""
    files = _small(tmp_path / "src")
    spool = tmp_path / "spool"
    code, err = _put(tmp_path / "src", f"s3://{bucket}/one/", s3_env, fault_proxy.url, spool)
    assert code == 0, err
    slow = fault_proxy.add_rule(Fault.slow_down(), method="PUT", path=r"/two/sub/f03\.bin", nth=1)
    reset = fault_proxy.add_rule(
        Fault.reset(after_bytes=100), method="PUT", path=r"/two/sub/f07\.bin", nth=1
    )
    stats = tmp_path / "stats.jsonl"
    code, err = _put(
        tmp_path / "src",
        f"s3://{bucket}/two/",
        s3_env,
        fault_proxy.url,
        spool,
        "--stats-file",
        str(stats),
    )
    assert code == 0, err
    assert (slow.injected, reset.injected) == (1, 1)
    records = [json.loads(line) for line in stats.read_text().splitlines()]
    failed = sorted(r["error"] for r in records if "type" not in r and not r["ok"])
    assert failed == ["SlowDown", "connection reset"], failed
    expect = {f"{p}/{rel}": d for p in ("one", "two") for rel, d in files.items()}
    assert_landed(s3_client, bucket, expect, spool)
