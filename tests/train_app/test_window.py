"""The training window: feedback joined with history and the decision log, the last weeks, the holdout."""

from __future__ import annotations

from datetime import timedelta

import pytest

from alertsieve.schema import Feedback, LoggedDecision
from tests.factories import T0, alert, decision, labelled
from train_app.window import WindowSpec, build_window, cut_window, merge_labels


def logged(a) -> LoggedDecision:
    d = decision(a, "suppress", threshold=0.5, service="checkout", score=0.1)
    return LoggedDecision(alert=a, decision=d, applied=True)


def word(a, actionable: bool, minutes_later: float = 0.0) -> Feedback:
    return Feedback(
        fingerprint=a.fingerprint,
        startsAt=a.startsAt,
        actionable=actionable,
        by="oncall",
        received_at=T0 + timedelta(days=30, minutes=minutes_later),
    )


def test_feedback_overrides_confirms_and_extends_the_history() -> None:
    noisy = labelled(False, name="DiskUsageHigh", at=0)
    real = labelled(True, name="ServiceDown", at=5)
    only_logged = alert(name="HighLatency", at=10)
    never_labelled = alert(name="PodRestarting", at=15)
    stranger = alert(name="Unknown", at=20)
    alerts, stats = merge_labels(
        [noisy, real],
        [logged(only_logged), logged(only_logged), logged(never_labelled), logged(noisy)],
        [
            word(noisy, True),
            word(real, True),
            word(only_logged, True, 1),
            word(only_logged, False, 0),
            word(stranger, True),
        ],
    )
    by_name = {a.alertname: a.actionable for a in alerts}
    assert by_name == {"DiskUsageHigh": True, "ServiceDown": True, "HighLatency": True}
    assert [a.alertname for a in alerts] == ["DiskUsageHigh", "ServiceDown", "HighLatency"]  # time order
    assert (stats.history, stats.decision_log_alerts, stats.feedback) == (2, 3, 4)
    assert (stats.feedback_overrides, stats.feedback_confirms, stats.feedback_added) == (1, 1, 1)
    assert (stats.feedback_unmatched, stats.unlabelled) == (1, 1)


def test_the_latest_feedback_on_an_occurrence_wins() -> None:
    a = labelled(False, at=0)
    alerts, stats = merge_labels([a], [], [word(a, True, 5), word(a, False, 1)])
    assert alerts[0].actionable is True and stats.feedback == 1


def test_feedback_on_another_firing_of_the_same_fingerprint_does_not_match() -> None:
    first, again = labelled(False, at=0), labelled(False, at=60)
    assert first.fingerprint == again.fingerprint
    alerts, stats = merge_labels([first, again], [], [word(again, True)])
    assert [a.actionable for a in alerts] == [False, True] and stats.feedback_overrides == 1


def test_the_window_keeps_the_last_weeks_and_holds_out_the_last_days() -> None:
    days = [labelled(i % 5 == 0, at=float(d * 24 * 60), pod=f"p{d}") for i, d in enumerate(range(30))]
    window = cut_window(days, WindowSpec(weeks=2, holdout_days=3))
    assert window.end == T0 + timedelta(days=29)
    assert [a.startsAt for a in window.train] == [T0 + timedelta(days=d) for d in range(16, 27)]
    assert [a.startsAt for a in window.holdout] == [T0 + timedelta(days=d) for d in range(27, 30)]
    assert window.rows == 14


def test_the_window_can_end_at_a_given_time_and_have_no_holdout() -> None:
    days = [labelled(False, at=float(d * 24 * 60), pod=f"p{d}") for d in range(30)]
    window = build_window(days, [], [], WindowSpec(weeks=1, holdout_days=0, until=T0 + timedelta(days=10)))
    assert [a.startsAt for a in window.train] == [T0 + timedelta(days=d) for d in range(4, 11)]
    assert window.holdout == []


def test_a_window_needs_alerts_and_a_holdout_shorter_than_itself() -> None:
    with pytest.raises(ValueError, match="no labelled alerts"):
        cut_window([], WindowSpec())
    with pytest.raises(ValueError, match="shorter than the window"):
        cut_window([labelled(False)], WindowSpec(weeks=1, holdout_days=7))
