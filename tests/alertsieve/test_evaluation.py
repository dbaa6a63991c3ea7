from __future__ import annotations

import random
from itertools import product

import pytest

from alertsieve.evaluation import Counts, auc_score, evaluate


def test_noise_reduction_and_fnr_definitions():
    labels = [True, True, True, True, False, False, False, False, False]
    decisions = ["page", "suppress", "page", "page", "suppress", "suppress", "suppress", "page", "page"]
    services = ["a"] * 9
    overall = evaluate(labels, decisions, services).overall
    assert (overall.alerts, overall.actionable, overall.noise) == (9, 4, 5)
    assert (overall.suppressed_actionable, overall.suppressed_noise) == (1, 3)
    assert overall.fnr == pytest.approx(1 / 4)
    assert overall.noise_reduction == pytest.approx(3 / 5)


def test_per_service_counts_sorted():
    labels = [True, False, False, True, False]
    decisions = ["page", "suppress", "page", "suppress", "suppress"]
    services = ["web", "db", "web", "db", "db"]
    result = evaluate(labels, decisions, services)
    assert list(result.services) == ["db", "web"]
    db, web = result.services["db"], result.services["web"]
    assert (db.alerts, db.actionable, db.suppressed_actionable, db.noise, db.suppressed_noise) == (3, 1, 1, 2, 2)
    assert (web.alerts, web.actionable, web.suppressed_actionable, web.noise, web.suppressed_noise) == (2, 1, 0, 1, 0)
    assert db.fnr == 1.0 and web.noise_reduction == 0.0
    assert result.overall.alerts == sum(c.alerts for c in result.services.values())
    assert result.auc is None  # no scores given


def test_empty_classes_give_zero_rates():
    assert Counts().fnr == 0.0 and Counts().noise_reduction == 0.0
    only_noise = evaluate([False, False], ["suppress", "page"], ["a", "a"]).overall
    assert only_noise.fnr == 0.0 and only_noise.noise_reduction == 0.5


def test_lengths_must_match():
    with pytest.raises(ValueError):
        evaluate([True, False], ["page"], ["a", "a"])


def _auc_by_pairs(labels, scores) -> float:
    """Share of (actionable, noise) pairs ranked right, ties counting one half."""
    pos = [s for y, s in zip(labels, scores, strict=True) if y]
    neg = [s for y, s in zip(labels, scores, strict=True) if not y]
    wins = sum(1.0 if p > n else 0.5 if p == n else 0.0 for p, n in product(pos, neg))
    return wins / (len(pos) * len(neg))


def test_auc_by_hand_with_ties():
    labels = [True, False, True, False, False, True]
    scores = [0.9, 0.9, 0.4, 0.4, 0.1, 0.1]
    # pairs: 0.9 vs (0.9 tie, 0.4, 0.1) = 2.5; 0.4 vs (0.9, 0.4 tie, 0.1) = 1.5; 0.1 vs (0.9, 0.4, 0.1 tie) = 0.5
    assert auc_score(labels, scores) == pytest.approx(4.5 / 9)
    assert auc_score(labels, scores) == pytest.approx(_auc_by_pairs(labels, scores))


@pytest.mark.parametrize("seed", range(3))
def test_auc_matches_pair_count(seed):
    rng = random.Random(seed)
    labels = [rng.random() < 0.3 for _ in range(60)] + [True, False]
    scores = [round(rng.random(), 1) for _ in range(62)]  # many ties
    assert auc_score(labels, scores) == pytest.approx(_auc_by_pairs(labels, scores))


def test_auc_extremes_and_one_class():
    assert auc_score([False, False, True], [0.1, 0.2, 0.9]) == 1.0
    assert auc_score([True, False], [0.1, 0.9]) == 0.0
    assert auc_score([True, False], [0.5, 0.5]) == 0.5
    assert auc_score([True, True], [0.1, 0.2]) is None
    assert auc_score([False], [0.1]) is None
    assert auc_score([], []) is None
    assert evaluate([True, True], ["page", "page"], ["a", "a"], [0.1, 0.2]).auc is None
    assert evaluate([True, False], ["page", "page"], ["a", "a"], [0.9, 0.2]).auc == 1.0
