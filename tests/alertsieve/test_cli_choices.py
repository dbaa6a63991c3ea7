"""Choice options take only their choices: anything else is Click's usage error (exit 2) listing them."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from typer.testing import CliRunner

from cli.main import cli_app


@pytest.mark.parametrize(
    ("args", "choices"),
    [
        (["train", "--history", "{history}", "--backend", "nope"], ("ray", "local")),
        (["retrain", "--history", "{history}", "--backend", "nope"], ("ray", "local")),
        (["compare", "--history", "{history}", "--backend", "nope"], ("ray", "local")),
        (["promote", "--deployer", "nope"], ("serve-deploy", "serve-run", "rayservice")),
        (["rollback", "--deployer", "nope"], ("serve-deploy", "serve-run", "rayservice")),
        (["thresholds", "page-everything", "maybe", "--by", "me", "--reason", "r"], ("on", "off")),
        (["simulate", "--out", "{history}", "--profile", "nope"], ("default", "sparse", "shift")),
    ],
)
def test_a_bad_choice_is_a_usage_error_listing_the_choices(
    tmp_path: Path, args: list[str], choices: tuple[str, ...]
) -> None:
    history = tmp_path / "history.jsonl"
    history.write_text("")
    result = CliRunner().invoke(cli_app(), [a.format(history=history) for a in args])
    assert result.exit_code == 2, result.output
    text = " ".join(result.output.split())
    assert "'nope' is not one of" in text or "'maybe' is not one of" in text
    assert all(f"'{choice}'" in text for choice in choices), text


def test_the_help_shows_the_choices() -> None:
    result = CliRunner().invoke(cli_app(), ["train", "--help"])
    assert result.exit_code == 0 and "ray|local" in result.output


def test_under_json_a_bad_choice_or_a_missing_option_is_a_json_error(tmp_path: Path) -> None:
    """Click rejects these before the command runs: the root group still answers in JSON under --json."""
    history = tmp_path / "history.jsonl"
    history.write_text("")
    bad = CliRunner().invoke(cli_app(), ["train", "--history", str(history), "--backend", "nope", "--json"])
    assert bad.exit_code == 2
    error = json.loads(bad.stdout)
    assert error["field"] == "--backend" and error["exit_code"] == 2 and "'ray', 'local'" in error["error"]
    missing = CliRunner().invoke(cli_app(), ["thresholds", "report", "--json", "--alerts", str(tmp_path / "none")])
    assert missing.exit_code == 2 and json.loads(missing.stdout)["field"] == "--alerts"
