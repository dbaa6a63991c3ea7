"""The pipeline status record: when the retraining job last ran, for how long, how it ended, on how many rows.

Each run appends one ``PipelineStatus`` to the state store (kind ``pipeline``), next to the decision log,
so whoever exports metrics can read the latest one wherever it runs: ``latest_status(store)`` and
``status_gauges(status)`` give the values of the TRAINING_* gauges of ``alertsieve.metric_names``;
``store_gauges(store)`` adds the finish time of the last successful run (``TRAINING_LAST_SUCCESS_TIME``),
which an alert compares with now ("no successful retraining for 8 days").
Nothing here imports Ray.
"""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Literal

from pydantic import BaseModel, Field, ValidationError

from alertsieve import metric_names as m
from alertsieve.store import RecordStore

Outcome = Literal["success", "failed"]


class PipelineStatus(BaseModel):
    job: str = "retrain"
    started_at: datetime
    finished_at: datetime
    duration_s: float = Field(ge=0)
    outcome: Outcome
    rows: int = Field(default=0, ge=0, description="labelled alerts in the training window")
    version: str | None = Field(default=None, description="the registered version, when one was")
    message: str = ""


def record_status(store: RecordStore, status: PipelineStatus) -> None:
    store.append("pipeline", [status])


def _latest(store: RecordStore, job: str) -> tuple[PipelineStatus | None, PipelineStatus | None]:
    """(the latest run, the latest successful run) of ``job``; unreadable lines are skipped."""
    latest: PipelineStatus | None = None
    success: PipelineStatus | None = None
    for line in store.lines("pipeline"):
        try:
            status = PipelineStatus.model_validate_json(line)
        except ValidationError:
            continue
        if status.job != job:
            continue
        if latest is None or status.finished_at >= latest.finished_at:
            latest = status
        if status.outcome == "success" and (success is None or status.finished_at >= success.finished_at):
            success = status
    return latest, success


def latest_status(store: RecordStore, job: str = "retrain") -> PipelineStatus | None:
    """The most recently finished run of ``job``; None before the first (unreadable lines are skipped)."""
    return _latest(store, job)[0]


def store_gauges(store: RecordStore, job: str = "retrain") -> dict[str, float]:
    """``status_gauges`` of the latest run, and the finish time of the latest successful one (if any)."""
    latest, success = _latest(store, job)
    gauges = status_gauges(latest)
    if success is not None:
        gauges[m.TRAINING_LAST_SUCCESS_TIME] = success.finished_at.timestamp()
    return gauges


def status_gauges(status: PipelineStatus | None) -> dict[str, float]:
    """Gauge name -> value for the TRAINING_* gauges (empty before the first run)."""
    if status is None:
        return {}
    return {
        m.TRAINING_LAST_RUN: status.finished_at.timestamp(),
        m.TRAINING_LAST_DURATION: status.duration_s,
        m.TRAINING_LAST_SUCCESS: 1.0 if status.outcome == "success" else 0.0,
        m.TRAINING_ROWS: float(status.rows),
    }


def now() -> datetime:
    return datetime.now(UTC)
