"""Every alert rule alertsieve generates (Prometheus and Grafana-managed) links its own section of
docs/runbook.md: a ``runbook_url`` annotation of the SLO file's runbook page and an anchor that is a
heading of the runbook, as GitHub names heading anchors."""

from __future__ import annotations

import re
from pathlib import Path
from typing import Any

import pytest
from pydantic import ValidationError

from dashboards.rules import grafana_alert_rules, prometheus_rule_files
from dashboards.slo import RUNBOOK_URL, SLOSpec, load_slos

RUNBOOK = Path(__file__).resolve().parents[2] / "docs" / "runbook.md"


def github_anchor(heading: str) -> str:
    """The anchor GitHub gives a Markdown heading: lower case, punctuation dropped, spaces to dashes."""
    return re.sub(r"[^\w\- ]", "", heading.strip().lower()).replace(" ", "-")


def runbook_anchors() -> set[str]:
    return {github_anchor(m) for m in re.findall(r"^#{1,6} +(.+?) *#*$", RUNBOOK.read_text(), re.M)}


def alerts(spec: SLOSpec) -> list[tuple[str, dict[str, Any]]]:
    """(alert name, annotations) of every Prometheus and Grafana alert rule."""
    found = [
        (rule["alert"], rule["annotations"])
        for rule_file in prometheus_rule_files(spec).values()
        for group in rule_file["groups"]
        for rule in group["rules"]
        if "alert" in rule
    ]
    grafana = [rule for group in grafana_alert_rules(spec)["groups"] for rule in group["rules"]]
    return found + [(rule["title"], rule["annotations"]) for rule in grafana]


def test_every_alert_rule_links_its_section_of_the_runbook() -> None:
    spec = load_slos()
    assert spec.runbook_url == RUNBOOK_URL and RUNBOOK_URL.endswith("/docs/runbook.md")
    anchors = runbook_anchors()
    found = alerts(spec)
    assert len(found) >= 2 * len(spec.slos)
    prometheus_names = {slo.alert_name for slo in spec.slos} | {"AlertsieveRetrainingStale"}
    for name, notes in found:
        page, _, anchor = notes["runbook_url"].partition("#")
        assert page == spec.runbook_url, name
        assert anchor in anchors, f"{name}: docs/runbook.md has no heading for #{anchor}"
        # the Grafana rule of an SLO (title = alert name + severity) links the same section as its Prometheus rule
        assert any(name.startswith(p) and anchor == p.lower() for p in prometheus_names), name


def test_the_runbook_has_the_switch_and_the_way_around() -> None:
    anchors = runbook_anchors()
    assert {"page-everything", "route-around-alertsieve"} <= anchors
    text = RUNBOOK.read_text()
    assert 'PUT "$AS/v1/page-everything"' in text and "alertsieve thresholds page-everything on" in text


def test_the_runbook_page_is_configurable_and_must_be_a_url() -> None:
    data = load_slos().model_dump()
    moved = SLOSpec.model_validate({**data, "runbook_url": "https://wiki.example.com/alertsieve"})
    [(_, notes), *_] = alerts(moved)
    assert notes["runbook_url"].startswith("https://wiki.example.com/alertsieve#")
    with pytest.raises(ValidationError):
        SLOSpec.model_validate({**data, "runbook_url": "docs/runbook.md#top"})


def test_the_anchor_rule_is_github_s() -> None:
    assert github_anchor("Route around alertsieve") == "route-around-alertsieve"
    assert github_anchor("AlertsieveRetrainingStale") == "alertsieveretrainingstale"
    assert github_anchor("What's new? (2.0)") == "whats-new-20"
