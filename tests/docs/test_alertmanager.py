"""docs/alertmanager.yml is a configuration Alertmanager accepts (``amtool check-config``) whose routes do
what docs/alertmanager.md says (``amtool config routes test``): the Watchdog and alertsieve's own alerts never
reach alertsieve, every other alert does, and taking out the alertsieve route (the runbook's way around it)
sends everything to the fallback pager."""

from __future__ import annotations

import shutil
import subprocess
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

import pytest
import yaml

from dashboards.rules import prometheus_rule_files
from dashboards.slo import load_slos
from serve_app.guards import WEBHOOK

ROOT = Path(__file__).resolve().parents[2]
CONFIG = ROOT / "docs" / "alertmanager.yml"
ORDINARY = {"alertname": "KubePodCrashLooping", "service": "checkout", "severity": "critical"}


@pytest.fixture(scope="module")
def amtool() -> str:
    """Path of amtool (Debian package ``prometheus-alertmanager``, `make system-deps`); missing fails, never skips."""
    path = shutil.which("amtool")
    if path is None:
        pytest.fail("amtool not found: apt-get install -y prometheus-alertmanager")
    return path


def receivers(amtool: str, config: Path, labels: dict[str, str]) -> list[str]:
    """The receivers Alertmanager routes an alert with ``labels`` to, in routing-tree order."""
    argv = [amtool, "config", "routes", "test", f"--config.file={config}", *(f"{k}={v}" for k, v in labels.items())]
    result = subprocess.run(argv, capture_output=True, text=True, timeout=60)
    assert result.returncode == 0, result.stderr
    return result.stdout.split()


def self_alerts() -> list[dict[str, str]]:
    """The label sets alertsieve's generated alert rules fire with (the SLO file's labels ride on the series)."""
    spec = load_slos()
    rules: list[dict[str, Any]] = [
        rule
        for rule_file in prometheus_rule_files(spec).values()
        for group in rule_file["groups"]
        for rule in group["rules"]
        if "alert" in rule
    ]
    return [{"alertname": r["alert"], **spec.labels, **r["labels"]} for r in rules]


def test_amtool_accepts_the_config(amtool: str) -> None:
    result = subprocess.run([amtool, "check-config", str(CONFIG)], capture_output=True, text=True, timeout=60)
    assert result.returncode == 0, result.stdout + result.stderr
    assert "SUCCESS" in result.stdout


def test_the_watchdog_and_alertsieve_s_own_alerts_bypass_alertsieve(amtool: str) -> None:
    for name in ("Watchdog", "DeadMansSwitch"):
        assert receivers(amtool, CONFIG, {"alertname": name, "severity": "none"}) == ["deadmansswitch"]
    alerts = self_alerts()
    assert len({a["alertname"] for a in alerts}) == len(load_slos().slos) + 1  # every SLO's and the training one
    for labels in alerts:
        assert receivers(amtool, CONFIG, labels) == ["pager"], labels


def test_every_other_alert_goes_through_alertsieve_unless_labelled_bypass(amtool: str) -> None:
    assert receivers(amtool, CONFIG, ORDINARY) == ["alertsieve"]
    assert receivers(amtool, CONFIG, {**ORDINARY, "alertsieve": "bypass"}) == ["pager"]


def test_the_alertsieve_receiver_posts_to_the_webhook_of_the_rayservice() -> None:
    config = yaml.safe_load(CONFIG.read_text())
    [receiver] = [r for r in config["receivers"] if r["name"] == "alertsieve"]
    [hook] = receiver["webhook_configs"]
    url = urlsplit(hook["url"])
    assert url.path == WEBHOOK and url.port == 8000
    # the Service KubeRay makes for the RayService's Serve endpoint, in the prod overlay's namespace
    assert url.hostname == "alertsieve-serve-svc.alertsieve.svc"
    assert hook["send_resolved"] is True and hook["max_alerts"] == 0
    assert hook["http_config"]["authorization"]["type"] == "Bearer"
    assert hook["http_config"]["authorization"]["credentials_file"].startswith("/etc/alertmanager/secrets/")


def test_taking_out_the_alertsieve_route_pages_everything_directly(amtool: str, tmp_path: Path) -> None:
    config = yaml.safe_load(CONFIG.read_text())
    routes = config["route"]["routes"]
    config["route"]["routes"] = [r for r in routes if r["receiver"] != "alertsieve"]
    assert len(config["route"]["routes"]) == len(routes) - 1
    around = tmp_path / "alertmanager.yml"
    around.write_text(yaml.safe_dump(config))
    assert subprocess.run([amtool, "check-config", str(around)], capture_output=True, timeout=60).returncode == 0
    assert receivers(amtool, around, ORDINARY) == ["pager"]
    assert receivers(amtool, around, {"alertname": "Watchdog"}) == ["deadmansswitch"]


def test_the_doc_links_the_config_and_names_every_receiver() -> None:
    doc = (ROOT / "docs" / "alertmanager.md").read_text()
    assert "(alertmanager.yml)" in doc
    for receiver in yaml.safe_load(CONFIG.read_text())["receivers"]:
        assert f"`{receiver['name']}`" in doc
