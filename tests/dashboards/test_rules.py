"""Prometheus rules from the SLOs: promtool accepts them, and its unit tests see each alert fire.

The promtool unit tests (dashboards/tests/*.test.yaml) feed input series and state which alerts
fire when: page fast (1h/5m at 14.4x) and slow (6h/30m at 6x), ticket fast (1d/2h at 3x) and slow
(3d/6h at 1x), firing and not firing, for every SLO. A mutation test regenerates the rules with a
wrong burn factor and checks that the same unit tests then fail, so they can catch a broken rule.
"""

from __future__ import annotations

import subprocess
from pathlib import Path

import pytest
import yaml

from dashboards import rules
from dashboards.build import all_panel_queries
from dashboards.generate import PACKAGE_DIR, generate
from dashboards.rules import RECORDED_SERIES, grafana_alert_rules, prometheus_rule_files
from dashboards.slo import load_slos

RULES_DIR = PACKAGE_DIR / "generated" / "prometheus-rules"
UNIT_TESTS = sorted((PACKAGE_DIR / "tests").glob("*.test.yaml"))


def _run(promtool: str, *args: str, cwd: Path) -> subprocess.CompletedProcess[str]:
    return subprocess.run([promtool, *args], cwd=cwd, capture_output=True, text=True, timeout=300)


def test_promtool_checks_every_generated_rule_file(promtool: str) -> None:
    files = sorted(RULES_DIR.glob("*.yaml"))
    assert [f.name for f in files] == sorted(prometheus_rule_files(load_slos()))

    result = _run(promtool, "check", "rules", *map(str, files), cwd=PACKAGE_DIR)

    assert result.returncode == 0, result.stdout + result.stderr
    assert result.stdout.count("SUCCESS") == len(files)


def test_promtool_rejects_a_broken_rule_file(promtool: str, tmp_path: Path) -> None:
    broken = tmp_path / "broken.yaml"
    broken.write_text("groups:\n- name: x\n  rules:\n  - record: a:b\n    expr: sum(rate(x[5m])\n")

    assert _run(promtool, "check", "rules", str(broken), cwd=tmp_path).returncode != 0


def test_every_slo_has_a_promtool_unit_test_file() -> None:
    tested = {yaml.safe_load(path.read_text())["rule_files"][0].rsplit("/", 1)[-1] for path in UNIT_TESTS}
    assert tested == set(prometheus_rule_files(load_slos()))


def test_promtool_unit_tests_pass(promtool: str) -> None:
    result = _run(promtool, "test", "rules", *map(str, UNIT_TESTS), cwd=PACKAGE_DIR / "tests")

    assert result.returncode == 0, result.stdout + result.stderr


def test_promtool_unit_tests_catch_a_wrong_burn_factor(
    promtool: str, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    # Page at 30x instead of 14.4x over 1h/5m: the 24x burn of the availability test must no longer page.
    monkeypatch.setattr(rules, "PAGE_FAST", rules.BurnWindow("page", "1h", "5m", 30))
    generate(tmp_path)
    unit = yaml.safe_load((PACKAGE_DIR / "tests" / "availability.test.yaml").read_text())
    unit["tests"] = [group for group in unit["tests"] if group["name"].startswith("page fast burn")]
    (tmp_path / "tests").mkdir()
    (tmp_path / "tests" / "page-fast.test.yaml").write_text(yaml.safe_dump(unit, sort_keys=False))

    result = _run(promtool, "test", "rules", "page-fast.test.yaml", cwd=tmp_path / "tests")

    assert result.returncode != 0
    assert "page fast burn" in result.stdout + result.stderr


def test_every_dashboard_and_grafana_alert_query_parses(promtool: str, tmp_path: Path) -> None:
    exprs = [expr for _, expr in all_panel_queries()]
    for group in grafana_alert_rules(load_slos())["groups"]:
        exprs += [rule["data"][0]["model"]["expr"] for rule in group["rules"]]
    as_rules = {"groups": [{"name": "q", "rules": [{"alert": f"Q{i}", "expr": e} for i, e in enumerate(exprs)]}]}
    path = tmp_path / "queries.yaml"
    path.write_text(yaml.safe_dump(as_rules))

    result = _run(promtool, "check", "rules", str(path), cwd=tmp_path)

    assert result.returncode == 0, result.stdout + result.stderr


def test_rules_use_sloth_series_names_and_labels() -> None:
    spec = load_slos()
    for slo in spec.slos:
        groups = rules.prometheus_rules(spec, slo)["groups"]
        recorded = [rule for group in groups for rule in group["rules"] if "record" in rule]
        names = {rule["record"] for rule in recorded}
        assert names == RECORDED_SERIES
        windows = {rule["labels"]["sloth_window"] for rule in recorded if rule["record"].startswith("slo:sli_error")}
        assert windows == {"5m", "30m", "1h", "2h", "6h", "1d", "3d", "30d"}
        for rule in recorded:
            assert rule["labels"]["sloth_service"] == "alertsieve"
            assert rule["labels"]["sloth_slo"] == slo.name
            assert rule["labels"]["sloth_id"] == f"alertsieve-{slo.name}"


def test_every_slo_records_sloth_slo_info() -> None:
    spec = load_slos()
    for slo in spec.slos:
        meta = rules.prometheus_rules(spec, slo)["groups"][1]["rules"]
        [info] = [rule for rule in meta if rule["record"] == "sloth_slo_info"]
        assert info["expr"] == "vector(1)"
        assert info["labels"]["sloth_id"] == f"alertsieve-{slo.name}" and info["labels"]["sloth_slo"] == slo.name
        assert info["labels"]["sloth_objective"] == f"{slo.objective:g}"
        assert info["labels"]["sloth_spec"] == "prometheus/v1" and info["labels"]["team"] == "alertsieve"


def test_the_retraining_alert_reads_the_last_success_timestamp() -> None:
    [group] = rules.training_rules(load_slos())["groups"]
    [rule] = group["rules"]
    assert rule["alert"] == "AlertsieveRetrainingStale"
    assert "ray_alertsieve_training_last_success_timestamp_seconds" in rule["expr"]
    assert "> 8 * 86400" in rule["expr"]


def test_promtool_unit_tests_catch_a_wrong_staleness_limit(
    promtool: str, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    # 9 days instead of 8: the job that last succeeded 8 days and 20 minutes ago must no longer alert.
    monkeypatch.setattr(rules, "RETRAIN_STALE_AFTER_DAYS", 9)
    generate(tmp_path)
    (tmp_path / "tests").mkdir()
    (tmp_path / "tests" / "training.test.yaml").write_text((PACKAGE_DIR / "tests" / "training.test.yaml").read_text())

    result = _run(promtool, "test", "rules", "training.test.yaml", cwd=tmp_path / "tests")

    assert result.returncode != 0
    assert "no successful retraining for 8 days" in result.stdout + result.stderr
    assert "got:[]" in result.stdout + result.stderr  # it failed because the alert did not fire


def test_burn_rate_alerts_follow_the_sre_workbook() -> None:
    spec = load_slos()
    availability = next(slo for slo in spec.slos if slo.name == "scoring-availability")
    page = rules.alert_expr(spec, availability, "page")
    ticket = rules.alert_expr(spec, availability, "ticket")

    for window, factor in (("5m", "14.4"), ("1h", "14.4"), ("30m", "6"), ("6h", "6")):
        assert f"ratio_rate{window}{{" in page and f"({factor} * 0.001)" in page
    for window, factor in (("2h", "3"), ("1d", "3"), ("6h", "1"), ("3d", "1")):
        assert f"ratio_rate{window}{{" in ticket and f"({factor} * 0.001)" in ticket
    assert "ratio_rate1d" not in page and "ratio_rate5m" not in ticket

    noise = next(slo for slo in spec.slos if slo.name == "noise-reduction")
    assert rules.severities(noise) == ["ticket"]
    assert "(1 * 0.55)" in rules.alert_expr(spec, noise, "ticket")


def test_grafana_alert_rules_are_provisionable() -> None:
    provisioning = grafana_alert_rules(load_slos())
    assert provisioning["apiVersion"] == 1
    [group] = provisioning["groups"]
    assert group["folder"] == "alertsieve" and group["interval"] == "1m"
    uids = [rule["uid"] for rule in group["rules"]]
    titles = [rule["title"] for rule in group["rules"]]
    assert len(set(uids)) == len(uids) == 7  # page + ticket for three SLOs, ticket for noise reduction
    assert len(set(titles)) == len(titles)
    for rule in group["rules"]:
        assert len(rule["uid"]) <= 40
        ref_ids = [query["refId"] for query in rule["data"]]
        assert rule["condition"] in ref_ids
        assert rule["data"][0]["datasourceUid"] == "alertsieve-prometheus"
        assert rule["data"][-1]["model"]["expression"] == "A"
        assert rule["labels"]["severity"] in ("page", "ticket")
        assert rule["noDataState"] == "OK"
