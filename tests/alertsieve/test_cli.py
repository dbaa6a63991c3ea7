"""The CLI end to end on a small history: simulate, train, score, evaluate; and its input errors."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from typer.testing import CliRunner

from alertsieve.records import read_jsonl
from alertsieve.schema import Decision, LabelledAlert
from cli.main import cli_app
from tests.factories import quick_train_args

runner = CliRunner()


def invoke(*args: str) -> tuple[int, str]:
    result = runner.invoke(cli_app(), list(args))
    return result.exit_code, result.output


@pytest.mark.slow
def test_simulate_train_score_evaluate(home: Path) -> None:
    history, later = home / "history.jsonl", home / "later.jsonl"
    # four weeks: three weeks hold too few incidents to certify the 1.5% budget (the optimiser then rightly
    # suppresses nothing), and this test wants a model that suppresses
    code, out = invoke(
        "simulate",
        "--out",
        str(history),
        "--days",
        "28",
        "--seed",
        "3",
        "--holdout-days",
        "4",
        "--holdout-out",
        str(later),
    )
    assert code == 0, out
    assert history.exists() and later.exists()
    code, out = invoke(*quick_train_args(history, home / "bundle"))
    assert code == 0, out
    assert "registered alertsieve version 1" in out
    assert "validation" in out and "ALL" in out

    decisions = home / "decisions.jsonl"
    code, out = invoke("score", "--alerts", str(later), "--out", str(decisions))
    assert code == 0, out
    alerts = read_jsonl(later, LabelledAlert)
    made = read_jsonl(decisions, Decision)
    assert [d.fingerprint for d in made] == [a.fingerprint for a in alerts]  # input order
    assert {d.model_version for d in made} == {"1"}
    assert any(d.decision == "suppress" for d in made), "a trained model suppresses some noise"
    assert all(d.decision == "page" or d.score < d.threshold for d in made)

    # the bundle directory scores the same as the registered champion
    again = home / "again.jsonl"
    assert invoke("score", "--alerts", str(later), "--out", str(again), "--model", str(home / "bundle"))[0] == 0
    assert [d.decision for d in read_jsonl(again, Decision)] == [d.decision for d in made]

    code, out = invoke("evaluate", "--alerts", str(later), "--decisions", str(decisions))
    assert code == 0, out
    assert "noise reduction" in out and "FNR" in out
    suppressed_actionable = sum(a.actionable and d.decision == "suppress" for a, d in zip(alerts, made, strict=True))
    assert f"{suppressed_actionable}/{sum(a.actionable for a in alerts)} actionable suppressed" in out


@pytest.mark.slow
def test_sparse_profile_end_to_end_suppresses_noise_and_explains_each_service(home: Path) -> None:
    """A stream like a real one (1-2% actionable, a handful of incidents, clusters that appear later):
    trained as a user would, it suppresses most noise of the later days and misses no incident alert."""
    history, later = home / "history.jsonl", home / "later.jsonl"
    code, out = invoke(
        "simulate",
        "--profile",
        "sparse",
        "--out",
        str(history),
        "--days",
        "35",
        "--seed",
        "7",
        "--holdout-days",
        "7",
        "--holdout-out",
        str(later),
    )
    assert code == 0, out
    code, out = invoke("train", "--history", str(history), "--backend", "local", "--encoder", "hashing-64")
    assert code == 0, out
    assert "thresholds per service" in out and "actionable validation alerts from" in out
    assert "environment labels" in out and "cluster" in out
    decisions = home / "decisions.jsonl"
    assert invoke("score", "--alerts", str(later), "--out", str(decisions))[0] == 0
    alerts, made = read_jsonl(later, LabelledAlert), read_jsonl(decisions, Decision)
    noise = [d for a, d in zip(alerts, made, strict=True) if not a.actionable]
    missed = [d for a, d in zip(alerts, made, strict=True) if a.actionable and d.decision == "suppress"]
    assert sum(d.decision == "suppress" for d in noise) / len(noise) > 0.5
    assert len(missed) <= 0.015 * sum(a.actionable for a in alerts)
    # a cluster first seen in the later days is not novel: its alerts are decided by the model
    assert sum(d.reason_code == "novel" for d in made) < 0.2 * len(made)


def test_score_rejects_malformed_line_and_leaves_no_output(home: Path) -> None:
    bad = home / "bad.jsonl"
    good = {"labels": {"alertname": "A", "service": "s"}, "startsAt": "2026-01-05T00:00:00Z"}
    bad.write_text(json.dumps(good) + "\n" + json.dumps({"labels": {"alertname": "B"}}) + "\n")
    out_path = home / "decisions.jsonl"
    code, out = invoke("score", "--alerts", str(bad), "--out", str(out_path), "--model", str(home))
    assert code == 1  # bad data; 2 is for usage
    assert "bad.jsonl:2" in out and "startsAt" in out
    assert not out_path.exists()


def test_train_rejects_bad_json_naming_the_line(home: Path) -> None:
    bad = home / "history.jsonl"
    bad.write_text('{"labels": {"alertname": "A"}, "startsAt": "2026-01-05T00:00:00Z", "actionable": false}\n{oops\n')
    code, out = invoke("train", "--history", str(bad), "--backend", "local")
    assert code == 1
    assert "history.jsonl:2" in out


def test_score_without_any_model_fails_clearly(home: Path) -> None:
    alerts = home / "alerts.jsonl"
    alerts.write_text(json.dumps({"labels": {"alertname": "A"}, "startsAt": "2026-01-05T00:00:00Z"}) + "\n")
    code, out = invoke("score", "--alerts", str(alerts), "--out", str(home / "d.jsonl"))
    assert code == 1
    assert 'no model: run "alertsieve train --history <file>" first' in out
    assert not (home / "d.jsonl").exists()


def test_evaluate_rejects_mismatched_files(home: Path) -> None:
    labelled = home / "labelled.jsonl"
    labelled.write_text(
        json.dumps({"labels": {"alertname": "A"}, "startsAt": "2026-01-05T00:00:00Z", "actionable": True}) + "\n"
    )
    decisions = home / "decisions.jsonl"
    decisions.write_text("")
    code, out = invoke("evaluate", "--alerts", str(labelled), "--decisions", str(decisions))
    assert code == 1 and "1 alerts but 0 decisions" in out


def test_simulate_holdout_needs_its_file(home: Path) -> None:
    code, out = invoke("simulate", "--out", str(home / "h.jsonl"), "--days", "3", "--holdout-days", "1")
    assert code == 2 and "--holdout-out" in out


@pytest.mark.parametrize("command", ["score", "train"])
def test_binary_input_names_file_and_line_without_traceback(home: Path, command: str) -> None:
    """Invalid UTF-8 used to escape as a traceback (score) or an unplaced error (train)."""
    data = home / "input.jsonl"
    line = {"labels": {"alertname": "A", "service": "s"}, "startsAt": "2026-01-05T00:00:00Z", "actionable": False}
    data.write_bytes(json.dumps(line).encode() + b"\n\x89PNG\r\n\x1a\n\x00\xff\n")
    out_path = home / "decisions.jsonl"
    args = (
        ["score", "--alerts", str(data), "--out", str(out_path), "--model", str(home)]
        if command == "score"
        else ["train", "--history", str(data), "--backend", "local"]
    )
    result = runner.invoke(cli_app(), args)
    assert result.exit_code == 1, result.output  # the exit code of every other malformed input
    assert "input.jsonl:2" in result.output and "UTF-8" in result.output
    assert result.exception is None or isinstance(result.exception, SystemExit)
    assert not out_path.exists()


def test_version_and_usage_exit_codes(home: Path) -> None:
    code, out = invoke("--version")
    assert code == 0 and out.startswith("alertsieve ") and out.strip().split()[-1][0].isdigit()
    assert invoke("score")[0] == 2  # a missing option: Click's usage error
    assert invoke("simulate", "--out", str(home / "h.jsonl"), "--profile", "nope")[0] == 2


@pytest.mark.slow
def test_json_output_and_a_failed_gate_exits_3(home: Path) -> None:
    history, later = home / "history.jsonl", home / "later.jsonl"
    assert (
        invoke(
            "simulate",
            "--out",
            str(history),
            "--days",
            "14",
            "--seed",
            "3",
            "--holdout-days",
            "2",
            "--holdout-out",
            str(later),
        )[0]
        == 0
    )
    code, out = invoke("train", "--history", str(history), "--backend", "local", "--encoder", "hashing-64")
    assert code == 0, out
    decisions = home / "decisions.jsonl"
    scored = runner.invoke(cli_app(), ["score", "--alerts", str(later), "--out", str(decisions), "--json"])
    assert scored.exit_code == 0, scored.output
    summary = json.loads(scored.stdout)  # progress goes to stderr: stdout is the JSON alone
    assert summary["decisions"] == len(read_jsonl(later, LabelledAlert)) and summary["model_version"] == "1"
    evaluated = runner.invoke(cli_app(), ["evaluate", "--alerts", str(later), "--decisions", str(decisions), "--json"])
    assert evaluated.exit_code == 0, evaluated.output
    result = json.loads(evaluated.stdout)
    assert result["overall"]["alerts"] == summary["decisions"]
    assert result["overall"]["suppressed_noise"] + result["overall"]["suppressed_actionable"] == summary["suppressed"]
    assert set(result["services"]) and 0.0 <= result["overall"]["fnr"] <= 1.0
    # a model whose validation misses every actionable alert: registered, not champion, exit 3
    from alertsieve import training
    from alertsieve.policy import Ruling
    from alertsieve.schema import Reason

    with pytest.MonkeyPatch.context() as patch:
        patch.setattr(training, "decide", lambda *a, **k: Ruling("suppress", 1.0, Reason.BELOW_THRESHOLD, "test"))
        code, out = invoke("train", "--history", str(history), "--backend", "local", "--encoder", "hashing-64")
    assert code == 3, out
    assert "registered alertsieve version 2" in out and "not made champion" in out
