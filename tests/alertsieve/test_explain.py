from __future__ import annotations

import numpy as np

from alertsieve.explain import note_for
from alertsieve.policy import GroupChoice, ThresholdParams, ThresholdPolicy


def _policy(threshold: float) -> ThresholdPolicy:
    pooled = GroupChoice(threshold=threshold, actionable=0, noise=0, suppressed_actionable=0, suppressed_noise=0)
    return ThresholdPolicy(
        params=ThresholdParams(), expected_fnr=0, fnr_upper_bound=0, pooled=pooled, known_services=["s"]
    )


def _note(threshold: float, noise: list[float], actionable: list[float], times: list[float] | None = None) -> str:
    scores = np.array(noise + actionable)
    labels = np.array([False] * len(noise) + [True] * len(actionable), dtype=bool)
    return note_for(_policy(threshold), "s", scores, labels, None if times is None else np.array(times))


def test_a_note_gives_the_evidence_and_the_effect():
    note = _note(0.01, [0.001] * 90 + [0.2] * 10, [0.5, 0.6], times=[0.0, 60.0])
    assert note.startswith("2 actionable validation alerts from 1 incidents, 100 noise")
    assert "pooled threshold 0.0100 suppresses 90% of its noise, 0 actionable" in note
    assert "because" not in note


def test_little_suppression_names_its_cause():
    inseparable = _note(0.0, [0.12] * 50, [0.13] * 5)
    assert "cannot tell its noise from its actionable alerts" in inseparable
    low_actionable = _note(0.0, [0.01 + 0.001 * i for i in range(50)], [0.001, 0.5])
    assert "an actionable alert scored 0.0010" in low_actionable
    novel = _note(0.0, [1.0] * 10, [])
    assert "never seen in training" in novel
    costly = _note(0.0, [0.05] * 20, [0.9])
    assert "each suppressed alert costs that" in costly
    budget = _note(0.0, [0.001] * 20, [0.9])
    assert "budget went to services" in budget


def test_a_service_without_validation_alerts():
    assert _note(0.2, [], []).startswith("no validation alerts; pooled threshold 0.2000")
