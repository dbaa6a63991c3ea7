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

from pydantic import BaseModel, Field

from alertsieve import metric_names as m
from alertsieve.store import RecordStore, latest

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


def _finished_at(status: PipelineStatus) -> datetime:
    return status.finished_at


def latest_status(store: RecordStore, job: str = "retrain", outcome: Outcome | None = None) -> PipelineStatus | None:
    """The most recently finished run of ``job`` (with ``outcome``, when given); None before the first
    (unreadable lines are skipped)."""

    def wanted(status: PipelineStatus) -> bool:
        return status.job == job and (outcome is None or status.outcome == outcome)

    return latest(store, "pipeline", PipelineStatus, _finished_at, wanted)


def store_gauges(store: RecordStore, job: str = "retrain") -> dict[str, float]:
    """``status_gauges`` of the latest run, and the finish time of the latest successful one (if any)."""
    gauges = status_gauges(latest_status(store, job))
    success = latest_status(store, job, "success")
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
