"""The pipeline status record: when the retraining job last ran, for how long, how it ended, on how many rows.

Each run appends one ``PipelineStatus`` to the state store (kind ``pipeline``), next to the decision log,
so whoever exports metrics can read the latest one wherever it runs: ``latest_status(store)`` and
``status_gauges(status)`` give the values of the TRAINING_* gauges of ``alertsieve.metric_names``.
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


def latest_status(store: RecordStore, job: str = "retrain") -> PipelineStatus | None:
    """The most recently finished run of ``job``; None before the first (unreadable lines are skipped)."""
    latest: PipelineStatus | None = None
    for line in store.lines("pipeline"):
        try:
            status = PipelineStatus.model_validate_json(line)
        except ValidationError:
            continue
        if status.job == job and (latest is None or status.finished_at >= latest.finished_at):
            latest = status
    return latest


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
