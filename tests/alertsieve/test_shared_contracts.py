"""Plain unit tests of the shared pieces: Counts, records.paired, read_jsonl_skipping, store.latest,
latest_feedback."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest

from alertsieve.evaluation import Counts, rate
from alertsieve.pipeline import PipelineStatus
from alertsieve.records import RecordError, paired, read_jsonl_skipping
from alertsieve.schema import Decision, Feedback, LabelledAlert, latest_feedback
from alertsieve.store import LocalStore, latest
from tests.factories import labelled


def test_counts_rates_and_their_serialised_form():
    c = Counts()
    for actionable, suppressed in ((True, False), (True, True), (False, True), (False, False), (False, True)):
        c.add(actionable, suppressed)
    assert (c.alerts, c.noise, c.fnr) == (5, 3, 0.5) and c.noise_reduction == pytest.approx(2 / 3)
    assert {"noise_reduction", "fnr"} <= c.model_dump().keys()
    assert Counts.model_validate(c.model_dump()) == c
    assert rate(1, 0) is None and rate(1, 4) == 0.25


def _decision(fingerprint: str) -> Decision:
    return Decision(
        fingerprint=fingerprint,
        service="s",
        score=0.5,
        threshold=0.3,
        decision="page",
        model_version="1",
        reason="test",
    )


def test_paired_checks_counts_and_fingerprints():
    alerts = [labelled(True, at=0), labelled(False, name="Other", at=1)]
    pairs = paired(alerts, [_decision(a.fingerprint) for a in alerts])
    assert [a for a, _ in pairs] == alerts
    with pytest.raises(ValueError, match="2 alerts but 1 decisions"):
        paired(alerts, [_decision(alerts[0].fingerprint)])
    with pytest.raises(RecordError, match="d.jsonl:2: field 'fingerprint'"):
        paired(alerts, [_decision(alerts[0].fingerprint)] * 2, "d.jsonl")


def test_read_jsonl_skipping_counts_bad_lines(tmp_path):
    path = tmp_path / "h.jsonl"
    good = labelled(True, at=0).model_dump_json()
    path.write_text(good + "\n{oops\n\n" + good + "\n")
    records, errors = read_jsonl_skipping(path, LabelledAlert)
    assert len(records) == 2 and [e.line for e in errors] == [2]


def test_store_latest_by_time_skipping_unreadable_lines(tmp_path):
    store = LocalStore(tmp_path)
    t0 = datetime(2026, 1, 5, tzinfo=UTC)
    runs = [
        PipelineStatus(started_at=t0, finished_at=t0 + timedelta(hours=h), duration_s=1, outcome=o)
        for h, o in ((2, "success"), (3, "failed"), (1, "success"))
    ]
    store.append("pipeline", runs)
    (tmp_path / "pipeline" / "zz.jsonl").write_text("not json\n")
    assert latest(store, "pipeline", PipelineStatus, lambda s: s.finished_at) == runs[1]
    assert (
        latest(store, "pipeline", PipelineStatus, lambda s: s.finished_at, lambda s: s.outcome == "success") == runs[0]
    )
    assert latest(LocalStore(tmp_path / "none"), "pipeline", PipelineStatus, lambda s: s.finished_at) is None


def test_latest_feedback_per_occurrence():
    a = labelled(False, at=0)
    now = datetime.now(UTC)
    words = [
        Feedback(
            fingerprint=a.fingerprint, startsAt=a.startsAt, actionable=v, by="x", received_at=now + timedelta(seconds=s)
        )
        for v, s in ((True, 2), (False, 1), (False, 2))
    ]
    assert latest_feedback(words) == {a.occurrence: words[2]}  # the latest; of equal times, the last given
