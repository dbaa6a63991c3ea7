"""`alertsieve train --json` and `promote --json`: the report or the step's outcome as one JSON object on
standard output, and their errors (a failed gate, a deploy target that cannot be reached) as JSON too."""

from __future__ import annotations

from pathlib import Path

import pytest

from alertsieve.bundle import ModelBundle
from alertsieve.records import write_jsonl
from alertsieve.settings import Settings
from alertsieve.simulate import simulate_history
from tests.alertsieve.test_json_cli import run_json
from tests.train_app.test_rollout import RecordingDeployer, two_versions
from train_app import rollout_cli
from train_app.deploy import DeployError


def test_train_json_is_the_report_and_a_failed_gate_is_its_error(home: Path) -> None:
    history = home / "history.jsonl"
    write_jsonl(history, simulate_history(days=7, seed=3))
    train = ("train", "--history", str(history), "--backend", "local", "--encoder", "hashing-64")
    code, report = run_json(*train, "--save", str(home / "bundle"))
    assert code == 0, report
    assert report["version"] == "1" and report["champion"] is True and report["saved"] == str(home / "bundle")
    assert isinstance(report["gate"], dict) and report["gate"]["verdict"] == "advance"
    assert isinstance(report["validation"], dict) and report["validation"]["overall"]["alerts"] > 0
    assert report["backend"] == "local" and report["fit_rows"] > 0 and report["skipped_lines"] == 0
    assert 0.0 <= report["expected_fnr"] <= report["fnr_upper_bound"] <= 1.0 and "error" not in report

    from alertsieve import training
    from alertsieve.policy import Ruling
    from alertsieve.schema import Reason

    with pytest.MonkeyPatch.context() as patch:  # validation then misses every actionable alert
        patch.setattr(training, "decide", lambda *a, **k: Ruling("suppress", 1.0, Reason.BELOW_THRESHOLD, "test"))
        code, failed = run_json(*train)
    assert code == 3
    assert failed["exit_code"] == 3 and "not made champion" in str(failed["error"])
    assert failed["version"] == "2" and failed["champion"] is False and failed["gate"]["verdict"] != "advance"


def test_promote_json_is_the_step_outcome(
    isolated_model: Settings, small_bundle: ModelBundle, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    deployer = RecordingDeployer()
    monkeypatch.setattr(rollout_cli, "_deployer", lambda *args: deployer)
    _, challenger = two_versions(small_bundle, isolated_model)
    code, outcome = run_json("promote", "--state", str(tmp_path))
    assert code == 0, outcome
    state = outcome["state"]
    assert isinstance(state, dict) and (state["stage"], state["challenger"]) == ("shadow", challenger)
    assert f"rollout of version {challenger} started in shadow" in str(outcome["message"])
    assert isinstance(outcome["assessment"], dict) and "challenger_fnr" in outcome["assessment"]
    assert len(deployer.deployed) == 1


def test_promote_json_error_when_the_target_fails(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    def unreachable(*args: object) -> object:
        raise DeployError("kubectl not found")

    monkeypatch.setattr(rollout_cli, "_deployer", unreachable)
    code, error = run_json("promote", "--deployer", "rayservice", "--state", str(tmp_path))
    assert (code, error) == (1, {"error": "kubectl not found", "exit_code": 1})
