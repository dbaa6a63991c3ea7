"""The simulated alert history: deterministic, realistic in shape, and every documented behaviour present."""

from __future__ import annotations

import re
from collections import defaultdict
from datetime import UTC, datetime, timedelta

import pytest

from alertsieve.schema import LabelledAlert, fingerprint_of
from alertsieve.simulate import (
    ACTIONABLE_KINDS,
    DEFAULT_START,
    NOISE_KINDS,
    simulate_history,
    simulate_with_truth,
)
from alertsieve.simulate_catalog import RULES, SERVICES

DAYS = 28
Stream = list[tuple[LabelledAlert, str]]


@pytest.fixture(scope="module")
def month() -> Stream:
    return simulate_with_truth(DAYS, seed=11)


def _of(stream: Stream, *kinds: str) -> list[LabelledAlert]:
    return [a for a, k in stream if k in kinds]


def _day(alert: LabelledAlert) -> int:
    return (alert.startsAt - DEFAULT_START).days


def _minutes(alert: LabelledAlert) -> float:
    assert alert.endsAt is not None
    return (alert.endsAt - alert.startsAt).total_seconds() / 60


def _dependencies(name: str) -> set[str]:
    direct = {s.name: s.depends_on for s in SERVICES}
    seen: set[str] = set()
    todo = list(direct[name])
    while todo:
        dep = todo.pop()
        if dep not in seen:
            seen.add(dep)
            todo.extend(direct[dep])
    return seen


def test_same_seed_same_history_and_other_seeds_differ() -> None:
    first = simulate_history(3, seed=5)
    assert first == simulate_history(3, seed=5)
    assert [a.fingerprint for a in first] == [a.fingerprint for a in simulate_history(3, seed=5)]
    other = simulate_history(3, seed=6)
    assert [(a.fingerprint, a.startsAt) for a in other] != [(a.fingerprint, a.startsAt) for a in first]


def test_history_is_sorted_well_formed_and_inside_the_horizon(month: Stream) -> None:
    alerts = [a for a, _ in month]
    assert [a.startsAt for a in alerts] == sorted(a.startsAt for a in alerts)
    end = DEFAULT_START + timedelta(days=DAYS)
    for a in alerts:
        assert DEFAULT_START <= a.startsAt < end
        assert a.fingerprint == fingerprint_of(a.labels)
        assert {"alertname", "severity", "namespace", "env"} <= a.labels.keys()
        assert "pod" in a.labels or "instance" in a.labels
        assert set(a.annotations) == {"summary", "description", "runbook_url"}
        assert a.generatorURL.startswith("http://prometheus.") and "g0.expr=" in a.generatorURL
        if a.endsAt is None:
            assert a.status == "firing"
        else:
            assert a.status == "resolved" and a.startsAt < a.endsAt <= end
    assert any(a.endsAt is None for a in alerts), "alerts still firing at the end of the horizon"
    assert 300 <= len(alerts) / DAYS <= 500


def test_start_and_days_are_honoured() -> None:
    start = datetime(2026, 3, 1, 12, 0)  # naive: read as UTC
    alerts = simulate_history(2, seed=3, start=start)
    assert alerts and all(
        start.replace(tzinfo=UTC) <= a.startsAt < start.replace(tzinfo=UTC) + timedelta(days=2) for a in alerts
    )
    with pytest.raises(ValueError):
        simulate_history(0, seed=3)


def test_many_services_with_differing_label_sets_and_many_rules(month: Stream) -> None:
    prod = [a for a, _ in month if a.labels["env"] == "prod"]
    assert len({a.service() for a in prod}) >= 20
    assert len({a.alertname for a, _ in month}) >= 40
    named_by = {
        "service": any("service" in a.labels for a in prod),
        "job": any("job" in a.labels and "service" not in a.labels for a in prod),
        "app": any("app" in a.labels and not {"service", "job"} & a.labels.keys() for a in prod),
        "namespace": any(not {"service", "job", "app"} & a.labels.keys() for a in prod),
    }
    assert all(named_by.values()), named_by


def test_texts_carry_volatile_values_and_ids(month: Stream) -> None:
    text = "\n".join(a.annotations["description"] for a, _ in month[:3000])
    assert re.search(r"[0-9a-f]{8}-[0-9a-f]{4}-4[0-9a-f]{3}-[89ab][0-9a-f]{3}-[0-9a-f]{12}", text)
    assert re.search(r"\b10\.\d{1,3}\.\d{1,3}\.\d{1,3}\b", text)
    assert re.search(r"[a-z]+-[bcdfghjklmnpqrstvwxz2456789]{9,10}-[bcdfghjklmnpqrstvwxz2456789]{5}\b", text)
    assert re.search(r"\d+\.\d+%", text)


def test_actionable_share_in_range_and_kinds_labelled(month: Stream) -> None:
    share = sum(a.actionable for a, _ in month) / len(month)
    assert 0.10 <= share <= 0.20
    kinds = {k for _, k in month}
    assert kinds == set(NOISE_KINDS) | set(ACTIONABLE_KINDS)
    for alert, kind in month:
        assert alert.actionable == (kind in ACTIONABLE_KINDS), kind


def test_no_label_or_annotation_gives_the_behaviour_away(month: Stream) -> None:
    giveaways = re.compile(r"incident|noise|flap|actionable|transient|chronic|silent|cascade", re.I)
    for alert, _ in month:
        assert not any(giveaways.search(k) or giveaways.search(v) for k, v in alert.labels.items())
        assert not giveaways.search(alert.annotations["summary"])


def test_flapping_fires_one_fingerprint_repeatedly_with_short_durations(month: Stream) -> None:
    flapping = _of(month, "flapping")
    assert all(_minutes(a) <= 4 for a in flapping if a.endsAt)
    fires = defaultdict(list)
    for a in flapping:
        fires[a.fingerprint].append(a.startsAt)
    within_hour = max(
        sum(1 for t in times if times[0] <= t < times[0] + timedelta(hours=1)) for times in fires.values()
    )
    assert within_hour >= 3
    assert max(len({_day(a) for a in flapping if a.fingerprint == fp}) for fp in fires) >= 10


def test_transients_resolve_within_minutes_and_chronic_warnings_recur_for_hours(month: Stream) -> None:
    assert all(_minutes(a) <= 30 for a in _of(month, "transient") if a.endsAt)
    chronic = [a for a in _of(month, "chronic") if a.endsAt]
    assert all(a.labels["severity"] == "warning" for a in chronic)
    assert sorted(_minutes(a) for a in chronic)[len(chronic) // 2] >= 120
    days_by_fp = defaultdict(set)
    for a in chronic:
        days_by_fp[a.fingerprint].add(_day(a))
    assert max(len(days) for days in days_by_fp.values()) >= 15


def test_batch_jobs_fire_at_fixed_hours_every_day(month: Stream) -> None:
    batch = _of(month, "batch")
    assert {a.startsAt.hour for a in batch} <= {0, 1, 2, 3, 4, 6, 12, 18}
    nightly = [a for a in batch if a.startsAt.hour == 3]
    assert len({_day(a) for a in nightly}) >= DAYS * 0.7
    sundays = {a.alertname for a in batch if a.startsAt.weekday() == 6 and a.startsAt.hour == 4}
    assert "ElasticsearchHeapUsageHigh" in sundays or "NodeCPUHigh" in sundays


def test_replicas_fire_the_same_rule_on_several_pods_at_once(month: Stream) -> None:
    groups = defaultdict(set)
    for a in _of(month, "replica"):
        groups[a.startsAt, a.alertname, a.service()].add(a.labels.get("pod") or a.labels["instance"])
    assert groups and max(len(targets) for targets in groups.values()) >= 3
    assert sum(len(targets) >= 2 for targets in groups.values()) >= 0.95 * len(groups)


def test_nonprod_alerts_carry_a_nonproduction_environment(month: Stream) -> None:
    for alert, kind in month:
        env = alert.labels["env"]
        if kind == "nonprod":
            assert env in ("staging", "dev") and alert.labels["namespace"].endswith(f"-{env}")
        else:
            assert env == "prod" and not alert.labels["namespace"].endswith(("-staging", "-dev"))


def test_incidents_open_with_a_critical_failure_and_cascade_to_dependents_after_the_root(month: Stream) -> None:
    roots = _of(month, "incident_root")
    for alert in roots:
        assert any(
            r.labels["severity"] == "critical"
            and r.service() == alert.service()
            and timedelta(0) <= alert.startsAt - r.startsAt <= timedelta(hours=6)
            for r in roots
        ), alert.labels
    cascades = _of(month, "incident_cascade")
    assert len(cascades) >= 100
    for alert in cascades:
        upstream = _dependencies(alert.service())
        assert any(
            r.service() in upstream and timedelta(0) < alert.startsAt - r.startsAt <= timedelta(hours=1) for r in roots
        ), alert.labels
    assert len({a.service() for a in cascades}) >= 5


def test_pure_failures_at_critical_never_appear_as_production_noise(month: Stream) -> None:
    pure = {r.name for r in RULES if "p" in r.roles}
    for alert, kind in month:
        if kind in NOISE_KINDS and alert.labels["env"] == "prod":
            assert not (alert.alertname in pure and alert.labels["severity"] == "critical"), alert.labels


def test_always_actionable_rules_and_the_irreducible_overlap_stay_small(month: Stream) -> None:
    critical = _of(month, "critical_rule")
    assert critical and all(a.labels["severity"] == "critical" for a in critical)
    actionable = [a for a, _ in month if a.actionable]
    assert len(_of(month, "silent_incident")) < 0.01 * len(actionable)


def test_the_same_rule_is_noise_in_one_context_and_actionable_in_another(month: Stream) -> None:
    outcomes = defaultdict(set)
    for alert, _ in month:
        outcomes[alert.alertname].add(alert.actionable)
    both = {name for name, seen in outcomes.items() if seen == {True, False}}
    assert {"HighLatencyP99", "HighErrorRate", "CertificateExpiringSoon"} <= both


def test_drift_new_services_rules_and_noise_sources_appear_in_later_weeks(month: Stream) -> None:
    early = [a for a, _ in month if _day(a) < 7]
    late = [a for a, _ in month if _day(a) >= 14]
    assert {a.alertname for a in late} - {a.alertname for a in early}
    assert {a.service() for a in late} - {a.service() for a in early}
    flapping_early = {a.fingerprint for a in _of(month, "flapping") if _day(a) < 14}
    assert {a.fingerprint for a in _of(month, "flapping") if _day(a) >= 14} - flapping_early
    chronic_late = {a.fingerprint for a in _of(month, "chronic") if _day(a) >= 21}
    assert {a.fingerprint for a in _of(month, "chronic") if _day(a) < 7} - chronic_late
