"""Receiver matchers (serve_app/matchers.py): Alertmanager's = != =~ !~, regexes fully anchored and
compiled once, and the guard that refuses patterns that could backtrack without bound."""

from __future__ import annotations

import time

import pytest
from pydantic import ValidationError

from serve_app.matchers import MAX_VALUE, parse_matcher, parse_matchers
from serve_app.receivers import WebhookReceiver, route


@pytest.mark.parametrize(
    ("text", "labels", "expected"),
    [
        ('severity="critical"', {"severity": "critical"}, True),
        ('severity="critical"', {"severity": "warning"}, False),
        ('severity!="critical"', {"severity": "warning"}, True),
        ("severity!=critical", {}, True),
        ('severity=~"crit.*"', {"severity": "critical"}, True),
        ('severity=~"crit"', {"severity": "critical"}, False),  # anchored: the whole value
        ('severity=~"crit.*"', {"severity": "not-critical"}, False),
        ('severity!~"info|debug"', {"severity": "info"}, False),
        ('severity!~"info|debug"', {"severity": "page"}, True),
        ('team=~""', {}, True),  # an absent label reads as ""
        ('team=~".+"', {}, False),
        ('env=~"(prod|stage)?-eu"', {"env": "-eu"}, True),
    ],
)
def test_alertmanager_operators(text: str, labels: dict[str, str], expected: bool) -> None:
    assert parse_matcher(text).matches(labels) is expected


@pytest.mark.parametrize("pattern", ["(a+)+", "(a*)*b", "(a|aa)*", "((ab)+)+", r"(a)\1", "(?=a)a", "x" * 300])
def test_patterns_that_could_backtrack_without_bound_are_refused(pattern: str) -> None:
    with pytest.raises(ValueError):
        parse_matcher(f'label=~"{pattern}"')


def test_a_refused_pattern_fails_the_config_and_a_safe_one_routes() -> None:
    with pytest.raises(ValidationError, match="catastrophic"):
        WebhookReceiver(name="r", url="http://x", matchers=['job=~"(a+)+$"'])
    receivers = [
        WebhookReceiver(name="db", url="http://x", matchers=['team=~"db|cache"', 'env!="dev"']),
        WebhookReceiver(name="rest", url="http://y"),
    ]
    assert route(receivers, "", {"team": "cache", "env": "prod"}) == ([0], True)
    assert route(receivers, "", {"team": "cache", "env": "dev"}) == ([1], True)
    assert route(receivers, "", {"team": "cachex"}) == ([1], True)


def test_a_huge_value_is_not_matched_against_a_regex_and_the_alert_still_goes_somewhere() -> None:
    receivers = [WebhookReceiver(name="only", url="http://x", matchers=['msg=~"a.*b"'])]
    started = time.monotonic()
    indices, matched = route(receivers, "", {"msg": "a" * (MAX_VALUE + 1)})
    assert (indices, matched) == ([0], False), "unrouted: sent to every receiver, never lost"
    assert time.monotonic() - started < 5


def test_the_mapping_form_is_equality_and_sizes_are_capped() -> None:
    (matcher,) = parse_matchers({"team": "db|cache"})
    assert matcher.matches({"team": "db|cache"}) and not matcher.matches({"team": "db"})
    with pytest.raises(ValueError, match="at most"):
        parse_matchers([f'l{i}="x"' for i in range(17)])
    with pytest.raises(ValueError, match="expected"):
        parse_matcher("no operator here")
