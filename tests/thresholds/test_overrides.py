"""The override log's fold: expiry by the clock, specificity, revert per scope, the switch, and lines
written before scopes existed."""

from __future__ import annotations

import json
from datetime import UTC, datetime, timedelta

import pytest

from alertsieve.store import LocalStore
from thresholds.overrides import OverrideChange, OverrideLog, PageEverythingChange, ScopeInput

T = datetime(2026, 3, 2, 12, 0, tzinfo=UTC)


class Clock:
    """A clock the test moves by hand."""

    def __init__(self) -> None:
        self.now = T

    def __call__(self) -> datetime:
        return self.now


@pytest.fixture
def clock() -> Clock:
    return Clock()


@pytest.fixture
def log(tmp_path, clock) -> OverrideLog:
    return OverrideLog(LocalStore(tmp_path), clock)


def test_an_expired_override_stops_applying_with_no_new_event(log, clock):
    log.set("db", 0.4, "ana", "maintenance", expires_at=T + timedelta(minutes=30))
    log.set("web", 0.2, "ana", "forever")
    assert log.current() == {"db": 0.4, "web": 0.2}
    clock.now = T + timedelta(minutes=29, seconds=59)
    assert log.current() == {"db": 0.4, "web": 0.2}
    clock.now = T + timedelta(minutes=30)
    assert log.current() == {"web": 0.2}
    assert len(log.changes()) == 2, "expiry writes nothing"
    assert log.in_force("db") is None
    assert log.set("db", 0.5, "bo", "again").old is None, "the expired one is not what the new one replaces"


def test_scopes_fold_separately_and_revert_one_at_a_time(log, clock):
    log.set("db", 0.3, "ana", "whole service")
    log.set("db", 0.6, "ana", "noisy team", matchers={"team": "ops"})
    clock.now += timedelta(seconds=1)
    changed = log.set("db", 0.7, "bo", "noisier", matchers={"team": "ops"})
    assert (changed.old, changed.new) == (0.6, 0.7)
    assert log.current() == {"db": 0.3}, "the service-level view holds the unscoped override only"
    found = log.overrides()
    assert sorted((o.threshold, o.matchers == {}) for o in found.thresholds) == [(0.3, True), (0.7, False)]
    assert found.threshold_for("db", {"team": "ops"}, clock.now).threshold == 0.7
    assert found.threshold_for("db", {"team": "dev"}, clock.now).threshold == 0.3
    reverted = log.set("db", None, "bo", "done", matchers={"team": "ops"})
    assert (reverted.old, reverted.new) == (0.7, None)
    assert [o.threshold for o in log.overrides().thresholds] == [0.3]


def test_the_most_specific_override_wins_then_the_latest(log, clock):
    log.set("*", 0.9, "ana", "any db team alert", matchers={"team": "db"})
    clock.now += timedelta(seconds=1)
    log.set("checkout", 0.5, "bo", "whole service")
    clock.now += timedelta(seconds=1)
    log.set("checkout", 0.1, "cy", "prod db", matchers={"team": "db", "env": "prod"})
    rules, now = log.overrides(), clock.now
    labels = {"team": "db", "env": "prod"}
    assert rules.threshold_for("checkout", labels, now).by == "cy"  # 3 points: service and two matchers
    assert rules.threshold_for("checkout", {"team": "db"}, now).by == "bo"  # 1 point each: the latest wins
    assert rules.threshold_for("search", {"team": "db"}, now).by == "ana"
    assert rules.threshold_for("search", {"team": "web"}, now) is None
    assert rules.threshold_for("checkout", None, now).by == "bo", "without labels only unscoped ones apply"


def test_lines_written_before_scopes_existed_are_unscoped_and_never_expire(tmp_path, clock):
    old = [
        {"service": "db", "old": None, "new": 0.4, "by": "ana", "reason": "r", "at": "2025-01-01T00:00:00Z"},
        {"service": "web", "old": None, "new": 0.2, "by": "ana", "reason": "r", "at": "2025-01-01T00:00:01Z"},
        {"service": "web", "old": 0.2, "new": None, "by": "bo", "reason": "r", "at": "2025-01-02T00:00:00Z"},
        {"service": "*", "old": None, "new": 0.9, "by": "cy", "reason": "r", "at": "2025-01-02T00:00:00Z"},
    ]
    (tmp_path / "overrides").mkdir()
    (tmp_path / "overrides" / "2025-01-01.jsonl").write_text("".join(json.dumps(line) + "\n" for line in old))
    log = OverrideLog(LocalStore(tmp_path), clock)
    clock.now = datetime(2030, 1, 1, tzinfo=UTC)
    assert log.current() == {"db": 0.4}
    assert [(o.service, o.matchers, o.expires_at) for o in log.overrides().thresholds] == [("db", {}, None)], (
        'a bare "*" was a service named "*", never an override of every service'
    )
    assert all(isinstance(e, OverrideChange) for e in log.events())


def test_the_switch_is_the_latest_switch_event_until_it_expires(log, clock):
    assert log.overrides().page_everything is None
    log.set_page_everything(True, "ana", "incident 42", expires_at=T + timedelta(hours=1))
    log.set("db", 0.4, "ana", "unrelated")
    switch = log.overrides().page_everything
    assert switch is not None and (switch.by, switch.reason, switch.service) == ("ana", "incident 42", "*")
    clock.now = T + timedelta(hours=1)
    assert log.overrides().page_everything is None
    log.set_page_everything(True, "bo", "rollout", service="checkout", matchers={"env": "prod"})
    rules = log.overrides()
    assert rules.paging_everything("checkout", {"env": "prod"}, clock.now) is not None
    assert rules.paging_everything("checkout", {"env": "dev"}, clock.now) is None
    assert rules.paging_everything("search", {"env": "prod"}, clock.now) is None
    log.set_page_everything(False, "bo", "rollout done")
    assert log.overrides().page_everything is None
    kinds = [type(e).__name__ for e in log.events()]
    assert kinds == ["PageEverythingChange", "OverrideChange", "PageEverythingChange", "PageEverythingChange"]
    assert log.current() == {"db": 0.4} and len(log.changes()) == 1


def test_any_service_needs_matchers(log):
    with pytest.raises(ValueError, match="needs label matchers"):
        log.set("*", 0.5, "ana", "everything")


@pytest.mark.parametrize(
    "body",
    [
        {"for_minutes": 0},
        {"for_minutes": -1},
        {"for_minutes": 10**9},
        {"for_minutes": float("nan")},
        {"for_minutes": True},
        {"for_minutes": "5"},
        {"for_minutes": 5, "expires_at": "2099-01-01T00:00:00Z"},
        {"expires_at": "2001-01-01T00:00:00Z"},
        {"expires_at": "9999-01-01T00:00:00Z"},
        {"matchers": {"bad name": "x"}},
        {"matchers": {"a": "x" * 201}},
        {"matchers": {f"l{i}": "x" for i in range(17)}},
        {"matchers": {"a": "|".join("x" * 21)}},
        {"matchers": {"a": 1}},
    ],
)
def test_scope_input_is_validated(body):
    with pytest.raises(ValueError):
        ScopeInput.model_validate(body)


def test_scope_input_expiry():
    assert ScopeInput(for_minutes=90).expiry(T) == T + timedelta(minutes=90)
    at = datetime.now(UTC) + timedelta(hours=2)
    assert ScopeInput(expires_at=at.replace(tzinfo=None)).expiry(T) == at, "naive times are UTC"
    assert ScopeInput().expiry(T) is None
    assert PageEverythingChange(on=True, by="a", reason="r").service == "*"
