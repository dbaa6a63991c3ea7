"""The commands as `python -m train_app ...` (the Ray Job entrypoint) and as `alertsieve` entry points."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path
from typing import Annotated

import pytest
import typer
from typer.testing import CliRunner

from alertsieve import registry
from alertsieve.bundle import ModelBundle
from alertsieve.records import write_jsonl
from alertsieve.settings import Settings
from alertsieve.simulate import simulate_history
from tests.train_app.cli_args import window_args
from tests.train_app.test_rollout import RecordingDeployer, two_versions
from train_app import rollout_cli
from train_app.__main__ import build
from train_app.cli import RETRAIN_OPTIONS, RetrainOptions, with_options

COMMANDS = {"retrain", "schedule", "promote", "rollback", "compare"}
ROLLOUT_COMMANDS = {"promote", "rollback"}  # train_app.rollout_cli; the others train_app.cli
MANIFEST_COMMANDS = {"serve": "serve", "serve-config": "serve_config", "rayservice": "rayservice"}


def test_the_commands_are_registered_for_alertsieve() -> None:
    """cli.main imports every command explicitly (it replaced the ``alertsieve.commands`` entry points)."""
    from cli.main import COMMANDS as ALL

    found = {name: f"{f.__module__}:{f.__name__}" for name, f in ALL.items() if f.__module__.startswith("train_app.")}
    found.pop("train")  # `alertsieve train` (train_app.train_cli), not a command of the retraining loop
    assert set(found) == COMMANDS | set(MANIFEST_COMMANDS)
    module = {name: "rollout_cli" if name in ROLLOUT_COMMANDS else "cli" for name in COMMANDS}
    assert all(found[name] == f"train_app.{module[name]}:{name}" for name in COMMANDS)
    assert all(found[name] == f"train_app.manifests:{attr}" for name, attr in MANIFEST_COMMANDS.items())


def test_python_m_train_app_is_a_ray_job_entrypoint() -> None:
    done = subprocess.run(
        [sys.executable, "-m", "train_app", "retrain", "--help"],
        capture_output=True,
        text=True,
        check=False,
        cwd=Path(__file__).resolve().parents[2],
    )
    assert done.returncode == 0, done.stderr
    for option in ("--history", "--weeks", "--holdout-days", "--gpu", "--workers", "--state"):
        assert option in done.stdout


def test_retrain_command_registers_a_challenger(ray_cluster, isolated_model: Settings, tmp_path: Path) -> None:
    history = tmp_path / "history.jsonl"
    write_jsonl(history, simulate_history(days=8, seed=9))
    result = CliRunner().invoke(
        build(),
        [
            "retrain",
            *window_args(history),
            "--encoder",
            "hashing-64",
            "--epochs",
            "2",
            "--backend",
            "local",
            "--state",
            str(tmp_path / "state"),
        ],
    )
    assert result.exit_code == 0, result.output
    version = registry.alias_version(isolated_model, registry.CHALLENGER)
    assert f"version {version} as challenger (champion: none)" in result.output
    assert "new NR" in result.output and "ALL" in result.output
    bad = CliRunner().invoke(
        build(),
        [
            "retrain",
            "--history",
            str(tmp_path / "none.jsonl"),
            "--backend",
            "local",
            "--state",
            str(tmp_path / "state"),
        ],
    )
    assert bad.exit_code == 1 and "no labelled alerts" in bad.output


def test_promote_and_rollback_commands(
    ray_cluster, isolated_model: Settings, small_bundle: ModelBundle, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    deployer = RecordingDeployer()
    monkeypatch.setattr(rollout_cli, "_deployer", lambda *args: deployer)
    state = ["--state", str(tmp_path)]
    champion, challenger = two_versions(small_bundle, isolated_model)
    started = CliRunner().invoke(build(), ["promote", *state])
    assert started.exit_code == 0, started.output
    assert "FNR (bounds)" in started.output and f"rollout of version {challenger} started in shadow" in started.output
    holding = CliRunner().invoke(build(), ["promote", "--min-stage-feedback", "5", *state])
    assert holding.exit_code == 0 and "holding in shadow" in holding.output and "0 of 5 decisions" in holding.output
    aborted = CliRunner().invoke(build(), ["rollback", "--reason", "test", *state])
    assert aborted.exit_code == 0 and "aborted" in aborted.output
    assert deployer.deployed[-1].champion == champion and deployer.deployed[-1].challenger is None
    again = CliRunner().invoke(build(), ["rollback", *state])
    assert again.exit_code == 1 and "no previous champion" in again.output


def test_an_option_group_is_declared_once_and_handed_over_built() -> None:
    """``with_options``: the group's options stand in the command's signature; the command gets the model."""
    seen: list[tuple[RetrainOptions, int]] = []

    @with_options("options", RETRAIN_OPTIONS, RetrainOptions)
    def command(options: RetrainOptions, extra: Annotated[int, typer.Option()] = 1) -> None:
        seen.append((options, extra))

    app = typer.Typer()
    app.command()(command)
    result = CliRunner().invoke(app, ["--history", "h.jsonl", "--weeks", "3", "--gpu", "--extra", "2"])
    assert result.exit_code == 0, result.output
    [(options, extra)] = seen
    assert options == RetrainOptions(history="h.jsonl", weeks=3, gpu=True) and extra == 2
    assert CliRunner().invoke(app, ["--weeks", "3"]).exit_code == 2  # --history is required
