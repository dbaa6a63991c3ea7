"""Reading history, feedback and the decision log through Ray Data, from a directory and from S3 (moto)."""

from __future__ import annotations

import uuid
from datetime import timedelta
from pathlib import Path

import boto3
import pytest

from alertsieve.schema import Decision, Feedback, LabelledAlert, LoggedDecision
from alertsieve.store import open_store
from tests.conftest import S3_BUCKET
from tests.factories import T0, alert, labelled
from train_app.data import load_window
from train_app.window import WindowSpec

DAY = 24 * 60.0


def history() -> list[LabelledAlert]:
    return [
        labelled(d % 4 == 0, name="ServiceDown" if d % 4 == 0 else "HighLatency", at=d * DAY, pod=f"p{d}")
        for d in range(20)
    ]


def logged(a, version: str = "1") -> LoggedDecision:
    d = Decision(
        fingerprint=a.fingerprint,
        service="checkout",
        score=0.2,
        threshold=0.5,
        decision="suppress",
        model_version=version,
        reason="test",
        startsAt=a.startsAt,
    )
    return LoggedDecision(alert=a, decision=d, applied=True)


def lines(records: list) -> bytes:  # type: ignore[type-arg]
    return "".join(r.model_dump_json() + "\n" for r in records).encode()


def write_sources(history_root: str, state_root: str, put) -> None:
    """Two history files (and a broken line), a decision log of four alerts, feedback on two of them."""
    past = history()
    put(f"{history_root}/part-0.jsonl", lines(past[:10]))
    put(f"{history_root}/2026/part-1.jsonl", lines(past[10:]) + b"{not json\n\n")
    new_alert = alert(name="QueueBacklog", at=19.5 * DAY)
    unlabelled = alert(name="QueueBacklog", at=19.6 * DAY, pod="q2")
    store = open_store(state_root)
    store.append("decisions", [logged(new_alert), logged(unlabelled), logged(past[17]), logged(past[2])])
    store.append(
        "feedback",
        [
            Feedback(fingerprint=new_alert.fingerprint, startsAt=new_alert.startsAt, actionable=True, by="oncall"),
            Feedback(fingerprint=past[17].fingerprint, startsAt=past[17].startsAt, actionable=True, by="oncall"),
            Feedback(fingerprint=past[2].fingerprint, startsAt=past[2].startsAt, actionable=True, by="oncall"),
        ],
    )


def check(history_location: str, state_location: str) -> None:
    window, counts = load_window(history_location, state_location, WindowSpec(weeks=1, holdout_days=2))
    assert (counts.history, counts.feedback, counts.invalid_lines) == (20, 3, 1)
    assert counts.decisions == 3  # only the logged alerts somebody gave feedback on reach the driver
    assert window.end == T0 + timedelta(minutes=19.5 * DAY)
    assert window.split == window.end - timedelta(days=2)
    names = [(a.alertname, a.startsAt, a.actionable) for a in window.train + window.holdout]
    assert names[0][1] > window.start and len(names) == 8  # days 13..19 and the new alert
    assert ("QueueBacklog", T0 + timedelta(minutes=19.5 * DAY), True) in names  # extended by feedback
    assert ("HighLatency", T0 + timedelta(days=17), True) in names  # overridden by feedback
    assert [a.alertname for a in window.holdout] == ["HighLatency", "HighLatency", "QueueBacklog"]
    stats = window.stats
    assert (stats.feedback_added, stats.feedback_overrides, stats.unlabelled) == (1, 2, 0)  # day 2: before the window


def test_a_local_history_folder_and_state_dir(ray_cluster, tmp_path: Path) -> None:
    def put(path: str, body: bytes) -> None:
        Path(path).parent.mkdir(parents=True, exist_ok=True)
        Path(path).write_bytes(body)

    write_sources(str(tmp_path / "history"), str(tmp_path / "state"), put)
    check(str(tmp_path / "history"), str(tmp_path / "state"))


def test_the_same_sources_on_s3(ray_cluster, s3: str) -> None:
    client = boto3.client("s3", endpoint_url=s3)
    prefix = f"s3://{S3_BUCKET}/data-{uuid.uuid4().hex[:8]}"

    def put(uri: str, body: bytes) -> None:
        client.put_object(Bucket=S3_BUCKET, Key=uri.removeprefix(f"s3://{S3_BUCKET}/"), Body=body)

    write_sources(f"{prefix}/history", f"{prefix}/state", put)
    check(f"{prefix}/history", f"{prefix}/state")


def test_missing_sources_are_empty_not_errors(ray_cluster, tmp_path: Path, s3: str) -> None:
    with pytest.raises(ValueError, match="no labelled alerts"):
        load_window(str(tmp_path / "nothing"), str(tmp_path / "nothing"), WindowSpec())
    with pytest.raises(ValueError, match="no labelled alerts"):
        load_window(f"s3://{S3_BUCKET}/absent/history", f"s3://{S3_BUCKET}/absent/state", WindowSpec())
