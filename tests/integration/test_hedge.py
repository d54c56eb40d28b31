"""Hedged stragglers against the real server behind the fault proxy: a part whose answer never
comes is overtaken by a second copy, the object lands once and byte-exact (SeaweedFS keeps both
copies of the part: completion names one), and hedges never take more slots than
``--concurrency`` (the proxy counts the requests in flight)."""

from __future__ import annotations

from pathlib import Path
from typing import Any

from s3tui.lab import FaultProxy, LocalS3
from s3tui.lab.faultproxy import Fault
from tests.helpers import MiB, assert_object_landed, random_bytes, read_jsonl
from tests.integration.cli_runner import run_put


def test_stragglers_at_the_end_are_hedged_within_the_concurrency(
    local_s3: LocalS3, s3_client: Any, bucket: str, s3_env: dict[str, str], tmp_path: Path
) -> None:
    """7 parts of 8 MiB, 4 in flight, 8 MB/s per connection and 40 ms. The answers of parts
    5-7 never come (their bodies are stored: the server acted). Three stragglers and one free
    slot at the end: a copy that went out beside them without a slot would make 5-7 in flight."""
    with FaultProxy(local_s3.endpoint_url, bandwidth=8e6, latency=0.04) as proxy:
        rules = [
            proxy.add_rule(
                Fault.stall_response(), method="PUT", path=f"partNumber={n}(&|$)", times=1
            )
            for n in (5, 6, 7)
        ]
        data = random_bytes(56 * MiB, seed=193)
        stats = tmp_path / "stats.jsonl"
        r = run_put(
            data,
            f"s3://{bucket}/hedged",
            "--concurrency",
            "4",
            "--stats-file",
            str(stats),
            env=s3_env,
            endpoint=proxy.url,
            spool=tmp_path / "spool",
        )
        most = proxy.max_in_flight
    assert r.code == 0, r.stderr
    assert [rule.injected for rule in rules] == [1, 1, 1]
    assert_object_landed(s3_client, bucket, "hedged", data, tmp_path / "spool")
    assert most <= 4, f"{most} requests in flight with --concurrency 4"
    records = [rec for rec in read_jsonl(stats) if rec.get("part") in (5, 6, 7)]
    hedges = [rec for rec in records if rec["hedge"]]
    won = [rec for rec in hedges if rec["ok"]]
    assert won, records  # at least one straggler was overtaken by its copy
    overtaken = [rec for rec in records if rec["error"] == "overtaken by its hedge"]
    assert len(overtaken) == len(won), records
    # Each part succeeded exactly once: by its copy or by a retry, never both.
    for n in (5, 6, 7):
        assert sum(1 for rec in records if rec["part"] == n and rec["ok"]) == 1, records
    assert "hedged" in r.stderr  # the summary counts them
