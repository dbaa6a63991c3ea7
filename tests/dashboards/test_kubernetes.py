"""The prometheus-operator objects generated from the SLOs: the PrometheusRule carries exactly the rule
groups of the Prometheus rule files (and promtool accepts them as they stand in it), the ServiceMonitor
scrapes as often as the Grafana datasource expects, and the kustomization lists both."""

from __future__ import annotations

import subprocess
from pathlib import Path

import yaml

from dashboards.generate import PACKAGE_DIR, datasource_provisioning, render_files
from dashboards.kubernetes import DIRECTORY, kubernetes_files
from dashboards.rules import prometheus_rule_files
from dashboards.slo import load_slos

GENERATED = PACKAGE_DIR / DIRECTORY


def test_the_prometheus_rule_holds_every_group_of_every_rule_file() -> None:
    spec = load_slos()
    rule = yaml.safe_load((GENERATED / "prometheusrule.yaml").read_text())
    groups = [g for f in prometheus_rule_files(spec).values() for g in f["groups"]]
    assert rule["spec"]["groups"] == groups
    alerts = {r["alert"] for g in rule["spec"]["groups"] for r in g["rules"] if "alert" in r}
    assert alerts == {slo.alert_name for slo in spec.slos} | {"AlertsieveRetrainingStale"}


def test_promtool_accepts_the_prometheus_rule_s_groups(promtool: str, tmp_path: Path) -> None:
    rule = yaml.safe_load((GENERATED / "prometheusrule.yaml").read_text())
    rules_file = tmp_path / "rules.yaml"
    rules_file.write_text(yaml.safe_dump(rule["spec"]))
    result = subprocess.run([promtool, "check", "rules", str(rules_file)], capture_output=True, text=True, timeout=120)
    assert result.returncode == 0, result.stdout + result.stderr
    assert "SUCCESS" in result.stdout


def test_the_service_monitor_scrapes_at_the_datasource_s_interval() -> None:
    monitor = yaml.safe_load((GENERATED / "servicemonitor.yaml").read_text())
    [endpoint] = monitor["spec"]["endpoints"]
    assert endpoint["interval"] == datasource_provisioning()["datasources"][0]["jsonData"]["timeInterval"]
    assert endpoint["port"] == "metrics" and endpoint["path"] == "/metrics"


def test_the_kustomization_lists_the_objects_and_nothing_else() -> None:
    files = kubernetes_files(load_slos())
    kustomization = files["kustomization.yaml"]
    assert sorted(kustomization["resources"]) == sorted(set(files) - {"kustomization.yaml"})
    assert {f"{DIRECTORY}/{name}" for name in files} <= set(render_files())
    for name in kustomization["resources"]:
        assert "namespace" not in files[name]["metadata"]  # the overlay sets it
