"""`--json` for scripts: results and errors as one JSON object on standard output; the no-model hint, without
MLflow's INFO lines in front of it."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path
from typing import Any

from typer.testing import CliRunner

from alertsieve.cli import NO_MODEL
from alertsieve.records import read_jsonl
from alertsieve.schema import LabelledAlert
from cli.main import cli_app

REPO = Path(__file__).resolve().parents[2]
ALERT = {"labels": {"alertname": "A", "service": "s"}, "startsAt": "2026-01-05T00:00:00Z"}


def run_json(*args: str) -> tuple[int, dict[str, Any]]:
    """Exit code and the JSON object on standard output (the whole of it: nothing else is printed there)."""
    result = CliRunner().invoke(cli_app(), [*args, "--json"])
    assert result.exception is None or isinstance(result.exception, SystemExit), result.output
    parsed = json.loads(result.stdout)
    assert isinstance(parsed, dict), result.stdout
    return result.exit_code, parsed


def test_simulate_json_names_each_file_written(home: Path) -> None:
    history, later = home / "history.jsonl", home / "later.jsonl"
    code, written = run_json(
        "simulate", "--out", str(history), "--days", "3", "--holdout-days", "1", "--holdout-out", str(later)
    )
    assert code == 0
    assert (written["profile"], written["seed"], written["days"]) == ("default", 7, 3)
    files = written["files"]
    assert isinstance(files, list) and [f["out"] for f in files] == [str(history), str(later)]
    for f, path in zip(files, (history, later), strict=True):
        alerts = read_jsonl(path, LabelledAlert)
        assert f["alerts"] == len(alerts) > 0 and f["actionable"] == sum(a.actionable for a in alerts)


def test_a_malformed_line_under_json_is_a_json_error_naming_file_line_and_field(home: Path) -> None:
    bad = home / "bad.jsonl"
    bad.write_text(json.dumps(ALERT) + "\n" + json.dumps({"labels": {"alertname": "B"}}) + "\n")
    code, error = run_json("score", "--alerts", str(bad), "--out", str(home / "d.jsonl"), "--model", str(home))
    assert code == 1
    assert error == {
        "error": f"{bad}:2: field 'startsAt': Field required",
        "exit_code": 1,
        "file": str(bad),
        "line": 2,
        "field": "startsAt",
    }
    assert not (home / "d.jsonl").exists()


def test_usage_and_data_errors_under_json_keep_their_exit_codes(home: Path) -> None:
    code, error = run_json("simulate", "--out", str(home / "h.jsonl"), "--days", "3", "--holdout-days", "1")
    assert code == 2 and error["exit_code"] == 2 and "--holdout-out" in str(error["error"])
    labelled = home / "labelled.jsonl"
    labelled.write_text(json.dumps({**ALERT, "actionable": True}) + "\n")
    (home / "decisions.jsonl").write_text("")
    code, error = run_json("evaluate", "--alerts", str(labelled), "--decisions", str(home / "decisions.jsonl"))
    assert code == 1 and "1 alerts but 0 decisions" in str(error["error"]) and "file" not in error


def test_no_model_says_to_train_first(home: Path) -> None:
    alerts = home / "alerts.jsonl"
    alerts.write_text(json.dumps(ALERT) + "\n")
    code, error = run_json("score", "--alerts", str(alerts), "--out", str(home / "d.jsonl"))
    assert code == 1 and error["error"] == NO_MODEL == 'no model: run "alertsieve train --history <file>" first'
    # a named version that does not exist is that error, not the hint
    code, error = run_json("score", "--alerts", str(alerts), "--out", str(home / "d.jsonl"), "--model", "7")
    assert code == 1 and "'7'" in str(error["error"]) and error["error"] != NO_MODEL


def test_no_model_from_a_fresh_process_prints_the_hint_and_no_mlflow_info(home: Path) -> None:
    """In a fresh process MLflow configures its logger on import (INFO): the CLI's set-up keeps it at WARNING."""
    alerts = home / "alerts.jsonl"
    alerts.write_text(json.dumps(ALERT) + "\n")
    env = {k: v for k, v in os.environ.items() if k != "MLFLOW_LOGGING_LEVEL"}
    env |= {"ALERTSIEVE_HOME": str(home / "home"), "PYTHONPATH": str(REPO)}
    done = subprocess.run(
        [sys.executable, "-m", "cli", "score", "--alerts", str(alerts), "--out", str(home / "d.jsonl")],
        capture_output=True,
        text=True,
        env=env,
        cwd=home,
        check=False,
        timeout=300,
    )
    assert done.returncode == 1, done.stderr
    assert " INFO " not in done.stderr and "mlflow.store" not in done.stderr, done.stderr
    assert " ".join(done.stderr.split()).endswith(f"error: {NO_MODEL}")
    assert done.stdout == ""
