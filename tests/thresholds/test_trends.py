from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest

from alertsieve.schema import Feedback, LoggedDecision
from alertsieve.store import LocalStore
from tests.factories import T0, alert, decision, labelled
from thresholds.trends import ALL, Observation, iso_week, join_feedback, offline_trends, production_trends, weekly


def test_iso_week_follows_iso_rules():
    assert iso_week(datetime(2026, 1, 5, tzinfo=UTC)) == "2026-W02"
    assert iso_week(datetime(2026, 1, 1, tzinfo=UTC)) == "2026-W01"
    assert iso_week(datetime(2027, 1, 1, tzinfo=UTC)) == "2026-W53"  # a Friday in 2026's last ISO week


def test_weekly_counts_rates_and_latest_threshold():
    week = timedelta(days=7)
    obs = [
        Observation(service="a", at=T0, suppressed=True, threshold=0.2, actionable=False),
        Observation(service="a", at=T0 + timedelta(hours=2), suppressed=True, threshold=0.4, actionable=True),
        Observation(service="a", at=T0 + timedelta(hours=1), suppressed=False, threshold=0.3, actionable=False),
        Observation(service="a", at=T0 + timedelta(hours=3), suppressed=False, threshold=0.4, actionable=True),
        Observation(service="a", at=T0 + timedelta(hours=4), suppressed=False, threshold=0.4, actionable=None),
        Observation(service="b", at=T0 + week, suppressed=True, threshold=0.5, actionable=False),
    ]
    rows = weekly(obs, fleet=True)
    assert [(r.service, r.week) for r in rows] == [
        ("a", "2026-W02"),
        ("b", "2026-W03"),
        (ALL, "2026-W02"),
        (ALL, "2026-W03"),
    ]
    a = rows[0]
    assert (a.alerts, a.suppressed, a.labelled, a.actionable, a.noise) == (5, 2, 4, 2, 2)
    assert a.actionable_share == 0.5
    assert a.noise_reduction == 0.5  # 1 of 2 noise suppressed
    assert a.fnr == 0.5  # 1 of 2 actionable suppressed
    assert a.threshold == 0.4  # the latest decision's, not the last one listed
    assert rows[1].fnr is None and rows[1].noise_reduction == 1.0
    assert rows[2].alerts == 5 and rows[2].threshold is None
    dumped = a.model_dump()
    assert {"noise_reduction", "fnr", "actionable_share"} <= dumped.keys()


def test_offline_trends_match_line_by_line_and_reject_mismatches():
    alerts = [
        labelled(False, service="checkout", at=0),
        labelled(True, name="ServiceDown", service="checkout", at=5),
        labelled(False, service="search", at=10),
    ]
    decisions = [decision(alerts[0], "suppress"), decision(alerts[1], "page"), decision(alerts[2], "page")]
    rows = offline_trends(alerts, decisions)
    by_service = {r.service: r for r in rows}
    assert by_service["checkout"].noise_reduction == 1.0 and by_service["checkout"].fnr == 0.0
    assert by_service["search"].noise_reduction == 0.0
    with pytest.raises(ValueError, match="line 2"):
        offline_trends(alerts, [decisions[0], decisions[0], decisions[2]])
    with pytest.raises(ValueError, match="3 alerts but 2"):
        offline_trends(alerts, decisions[:2])


def test_join_feedback_keeps_applied_once_and_latest_label():
    first, second = alert(service="checkout", at=0), alert(name="Other", service="checkout", at=1)
    logged = [
        LoggedDecision(alert=first, decision=decision(first, "suppress"), applied=True),
        LoggedDecision(alert=first, decision=decision(first, "suppress"), applied=True),  # a re-send
        LoggedDecision(alert=first, decision=decision(first, "page"), applied=False),  # shadow
        LoggedDecision(alert=second, decision=decision(second, "page"), applied=True),
    ]
    now = datetime.now(UTC)
    feedback = [
        Feedback(fingerprint=first.fingerprint, startsAt=first.startsAt, actionable=False, by="x", received_at=now),
        Feedback(
            fingerprint=first.fingerprint,
            startsAt=first.startsAt,
            actionable=True,
            by="y",
            received_at=now + timedelta(seconds=1),
        ),
    ]
    obs = join_feedback(logged, reversed(feedback))
    assert len(obs) == 2
    assert obs[0].suppressed and obs[0].actionable is True
    assert obs[1].actionable is None


def test_production_trends_read_the_store(tmp_path):
    store = LocalStore(tmp_path)
    a, b = alert(service="checkout", at=0), alert(service="checkout", at=60 * 24 * 7)
    store.append(
        "decisions",
        [
            LoggedDecision(alert=a, decision=decision(a, "suppress", 0.25), applied=True),
            LoggedDecision(alert=b, decision=decision(b, "page", 0.35), applied=True),
        ],
    )
    store.append("feedback", [Feedback(fingerprint=a.fingerprint, startsAt=a.startsAt, actionable=False, by="z")])
    rows = production_trends(store)
    assert [(r.week, r.alerts, r.labelled, r.threshold) for r in rows] == [
        ("2026-W02", 1, 1, 0.25),
        ("2026-W03", 1, 0, 0.35),
    ]
    assert rows[0].noise_reduction == 1.0 and rows[1].noise_reduction is None
    assert production_trends(LocalStore(tmp_path / "empty")) == []
