"""`alertsieve thresholds` with scoped, expiring overrides and the page-everything switch."""

from __future__ import annotations

from alertsieve.store import LocalStore
from tests.thresholds.test_cli import run
from thresholds.overrides import OverrideLog


def test_scoped_expiring_set_revert_and_history(tmp_path):
    state = str(tmp_path)
    result = run(
        "set",
        "checkout",
        "0.7",
        "--by",
        "ana",
        "--reason",
        "db noise",
        "--match",
        "team=db|cache",
        "--for-minutes",
        "60",
        "--state",
        state,
    )
    assert result.exit_code == 0, result.output
    assert "checkout (team=db|cache): threshold optimised -> 0.700 (by ana, until" in result.output
    found = OverrideLog(LocalStore(tmp_path)).overrides().thresholds
    assert [(o.matchers, o.expires_at is not None) for o in found] == [({"team": "db|cache"}, True)]
    assert OverrideLog(LocalStore(tmp_path)).current() == {}
    history = run("history", "--state", state)
    assert "in force: checkout=0.700 (team=db|cache) until" in history.output and "team=db|cache" in history.output
    assert run("revert", "checkout", "--by", "bo", "--state", state).exit_code == 1  # not the unscoped one
    reverted = run("revert", "checkout", "--by", "bo", "--match", "team=db|cache", "--state", state)
    assert reverted.exit_code == 0 and "0.700 -> optimised" in reverted.output
    assert OverrideLog(LocalStore(tmp_path)).overrides().thresholds == []


def test_bad_matchers_expiry_and_bare_any_service_are_usage_errors(tmp_path):
    state = str(tmp_path)
    base = ("set", "checkout", "0.5", "--by", "a", "--reason", "r", "--state", state)
    assert run(*base, "--match", "team").exit_code == 2
    assert run(*base, "--match", "bad name=x").exit_code == 2
    assert run(*base, "--for-minutes", "0").exit_code == 2
    assert run("set", "*", "0.5", "--by", "a", "--reason", "r", "--state", state).exit_code == 2
    assert OverrideLog(LocalStore(tmp_path)).events() == []


def test_page_everything_on_and_off(tmp_path):
    state = str(tmp_path)
    on = run("page-everything", "on", "--by", "ana", "--reason", "INC-9", "--for-minutes", "30", "--state", state)
    assert on.exit_code == 0 and "page everything: on until" in on.output
    assert OverrideLog(LocalStore(tmp_path)).overrides().page_everything is not None
    assert "PAGE EVERYTHING is on (by ana, until" in run("history", "--state", state).output
    off = run("page-everything", "off", "--by", "ana", "--reason", "resolved", "--state", state)
    assert off.exit_code == 0 and OverrideLog(LocalStore(tmp_path)).overrides().page_everything is None
    history = run("history", "--state", state).output
    assert "page everything" in history and "resolved" in history and "PAGE EVERYTHING is on" not in history
    assert run("page-everything", "maybe", "--by", "a", "--reason", "r", "--state", state).exit_code == 2
