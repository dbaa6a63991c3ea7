"""The SLO file, its validation, the PromQL scan and the metric-name contract it relies on."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest
import yaml
from pydantic import ValidationError

from alertsieve import metric_names as m
from dashboards.promql import is_balanced, label_values, series_in
from dashboards.slo import SLOS_FILE, SLOKind, SLOSpec, load_slos

BASE: dict[str, Any] = yaml.safe_load(SLOS_FILE.read_text())


def test_the_slo_file_defines_the_four_slos() -> None:
    spec = load_slos()
    found = {slo.name: (slo.kind, slo.objective_ratio, slo.error_budget) for slo in spec.slos}
    assert found == {
        "scoring-availability": (SLOKind.BURN_RATE, 0.999, 0.001),
        "scoring-latency": (SLOKind.BURN_RATE, 0.95, 0.05),
        "false-negative-rate": (SLOKind.BURN_RATE, 0.985, 0.015),
        "noise-reduction": (SLOKind.THRESHOLD, 0.45, 0.55),
    }
    assert spec.service == "alertsieve" and spec.period_days == 30


def test_the_latency_slo_counts_requests_over_a_real_bucket() -> None:
    latency = next(slo for slo in load_slos().slos if slo.name == "scoring-latency")
    les = label_values(latency.sli.error_query, "le")
    # Ray renders bucket bounds like Python's repr of the float ("0.14", "1.0"), see metric_names.
    assert les == {"0.14"} and 0.14 in m.LATENCY_BUCKETS_S


def _with(change: dict[str, Any], index: int = 0) -> dict[str, Any]:
    data: dict[str, Any] = yaml.safe_load(yaml.safe_dump(BASE))
    data["slos"][index].update(change)
    return data


@pytest.mark.parametrize(
    ("data", "message"),
    [
        (_with({"objective": 100}), "less than 100"),
        (_with({"name": "Bad Name"}), "lowercase"),
        (_with({"alert_name": "bad-name"}), "alert name"),
        (_with({"kind": "ratio"}), "kind"),
        (
            _with(
                {
                    "sli": {
                        "error_query": "sum(rate(ray_alertsieve_requests[{{.window}}]))",
                        "total_query": "sum(rate(ray_alertsieve_requests_total[{{.window}}]))",
                    }
                }
            ),
            "does not export",
        ),
        (
            _with(
                {
                    "sli": {
                        "error_query": "sum(rate(ray_alertsieve_requests_total[5m]))",
                        "total_query": "sum(rate(ray_alertsieve_requests_total[{{.window}}]))",
                    }
                }
            ),
            "{{.window}}",
        ),
        (
            _with(
                {
                    "sli": {
                        "error_query": "sum(rate(ray_alertsieve_requests_total[{{.window}}])",
                        "total_query": "sum(rate(ray_alertsieve_requests_total[{{.window}}]))",
                    }
                }
            ),
            "unbalanced",
        ),
        (_with({"name": "scoring-latency"}), "duplicate SLO names"),
        ({**BASE, "period": "4w"}, "period"),
        ({**BASE, "labels": {"sloth_id": "x"}}, "label name"),
        ({**BASE, "extra": 1}, "Extra inputs"),
    ],
)
def test_invalid_slo_files_are_refused(data: dict[str, Any], message: str) -> None:
    with pytest.raises(ValidationError, match=message.replace("{", r"\{").replace(".", r"\.")):
        SLOSpec.model_validate(data)


def test_load_reads_a_file(tmp_path: Path) -> None:
    path = tmp_path / "slos.yaml"
    path.write_text(yaml.safe_dump(_with({"objective": 99.0})))
    assert load_slos(path).slos[0].error_budget == 0.01


@pytest.mark.parametrize(
    ("expr", "series"),
    [
        ('sum by (le, route) (rate(ray_x_bucket{le="0.14"}[5m]))', {"ray_x_bucket"}),
        ('a:b:c{x="y"} / on (sloth_id) group_left b:c', {"a:b:c", "b:c"}),
        ("(sum(rate(x_total[{{.window}}])) or vector(0)) / (sum(rate(y_total[1h])) > 0)", {"x_total", "y_total"}),
        ("histogram_quantile(0.95, sum(rate(h_bucket[5m])) by (le)) * 1e3", {"h_bucket"}),
        ("time() - max(last_run offset 5m)", {"last_run"}),
        ('count(up{job="and or unless"}) > bool 1', {"up"}),
    ],
)
def test_series_in_finds_exactly_the_selected_series(expr: str, series: set[str]) -> None:
    assert series_in(expr) == series


def test_bracket_balance() -> None:
    assert is_balanced('sum(rate(x{a="(]"}[5m]))')
    assert not is_balanced("sum(rate(x[5m])")
    assert not is_balanced("sum(rate(x[5m)))")


def test_scraped_series_follow_rays_export_names() -> None:
    scraped = m.scraped_series()
    assert "ray_alertsieve_requests_total" in scraped
    assert {"ray_alertsieve_score_latency_seconds_bucket", "ray_alertsieve_score_latency_seconds_count"} <= scraped
    assert "ray_alertsieve_training_rows" in scraped and "ray_alertsieve_training_rows_total" not in scraped
    assert len(scraped) == len(m.COUNTERS) + len(m.GAUGES) + 3 * len(m.HISTOGRAMS)


def test_the_dashboards_package_imports_neither_ray_nor_serve_app() -> None:
    code = (
        "import sys, dashboards.cli, dashboards.build, dashboards.generate, dashboards.validate; "
        "bad = [n for n in sys.modules if n == 'ray' or n.startswith(('ray.', 'serve_app', 'torch'))]; "
        "sys.exit(str(bad) if bad else 0)"
    )
    root = Path(__file__).resolve().parents[2]
    result = subprocess.run([sys.executable, "-c", code], cwd=root, capture_output=True, text=True, timeout=120)
    assert result.returncode == 0, result.stdout + result.stderr
