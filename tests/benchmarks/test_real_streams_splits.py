"""The real-stream benchmark's splits, history baselines and verdicts on tiny hand-made streams."""

from __future__ import annotations

from dataclasses import replace
from datetime import UTC, datetime, timedelta

import numpy as np
import pytest
from mscloud_alerts import StreamAlert
from real_splits import (
    COMMON,
    GAP,
    held_out,
    random_labels,
    series_folds,
    shift_split,
    time_split,
)
from real_streams import (
    HISTORY_KEYS,
    HISTORY_N,
    Outcome,
    Row,
    evaluate,
    mark_passes,
    pick_history_n,
    print_rows,
    print_splits,
    print_summary,
)

from alertsieve.schema import LabelledAlert

START = datetime(2018, 6, 1, tzinfo=UTC)


def stream_alert(
    series: str,
    hour: float,
    *,
    domain: str = "svc",
    name: str = "HighRate",
    incident: str | None = None,
    span_hours: float = 100.0,
    start: datetime = START,
    wrong_direction: bool = False,
) -> StreamAlert:
    starts = start + timedelta(hours=hour)
    alert = LabelledAlert(
        status="resolved",
        labels={"alertname": name, "service": domain, "series": series, "severity": "warning"},
        annotations={"summary": f"{name} on {series}"},
        startsAt=starts,
        endsAt=starts + timedelta(minutes=30),
        actionable=incident is not None,
    )
    position = hour / span_hours
    return StreamAlert(alert, incident, domain, series, position, start, span_hours * 3600, wrong_direction)


def test_time_split_moves_each_series_cut_onto_one_instant() -> None:
    early = [stream_alert("a", h, span_hours=100) for h in range(0, 100, 5)]
    late = [stream_alert("b", h, span_hours=50, start=START + timedelta(days=90)) for h in range(0, 50, 5)]
    split = time_split(early + late, 0.5)
    assert split.name == "time:50%" and split.kind == "time"
    assert all(s.alert.startsAt < COMMON for s in split.train)
    assert all(s.alert.startsAt >= COMMON for s in split.test)
    assert {s.series for s in split.train} == {s.series for s in split.test} == {"a", "b"}
    assert len(split.train) == 10 + 5 and len(split.test) == 10 + 5
    assert [s.alert.startsAt for s in split.test] == sorted(s.alert.startsAt for s in split.test)


def test_series_folds_prefer_incidents_and_skip_single_series_services() -> None:
    alerts = [
        stream_alert("a1", 1, domain="a", incident="a1#0"),
        stream_alert("a1", 2, domain="a", incident="a1#1"),
        stream_alert("a2", 1, domain="a", incident="a2#0"),
        stream_alert("a3", 1, domain="a"),
        stream_alert("b1", 1, domain="b"),
        stream_alert("b2", 1, domain="b", incident="b2#0"),
        stream_alert("lonely", 1, domain="c", incident="lonely#0"),
    ]
    assert series_folds(alerts, 10) == ["a1", "b2", "a2", "b1", "a3"]
    assert series_folds(alerts, 2) == ["a1", "b2"]


def test_held_out_starts_after_training() -> None:
    train = [stream_alert("a", h) for h in range(10)]
    test = [stream_alert("b", h, start=START - timedelta(days=30)) for h in range(3)]
    split = held_out("series:b", "series", train, test)
    assert min(s.alert.startsAt for s in split.test) == max(s.alert.startsAt for s in train) + GAP
    assert [s.alert.fingerprint for s in split.test] == [s.alert.fingerprint for s in test]


def test_random_labels_keep_the_share_and_ignore_the_real_labels() -> None:
    times = sorted(np.random.default_rng(0).uniform(0, 1000, 600))
    # one-alert incidents: every window lasts MIN_WINDOW, so which alerts were actionable cannot matter
    alerts = [
        stream_alert(f"s{i % 3}", float(h), incident=f"i{i}" if i % 7 == 0 else None) for i, h in enumerate(times)
    ]
    target = sum(s.alert.actionable for s in alerts)
    relabelled = random_labels(alerts, seed=3)
    assert [s.alert.fingerprint for s in relabelled] == [s.alert.fingerprint for s in alerts]
    assert [s.alert.startsAt for s in relabelled] == [s.alert.startsAt for s in alerts]
    got = sum(s.alert.actionable for s in relabelled)
    assert abs(got - target) <= 0.1 * target
    assert all(bool(s.incident) == s.alert.actionable for s in relabelled)
    assert random_labels(alerts, seed=3) == relabelled  # seeded
    # as many actionable alerts, other ones: the windows, hence the labels, stay where they were
    permuted = [
        replace(s, incident=o.incident, alert=s.alert.model_copy(update={"actionable": o.alert.actionable}))
        for s, o in zip(alerts, alerts[1:] + alerts[:1], strict=True)
    ]
    assert [s.alert.actionable for s in random_labels(permuted, seed=3)] == [s.alert.actionable for s in relabelled]


def test_shift_drops_every_other_training_incident() -> None:
    alerts = [stream_alert("a", h, incident=f"a#{h}" if h % 10 == 0 else None) for h in range(100)]
    base, shifted = time_split(alerts, 0.65), shift_split(alerts)
    assert shifted.test == base.test
    before = {s.incident for s in base.train if s.incident}
    after = {s.incident for s in shifted.train if s.incident}
    assert len(before) == 7 and after == {"a#0", "a#20", "a#40", "a#60"}
    assert len(shifted.train) == len(base.train) - 3


def test_history_rule_picks_n_on_validation() -> None:
    key = HISTORY_KEYS["alertname"]
    train = []
    for h in range(200):
        train.append(stream_alert("a", h, name="Noisy"))
        if h % 4 == 0:
            train.append(stream_alert("a", h + 0.5, name="Real", incident=f"a#{h}"))
    # "Noisy" fired 150 times before validation and never was actionable: every N up to 100 suppresses
    # it in validation at no miss, a tie resolved to the larger N
    assert pick_history_n(train, key) == 100
    quiet = [stream_alert("a", h, name="Noisy") for h in range(100)]
    assert pick_history_n(quiet, key) == max(HISTORY_N)  # no actionable validation alert
    leaky = [*train, *(stream_alert("a", 150 + h / 10, name="Noisy", incident="a#x") for h in range(20))]
    # "Noisy" is actionable in validation: only the Ns above its count (suppressing nothing) keep the budget
    assert pick_history_n(leaky, key) == max(HISTORY_N)


def test_occurrences_net_noise_and_verdicts(capsys: pytest.CaptureFixture[str]) -> None:
    test = [
        stream_alert("a", 1, incident="a#0"),
        stream_alert("a", 1, incident="a#0"),  # a re-send: same fingerprint and startsAt
        stream_alert("a", 2, name="Dip", wrong_direction=True),
        stream_alert("a", 3, name="Other"),
    ]
    outcome = Outcome("rule", True, np.array([False, True, True, False]), None, extra={"expected_fnr": 0.01})
    row = evaluate(Row("s", "alertsieve", "rule", True, "time"), test, outcome)
    assert row.fnr == 0.5 and row.occurrences == 3 and row.occurrence_fnr == 0.0
    assert row.noise_reduction == 0.5 and row.noise_reduction_net == 0.0 and row.expected_fnr == 0.01

    guarded = Row("g", "alertsieve", "p", True, "domain", actionable=5, fnr=0.0, extra={"guard_share": 0.99})
    empty = Row("e", "alertsieve", "p", True, "domain", actionable=0)
    ok = Row("t", "alertsieve", "p", True, "time", actionable=5, fnr=0.0, noise_reduction=0.2)
    beaten = Row("t", "history:fingerprint", "N>=5", True, "time", actionable=5, fnr=0.0, noise_reduction=0.3)
    calm = Row("n", "alertsieve", "p", True, "no-signal", 0.02, actionable=5, fnr=0.019, noise_reduction=0.01)
    lucky = Row("n", "tfidf-lr", "zero-miss", True, "no-signal", 0.02, actionable=5, fnr=0.0, noise_reduction=0.2)
    mark_passes([guarded, empty, ok, beaten, calm, lucky])
    assert (guarded.passed, empty.passed, ok.passed, calm.passed) == ("guarded", "n/a", "fail", "PASS")

    broken = Row("x", "alertsieve", "-", True, "series", error="ValueError: the core changed")
    rows = [guarded, empty, ok, beaten, calm, lucky, broken]
    mark_passes(rows)
    assert broken.passed == "ERROR"
    print_rows(rows)
    print_splits(rows)
    print_summary(rows)
    out = capsys.readouterr().out
    assert "ERROR x alertsieve: ValueError: the core changed" in out and "guarded" in out
    assert len({len(line) for line in out.splitlines()[:8]}) <= 2  # padded columns (the last one may be trimmed)
