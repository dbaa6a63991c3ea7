"""The generated Grafana dashboards: schema-valid for Grafana 11, complete, querying known series."""

from __future__ import annotations

import copy
import json
from typing import Any

import pytest
import yaml

from dashboards.build import all_panel_queries, build_dashboards
from dashboards.generate import PACKAGE_DIR
from dashboards.promql import add_matchers
from dashboards.validate import dashboard_errors, layout_errors, query_errors, schema_errors

DASHBOARDS = build_dashboards()
COMMITTED = {path.name: json.loads(path.read_text()) for path in sorted((PACKAGE_DIR / "generated").glob("*.json"))}


def _panels(dashboard: dict[str, Any]) -> list[dict[str, Any]]:
    return [panel for panel in dashboard["panels"] if panel["type"] != "row"]


def _first_panel(dashboard: dict[str, Any]) -> dict[str, Any]:
    return _panels(dashboard)[0]


@pytest.mark.parametrize("name", sorted(COMMITTED))
def test_committed_dashboards_pass_every_check(name: str) -> None:
    dashboard = COMMITTED[name]
    assert dashboard_errors(dashboard) == []
    assert dashboard["schemaVersion"] >= 39
    assert name == f"{dashboard['uid']}.json"


def test_three_dashboards_are_built() -> None:
    assert (
        sorted(COMMITTED)
        == sorted(DASHBOARDS)
        == [
            "alertsieve-models.json",
            "alertsieve-overview.json",
            "alertsieve-slo.json",
        ]
    )


@pytest.mark.parametrize(
    ("breakage", "expected"),
    [
        (lambda d: d.update(schemaVersion=38), "schemaVersion"),
        (lambda d: d.pop("uid"), "'uid' is a required property"),
        (lambda d: d.update(schemaversion=39), "Additional properties"),
        (lambda d: _first_panel(d).pop("gridPos"), "'gridPos' is a required property"),
        (lambda d: _first_panel(d)["gridPos"].update(w=25), "panels/1/gridPos/w"),
        (lambda d: _first_panel(d).update(type="graph"), "panels/1/type"),
        (lambda d: _first_panel(d).update(targets=[]), "panels/1/targets"),
        (lambda d: _first_panel(d)["targets"][0].pop("expr"), "'expr' is a required property"),
        (lambda d: _first_panel(d)["targets"][0].pop("datasource"), "'datasource' is a required property"),
        (lambda d: _first_panel(d)["targets"][0]["datasource"].pop("uid"), "'uid' is a required property"),
        (lambda d: d["panels"][0].pop("panels"), "'panels' is a required property"),
        (lambda d: d.update(graphTooltip=3), "graphTooltip"),
    ],
)
def test_schema_rejects_broken_dashboards(breakage: Any, expected: str) -> None:
    dashboard = copy.deepcopy(DASHBOARDS["alertsieve-overview.json"])
    breakage(dashboard)

    errors = schema_errors(dashboard)

    assert any(expected in error for error in errors), errors


def test_layout_check_finds_overlaps_duplicates_and_overflow() -> None:
    dashboard = copy.deepcopy(DASHBOARDS["alertsieve-overview.json"])
    first, second = _panels(dashboard)[:2]
    second["gridPos"] = dict(first["gridPos"])
    second["id"] = first["id"]
    _panels(dashboard)[2]["gridPos"].update(x=20, w=8)

    errors = layout_errors(dashboard)

    assert any("overlap" in e for e in errors)
    assert any(f"panel id {first['id']}" in e for e in errors)
    assert any("past the grid" in e for e in errors)


def test_query_check_finds_unknown_series_missing_expr_and_other_datasources() -> None:
    dashboard = copy.deepcopy(DASHBOARDS["alertsieve-models.json"])
    panels = _panels(dashboard)
    panels[0]["targets"][0]["expr"] = "sum(rate(ray_alertsieve_requests[5m]))"  # counter without _total
    panels[1]["targets"][0]["expr"] = " "
    panels[2]["datasource"] = {"type": "prometheus", "uid": "someone-else"}

    errors = query_errors(dashboard)

    assert any("unknown series ['ray_alertsieve_requests']" in e for e in errors)
    assert any("has no expr" in e for e in errors)
    assert any("does not query datasource" in e for e in errors)


def test_every_panel_has_targets_with_expr_and_datasource() -> None:
    for dashboard in DASHBOARDS.values():
        for panel in _panels(dashboard):
            assert panel["targets"], panel["title"]
            for target in panel["targets"]:
                assert target["expr"].strip()
                assert target["datasource"] == {"type": "prometheus", "uid": "${datasource}"}
            assert panel["datasource"] == {"type": "prometheus", "uid": "${datasource}"}


@pytest.mark.parametrize("name", sorted(COMMITTED))
def test_every_dashboard_has_a_prometheus_datasource_variable(name: str) -> None:
    variables = {v["name"]: v for v in COMMITTED[name]["templating"]["list"]}
    assert variables["datasource"]["type"] == "datasource" and variables["datasource"]["query"] == "prometheus"
    assert COMMITTED[name]["templating"]["list"][0]["name"] == "datasource"  # first: the others query through it


@pytest.mark.parametrize("name", ["alertsieve-overview.json", "alertsieve-models.json"])
def test_scraped_series_are_selected_by_cluster_namespace_and_job(name: str) -> None:
    dashboard = COMMITTED[name]
    variables = {v["name"]: v for v in dashboard["templating"]["list"]}
    for label in ("cluster", "namespace", "job"):
        var = variables[label]
        assert var["type"] == "query" and var["datasource"]["uid"] == "${datasource}"
        assert var["includeAll"] and var["multi"] and var["allValue"] == ".*"
        assert var["query"]["query"].startswith("label_values(ray_alertsieve_requests_total")
    assert 'namespace=~"$namespace"' in variables["job"]["query"]["query"]  # chained: jobs of the namespace
    scoped = 0
    for panel in _panels(dashboard):
        for target in panel["targets"]:
            expr = target["expr"]
            # every selector of a scraped series carries the three matchers (adding them again changes nothing
            # but duplicates: count selectors instead)
            selectors = expr.count("ray_alertsieve_")
            for label in ("cluster", "namespace", "job"):
                assert expr.count(f'{label}=~"${label}"') == selectors, (panel["title"], expr)
            scoped += selectors
    assert scoped > 20


def test_add_matchers_scopes_scraped_selectors_only() -> None:
    scope = 'job=~"$job"'
    expr = 'sum(rate(ray_a_total{code=~"5.."}[5m])) / sum(rate(ray_a_total[5m])) + slo:x:ratio{sloth_slo="a"}'
    assert add_matchers(expr, scope) == (
        'sum(rate(ray_a_total{code=~"5..", job=~"$job"}[5m])) / sum(rate(ray_a_total{job=~"$job"}[5m]))'
        ' + slo:x:ratio{sloth_slo="a"}'
    )
    assert add_matchers("max by (le) (ray_b_bucket{})", scope) == 'max by (le) (ray_b_bucket{job=~"$job"})'
    assert add_matchers(expr, "") == expr


def test_all_panel_queries_lists_every_target() -> None:
    queries = all_panel_queries()
    targets = sum(len(p["targets"]) for d in DASHBOARDS.values() for p in _panels(d))
    assert len(queries) == targets
    assert all("/" in where and expr for where, expr in queries)
    assert "$" not in "".join(expr for _, expr in queries)  # variables substituted: runnable as they are
    assert 'job=~".*"' in "".join(expr for _, expr in queries)
    picked = all_panel_queries(values={"job": "ray", "cluster": "eu-1"})
    assert 'cluster=~"eu-1", namespace=~".*", job=~"ray"' in "".join(e for _, e in picked)


@pytest.mark.parametrize(
    ("dashboard", "title", "needle"),
    [
        ("alertsieve-overview.json", "Noise reduction trend", 'actionable="false",decision="suppress"'),
        ("alertsieve-overview.json", "False-negative rate", 'actionable="true",decision="suppress"'),
        ("alertsieve-overview.json", "P95 score latency", "histogram_quantile(0.95"),
        ("alertsieve-overview.json", "Requests by route and code", "ray_alertsieve_requests_total"),
        ("alertsieve-overview.json", "5xx error ratio", 'code=~"5.."'),
        ("alertsieve-overview.json", "Embedding-cache hit rate", "ray_alertsieve_embedding_cache_hits_total"),
        ("alertsieve-overview.json", "Fail-open events per hour", "ray_alertsieve_fail_open_total"),
        ("alertsieve-models.json", "Scored alerts by arm and decision", "sum by (arm, decision)"),
        ("alertsieve-models.json", "Scored alerts by model version and decision", "model_version, decision"),
        ("alertsieve-models.json", "Suppress rate per arm (1h)", "sum by (arm)"),
        ("alertsieve-models.json", "Feedback FNR per arm (1d)", 'actionable="true"'),
        ("alertsieve-models.json", "Last training run", "ray_alertsieve_training_last_run_timestamp_seconds"),
        ("alertsieve-models.json", "Last run duration", "ray_alertsieve_training_last_duration_seconds"),
        ("alertsieve-models.json", "Last run outcome", "ray_alertsieve_training_last_success"),
        ("alertsieve-models.json", "Training rows (last run)", "ray_alertsieve_training_rows"),
        (
            "alertsieve-models.json",
            "Last successful training run",
            "ray_alertsieve_training_last_success_timestamp_seconds",
        ),
        (
            "alertsieve-models.json",
            "Hours since the last successful training run",
            "ray_alertsieve_training_last_success_timestamp_seconds",
        ),
        ("alertsieve-slo.json", "Error budget remaining (30d) per SLO", "slo:period_error_budget_remaining:ratio"),
        ("alertsieve-slo.json", "False-negative rate: burn rate by window", "slo:sli_error:ratio_rate1h"),
        ("alertsieve-slo.json", "Noise reduction: current burn rate (5m)", "slo:current_burn_rate:ratio"),
    ],
)
def test_required_panels_exist(dashboard: str, title: str, needle: str) -> None:
    panels = {p["title"]: p for p in _panels(DASHBOARDS[dashboard])}
    assert title in panels, sorted(panels)
    assert any(needle in target["expr"] for target in panels[title]["targets"])


def test_provisioning_points_grafana_at_the_dashboards_and_datasource() -> None:
    datasources = yaml.safe_load((PACKAGE_DIR / "provisioning/datasources/prometheus.yaml").read_text())
    providers = yaml.safe_load((PACKAGE_DIR / "provisioning/dashboards/alertsieve.yaml").read_text())

    [source] = datasources["datasources"]
    assert datasources["apiVersion"] == providers["apiVersion"] == 1
    assert source["uid"] == "alertsieve-prometheus" and source["type"] == "prometheus"
    assert source["url"] == "${PROMETHEUS_URL}"
    # a second default datasource crash-loops a Grafana that has one (kube-prometheus-stack's)
    assert source["isDefault"] is False
    [provider] = providers["providers"]
    assert provider["type"] == "file" and provider["options"]["path"].startswith("/")
    assert provider["folder"] == "alertsieve"
