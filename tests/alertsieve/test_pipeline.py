"""The pipeline status record and the gauges it feeds."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from pathlib import Path

from alertsieve import metric_names as m
from alertsieve.pipeline import PipelineStatus, latest_status, record_status, status_gauges, store_gauges
from alertsieve.store import open_store

T = datetime(2026, 3, 9, 3, 0, tzinfo=UTC)


def run(minutes: int, outcome: str = "success", job: str = "retrain") -> PipelineStatus:
    return PipelineStatus(
        job=job,
        started_at=T + timedelta(minutes=minutes),
        outcome=outcome,
        finished_at=T + timedelta(minutes=minutes + 5),
        duration_s=300.0,
        rows=minutes,
    )


def test_the_latest_finished_run_is_read_back(tmp_path: Path) -> None:
    store = open_store(str(tmp_path))
    assert latest_status(store) is None and status_gauges(None) == {}
    for status in (run(10), run(30, "failed"), run(20), run(40, job="compare")):
        record_status(store, status)
    (tmp_path / "pipeline" / "garbage.jsonl").write_text("not json\n")
    latest = latest_status(store)
    assert latest is not None and latest.outcome == "failed" and latest.rows == 30
    gauges = status_gauges(latest)
    assert gauges == {
        m.TRAINING_LAST_RUN: (T + timedelta(minutes=35)).timestamp(),
        m.TRAINING_LAST_DURATION: 300.0,
        m.TRAINING_LAST_SUCCESS: 0.0,
        m.TRAINING_ROWS: 30.0,
    }


def test_the_last_successful_run_is_exported_as_a_timestamp(tmp_path: Path) -> None:
    store = open_store(str(tmp_path))
    assert store_gauges(store) == {}
    record_status(store, run(10, "failed"))
    assert m.TRAINING_LAST_SUCCESS_TIME not in store_gauges(store)  # never succeeded: no timestamp to show
    for status in (run(20), run(30), run(40, "failed"), run(50, job="compare")):
        record_status(store, status)
    gauges = store_gauges(store)
    assert gauges[m.TRAINING_LAST_SUCCESS] == 0.0  # the last run failed ...
    assert gauges[m.TRAINING_LAST_SUCCESS_TIME] == (T + timedelta(minutes=35)).timestamp()  # ... the one before did not
    assert gauges[m.TRAINING_LAST_RUN] == (T + timedelta(minutes=45)).timestamp()
