"""Stalls are found by progress, not by the full deadline, against the real server
behind the fault proxy: a part stalled forever on a throttled link is cut in about two seconds
and retried with the normal deadline; a slow link that keeps moving is never cut."""

from __future__ import annotations

from pathlib import Path
from typing import Any

from s3tui.lab import FaultProxy, LocalS3
from s3tui.lab.faultproxy import Fault
from tests.helpers import MiB, assert_object_landed, random_bytes, read_jsonl
from tests.integration.cli_runner import run_put


def test_a_part_stalled_on_a_throttled_link_is_cut_in_seconds(
    local_s3: LocalS3, s3_client: Any, bucket: str, s3_env: dict[str, str], tmp_path: Path
) -> None:
    """The issue's link: 8 MB/s per connection, 40 ms, 8 MiB parts, 4 in flight. Part 6 stops
    moving after 1 MiB of body; its deadline is 5+ s, the stall costs ~2 s."""
    with FaultProxy(local_s3.endpoint_url, bandwidth=8e6, latency=0.04) as proxy:
        rule = proxy.add_rule(
            Fault.stall(after_bytes=MiB), method="PUT", path="partNumber=6(&|$)", times=1
        )
        data = random_bytes(64 * MiB, seed=191)
        stats = tmp_path / "stats.jsonl"
        r = run_put(
            data,
            f"s3://{bucket}/stall",
            "--concurrency",
            "4",
            "--stats-file",
            str(stats),
            env=s3_env,
            endpoint=proxy.url,
            spool=tmp_path / "spool",
        )
    assert r.code == 0, r.stderr
    assert rule.injected == 1
    assert_object_landed(s3_client, bucket, "stall", data, tmp_path / "spool")
    records = [rec for rec in read_jsonl(stats) if rec.get("part") == 6]
    failed = [rec for rec in records if not rec["ok"]]
    if failed and failed[0]["error"] == "overtaken by its hedge":
        # A slot was free at the end and a hedged copy won before the stall rule cut it:
        # the stall still cost seconds, not its deadline.
        assert len(failed) == 1 and failed[0]["total_ms"] < 3_500, records
        assert [rec["hedge"] for rec in records if rec["ok"]] == [True], records
        return
    assert len(failed) == 1 and failed[0]["error"] == "stalled", records
    # Cut ~1.5 s (the allowance) + up to 0.4 s (the watchdog's look) after the bytes stopped,
    # far inside its deadline; bounded generously for a loaded machine.
    assert failed[0]["total_ms"] < 3_500, failed
    assert failed[0]["total_ms"] < 1000 * failed[0]["deadline_s"] * 0.7, failed
    # The other parts completed at the estimated speed: the retry's deadline is not doubled.
    retry = next(rec for rec in records if rec["ok"])
    assert retry["attempt"] == 2
    assert retry["deadline_s"] < 1.5 * failed[0]["deadline_s"], records
    assert "stalled" in r.stderr
    # No other request was cut: the clean parts of a throttled link are not stalls.
    assert [rec for rec in read_jsonl(stats) if not rec["ok"]] == failed


def test_a_slow_link_that_keeps_moving_is_never_cut(
    local_s3: LocalS3, s3_client: Any, bucket: str, s3_env: dict[str, str], tmp_path: Path
) -> None:
    """300 KB/s: the body's 1 MiB blocks take 3.5 s each, twice the stall allowance the first
    guess of the estimate (2 MB/s) gives. Progress is seen within blocks (the socket's
    acknowledged bytes, partial sends), so nothing is cut. ``--timeout-factor 10`` keeps the
    guess's deadline out of the way: this is about stalls, not deadlines."""
    with FaultProxy(local_s3.endpoint_url, bandwidth=300e3, latency=0.04) as proxy:
        data = random_bytes(3 * MiB, seed=192)
        stats = tmp_path / "stats.jsonl"
        r = run_put(
            data,
            f"s3://{bucket}/slow",
            "--timeout-factor",
            "10",
            "--stats-file",
            str(stats),
            env=s3_env,
            endpoint=proxy.url,
            spool=tmp_path / "spool",
        )
    assert r.code == 0, r.stderr
    assert_object_landed(s3_client, bucket, "slow", data, tmp_path / "spool")
    records = read_jsonl(stats)
    attempts = [rec for rec in records if rec.get("bytes") == len(data)]
    assert len(attempts) == 1 and attempts[0]["ok"], records
    assert attempts[0]["success_ms"] > 8_000  # it really was slow (3 MiB at 300 KB/s: 10.5 s)
    assert "retr" not in r.stderr.lower() or "0 retries" in r.stderr, r.stderr
