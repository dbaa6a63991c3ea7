"""The shift simulator profile: the default's weeks, then twice the incidents and a failure mode never seen."""

from __future__ import annotations

import re
from datetime import timedelta
from pathlib import Path

import pytest
from typer.testing import CliRunner

from alertsieve.records import read_jsonl
from alertsieve.schema import LabelledAlert
from alertsieve.simulate import (
    DEFAULT_START,
    NEW_FAILURE_RULE,
    PROFILES,
    SHIFT_ACTIONABLE_KINDS,
    SHIFT_NOISE_KINDS,
    simulate_history,
    simulate_with_truth,
)
from alertsieve.simulate_catalog import RULES
from alertsieve.simulate_events import DAY
from alertsieve.simulate_shift import ShiftSimulator, shift_day
from cli.main import cli_app

DAYS, HOLDOUT, SEED = 56, 14, 7
CUT = DEFAULT_START + timedelta(days=DAYS - HOLDOUT)
Stream = list[tuple[LabelledAlert, str]]


@pytest.fixture(scope="module")
def stream() -> Stream:
    return simulate_with_truth(DAYS, seed=SEED, profile="shift", holdout_days=HOLDOUT)


def _day(alert: LabelledAlert) -> int:
    return (alert.startsAt - DEFAULT_START).days


def test_the_shift_starts_at_the_holdout_or_two_weeks_from_the_end() -> None:
    assert "shift" in PROFILES
    assert shift_day(56, 14) == shift_day(56) == 42
    assert shift_day(21, 7) == 14 and shift_day(28, 4) == 24
    assert shift_day(2) == 1 and shift_day(1) == 0  # a history no longer than two weeks: its later half


def test_same_seed_same_history_and_the_earlier_weeks_are_the_default_profiles() -> None:
    first = simulate_history(21, seed=3, profile="shift", holdout_days=7)
    assert first == simulate_history(21, seed=3, profile="shift", holdout_days=7)
    default = simulate_history(21, seed=3)
    cut = DEFAULT_START + timedelta(days=14)
    assert [a for a in first if a.startsAt < cut] == [a for a in default if a.startsAt < cut]
    assert len([a for a in first if a.startsAt >= cut]) > len([a for a in default if a.startsAt >= cut])
    other = simulate_history(21, seed=4, profile="shift", holdout_days=7)
    assert [(a.fingerprint, a.startsAt) for a in other] != [(a.fingerprint, a.startsAt) for a in first]
    with pytest.raises(ValueError, match="holdout_days"):
        simulate_history(3, seed=3, profile="shift", holdout_days=-1)


def test_kinds_labelled_and_nothing_gives_the_behaviour_away(stream: Stream) -> None:
    assert {k for _, k in stream} == set(SHIFT_NOISE_KINDS) | set(SHIFT_ACTIONABLE_KINDS)
    giveaways = re.compile(r"incident|noise|flap|actionable|transient|chronic|silent|cascade|shift|new", re.I)
    for alert, kind in stream:
        assert alert.actionable == (kind in SHIFT_ACTIONABLE_KINDS), kind
        assert not any(giveaways.search(k) or giveaways.search(v) for k, v in alert.labels.items())
        assert not giveaways.search(alert.annotations["summary"])


def test_the_later_weeks_hold_twice_the_incident_rate() -> None:
    sim = ShiftSimulator(DAYS, SEED, DEFAULT_START, HOLDOUT)
    sim.run()
    earlier = sum(t < (DAYS - HOLDOUT) * DAY for t, _ in sim.incidents) / (DAYS - HOLDOUT)
    later = sum(t >= (DAYS - HOLDOUT) * DAY for t, _ in sim.incidents) / HOLDOUT
    assert 2.0 <= earlier <= 3.0, earlier  # the default's two to three a day, fewer at weekends
    assert 1.6 <= later / earlier <= 2.5, (earlier, later)


def test_the_later_weeks_hold_about_twice_the_actionable_alerts(stream: Stream) -> None:
    before = [a for a, _ in stream if a.startsAt < CUT]
    after = [a for a, _ in stream if a.startsAt >= CUT]
    per_day = sum(a.actionable for a in after) / HOLDOUT / (sum(a.actionable for a in before) / (DAYS - HOLDOUT))
    assert 1.5 <= per_day <= 3.0, per_day
    share_before, share_after = (sum(a.actionable for a in part) / len(part) for part in (before, after))
    assert 0.10 <= share_before <= 0.20 and 0.22 <= share_after <= 0.40, (share_before, share_after)


def test_the_new_failure_mode_fires_only_in_the_later_weeks_on_known_services_and_is_actionable(
    stream: Stream,
) -> None:
    name = NEW_FAILURE_RULE.name
    assert name not in {r.name for r in RULES}
    new = [a for a, _ in stream if a.alertname == name]
    assert len(new) >= 5
    assert all(a.startsAt >= CUT and a.actionable and a.labels["env"] == "prod" for a in new)
    assert any(a.labels["severity"] == "critical" for a in new)
    earlier_services = {a.service() for a, _ in stream if a.startsAt < CUT}
    assert {a.service() for a in new} <= earlier_services
    assert len({a.service() for a in new}) >= 2
    incidents = [(a, k) for a, k in stream if k == "new_failure"]
    assert len({(a.service(), _day(a)) for a, _ in incidents}) >= 3  # several incidents, not one
    assert {a.alertname for a, _ in incidents} - {name}, "its incidents also hold familiar alert types"


def test_the_simulate_cli_writes_the_shift_across_its_holdout(tmp_path: Path) -> None:
    history, later = tmp_path / "history.jsonl", tmp_path / "later.jsonl"
    args = ["simulate", "--out", str(history), "--days", "21", "--seed", "3", "--profile", "shift"]
    result = CliRunner().invoke(cli_app(), [*args, "--holdout-days", "7", "--holdout-out", str(later)])
    assert result.exit_code == 0, result.output
    earlier, scored = read_jsonl(history, LabelledAlert), read_jsonl(later, LabelledAlert)
    assert earlier + scored == simulate_history(21, seed=3, profile="shift", holdout_days=7)
    assert NEW_FAILURE_RULE.name not in {a.alertname for a in earlier}
    assert NEW_FAILURE_RULE.name in {a.alertname for a in scored}
    assert "--profile" in CliRunner().invoke(cli_app(), ["simulate", "--help"]).output
