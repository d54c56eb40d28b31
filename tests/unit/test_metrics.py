"""The --metrics-file text: what Prometheus' parser reads back, whatever the key holds."""

from __future__ import annotations

from pathlib import Path

from prometheus_client.parser import text_string_to_metric_families

from s3tui.engine.job import Result
from s3tui.report.metrics import MetricsFile, previous_success, render


def test_any_key_survives_as_a_label_and_a_failure_keeps_the_last_success(
    tmp_path: Path,
) -> None:
    key = 'odd "dir"\\sub\nline/é.gz'
    text = render(
        Result(0, "ok", size=5, seconds=1.5), {"bucket": "bkt", "key": key}, 10.0, 12.0, None
    )
    families = {f.name: f for f in text_string_to_metric_families(text)}
    sample = families["s3tui_upload_last_success_timestamp_seconds"].samples[0]
    assert sample.labels == {"bucket": "bkt", "key": key} and sample.value == 12.0
    assert families["s3tui_upload_duration_seconds"].samples[0].value == 1.5

    path = tmp_path / "job.prom"
    path.write_text(text)
    assert previous_success(path) == 12.0
    metrics = MetricsFile(path, started=20.0)
    metrics.destination("bkt", "other")
    metrics.done(Result(143, "terminated (SIGTERM)"))
    values = {f.name: f.samples[0].value for f in text_string_to_metric_families(path.read_text())}
    assert values["s3tui_upload_exit_code"] == 143 and values["s3tui_upload_success"] == 0
    assert values["s3tui_upload_last_success_timestamp_seconds"] == 12.0
    assert values["s3tui_upload_start_timestamp_seconds"] == 20.0
