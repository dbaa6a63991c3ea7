from __future__ import annotations

import json
from datetime import timedelta

import pytest
from typer.testing import CliRunner

from alertsieve.records import read_jsonl, write_jsonl
from alertsieve.schema import Feedback, LoggedDecision
from alertsieve.store import LocalStore
from cli.main import cli_app
from tests.factories import decision, labelled, synthetic_history
from thresholds.overrides import OverrideLog
from thresholds.scored import ScoredRow, ScoredRows
from thresholds.tune import TrialConfig, TrialOutcome, TrialResult, TuneOutcome, TuneSettings

runner = CliRunner()


def run(*args: str):
    return runner.invoke(cli_app(), ["thresholds", *args])


def _table_lines(output: str) -> list[str]:
    return [line for line in output.splitlines() if line[:1] in "┏┃┡│└├"]


def test_set_history_revert(tmp_path):
    state = str(tmp_path)
    result = run("set", "checkout", "0.42", "--by", "ana", "--reason", "too noisy at night", "--state", state)
    assert result.exit_code == 0, result.output
    assert "checkout: threshold optimised -> 0.420 (by ana)" in result.output
    assert run("set", "checkout", "0.5", "--by", "bo", "--reason", "still noisy", "--state", state).exit_code == 0
    assert OverrideLog(LocalStore(tmp_path)).current() == {"checkout": 0.5}

    history = run("history", "--state", state)
    assert history.exit_code == 0, history.output
    lines = _table_lines(history.output)
    assert len({len(line) for line in lines}) == 1  # an aligned table
    assert (
        "0.420" in history.output and "still noisy" in history.output and "in force: checkout=0.500" in history.output
    )

    reverted = run("revert", "checkout", "--by", "ana", "--reason", "fixed upstream", "--state", state)
    assert reverted.exit_code == 0 and "0.500 -> optimised" in reverted.output
    assert OverrideLog(LocalStore(tmp_path)).current() == {}
    changes = OverrideLog(LocalStore(tmp_path)).changes()
    assert [(c.old, c.new, c.by) for c in changes] == [(None, 0.42, "ana"), (0.42, 0.5, "bo"), (0.5, None, "ana")]
    assert "in force: none" in run("history", "--service", "checkout", "--state", state).output


def test_set_and_revert_refuse_bad_input(tmp_path):
    state = str(tmp_path)
    assert run("set", "checkout", "1.5", "--by", "a", "--reason", "r", "--state", state).exit_code != 0
    assert run("set", "checkout", "0.5", "--reason", "r", "--state", state).exit_code != 0  # --by is required
    missing = run("revert", "checkout", "--by", "a", "--state", state)
    assert missing.exit_code == 1 and "no override in force" in missing.output
    assert "no threshold overrides recorded" in run("history", "--state", state).output
    assert OverrideLog(LocalStore(tmp_path)).changes() == []


def test_report_offline(tmp_path):
    alerts = [
        labelled(False, service="checkout", at=0),
        labelled(True, name="ServiceDown", service="checkout", at=1),
        labelled(False, name="DiskFull", service="search", at=60 * 24 * 7),
    ]
    decisions = [
        decision(alerts[0], "suppress", 0.3),
        decision(alerts[1], "page", 0.3),
        decision(alerts[2], "page", 0.2),
    ]
    write_jsonl(tmp_path / "a.jsonl", alerts)
    write_jsonl(tmp_path / "d.jsonl", decisions)
    result = run("report", "--alerts", str(tmp_path / "a.jsonl"), "--decisions", str(tmp_path / "d.jsonl"))
    assert result.exit_code == 0, result.output
    lines = _table_lines(result.output)
    assert len({len(line) for line in lines}) == 1
    checkout = next(line for line in lines if "checkout" in line)
    assert "2026-W02" in checkout and "100.0%" in checkout and "0.00%" in checkout and "0.300" in checkout
    assert any("ALL" in line and "2026-W03" in line for line in lines)
    only = run(
        "report",
        "--alerts",
        str(tmp_path / "a.jsonl"),
        "--decisions",
        str(tmp_path / "d.jsonl"),
        "--service",
        "search",
        "--no-fleet",
    )
    assert "checkout" not in only.output and "ALL" not in only.output and "search" in only.output
    mismatch = run("report", "--alerts", str(tmp_path / "a.jsonl"), "--decisions", str(tmp_path / "a.jsonl"))
    assert mismatch.exit_code == 1 and "error" in mismatch.output
    assert run("report", "--alerts", str(tmp_path / "a.jsonl")).exit_code == 2  # usage: they go together
    as_json = run("report", "--alerts", str(tmp_path / "a.jsonl"), "--decisions", str(tmp_path / "d.jsonl"), "--json")
    rows = json.loads(as_json.stdout)
    assert as_json.exit_code == 0 and {r["service"] for r in rows} >= {"checkout", "search"}


def test_report_from_the_decision_log_and_feedback(tmp_path):
    store = LocalStore(tmp_path)
    a = labelled(False, service="payments", at=0)
    store.append("decisions", [LoggedDecision(alert=a, decision=decision(a, "suppress", 0.4), applied=True)])
    store.append("feedback", [Feedback(fingerprint=a.fingerprint, startsAt=a.startsAt, actionable=False, by="x")])
    result = run("report", "--state", str(tmp_path))
    assert result.exit_code == 0, result.output
    row = next(line for line in _table_lines(result.output) if "payments" in line)
    assert "100.0%" in row and "0.400" in row
    assert "no decisions to report" in run("report", "--state", str(tmp_path / "empty")).output


@pytest.fixture
def fake_tune(monkeypatch):
    calls: list[tuple[ScoredRows, TuneSettings, int]] = []

    def fake(rows, settings, num_samples, seed):  # the real Tune runs in test_tune.py
        data = ScoredRows.from_rows(rows)
        calls.append((data, settings, num_samples))
        result = TrialResult(
            objective=0.6,
            noise_reduction=0.6,
            fnr=0.01,
            over_budget=False,
            alerts=len(data),
            actionable=int(data.labels.sum()),
            suppressed_actionable=1,
            worst_fold_fnr=0.01,
            folds=1,
        )
        best = TrialOutcome(config=TrialConfig(validation_days=7, margin=0.1), result=result)
        return TuneOutcome(best=best, trials=[best])

    monkeypatch.setattr("thresholds.tune.run_tune", fake)
    return calls


def test_tune_from_scored_rows(tmp_path, fake_tune):
    rows = [
        ScoredRow(time=a.startsAt, service="s", score=0.5, actionable=a.actionable)
        for a in synthetic_history(seed=1, days=2.0)
    ]
    write_jsonl(tmp_path / "rows.jsonl", rows)
    result = run("tune", "--rows", str(tmp_path / "rows.jsonl"), "--samples", "5", "--eval-days", "3", "--folds", "2")
    assert result.exit_code == 0, result.output
    data, settings, samples = fake_tune[0]
    assert len(data) == len(rows) and samples == 5 and settings.eval_days == 3 and settings.folds == 2
    assert "best: validation_days=7 margin=0.100" in result.output and "60.0%" in result.output
    assert run("tune").exit_code == 2  # neither --rows nor --alerts


def test_tune_scores_alerts_with_a_bundle(tmp_path, small_bundle, fake_tune):
    later = [
        a.model_copy(update={"startsAt": a.startsAt + timedelta(days=8)}) for a in synthetic_history(seed=3, days=1.0)
    ]
    write_jsonl(tmp_path / "later.jsonl", later)
    small_bundle.save(tmp_path / "bundle")
    result = run(
        "tune",
        "--alerts",
        str(tmp_path / "later.jsonl"),
        "--model",
        str(tmp_path / "bundle"),
        "--rows-out",
        str(tmp_path / "rows.jsonl"),
    )
    assert result.exit_code == 0, result.output
    rows = read_jsonl(tmp_path / "rows.jsonl", ScoredRow)
    assert len(rows) == len(later) == len(fake_tune[0][0])
    assert [r.actionable for r in rows] == [a.actionable for a in later]
    assert {r.service for r in rows} <= {"checkout", "payments", "search", "auth", "inventory"}
    assert len({r.score for r in rows}) > 10  # real model scores, not fail-open pages
