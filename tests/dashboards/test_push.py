"""Pushing dashboards through Grafana's HTTP API and the ``alertsieve dashboards push`` command.

Runs against a local stand-in for Grafana's two endpoints (see conftest.py): a fake is used only
because a Grafana server cannot be installed where these tests run. The requests go over real HTTP,
so the tests check what would reach Grafana: paths, JSON bodies and the Authorization header.
"""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from typer.testing import CliRunner

from dashboards.cli import dashboards_app
from dashboards.generate import PACKAGE_DIR
from dashboards.push import GrafanaError, folder_uid, push_dashboards
from tests.dashboards.fake_grafana import FakeGrafana

GENERATED = PACKAGE_DIR / "generated"
EXPECTED_UIDS = ["alertsieve-models", "alertsieve-overview", "alertsieve-slo"]


def test_push_creates_the_folder_and_overwrites_every_dashboard(fake_grafana: FakeGrafana) -> None:
    uids = push_dashboards(fake_grafana.url, fake_grafana.token, GENERATED)

    assert uids == EXPECTED_UIDS
    [created] = fake_grafana.sent("POST", "/api/folders")
    assert created.body == {"uid": "alertsieve", "title": "alertsieve"}
    saved = fake_grafana.sent("POST", "/api/dashboards/db")
    assert [r.body["dashboard"]["uid"] for r in saved] == EXPECTED_UIDS
    for record in saved:
        assert record.body["overwrite"] is True
        assert record.body["folderUid"] == "alertsieve"
        assert record.body["dashboard"]["id"] is None
        on_disk = json.loads((GENERATED / f"{record.body['dashboard']['uid']}.json").read_text())
        assert record.body["dashboard"]["panels"] == on_disk["panels"]
        assert record.headers["content-type"] == "application/json"
    assert {r.headers["authorization"] for r in fake_grafana.requests} == {f"Bearer {fake_grafana.token}"}


def test_push_reuses_an_existing_folder(fake_grafana: FakeGrafana) -> None:
    fake_grafana.folders.append({"id": 7, "uid": "ops-folder", "title": "alertsieve"})

    push_dashboards(fake_grafana.url, fake_grafana.token, GENERATED)

    assert fake_grafana.sent("POST", "/api/folders") == []
    assert {r.body["folderUid"] for r in fake_grafana.sent("POST", "/api/dashboards/db")} == {"ops-folder"}


def test_push_accepts_a_folder_created_meanwhile(fake_grafana: FakeGrafana) -> None:
    fake_grafana.folder_post_status = 409

    uids = push_dashboards(fake_grafana.url, fake_grafana.token, GENERATED, folder="SRE / alerting")

    assert uids == EXPECTED_UIDS
    assert {r.body["folderUid"] for r in fake_grafana.sent("POST", "/api/dashboards/db")} == {"sre-alerting"}


def test_a_refused_token_raises_401_and_saves_nothing(fake_grafana: FakeGrafana) -> None:
    with pytest.raises(GrafanaError, match="token was refused") as raised:
        push_dashboards(fake_grafana.url, "wrong-token", GENERATED)

    assert raised.value.status == 401
    assert fake_grafana.sent("POST", "/api/dashboards/db") == []


def test_a_rejected_dashboard_raises_with_grafanas_message(fake_grafana: FakeGrafana) -> None:
    fake_grafana.dashboard_status = 412

    with pytest.raises(GrafanaError, match="dashboard rejected") as raised:
        push_dashboards(fake_grafana.url, fake_grafana.token, GENERATED)

    assert raised.value.status == 412


def test_an_empty_directory_or_token_is_refused_before_any_request(fake_grafana: FakeGrafana, tmp_path: Path) -> None:
    with pytest.raises(FileNotFoundError):
        push_dashboards(fake_grafana.url, fake_grafana.token, tmp_path)
    with pytest.raises(ValueError, match="token"):
        push_dashboards(fake_grafana.url, "", GENERATED)
    assert fake_grafana.requests == []


@pytest.mark.parametrize(
    ("title", "uid"), [("alertsieve", "alertsieve"), ("SRE / Alerting", "sre-alerting"), ("a" * 60, "a" * 40)]
)
def test_folder_uids_are_valid_grafana_uids(title: str, uid: str) -> None:
    assert folder_uid(title) == uid


def test_cli_push_takes_the_token_from_the_environment(fake_grafana: FakeGrafana) -> None:
    result = CliRunner().invoke(
        dashboards_app, ["push", "--url", fake_grafana.url], env={"GRAFANA_TOKEN": fake_grafana.token}
    )

    assert result.exit_code == 0, result.output
    assert result.output.split() == [word for uid in EXPECTED_UIDS for word in ("pushed", uid)]
    assert len(fake_grafana.sent("POST", "/api/dashboards/db")) == 3


def test_cli_push_exits_1_on_a_refused_token(fake_grafana: FakeGrafana) -> None:
    result = CliRunner().invoke(
        dashboards_app, ["push", "--url", fake_grafana.url, "--token", "wrong"], env={"GRAFANA_TOKEN": ""}
    )

    assert result.exit_code == 1
    assert "401" in result.output
