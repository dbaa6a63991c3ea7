"""The sparse simulator profile: few incidents, mostly never-actionable alert types, new clusters, no signal."""

from __future__ import annotations

import re
from collections import Counter, defaultdict
from datetime import timedelta

import pytest

from alertsieve.schema import LabelledAlert, fingerprint_of
from alertsieve.simulate import (
    DEFAULT_START,
    NO_SIGNAL_SERVICE,
    SPARSE_ACTIONABLE_KINDS,
    SPARSE_NOISE_KINDS,
    simulate_history,
    simulate_with_truth,
)

DAYS = 56
INCIDENT_KINDS = ("incident_root", "incident_cascade", "incident_burst")
Stream = list[tuple[LabelledAlert, str]]


@pytest.fixture(scope="module")
def stream() -> Stream:
    return simulate_with_truth(DAYS, seed=7, profile="sparse")


def _day(alert: LabelledAlert) -> int:
    return (alert.startsAt - DEFAULT_START).days


def _incidents(stream: Stream) -> list[list[tuple[LabelledAlert, str]]]:
    """Incident alerts grouped by time: incidents are days apart and last at most hours."""
    groups: list[list[tuple[LabelledAlert, str]]] = []
    for alert, kind in stream:
        if kind in INCIDENT_KINDS:
            if not groups or alert.startsAt - groups[-1][-1][0].startsAt > timedelta(hours=12):
                groups.append([])
            groups[-1].append((alert, kind))
    return groups


def test_same_seed_same_history_other_seeds_differ_and_default_unchanged() -> None:
    first = simulate_history(7, seed=3, profile="sparse")
    assert first == simulate_history(7, seed=3, profile="sparse")
    other = simulate_history(7, seed=4, profile="sparse")
    assert [(a.fingerprint, a.startsAt) for a in other] != [(a.fingerprint, a.startsAt) for a in first]
    assert simulate_history(3, seed=5) == simulate_history(3, seed=5, profile="default")
    with pytest.raises(ValueError, match="profile"):
        simulate_history(3, seed=5, profile="dense")


def test_well_formed_sorted_and_nothing_gives_the_behaviour_away(stream: Stream) -> None:
    alerts = [a for a, _ in stream]
    assert [a.startsAt for a in alerts] == sorted(a.startsAt for a in alerts)
    giveaways = re.compile(r"incident|noise|flap|actionable|transient|chronic|silent|cascade|signal|burst", re.I)
    for a in alerts:
        assert DEFAULT_START <= a.startsAt < DEFAULT_START + timedelta(days=DAYS)
        assert a.fingerprint == fingerprint_of(a.labels)
        assert {"alertname", "severity", "namespace", "env", "cluster"} <= a.labels.keys()
        assert not any(giveaways.search(k) or giveaways.search(v) for k, v in a.labels.items())
        assert not giveaways.search(a.annotations["summary"])


def test_one_to_two_percent_actionable_and_kinds_labelled(stream: Stream) -> None:
    share = sum(a.actionable for a, _ in stream) / len(stream)
    assert 0.01 <= share <= 0.02, share
    assert {k for _, k in stream} == set(SPARSE_NOISE_KINDS) | set(SPARSE_ACTIONABLE_KINDS)
    for alert, kind in stream:
        assert alert.actionable == (kind in SPARSE_ACTIONABLE_KINDS), kind
        assert alert.labels["env"] == "prod" or not alert.actionable


def test_three_to_eight_incidents_a_month(stream: Stream) -> None:
    incidents = _incidents(stream)
    assert 3 <= len(incidents) * 30 / DAYS <= 8, len(incidents)
    for incident in incidents:
        assert incident[-1][0].startsAt - incident[0][0].startsAt <= timedelta(hours=5)
        assert len({a.labels["cluster"] for a, _ in incident}) == 1


def test_incidents_mix_unfamiliar_alerts_with_bursts_of_familiar_ones(stream: Stream) -> None:
    seen: Counter[str] = Counter()  # production noise per alertname so far
    checked, position = 0, 0
    alerts = stream
    for incident in _incidents(stream):
        start = incident[0][0].startsAt
        while position < len(alerts) and alerts[position][0].startsAt < start:
            alert, kind = alerts[position]
            if kind in SPARSE_NOISE_KINDS and alert.labels["env"] == "prod":
                seen[alert.alertname] += 1
            position += 1
        if start - DEFAULT_START < timedelta(days=3):
            continue  # too little history to call anything familiar
        checked += 1
        assert any(seen[a.alertname] < 5 for a, _ in incident), "an alert type that rarely or never fired before"
        bursts = defaultdict(set)
        for alert, kind in incident:
            if kind == "incident_burst":
                bursts[alert.alertname].add((alert.service(), alert.labels.get("pod") or alert.labels["instance"]))
        name, targets = max(bursts.items(), key=lambda kv: len(kv[1]))
        assert seen[name] >= 30, "the burst is of a familiar alert type"
        assert len(targets) >= 4 and len({svc for svc, _ in targets}) >= 2, "on many targets of several services"
    assert checked >= 5


def test_most_alert_types_are_never_actionable(stream: Stream) -> None:
    names = Counter(a.alertname for a, _ in stream)
    actionable = {a.alertname for a, _ in stream if a.actionable}
    assert len(actionable) < 0.5 * len(names), (len(actionable), len(names))
    assert sum(n for name, n in names.items() if name not in actionable) > 0.5 * len(stream)


def test_new_clusters_appear_later_with_the_alert_types_of_the_old_ones(stream: Stream) -> None:
    first_day: dict[str, int] = {}
    for alert, _ in stream:
        first_day.setdefault(alert.labels["cluster"], _day(alert))
    assert len([c for c, d in first_day.items() if d == 0]) >= 2
    late = [c for c, d in first_day.items() if d >= 28]
    assert late, first_day
    for cluster in late:
        before = {a.alertname for a, _ in stream if a.labels["cluster"] != cluster and _day(a) < first_day[cluster]}
        names = [a.alertname for a, _ in stream if a.labels["cluster"] == cluster]
        assert sum(name in before for name in names) >= 0.95 * len(names)
        services = {a.service() for a, _ in stream if a.labels["cluster"] == cluster}
        assert len(services) >= 15


def test_the_no_signal_service_draws_its_actionable_alerts_like_its_noise(stream: Stream) -> None:
    own = [(a, k) for a, k in stream if a.service() == NO_SIGNAL_SERVICE and a.labels["env"] == "prod"]
    actionable = [a for a, _ in own if a.actionable]
    noise = [a for a, _ in own if not a.actionable]
    assert 0.08 <= len(actionable) / len(own) <= 0.17
    assert {k for a, k in own if a.actionable} == {"no_signal"}
    in_noise = Counter((a.alertname, a.labels["severity"]) for a in noise)
    common = {name for (name, _), n in in_noise.items() if n >= 30}
    assert len(common) >= 2 and common <= {a.alertname for a in actionable}
    assert sum(in_noise[a.alertname, a.labels["severity"]] >= 5 for a in actionable) >= 0.95 * len(actionable)
