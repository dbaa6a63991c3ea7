"""The retraining pipeline's last run, published by the Ingress as gauges (the job itself is not long-lived):
read from the state store by a daemon thread of the Ingress replica."""

from __future__ import annotations

import time

from alertsieve import metric_names as m
from alertsieve.pipeline import store_gauges
from alertsieve.store import RecordStore
from serve_app.telemetry import telemetry


def export_pipeline_status(store: RecordStore, read_every_s: float = 15.0) -> None:
    """Forever: Ray exports a gauge only while it is being set, so the values are set every second and the
    store (a local file or S3 listing) is read every ``read_every_s``."""
    gauges = {
        m.TRAINING_LAST_RUN: telemetry().training_last_run,
        m.TRAINING_ROWS: telemetry().training_rows,
        m.TRAINING_LAST_DURATION: telemetry().training_duration,
        m.TRAINING_LAST_SUCCESS: telemetry().training_success,
        m.TRAINING_LAST_SUCCESS_TIME: telemetry().training_last_success_time,
    }
    values: dict[str, float] = {}
    read_at = 0.0
    while True:
        try:
            if time.monotonic() - read_at >= read_every_s:
                read_at = time.monotonic()
                values = store_gauges(store)
            for name, value in values.items():
                gauges[name].set(value)
        except Exception:  # noqa: BLE001 - a status we cannot read is not worth a crash
            telemetry().errors.inc(tags={"stage": "pipeline-status"})
        time.sleep(1.0)
