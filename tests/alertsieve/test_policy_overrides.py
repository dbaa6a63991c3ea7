"""The one decision rule with scoped, expiring overrides and the page-everything switch."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest

from alertsieve.override_scope import Overrides, PageEverything, ThresholdOverride, matches
from alertsieve.policy import Source, decide, in_force
from alertsieve.schema import Reason
from tests.alertsieve.test_policy import small_policy

NOW = datetime(2026, 3, 2, 12, 0, tzinfo=UTC)


def _override(threshold: float, service: str = "own", **scope) -> ThresholdOverride:
    return ThresholdOverride.model_validate(
        {"service": service, "threshold": threshold, "by": "alice", "reason": "r", "at": NOW, **scope}
    )


@pytest.mark.parametrize(
    ("matchers", "labels", "expected"),
    [
        ({"team": "db"}, {"team": "db", "env": "prod"}, True),
        ({"team": "db"}, {"team": "dbx"}, False),
        ({"team": "db|cache"}, {"team": "cache"}, True),
        ({"team": "db|cache"}, {"team": "db|cache"}, True),
        ({"team": "db|cache"}, {"team": "web"}, False),
        ({"team": ""}, {"env": "prod"}, True),
        ({"team": "db"}, {}, False),
        ({"team": "db", "env": "prod"}, {"team": "db", "env": "dev"}, False),
    ],
)
def test_matchers_are_equality_with_alternatives(matchers, labels, expected):
    assert matches(matchers, labels) is expected


def test_a_scoped_override_decides_only_alerts_it_matches_and_says_which():
    rules = Overrides(thresholds=[_override(0.1, matchers={"team": "db"}, expires_at=NOW + timedelta(hours=2))])
    scoped = decide(0.29, "own", small_policy(), rules, labels={"team": "db"}, now=NOW)
    assert (scoped.decision, scoped.threshold, scoped.reason) == ("page", 0.1, Reason.AT_OR_ABOVE_THRESHOLD)
    assert "override threshold 0.1000 (by alice, until 2026-03-02 14:00:00 UTC, matchers team=db)" in scoped.text
    other = decide(0.29, "own", small_policy(), rules, labels={"team": "web"}, now=NOW)
    assert (other.decision, other.threshold) == ("suppress", 0.3) and "service threshold" in other.text
    assert decide(0.29, "own", small_policy(), rules, now=NOW).threshold == 0.3, "no labels: only unscoped ones apply"


def test_an_expired_override_stops_applying_at_the_clock():
    rules = Overrides(thresholds=[_override(0.9, expires_at=NOW + timedelta(minutes=5))])
    assert decide(0.5, "own", small_policy(), rules, labels={}, now=NOW).decision == "suppress"
    later = decide(0.5, "own", small_policy(), rules, labels={}, now=NOW + timedelta(minutes=5))
    assert (later.decision, later.threshold) == ("page", 0.3)
    assert small_policy().threshold_for("own", rules, now=NOW + timedelta(minutes=5)) == (0.3, Source.SERVICE)


def test_the_most_specific_override_wins_then_the_latest():
    rules = Overrides(
        thresholds=[
            _override(0.5),
            _override(0.6, service="*", matchers={"team": "db"}, at=NOW + timedelta(seconds=1)),
            _override(0.05, matchers={"team": "db", "env": "prod"}),
        ]
    )
    assert decide(0.3, "own", small_policy(), rules, labels={"team": "db", "env": "prod"}, now=NOW).threshold == 0.05
    assert decide(0.3, "own", small_policy(), rules, labels={"team": "db"}, now=NOW).threshold == 0.6  # tie: latest
    assert decide(0.3, "small", small_policy(), rules, labels={"team": "db"}, now=NOW).threshold == 0.6
    assert decide(0.3, "small", small_policy(), rules, labels={"team": "web"}, now=NOW).threshold == 0.2


def test_page_everything_pages_what_the_model_suppresses_and_never_suppresses():
    switch = PageEverything(by="bob", reason="INC-7", expires_at=NOW + timedelta(hours=1))
    rules = Overrides(thresholds=[_override(0.99)], page_everything=switch)
    for service, novel in (("own", False), ("small", False), ("never-seen", False), ("own", True)):
        ruling = decide(0.01, service, small_policy(), rules, novel=novel, labels={"a": "b"}, now=NOW)
        assert (ruling.decision, ruling.reason) == ("page", Reason.PAGE_EVERYTHING)
        assert "page everything is on (by bob, until 2026-03-02 13:00:00 UTC, any service): INC-7" == ruling.text
    assert decide(0.01, "own", small_policy(), rules, labels={}, now=NOW).threshold == 0.99
    assert decide(0.01, "never-seen", small_policy(), rules, labels={}, now=NOW).threshold == 0.0
    off = decide(0.01, "own", small_policy(), rules, labels={}, now=NOW + timedelta(hours=1))
    assert (off.decision, off.reason) == ("suppress", Reason.BELOW_THRESHOLD), "expired: the model decides again"


def test_a_scoped_switch_pages_only_its_scope():
    rules = Overrides(page_everything=PageEverything(service="own", matchers={"env": "prod"}))
    assert decide(0.01, "own", small_policy(), rules, labels={"env": "prod"}, now=NOW).reason is Reason.PAGE_EVERYTHING
    assert decide(0.01, "own", small_policy(), rules, labels={"env": "dev"}, now=NOW).decision == "suppress"
    assert decide(0.01, "small", small_policy(), rules, labels={"env": "prod"}, now=NOW).decision == "suppress"
    assert rules.switch_on(NOW) and not Overrides().switch_on(NOW)


def test_plain_mappings_are_unscoped_never_expiring_overrides():
    found = in_force("c", {}, 0.1, [], {"c": 0.7}, labels={"x": "y"})
    assert found is not None and found.pair == (0.7, Source.OVERRIDE) and found.override is not None
    assert Overrides.of({"a": 0.4}).unscoped(NOW) == {"a": 0.4}
    rules = Overrides(
        thresholds=[_override(0.4), _override(0.8, matchers={"k": "v"}), _override(0.5, service="x", expires_at=NOW)]
    )
    assert rules.unscoped(NOW) == {"own": 0.4}
