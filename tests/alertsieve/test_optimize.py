from __future__ import annotations

import math
from itertools import product

import numpy as np
import pytest
from scipy.stats import norm

from alertsieve.explain import incidents
from alertsieve.misses import expected_misses, posterior_misses
from alertsieve.optimize import (
    UNITS,
    _allocate,
    candidates,
    choose_thresholds,
    global_threshold,
)
from alertsieve.policy import GroupChoice, Source, ThresholdParams, ThresholdPolicy

PARAMS = ThresholdParams()
MINUTE, DAY = 60.0, 86400.0


def _calibrated(rng, n: int, rate: float) -> tuple[np.ndarray, np.ndarray]:
    """Scores equal to the true probability ``rate`` (a calibrated model) and labels drawn from it."""
    return np.full(n, rate), rng.uniform(size=n) < rate


def _separated(rng, n_noise: int, n_pos: int, service: str = "svc"):
    """Noise at P(actionable) 1e-6 to 1e-4, actionable alerts around 0.5: the gap real streams show."""
    scores = np.concatenate([10 ** rng.uniform(-6, -4, n_noise), rng.uniform(0.2, 0.95, n_pos)])
    labels = np.array([False] * n_noise + [True] * n_pos)
    return scores, labels, [service] * (n_noise + n_pos)


def _suppressed(policy: ThresholdPolicy, scores, labels, services) -> tuple[int, int]:
    """(suppressed actionable, suppressed noise) under the policy."""
    missed = muted = 0
    for score, label, service in zip(scores, labels, services, strict=True):
        found = policy.threshold_for(service)
        if found is not None and score < found[0]:
            missed += int(label)
            muted += int(not label)
    return missed, muted


def _check_budget(policy: ThresholdPolicy, params: ThresholdParams = PARAMS) -> None:
    assert policy.expected_fnr <= params.budget * (1 - params.margin) + 1e-9
    assert policy.fnr_upper_bound >= policy.expected_fnr


def test_clean_separation_with_two_incidents_suppresses_the_noise():
    """Thousands of never-actionable repetitions far below two incidents' alerts: the noise side of the
    evidence certifies what a count of 20 actionable alerts alone never could."""
    rng = np.random.default_rng(0)
    scores, labels, services = _separated(rng, 5000, 20)
    times = np.concatenate([rng.uniform(0, 14 * DAY, 5000), np.repeat([DAY, 9 * DAY], 10) + np.arange(20) * MINUTE])
    policy = choose_thresholds(scores, labels, services, PARAMS, times=times)
    missed, muted = _suppressed(policy, scores, labels, services)
    assert missed == 0
    assert muted / 5000 > 0.95
    assert policy.pooled.incidents == 2
    assert 1e-3 < policy.pooled.threshold < 0.2  # in the gap, at its logit midpoint
    _check_budget(policy)


def test_inseparable_scores_suppress_little():
    """A calibrated model that cannot separate: every alert scores the service's actionable share."""
    rng = np.random.default_rng(1)
    scores, labels = _calibrated(rng, 3000, 0.12)
    policy = choose_thresholds(scores, labels, ["svc"] * 3000, PARAMS)
    missed, muted = _suppressed(policy, scores, labels, ["svc"] * 3000)
    assert muted / (~labels).sum() < 0.02
    assert missed / labels.sum() <= 0.02
    assert "cannot tell its noise from its actionable alerts" in policy.notes["svc"]


def test_noisy_model_overconfidence_is_corrected_by_validation_misses():
    """Scores that claim 1e-4 for alerts half of which were actionable: validation's misses win."""
    scores = np.full(200, 1e-4)
    labels = np.array([True, False] * 100)
    misses, _ = expected_misses(scores, labels, 1.0)
    assert misses >= 100
    policy = choose_thresholds(scores, labels, ["svc"] * 200, PARAMS)
    assert _suppressed(policy, scores, labels, ["svc"] * 200) == (0, 0)


def test_each_score_range_weighs_the_model_against_validation():
    """Two ranges: at 1e-6 validation shows 2 misses in 200 where the model says 0.0002: they cost the 2;
    at 0.3, 3 alerts and no miss: the model's word (0.3 each, worth 10 alerts) mostly stands."""
    scores = np.array([1e-6] * 200 + [0.3] * 3)
    labels = np.array([True, True] + [False] * 198 + [False] * 3)
    order = np.argsort(scores, kind="stable")
    misses, variance = posterior_misses(scores[order], labels[order])
    assert misses[199] == pytest.approx(2.0, rel=0.01)
    assert misses[-1] - misses[199] == pytest.approx(3 * 10 * 0.3 / 13)
    assert variance.tolist() == misses.tolist()  # Poisson
    assert np.all(np.diff(misses) >= -1e-12)  # suppressing more never costs less


def test_thousands_of_clean_validation_alerts_outweigh_a_cautious_model_but_bursts_count_once():
    """5,000 noise alerts at 0.01 without a miss: validation's count wins over the model's mass of 50; the
    same alerts in 5 bursts are 5 pieces of evidence, and the model's word mostly stands."""
    scores, labels = np.full(5000, 0.01), np.zeros(5000, dtype=bool)
    alone, _ = posterior_misses(scores, labels)
    assert alone[-1] == pytest.approx(5000 * 10 * 0.01 / 5010)
    bursts, _ = posterior_misses(scores, labels, np.full(5000, 1 / 1000))
    assert bursts[-1] == pytest.approx(5000 * 10 * 0.01 / 15)
    assert bursts[-1] > 30 * alone[-1]


def test_a_threshold_that_fails_on_one_time_slice_is_not_kept():
    """Validation's first two slices are clean, the third has its misses just below the cut: the budget
    pooled over validation would allow the cut, the third slice does not."""
    rng = np.random.default_rng(7)
    noise = 10 ** rng.uniform(-6, -4, 3000)
    quiet = np.full(4, 5e-5)  # actionable alerts among the noise, all in the last slice
    loud = rng.uniform(0.3, 0.9, 400)
    scores = np.concatenate([noise, quiet, loud])
    labels = np.array([False] * 3000 + [True] * 404)
    times = np.concatenate([np.linspace(0, 30 * DAY, 3000), np.full(4, 29 * DAY), np.linspace(0, 30 * DAY, 400)])
    one_slice = PARAMS.model_copy(update={"time_slices": 1, "margin": 0.0, "budget": 0.015})
    sliced = one_slice.model_copy(update={"time_slices": 3})
    pooled = choose_thresholds(scores, labels, ["svc"] * len(scores), one_slice, times=times)
    checked = choose_thresholds(scores, labels, ["svc"] * len(scores), sliced, times=times)
    assert _suppressed(pooled, scores, labels, ["svc"] * len(scores))[0] == 4  # 4 of 404: under 1.5% pooled
    missed, muted = _suppressed(checked, scores, labels, ["svc"] * len(scores))
    assert missed < 4  # in the last slice 4 of its ~137 would be 2.9%
    assert muted > 0


def test_candidates_sit_in_gaps_and_count_both_sides():
    scores = np.array([0.001, 0.002, 0.3, 0.4, 0.6, 0.7, 0.8])
    labels = np.array([False, False, True, False, True, False, True])
    options = candidates(scores, labels, max_misses=10.0, unit=0.001)
    assert options[0].threshold == 0.0 and options[0].suppressed_noise == 0
    first = options[1]
    assert (first.suppressed_actionable, first.suppressed_noise) == (0, 1)
    assert 0.001 < first.threshold < 0.002
    second = options[2]
    assert (second.suppressed_actionable, second.suppressed_noise) == (0, 2)
    # one score range: the model's mean 0.0015 with 10 pseudo-alerts, 2 alerts seen without a miss
    assert second.expected_misses == pytest.approx(2 * 10 * 0.0015 / 12)
    logit = lambda p: math.log(p / (1 - p))  # noqa: E731
    assert logit(second.threshold) == pytest.approx((logit(0.002) + logit(0.3)) / 2)
    assert options[-1].suppressed_actionable == 3
    assert all(o.expected_misses <= 0.01 for o in candidates(scores, labels, 0.01, 0.001))


def test_candidates_keep_the_best_cut_per_budget_unit():
    rng = np.random.default_rng(2)
    scores, labels, _ = _separated(rng, 4000, 30)
    options = candidates(scores, labels, max_misses=1.0, unit=0.05)
    buckets = [math.ceil(o.expected_misses / 0.05 - 1e-9) for o in options[1:]]
    assert len(buckets) == len(set(buckets)) <= 21
    assert [o.suppressed_noise for o in options] == sorted(o.suppressed_noise for o in options)


@pytest.mark.parametrize(("budget", "margin"), [(0.015, 0.2), (0.05, 0.0), (0.005, 0.5)])
def test_policy_stays_within_budget(budget, margin):
    rng = np.random.default_rng(3)
    parts = []
    for i, n in enumerate((60, 25, 120, 5)):
        if i % 2:
            s, y = _calibrated(rng, 800 + n, 0.1)
            parts.append((s, y, [f"s{i}"] * len(s)))
        else:
            parts.append(_separated(rng, 800, n, service=f"s{i}"))
    scores = np.concatenate([p[0] for p in parts])
    labels = np.concatenate([p[1] for p in parts])
    services = [s for p in parts for s in p[2]]
    params = ThresholdParams(budget=budget, margin=margin)
    _check_budget(choose_thresholds(scores, labels, services, params), params)


def test_small_services_use_the_pooled_threshold():
    rng = np.random.default_rng(4)
    big = _separated(rng, 1000, 150, service="big")
    small = _separated(rng, 300, 3, service="small")
    scores = np.concatenate([big[0], small[0]])
    labels = np.concatenate([big[1], small[1]])
    policy = choose_thresholds(scores, labels, big[2] + small[2], PARAMS, known_services=["trained-only"])
    assert "big" in policy.services and "small" not in policy.services
    assert policy.threshold_for("big") == (policy.services["big"].threshold, Source.SERVICE)
    assert policy.threshold_for("small") == (policy.pooled.threshold, Source.POOLED)
    assert policy.threshold_for("trained-only") == (policy.pooled.threshold, Source.POOLED)
    assert policy.threshold_for("small", {"small": 0.5}) == (0.5, Source.OVERRIDE)
    assert policy.threshold_for("never-seen") is None
    assert policy.known_services == ["big", "small", "trained-only"]
    assert policy.pooled.actionable == 3 and policy.pooled.noise == 300
    assert set(policy.notes) == {"big", "small", "trained-only"}
    assert policy.notes["trained-only"].startswith("no validation alerts")
    _check_budget(policy)


def test_no_actionable_alerts_suppresses_nothing():
    rng = np.random.default_rng(6)
    scores = rng.uniform(size=500)
    services = ["a"] * 250 + ["b"] * 250
    policy = choose_thresholds(scores, np.zeros(500, dtype=bool), services, PARAMS)
    assert policy.pooled.threshold == 0.0
    assert _suppressed(policy, scores, np.zeros(500, dtype=bool), services) == (0, 0)
    assert policy.expected_fnr == 0.0 and policy.fnr_upper_bound == 0.0


def test_the_history_share_sets_the_denominator_when_validation_has_few_actionable():
    rng = np.random.default_rng(7)
    scores, labels, services = _separated(rng, 3000, 2)
    scores[:3000] = rng.uniform(0.01, 0.03, 3000)  # its ranges cost ~0.2 each: more than two actionable allow
    thin = choose_thresholds(scores, labels, services, PARAMS)
    backed = choose_thresholds(scores, labels, services, PARAMS, prior_rate=100 / 3002)
    assert _suppressed(thin, scores, labels, services)[1] < _suppressed(backed, scores, labels, services)[1]
    _check_budget(backed)


def _brute_force(options, unit, units):
    best = 0
    for picks in product(*options):
        if sum(math.ceil(p.expected_misses / unit - 1e-9) for p in picks) <= units:
            best = max(best, sum(p.suppressed_noise for p in picks))
    return best


@pytest.mark.parametrize("seed", range(3))
def test_allocation_equals_brute_force(seed):
    rng = np.random.default_rng(seed)
    unit = 0.1
    options = []
    for n_pos in (40, 25, 60):
        scores = np.concatenate([rng.beta(1, 30, 300), rng.beta(5, 2, n_pos)])
        labels = np.array([False] * 300 + [True] * n_pos)
        options.append(candidates(scores, labels, max_misses=2.0, unit=unit)[:8])
    for units in (5, 12, 30):
        picks = _allocate(options, unit, units)
        assert sum(math.ceil(p.expected_misses / unit - 1e-9) for p in picks) <= units
        assert sum(p.suppressed_noise for p in picks) == _brute_force(options, unit, units)


def _choice(misses: float, suppressed_noise: int) -> GroupChoice:
    return GroupChoice(
        threshold=misses,
        actionable=10,
        noise=100,
        suppressed_actionable=0,
        suppressed_noise=suppressed_noise,
        expected_misses=misses,
    )


def test_allocation_prefers_the_safer_of_equal_gains_and_never_rounds_risk_down():
    options = [[_choice(0.0, 0), _choice(0.5, 5)], [_choice(0.0, 0), _choice(1.0, 5)]]
    assert [p.expected_misses for p in _allocate(options, 0.1, 12)] == [0.5, 0.0]
    assert _allocate([[_choice(0.0, 0), _choice(1.005, 5)]], 0.1, 10)[0].expected_misses == 0.0
    assert _allocate([[_choice(0.0, 0), _choice(1.005, 5)]], 0.1, 11)[0].expected_misses == 1.005


def test_upper_bound_is_reported_at_the_confidence_level():
    rng = np.random.default_rng(9)
    scores, labels, services = _separated(rng, 4000, 100)
    policy = choose_thresholds(scores, labels, services, PARAMS)
    picks = [policy.pooled, *policy.services.values()]
    z = norm.ppf(PARAMS.confidence)
    spread = math.sqrt(sum(p.variance for p in picks)) / 100
    assert policy.fnr_upper_bound == pytest.approx(policy.expected_fnr + z * spread)
    assert UNITS > 0


def test_global_threshold_baseline():
    rng = np.random.default_rng(7)
    parts = [_separated(rng, 600, 60, service=s) for s in ("a", "b", "c")]
    scores = np.concatenate([p[0] for p in parts])
    labels = np.concatenate([p[1] for p in parts])
    choice = global_threshold(scores, labels, PARAMS)
    assert choice.actionable == 180 and choice.noise == 1800
    below = scores < choice.threshold
    assert choice.suppressed_noise == int((below & ~labels).sum())
    assert choice.suppressed_actionable == int((below & labels).sum()) == 0
    assert choice.suppressed_noise / 1800 > 0.9


@pytest.mark.parametrize(
    "bad",
    [{"budget": 0}, {"budget": 1}, {"confidence": 0.5}, {"margin": 1}, {"min_support": 0}, {"service_cap": 0}],
)
def test_params_validation(bad):
    with pytest.raises(ValueError):
        ThresholdParams(**bad)


def test_incidents_are_bursts_of_actionable_alerts():
    times = np.array([0.0, 5 * MINUTE, 9 * MINUTE, 200 * MINUTE, 201 * MINUTE, 5 * MINUTE])
    services = np.array(["a", "a", "a", "a", "a", "b"], dtype=object)
    assert incidents(times[:0], services[:0], 30 * MINUTE) == 0
    assert incidents(times, services, 30 * MINUTE) == 3
    assert incidents(times, services, 0.0) == 6
    steady = np.arange(48) * 30 * MINUTE + MINUTE
    assert incidents(steady, np.array(["a"] * 48, dtype=object), 30 * MINUTE) == 48
