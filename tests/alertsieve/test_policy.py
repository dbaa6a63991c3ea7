from __future__ import annotations

import pytest

from alertsieve.policy import GroupChoice, InForce, Source, ThresholdPolicy, decide, in_force
from alertsieve.schema import Reason
from tests.factories import threshold_policy


def small_policy() -> ThresholdPolicy:
    """Service "own" at 0.3, the pooled rest at 0.2; "small" known without a threshold of its own."""
    return threshold_policy("own", ["own", "small"])


@pytest.mark.parametrize(
    ("score", "service", "decision", "threshold", "reason", "words"),
    [
        (0.29, "own", "suppress", 0.3, Reason.BELOW_THRESHOLD, "below service threshold"),
        (0.3, "own", "page", 0.3, Reason.AT_OR_ABOVE_THRESHOLD, "at or above service threshold"),
        (0.9, "own", "page", 0.3, Reason.AT_OR_ABOVE_THRESHOLD, "at or above service threshold"),
        (0.19, "small", "suppress", 0.2, Reason.BELOW_THRESHOLD, "below pooled threshold"),
        (0.25, "small", "page", 0.2, Reason.AT_OR_ABOVE_THRESHOLD, "at or above pooled threshold"),
        (0.0, "never-seen", "page", 0.0, Reason.UNKNOWN_SERVICE, "unknown service"),
    ],
)
def test_decide(score, service, decision, threshold, reason, words):
    got = decide(score, service, small_policy())
    assert (got.decision, got.threshold, got.reason) == (decision, threshold, reason)
    assert words in got.text


def test_novel_alerts_page_whatever_their_score():
    got = decide(0.0, "own", small_policy(), novel=True)
    assert (got.decision, got.threshold, got.reason) == ("page", 0.3, Reason.NOVEL)
    assert decide(0.0, "never-seen", small_policy(), novel=True).reason is Reason.UNKNOWN_SERVICE


def test_overrides_win_for_their_service_only():
    policy = small_policy()
    assert (
        decide(0.29, "own", policy, overrides={"own": 0.1}).decision,
        policy.threshold_for("own", {"own": 0.1}),
    ) == (
        "page",
        (0.1, Source.OVERRIDE),
    )
    assert decide(0.05, "never-seen", policy, overrides={"never-seen": 0.1}).decision == "suppress"
    assert decide(0.29, "own", policy, overrides={"other": 0.9}).threshold == 0.3


def test_in_force_is_the_one_rule():
    assert in_force("a", {"a": 0.4}, 0.1, ["a", "b"]) == InForce(0.4, Source.SERVICE)
    assert in_force("b", {"a": 0.4}, 0.1, ["a", "b"]) == InForce(0.1, Source.POOLED)
    assert in_force("c", {"a": 0.4}, 0.1, ["a", "b"]) is None
    found = in_force("c", {}, 0.1, [], {"c": 0.7})
    assert found is not None and found.pair == (0.7, Source.OVERRIDE) and found.override is not None


def test_design_effect_counts_alerts_per_incident():
    choice = GroupChoice(threshold=0.1, actionable=30, noise=10, suppressed_actionable=0, suppressed_noise=0)
    assert choice.design_effect == 1.0
    assert choice.model_copy(update={"incidents": 3}).design_effect == 10.0
