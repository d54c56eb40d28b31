"""Concurrency that finds the link, against the real server behind the fault proxy: with no
``--concurrency`` on a link where every connection is held to 2 MB/s (no total cap), s3tui puts
more requests in flight than its default, says so and why, and lands the same bytes; with
``--concurrency 8`` it stays at 8."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

from s3tui.lab import FaultProxy, LocalS3
from tests.helpers import MiB, assert_object_landed, random_bytes
from tests.integration.cli_runner import run_put


def _moves(stderr: str) -> list[dict[str, Any]]:
    lines = [json.loads(ln) for ln in stderr.splitlines() if ln.startswith("{")]
    return [ln for ln in lines if ln.get("type") == "event" and ln.get("kind") == "concurrency"]


def test_concurrency_climbs_on_a_link_held_per_connection_unless_pinned(
    local_s3: LocalS3, s3_client: Any, bucket: str, s3_env: dict[str, str], tmp_path: Path
) -> None:
    data = random_bytes(160 * MiB, seed=194)
    with FaultProxy(local_s3.endpoint_url, bandwidth=2e6, latency=0.04) as proxy:
        auto = run_put(
            data, f"s3://{bucket}/auto", "--json",
            env=s3_env, endpoint=proxy.url, spool=tmp_path / "spool", timeout=240,
        )  # fmt: skip
        assert auto.code == 0, auto.stderr
        assert_object_landed(s3_client, bucket, "auto", data, tmp_path / "spool")
        most_auto = proxy.max_in_flight
        proxy.reset_in_flight_max()
        pinned = run_put(
            data[: 24 * MiB], f"s3://{bucket}/pinned", "--json", "--concurrency", "8",
            env=s3_env, endpoint=proxy.url, spool=tmp_path / "spool",
        )  # fmt: skip
        most_pinned = proxy.max_in_flight
    moves = _moves(auto.stderr)
    assert moves and moves[0]["next"] == "16 in flight", auto.stderr
    assert "more requests" in moves[0]["reason"]
    assert most_auto > 8, most_auto
    assert pinned.code == 0, pinned.stderr
    assert _moves(pinned.stderr) == [] and most_pinned <= 8
    summary = json.loads(auto.stderr.strip().splitlines()[-1])
    assert summary["type"] == "summary" and summary["ok"]
