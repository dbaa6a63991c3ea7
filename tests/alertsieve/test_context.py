from __future__ import annotations

import math
import random
from datetime import timedelta

import numpy as np
import pytest

from alertsieve.context import FEATURE_NAMES, StreamSnapshot, StreamState, replay, time_order
from alertsieve.context_vector import MAX_GAP_H, context_vector
from tests.factories import SERVICES, T0, alert, from_labels, pod_name

DAY_MIN = 24 * 60


def f(vector: np.ndarray, name: str) -> float:
    return float(vector[FEATURE_NAMES.index(name)])


def log1p(n: float) -> object:
    return pytest.approx(math.log1p(n), abs=1e-6)


def test_first_alert_is_novel():
    vec = context_vector(StreamState(), alert())
    assert vec.shape == (len(FEATURE_NAMES),) and vec.dtype == np.float32
    for name in (
        "fp_seen",
        "fp_fires_1h",
        "fp_fires_7d",
        "fp_open",
        "name_seen",
        "name_service_seen",
        "svc_alerts_5m",
        "all_alerts_30m",
        "all_novel_30m",
        "same_name_peers_5m",
    ):
        assert f(vec, name) == 0.0, name
    assert f(vec, "fp_gap") == pytest.approx(1.0)  # never fired: the maximum gap


def test_repeat_fingerprint_raises_fires_and_sets_gap():
    state = StreamState()
    state.score_then_observe(alert(at=0))
    vec = state.score_then_observe(alert(at=120))
    assert f(vec, "fp_seen") == 1.0
    assert f(vec, "fp_fires_1h") == 0.0  # the first was two hours ago
    assert f(vec, "fp_fires_24h") == log1p(1)
    assert f(vec, "fp_fires_7d") == log1p(1)
    assert f(vec, "fp_gap") == pytest.approx(math.log1p(2.0) / math.log1p(MAX_GAP_H), abs=1e-6)
    vec = state.score_then_observe(alert(at=150))
    assert f(vec, "fp_fires_1h") == log1p(1)
    assert f(vec, "fp_fires_24h") == log1p(2)
    assert f(vec, "fp_gap") == pytest.approx(math.log1p(0.5) / math.log1p(MAX_GAP_H), abs=1e-6)


def test_name_features_follow_the_rule_not_the_fingerprint():
    state = StreamState()
    state.observe(alert(name="HighLatency", service="checkout", at=0, pod="checkout-7d9f8b6c4-x2kqz"))
    other_pod = alert(name="HighLatency", service="checkout", at=10, pod="checkout-7d9f8b6c4-bbbbb")
    vec = context_vector(state, other_pod)
    assert f(vec, "fp_seen") == 0.0
    assert (f(vec, "name_seen"), f(vec, "name_service_seen")) == (1.0, 1.0)
    assert f(vec, "name_fires_1h") == log1p(1)
    vec = context_vector(state, alert(name="HighLatency", service="payments", at=10))
    assert (f(vec, "name_seen"), f(vec, "name_service_seen")) == (1.0, 0.0)


def test_short_fire_counts_only_once_its_end_has_passed():
    state = StreamState()
    state.score_then_observe(alert(at=0, ends_after=5))  # a 5-minute fire: flapping
    assert f(context_vector(state, alert(at=3)), "fp_short_fires_24h") == 0.0  # resolution is in the future
    assert f(context_vector(state, alert(at=3)), "fp_open") == 1.0
    later = context_vector(state, alert(at=6))
    assert f(later, "fp_short_fires_24h") == log1p(1)
    assert f(later, "fp_open") == 0.0


def test_long_fire_is_not_flapping():
    state = StreamState()
    state.observe(alert(at=0, ends_after=30))
    assert f(context_vector(state, alert(at=60)), "fp_short_fires_24h") == 0.0


def test_own_end_never_leaks():
    state = StreamState()
    own = state.score_then_observe(alert(at=0, ends_after=1))
    assert f(own, "fp_short_fires_24h") == 0.0
    # A resolved copy of the same fire arriving before the next one must not count before its end.
    state = StreamState()
    state.score_then_observe(alert(at=0, ends_after=3))
    before_end = state.score_then_observe(alert(at=2, name="Other"))
    assert f(before_end, "fp_short_fires_24h") == 0.0
    state = StreamState()
    state.score_then_observe(alert(at=0))
    state.score_then_observe(alert(at=0, ends_after=3))  # Alertmanager re-sends it resolved
    assert f(context_vector(state, alert(at=2)), "fp_short_fires_24h") == 0.0
    assert f(context_vector(state, alert(at=4)), "fp_short_fires_24h") == log1p(1)


def test_scoring_an_alert_with_a_future_end_does_not_change_its_own_features():
    firing, resolved = alert(at=0), alert(at=0, ends_after=2)
    assert np.array_equal(context_vector(StreamState(), firing), context_vector(StreamState(), resolved))


def test_company_in_service_and_across_services():
    state = StreamState()
    state.observe(alert(name="A", service="checkout", at=0))
    state.observe(alert(name="B", service="checkout", at=20))
    state.observe(alert(name="C", service="checkout", at=27))
    state.observe(alert(name="D", service="payments", at=28))
    state.observe(alert(name="E", service="search", at=10))
    vec = context_vector(state, alert(name="F", service="checkout", at=29))
    assert f(vec, "svc_alerts_5m") == log1p(1)  # only C: B (9 min ago) is outside 5 min
    assert f(vec, "svc_alerts_30m") == log1p(3)
    assert f(vec, "svc_names_30m") == log1p(3)
    assert f(vec, "svc_novel_30m") == log1p(3)
    assert f(vec, "all_alerts_5m") == log1p(2)  # C and D
    assert f(vec, "all_alerts_30m") == log1p(5)
    assert f(vec, "all_services_15m") == log1p(2)  # checkout, payments; search was 19 min ago
    assert f(vec, "all_novel_30m") == log1p(5)


def test_alerts_older_than_30_minutes_are_not_company():
    state = StreamState()
    state.observe(alert(name="A", service="checkout", at=0))
    vec = context_vector(state, alert(name="B", service="checkout", at=31))
    assert f(vec, "svc_alerts_30m") == 0.0 and f(vec, "all_alerts_30m") == 0.0


def test_repeated_fingerprints_are_not_novel_company():
    state = StreamState()
    state.observe(alert(name="A", at=0))
    state.observe(alert(name="A", at=10))  # same fingerprint again: seen, not novel
    state.observe(alert(name="B", at=11))
    vec = context_vector(state, alert(name="C", at=12))
    assert f(vec, "all_alerts_30m") == log1p(2)  # distinct fingerprints
    assert f(vec, "all_novel_30m") == log1p(2)  # A's first firing was novel, B novel
    assert f(vec, "svc_novel_30m") == log1p(2)
    state = StreamState()
    state.observe(alert(name="A", at=-120))
    state.observe(alert(name="A", at=10))
    assert f(context_vector(state, alert(name="C", at=12)), "all_novel_30m") == 0.0


def test_same_name_peers_are_replicas():
    state = StreamState()
    for i, pod in enumerate(("checkout-7d9f8b6c4-bbbbb", "checkout-7d9f8b6c4-ccccc")):
        state.observe(alert(name="HighLatency", service="checkout", at=i, pod=pod))
    state.observe(alert(name="HighLatency", service="payments", at=2, pod="payments-7d9f8b6c4-bbbbb"))
    state.observe(alert(name="Other", service="checkout", at=2, pod="checkout-7d9f8b6c4-ddddd"))
    vec = context_vector(state, alert(name="HighLatency", service="checkout", at=3, pod="checkout-7d9f8b6c4-fffff"))
    assert f(vec, "same_name_peers_5m") == log1p(2)
    # Its own earlier firing is not a peer.
    own = context_vector(state, alert(name="HighLatency", service="checkout", at=3, pod="checkout-7d9f8b6c4-bbbbb"))
    assert f(own, "same_name_peers_5m") == log1p(1)


def test_resent_occurrence_counted_once():
    state = StreamState()
    assert state.observe(alert(at=0)) is True
    assert state.observe(alert(at=0)) is False
    assert state.observe(alert(at=0, ends_after=30)) is False
    vec = context_vector(state, alert(at=1, name="Other"))
    assert f(vec, "all_alerts_5m") == log1p(1)
    vec = context_vector(state, alert(at=1))
    assert f(vec, "fp_fires_1h") == log1p(1)


def test_old_entries_are_forgotten_after_a_week():
    state = StreamState()
    state.observe(alert(at=0))
    vec = context_vector(state, alert(at=8 * DAY_MIN))
    assert f(vec, "fp_seen") == 1.0  # seen ever
    assert f(vec, "fp_fires_7d") == 0.0
    assert f(vec, "name_fires_7d") == 0.0
    assert f(vec, "fp_gap") == pytest.approx(1.0)
    assert len(state.recent) == 0
    vec = context_vector(state, alert(at=6 * DAY_MIN))
    assert f(vec, "fp_fires_7d") == 0.0  # still gone: a week after the latest alert seen


def test_week_window_is_exact_in_a_dense_stream():
    # Tables are trimmed lazily; the 7-day counts must not depend on when that happened.
    state = StreamState()
    times = range(0, 7 * DAY_MIN + 61, 10)  # the last one trims at 7d+60 min, then nothing for a while
    for i in times:
        state.observe(alert(at=i))
    vec = context_vector(state, alert(at=7 * DAY_MIN + 65))
    in_window = sum(1 for i in times if i >= 65)
    assert f(vec, "fp_fires_7d") == log1p(in_window)
    assert f(vec, "name_fires_7d") == log1p(in_window)


def test_same_time_on_earlier_days():
    state = StreamState()
    for day in (1, 2, 3):
        state.observe(alert(name="Backup", service="db", at=day * DAY_MIN + 20))
    state.observe(alert(name="Backup", service="db", at=3 * DAY_MIN + 600))  # not the same time of day
    vec = context_vector(state, alert(name="Backup", service="db", at=4 * DAY_MIN))
    assert f(vec, "name_service_same_time_days") == log1p(3)


def test_time_features():
    monday = context_vector(StreamState(), alert(at=0))  # T0 is Monday 09:00 UTC
    assert T0.weekday() == 0
    assert f(monday, "weekend") == 0.0
    assert f(monday, "hour_sin") == pytest.approx(math.sin(9 * 2 * math.pi / 24), abs=1e-6)
    assert f(monday, "weekday_cos") == pytest.approx(1.0)
    saturday = context_vector(StreamState(), alert(at=T0 + timedelta(days=5)))
    assert f(saturday, "weekend") == 1.0


def test_severity_features():
    vec = context_vector(StreamState(), alert(severity="critical"))
    assert (f(vec, "severity"), f(vec, "severity_missing")) == (1.0, 0.0)
    vec = context_vector(StreamState(), alert(severity="bogus"))
    assert (f(vec, "severity"), f(vec, "severity_missing")) == (0.5, 1.0)
    vec = context_vector(StreamState(), from_labels({"alertname": "A"}))
    assert (f(vec, "severity"), f(vec, "severity_missing")) == (0.5, 1.0)


def _stream(seed: int, start_min: float, minutes: float):
    rng = random.Random(seed)
    out, at = [], start_min
    while at < start_min + minutes:
        service = rng.choice(SERVICES[:3])
        pod = pod_name(service, random.Random(rng.randrange(3)))  # three replicas per service
        out.append(
            alert(
                name=rng.choice(("A", "B", "C")), service=service, at=at, ends_after=rng.choice((None, 3, 40)), pod=pod
            )
        )
        at += rng.uniform(1, 25)
    return out


def test_snapshot_restores_identical_features():
    # Nine days of history (longer than the window), snapshot in the middle of an hour.
    history = _stream(1, 0, 9 * DAY_MIN + 37)
    _, state = replay(history)
    restored = StreamState.from_snapshot(StreamSnapshot.model_validate_json(state.snapshot().model_dump_json()))
    later = _stream(2, 9 * DAY_MIN + 38, 600) + [history[-1], alert(name="A", service="checkout", at=10 * DAY_MIN)]
    for a in later:
        assert np.array_equal(state.score_then_observe(a), restored.score_then_observe(a)), a


def test_snapshot_keeps_pending_resolutions_pending():
    state = StreamState()
    state.observe(alert(at=0, ends_after=5))
    restored = StreamState.from_snapshot(state.snapshot())
    assert f(context_vector(restored, alert(at=3)), "fp_short_fires_24h") == 0.0
    assert f(context_vector(restored, alert(at=3)), "fp_open") == 1.0
    assert f(context_vector(restored, alert(at=6)), "fp_short_fires_24h") == log1p(1)


def test_replay_and_time_order():
    alerts = [alert(at=5), alert(at=1, name="B"), alert(at=1, name="C")]
    assert time_order(alerts) == [1, 2, 0]
    matrix, state = replay([alerts[i] for i in time_order(alerts)])
    assert matrix.shape == (3, len(FEATURE_NAMES))
    assert len(state.recent) == 3
    empty, _ = replay([])
    assert empty.shape == (0, len(FEATURE_NAMES))


def test_the_seen_tables_are_bounded_and_forget_the_least_recent():
    state = StreamState(capacity=2)
    first, second, third = (alert(name=n, service="checkout", at=i) for i, n in enumerate(("A", "B", "C")))
    for a in (first, second):
        state.observe(a)
    state.observe(first.model_copy(update={"startsAt": first.startsAt + timedelta(minutes=5)}))  # A again
    state.observe(third)
    assert len(state.seen_fps) == 2 and first.fingerprint in state.seen_fps and second.fingerprint not in state.seen_fps
    later = second.model_copy(update={"startsAt": second.startsAt + timedelta(minutes=10)})
    assert f(context_vector(state, later), "fp_seen") == 0.0  # forgotten: new again
    restored = StreamState.from_snapshot(state.snapshot(), capacity=2)
    assert list(restored.seen_fps) == list(state.seen_fps)  # least recent first, as observed


def test_a_stream_busier_than_the_memory_forgets_its_oldest_occurrences():
    state, roomy = StreamState(capacity=1000), StreamState()
    early = alert(name="Rare", service="checkout", at=0, instance="db-1")
    for s in (state, roomy):
        s.observe(early)
        for i in range(3000):  # 3,000 other occurrences in 50 minutes: more than the memory holds
            s.observe(alert(name="Busy", service="search", at=1 + i / 60, instance=f"h{i}"))
    again = alert(name="Rare", service="checkout", at=55, instance="db-1")
    assert len(state.recent) <= 1001 and state.horizon > roomy.horizon
    assert f(context_vector(roomy, again), "fp_fires_1h") == log1p(1)
    assert f(context_vector(state, again), "fp_fires_1h") == 0.0  # older than the oldest occurrence remembered
    assert f(context_vector(state, again), "all_alerts_5m") == f(
        context_vector(roomy, again), "all_alerts_5m"
    )  # windows exact


def test_the_windows_hold_no_more_alerts_than_the_memory_on_a_busy_stream():
    """An hour of windows at any rate was memory beyond ALERTSIEVE_STREAM_MEMORY: now the floor trims them."""
    state, roomy = StreamState(capacity=1000), StreamState()
    for s in (state, roomy):
        for i in range(5000):  # 5,000 occurrences in 50 minutes, 100 a minute: 1,000 are 10 minutes
            s.observe(alert(name="Busy", service="search", at=i / 100, instance=f"h{i}"))
    windows = state.windows
    assert max(len(windows.log), len(windows.w15), len(windows.w30), len(windows.all30)) <= 1001
    assert len(roomy.windows.log) == 5000 and len(roomy.windows.w30) == 3001  # bounded by the hour only
    assert len(windows.w5) == len(roomy.windows.w5) == 501  # 5 minutes fit the memory: exact
