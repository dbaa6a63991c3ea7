from __future__ import annotations

import numpy as np
import pytest
from scipy.stats import norm

from alertsieve.misses import expected_misses
from alertsieve.optimize import choose_thresholds
from alertsieve.policy import ThresholdParams, ThresholdPolicy
from thresholds.preview import LiveThresholds, curve, expected_miss, outcome, preview

# service a: noise at 0.1..0.4, actionable at 0.6..0.9; service b: 4 noise, 1 actionable at 0.2.
VALIDATION = (
    [("a", s, False) for s in (0.1, 0.2, 0.3, 0.4)]
    + [("a", s, True) for s in (0.6, 0.7, 0.8, 0.9)]
    + [("b", s, False) for s in (0.05, 0.1, 0.3, 0.5)]
    + [("b", 0.2, True)]
)
LIVE = LiveThresholds(pooled=0.15, services={"a": 0.25}, known_services=["a", "b", "c"])


def test_live_thresholds_follow_the_verdict_rule():
    live = LIVE.model_copy(update={"overrides": {"b": 0.5, "new": 0.9}})
    assert live.in_force("a") == (0.25, "service")
    assert live.in_force("b") == (0.5, "override")
    assert live.optimised("b") == (0.15, "pooled")
    assert live.in_force("c") == (0.15, "pooled")
    assert live.in_force("never-seen") is None
    assert live.in_force("new") == (0.9, "override")  # an override applies even to a service the model never saw
    assert live.all_services() == ["a", "b", "c", "new"]


def test_from_policy_matches_the_policy():
    rng = np.random.default_rng(0)
    scores = np.concatenate([rng.uniform(0, 0.4, 400), rng.uniform(0.6, 1, 40)])
    labels = np.array([False] * 400 + [True] * 40)
    policy = choose_thresholds(scores, labels, ["x"] * 440, ThresholdParams(), known_services=["y"])
    live = LiveThresholds.from_policy(policy, {"y": 0.3}, "7")
    assert live.in_force("x") == policy.threshold_for("x")
    assert live.in_force("y") == (0.3, "override") and live.optimised("y") == policy.threshold_for("y")


def test_outcome_counts_and_rates():
    o = outcome(VALIDATION, {"a": 0.65, "b": None})
    assert (o.alerts, o.actionable, o.noise, o.suppressed_noise, o.suppressed_actionable) == (13, 5, 8, 4, 1)
    assert o.noise_reduction == 0.5 and o.fnr == pytest.approx(0.2)


def test_expected_miss_is_the_optimisers_estimate():
    rows = [row for row in VALIDATION if row[0] == "a"]
    scores = np.array([r[1] for r in rows])
    labels = np.array([r[2] for r in rows])
    params = ThresholdParams()
    assert expected_miss(rows, 0.0, params, 4).fnr == 0.0
    # below every actionable score: no miss seen, but four alerts are little evidence against the model's mass
    below_all = expected_miss(rows, 0.5, params, 4)
    misses, variance = expected_misses(scores, labels, 0.5)
    assert below_all.fnr is not None and below_all.fnr == pytest.approx(misses / 4)
    assert 0.5 / 4 < below_all.fnr < 1.0 / 4
    assert below_all.upper == pytest.approx((misses + norm.ppf(0.9) * variance**0.5) / 4)
    # 0.6 and 0.7 observed below: at least those two count
    assert (expected_miss(rows, 0.75, params, 4).fnr or 0.0) >= 2 / 4
    assert expected_miss(rows, 0.3, params, 0).fnr is None


def test_observed_misses_win_over_a_confident_model():
    rows = [("a", 0.001, True), ("a", 0.002, True), ("a", 0.003, False)]
    assert (expected_miss(rows, 0.01, ThresholdParams(), 2).fnr or 0.0) >= 1.0


def test_the_policy_names_the_group_and_its_design_effect():
    from alertsieve.policy import GroupChoice

    own = GroupChoice(
        threshold=0.3,
        actionable=40,
        noise=100,
        suppressed_actionable=0,
        suppressed_noise=50,
        expected_fnr=0.02,
        incidents=10,
    )
    pooled = GroupChoice(
        threshold=0.1, actionable=5, noise=50, suppressed_actionable=0, suppressed_noise=5, expected_fnr=0.01
    )
    policy = ThresholdPolicy(
        params=ThresholdParams(),
        expected_fnr=0.01,
        fnr_upper_bound=0.015,
        pooled=pooled,
        services={"a": own},
        known_services=["a", "b"],
    )
    assert policy.group_for("a").design_effect == 4.0
    assert policy.group_for("b") is pooled and pooled.design_effect == 1.0  # no incidents recorded: alerts


def test_curve_is_monotone_from_nothing_to_everything():
    points = curve([row for row in VALIDATION if row[0] == "a"], steps=10)
    assert points[0].noise_reduction == 0.0 and points[0].fnr == 0.0
    assert points[-1].noise_reduction == 1.0 and points[-1].fnr == 1.0
    assert points[5].threshold == 0.5 and points[5].noise_reduction == 1.0 and points[5].fnr == 0.0
    assert all(p.noise_reduction <= q.noise_reduction for p, q in zip(points, points[1:], strict=False))
    assert all(p.fnr <= q.fnr for p, q in zip(points, points[1:], strict=False))


def test_preview_service_and_fleet_now_and_with_candidate():
    p = preview(VALIDATION, LIVE, "a", 0.45, ThresholdParams(budget=0.015))
    assert p.current == 0.25 and p.current_source == "service"
    assert p.service_now.suppressed_noise == 2 and p.service_candidate.suppressed_noise == 4
    assert p.service_candidate.fnr == 0.0 and 0 < (p.expected_candidate.fnr or 0.0) < 1.0 / 4
    # b keeps its pooled 0.15: 2 noise (0.05, 0.1) suppressed either way
    assert p.fleet_now.suppressed_noise == 4 and p.fleet_candidate.suppressed_noise == 6
    assert p.within_budget
    risky = preview(VALIDATION, LIVE, "b", 0.25)
    assert risky.fleet_candidate.suppressed_actionable == 1 and not risky.within_budget
    assert risky.model_dump()["within_budget"] is False
    unknown = preview(VALIDATION, LIVE, "zzz", 0.5)
    assert unknown.current is None and unknown.service_now.alerts == 0 and unknown.expected_candidate.fnr is None
    with pytest.raises(ValueError):
        preview(VALIDATION, LIVE, "a", 1.5)
