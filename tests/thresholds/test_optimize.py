from __future__ import annotations

import math
from itertools import product

import numpy as np
import pytest
from scipy.stats import norm

from thresholds.optimize import (
    UNITS_PER_FNR,
    GroupChoice,
    ThresholdParams,
    ThresholdPolicy,
    _allocate,
    candidates,
    choose_thresholds,
    global_threshold,
)

PARAMS = ThresholdParams()


def _stream(rng, n_noise, n_pos, separable: bool, service: str = "svc"):
    if separable:
        scores = np.concatenate([rng.uniform(0.0, 0.4, n_noise), rng.uniform(0.6, 1.0, n_pos)])
    else:
        scores = rng.uniform(0.0, 1.0, n_noise + n_pos)
    labels = np.array([False] * n_noise + [True] * n_pos)
    return scores, labels, [service] * (n_noise + n_pos)


def _check_budget(policy: ThresholdPolicy, params: ThresholdParams = PARAMS) -> None:
    assert policy.expected_fnr <= params.budget * (1 - params.margin) + 1e-12
    assert policy.fnr_upper_bound <= params.budget + 1e-12
    assert policy.fnr_upper_bound >= policy.expected_fnr


def _suppressed(policy: ThresholdPolicy, scores, labels, services) -> tuple[int, int]:
    """(suppressed actionable, suppressed noise) under the policy."""
    missed = muted = 0
    for s, y, svc in zip(scores, labels, services, strict=True):
        found = policy.threshold_for(svc)
        if found is not None and s < found[0]:
            missed += int(y)
            muted += int(not y)
    return missed, muted


def test_separable_scores_suppress_most_noise_without_misses():
    rng = np.random.default_rng(0)
    scores, labels, services = _stream(rng, 2000, 200, separable=True)
    policy = choose_thresholds(scores, labels, services, PARAMS)
    _check_budget(policy)
    missed, muted = _suppressed(policy, scores, labels, services)
    assert missed == 0
    assert muted / 2000 > 0.95
    assert 0.4 <= policy.services["svc"].threshold <= 0.6


def test_inseparable_scores_suppress_little():
    rng = np.random.default_rng(1)
    scores, labels, services = _stream(rng, 3000, 100, separable=False)
    policy = choose_thresholds(scores, labels, services, PARAMS)
    _check_budget(policy)
    _, muted = _suppressed(policy, scores, labels, services)
    assert muted / 3000 < 0.05


def test_expected_fnr_is_the_beta_mean_and_bound_uses_confidence():
    rng = np.random.default_rng(2)
    scores, labels, services = _stream(rng, 2000, 300, separable=True)
    policy = choose_thresholds(scores, labels, services, PARAMS)
    choice = policy.services["svc"]
    j = choice.suppressed_actionable  # separable: the threshold sits under the (j+1)-th lowest
    assert choice.expected_fnr == pytest.approx((j + 1) / 301)
    a, b = j + 1, 300 - j
    variance = a * b / ((a + b) ** 2 * (a + b + 1))
    assert choice.variance == pytest.approx(variance)
    # One group holding every actionable alert: weight 1 (the pooled group is empty and weighs 1/300).
    assert policy.expected_fnr == pytest.approx(choice.expected_fnr + policy.pooled.expected_fnr / 300)
    z = norm.ppf(PARAMS.confidence)
    spread = math.sqrt(variance + policy.pooled.variance / 300**2)
    assert policy.fnr_upper_bound == pytest.approx(policy.expected_fnr + z * spread)
    _check_budget(policy)


@pytest.mark.parametrize(("budget", "margin"), [(0.015, 0.2), (0.05, 0.0), (0.005, 0.5)])
def test_policy_stays_within_budget(budget, margin):
    rng = np.random.default_rng(3)
    parts = [_stream(rng, 800, n, separable=bool(i % 2), service=f"s{i}") for i, n in enumerate((60, 25, 120, 5))]
    scores = np.concatenate([p[0] for p in parts])
    labels = np.concatenate([p[1] for p in parts])
    services = [s for p in parts for s in p[2]]
    params = ThresholdParams(budget=budget, margin=margin)
    _check_budget(choose_thresholds(scores, labels, services, params), params)


def test_small_services_use_the_pooled_threshold():
    rng = np.random.default_rng(4)
    big = _stream(rng, 1000, 150, separable=True, service="big")
    small = _stream(rng, 300, 3, separable=True, service="small")
    scores = np.concatenate([big[0], small[0]])
    labels = np.concatenate([big[1], small[1]])
    policy = choose_thresholds(scores, labels, big[2] + small[2], PARAMS, known_services=["trained-only"])
    assert "big" in policy.services and "small" not in policy.services
    assert policy.threshold_for("big") == (policy.services["big"].threshold, "service")
    assert policy.threshold_for("small") == (policy.pooled.threshold, "pooled")
    assert policy.threshold_for("trained-only") == (policy.pooled.threshold, "pooled")
    assert policy.threshold_for("never-seen") is None
    assert policy.known_services == ["big", "small", "trained-only"]
    assert policy.pooled.actionable == 3 and policy.pooled.noise == 300
    _check_budget(policy)


def test_min_support_decides_who_gets_an_own_threshold():
    rng = np.random.default_rng(5)
    scores, labels, services = _stream(rng, 500, 12, separable=True, service="mid")
    assert (
        "mid"
        in choose_thresholds(
            scores, labels, services, PARAMS.model_copy(update={"min_support": 12, "service_cap": 0.5})
        ).services
    )
    assert (
        "mid"
        not in choose_thresholds(
            scores, labels, services, PARAMS.model_copy(update={"min_support": 13, "service_cap": 0.5})
        ).services
    )


def test_no_actionable_alerts_suppresses_nothing():
    rng = np.random.default_rng(6)
    scores = rng.uniform(size=500)
    services = ["a"] * 250 + ["b"] * 250
    policy = choose_thresholds(scores, np.zeros(500, dtype=bool), services, PARAMS)
    assert policy.pooled.threshold == 0.0
    assert all(c.threshold == 0.0 for c in policy.services.values())
    assert _suppressed(policy, scores, np.zeros(500, dtype=bool), services) == (0, 0)
    assert policy.expected_fnr == 0.0 and policy.fnr_upper_bound == 0.0
    assert policy.threshold_for("a") == (0.0, "pooled")


def test_candidates_follow_actionable_scores():
    scores = np.array([0.1, 0.2, 0.3, 0.5, 0.6, 0.7, 0.8])
    labels = np.array([False, False, True, False, True, False, True])
    options = candidates(scores, labels, max_share=1.0)
    assert options[0].threshold == 0.0 and options[0].suppressed_noise == 0
    # Below the lowest actionable (0.3): halfway to the highest score under it.
    assert options[1].threshold == pytest.approx(0.25)
    assert (options[1].suppressed_actionable, options[1].suppressed_noise) == (0, 2)
    assert options[1].expected_fnr == pytest.approx(1 / 4)
    assert options[2].threshold == pytest.approx(0.55)
    assert (options[2].suppressed_actionable, options[2].suppressed_noise) == (1, 3)
    assert [o.expected_fnr for o in candidates(scores, labels, max_share=0.3)] == [0.0, 0.25]


def _brute_force(options, weights, units):
    best = 0
    for picks in product(*options):
        cost = sum(math.ceil(w * p.expected_fnr * UNITS_PER_FNR) for w, p in zip(weights, picks, strict=True))
        if cost <= units:
            best = max(best, sum(p.suppressed_noise for p in picks))
    return best


@pytest.mark.parametrize("seed", range(4))
def test_allocation_equals_brute_force(seed):
    rng = np.random.default_rng(seed)
    options, positives = [], []
    for n_pos in (40, 25, 60):
        scores = np.concatenate([rng.beta(2, 5, 300), rng.beta(5, 2, n_pos)])
        labels = np.array([False] * 300 + [True] * n_pos)
        options.append(candidates(scores, labels, max_share=0.08))
        positives.append(n_pos)
    weights = [n / sum(positives) for n in positives]
    for units in (60, 120, 300):
        picks = _allocate(options, weights, units)
        cost = sum(math.ceil(w * p.expected_fnr * UNITS_PER_FNR) for w, p in zip(weights, picks, strict=True))
        assert cost <= units
        assert sum(p.suppressed_noise for p in picks) == _brute_force(options, weights, units)


def _choice(expected_fnr: float, suppressed_noise: int) -> GroupChoice:
    return GroupChoice(threshold=expected_fnr, actionable=10, noise=100, suppressed_actionable=0,
                       suppressed_noise=suppressed_noise, expected_fnr=expected_fnr)  # fmt: skip


def test_allocation_prefers_the_safer_of_equal_gains():
    # Suppressing 5 either in group one (cost 50) or group two (cost 100): take the cheaper risk.
    options = [[_choice(0.0, 0), _choice(0.005, 5)], [_choice(0.0, 0), _choice(0.01, 5)]]
    picks = _allocate(options, [1.0, 1.0], 120)
    assert [p.expected_fnr for p in picks] == [0.005, 0.0]


def test_allocation_never_rounds_risk_down():
    # 100.5 units of expected misses do not fit a budget of 100 units.
    options = [[_choice(0.0, 0), _choice(0.01005, 5)]]
    assert _allocate(options, [1.0], 100)[0].expected_fnr == 0.0
    assert _allocate(options, [1.0], 101)[0].expected_fnr == 0.01005


def test_global_threshold_baseline():
    rng = np.random.default_rng(7)
    # 180 actionable in all: enough for the confidence bound to allow the lowest threshold on the pool.
    parts = [_stream(rng, 600, 60, separable=True, service=s) for s in ("a", "b", "c")]
    scores = np.concatenate([p[0] for p in parts])
    labels = np.concatenate([p[1] for p in parts])
    choice = global_threshold(scores, labels, PARAMS)
    assert choice.actionable == 180 and choice.noise == 1800
    below = scores < choice.threshold
    assert choice.suppressed_noise == int((below & ~labels).sum())
    assert choice.suppressed_actionable == int((below & labels).sum()) == 0
    assert choice.suppressed_noise / 1800 > 0.9
    assert choice.expected_fnr <= PARAMS.budget * (1 - PARAMS.margin)
    # Per-service groups of 60 each pay their own way; the pooled baseline is at least as bold here.
    per_service = choose_thresholds(scores, labels, [s for p in parts for s in p[2]], PARAMS)
    assert choice.suppressed_noise >= _suppressed(per_service, scores, labels, [s for p in parts for s in p[2]])[1]


@pytest.mark.parametrize(
    "bad", [{"budget": 0}, {"budget": 1}, {"confidence": 0.5}, {"margin": 1}, {"min_support": 0}, {"service_cap": 0}]
)
def test_params_validation(bad):
    with pytest.raises(ValueError):
        ThresholdParams(**bad)


def test_too_few_actionable_alerts_to_suppress_even_when_separable():
    # 1.5% of 40 actionable alerts is less than one: no threshold is safe enough.
    rng = np.random.default_rng(8)
    scores, labels, services = _stream(rng, 2000, 40, separable=True)
    policy = choose_thresholds(scores, labels, services, PARAMS)
    assert _suppressed(policy, scores, labels, services) == (0, 0)
    _check_budget(policy)


def test_margin_binds_when_the_bound_is_tight():
    # Many actionable alerts and a low confidence make the bound close to the mean: the margin decides.
    rng = np.random.default_rng(9)
    scores = np.concatenate([rng.uniform(0.0, 0.7, 20000), rng.uniform(0.1, 1.0, 4000)])
    labels = np.array([False] * 20000 + [True] * 4000)
    params = ThresholdParams(budget=0.02, margin=0.5, confidence=0.55)
    policy = choose_thresholds(scores, labels, ["a"] * 24000, params)
    _check_budget(policy, params)
    assert 0.008 < policy.expected_fnr <= 0.01  # uses the budget up to budget*(1-margin), not beyond
    missed, _ = _suppressed(policy, scores, labels, ["a"] * 24000)
    assert missed / 4000 <= 0.011


def test_incidents_are_bursts_of_actionable_alerts():
    from thresholds.optimize import incidents

    minute = 60.0
    times = np.array([0.0, 5 * minute, 9 * minute, 200 * minute, 201 * minute, 5 * minute])
    services = np.array(["a", "a", "a", "a", "a", "b"], dtype=object)
    assert incidents(times[:0], services[:0], 30 * minute) == 0
    assert incidents(times, services, 30 * minute) == 3  # a's two bursts, and b's alert on its own
    assert incidents(times, services, 0.0) == 6  # window 0: each alert alone
    steady = np.arange(48) * 30 * minute + minute  # one every 30 minutes for a day: no chaining into one
    assert incidents(steady, np.array(["a"] * 48, dtype=object), 30 * minute) == 48


def test_bursts_widen_the_bound_and_suppress_no_more():
    """The same scores, with actionable alerts spread out or packed into a few incidents: the bound
    counts incidents, so bursts make the optimiser more careful, and the budget still holds."""
    rng = np.random.default_rng(12)
    scores = np.concatenate([rng.uniform(0.0, 0.6, 6000), rng.uniform(0.3, 1.0, 600)])
    labels = np.array([False] * 6000 + [True] * 600)
    services = ["a"] * 6600
    spread = np.concatenate([rng.uniform(0, 30 * 86400, 6000), np.arange(600) * 7200.0 + 60])  # 2 h apart
    bursts = np.concatenate([spread[:6000], np.repeat(np.arange(20) * 86400.0, 30) + np.tile(np.arange(30), 20)])
    independent = choose_thresholds(scores, labels, services, PARAMS)
    spread_policy = choose_thresholds(scores, labels, services, PARAMS, times=spread)
    burst_policy = choose_thresholds(scores, labels, services, PARAMS, times=bursts)
    assert spread_policy == independent  # no two actionable alerts within 30 min: every alert its own incident
    burst, alone = burst_policy.services["a"], independent.services["a"]  # 600 actionable: a group of its own
    assert (burst.incidents, spread_policy.services["a"].incidents) == (20, 600)
    assert burst.variance / burst.expected_fnr > alone.variance / alone.expected_fnr  # the design effect, 30
    assert 0 < burst.suppressed_noise < alone.suppressed_noise
    _check_budget(burst_policy)
    _check_budget(independent)
