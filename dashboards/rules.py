"""Prometheus recording and alerting rules, and Grafana-managed alert rules, generated from the SLOs.

The rules follow Sloth's layout and series names so that Sloth's dashboards and habits carry over:

* SLI recordings ``slo:sli_error:ratio_rate<window>`` for 5m, 30m, 1h, 2h, 6h, 1d and 3d, and the
  period window (``ratio_rate30d``) as the mean of the 5m ratios;
* meta recordings ``slo:objective:ratio``, ``slo:error_budget:ratio``, ``slo:time_period:days``,
  ``slo:current_burn_rate:ratio``, ``slo:period_burn_rate:ratio``,
  ``slo:period_error_budget_remaining:ratio`` and ``sloth_slo_info`` (1, labelled with the SLO's
  objective, as Sloth's dashboards list SLOs by it);
* labels ``sloth_id``, ``sloth_service``, ``sloth_slo`` (and ``sloth_window`` on SLI recordings);
* one alert per SLO and severity (Sloth names both the same, ``sloth_severity`` tells them apart):
  multiwindow multi-burn-rate as in the Google SRE workbook, page at 14.4x over 1h and 5m or 6x
  over 6h and 30m, ticket at 3x over 1d and 2h or 1x over 3d and 6h. A threshold SLO tickets when
  its error ratio exceeds the budget (burn rate > 1) over both 1d and 2h.

Besides the SLOs, ``training_rules`` alerts when the weekly retraining has not succeeded for 8 days
(from the last-success timestamp gauge). Every alert carries a ``runbook_url`` annotation: the SLO file's
``runbook_url`` (docs/runbook.md on GitHub by default) and ``#<alertname, lowercased>``, the anchor of the
runbook's section for that alert.

The Grafana alert rules (file provisioning format of Grafana 11) evaluate the same expressions
against the recording rules, for setups that alert from Grafana instead of Prometheus.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from alertsieve import metric_names as m
from dashboards.slo import SLO, SLOKind, SLOSpec

SLI_WINDOWS: tuple[str, ...] = ("5m", "30m", "1h", "2h", "6h", "1d", "3d")
DATASOURCE_UID = "alertsieve-prometheus"
GRAFANA_FOLDER = "alertsieve"
RECORDED_SERIES: frozenset[str] = frozenset(
    {
        *(f"slo:sli_error:ratio_rate{window}" for window in (*SLI_WINDOWS, "30d")),
        "slo:objective:ratio",
        "slo:error_budget:ratio",
        "slo:time_period:days",
        "slo:current_burn_rate:ratio",
        "slo:period_burn_rate:ratio",
        "slo:period_error_budget_remaining:ratio",
        "sloth_slo_info",
    }
)
TRAINING_RULES_FILE = "alertsieve-training.yaml"
RETRAIN_STALE_AFTER_DAYS = 8


@dataclass(frozen=True)
class BurnWindow:
    """A multiwindow condition: the error ratio exceeds factor x budget over both windows."""

    severity: str
    long: str
    short: str
    factor: float


PAGE_FAST = BurnWindow("page", "1h", "5m", 14.4)
PAGE_SLOW = BurnWindow("page", "6h", "30m", 6)
TICKET_FAST = BurnWindow("ticket", "1d", "2h", 3)
TICKET_SLOW = BurnWindow("ticket", "3d", "6h", 1)
THRESHOLD_BREACH = BurnWindow("ticket", "1d", "2h", 1)


def burn_windows(slo: SLO) -> tuple[BurnWindow, ...]:
    """The alert conditions of an SLO, by its kind."""
    if slo.kind is SLOKind.THRESHOLD:
        return (THRESHOLD_BREACH,)
    return (PAGE_FAST, PAGE_SLOW, TICKET_FAST, TICKET_SLOW)


def _num(value: float) -> str:
    return repr(round(float(value), 10)).removesuffix(".0")


def _selector(spec: SLOSpec, slo: SLO) -> str:
    return f'sloth_id="{spec.slo_id(slo)}", sloth_service="{spec.service}", sloth_slo="{slo.name}"'


def slo_labels(spec: SLOSpec, slo: SLO) -> dict[str, str]:
    """Labels carried by every series recorded for an SLO."""
    return {"sloth_id": spec.slo_id(slo), "sloth_service": spec.service, "sloth_slo": slo.name, **spec.labels}


def sli_rules(spec: SLOSpec, slo: SLO) -> list[dict[str, Any]]:
    """Recording rules of an SLO's error ratio over every window."""
    labels = slo_labels(spec, slo)
    rules: list[dict[str, Any]] = [
        {
            "record": f"slo:sli_error:ratio_rate{window}",
            "expr": slo.sli.error_ratio(window) + "\n",
            "labels": {**labels, "sloth_window": window},
        }
        for window in SLI_WINDOWS
    ]
    five = f"slo:sli_error:ratio_rate5m{{{_selector(spec, slo)}}}"
    rules.append(
        {
            "record": f"slo:sli_error:ratio_rate{spec.period}",
            "expr": f"sum_over_time({five}[{spec.period}])\n"
            f"/ ignoring (sloth_window)\ncount_over_time({five}[{spec.period}])\n",
            "labels": {**labels, "sloth_window": spec.period},
        }
    )
    return rules


def meta_rules(spec: SLOSpec, slo: SLO) -> list[dict[str, Any]]:
    """Objective, budget and burn-rate recordings of an SLO."""
    labels = slo_labels(spec, slo)
    sel = _selector(spec, slo)
    on = "on (sloth_id, sloth_slo, sloth_service) group_left"
    return [
        {"record": "slo:objective:ratio", "expr": f"vector({_num(slo.objective_ratio)})", "labels": labels},
        {"record": "slo:error_budget:ratio", "expr": f"vector({_num(slo.error_budget)})", "labels": labels},
        {"record": "slo:time_period:days", "expr": f"vector({spec.period_days})", "labels": labels},
        {
            "record": "slo:current_burn_rate:ratio",
            "expr": f"slo:sli_error:ratio_rate5m{{{sel}}}\n/ {on}\nslo:error_budget:ratio{{{sel}}}\n",
            "labels": labels,
        },
        {
            "record": "slo:period_burn_rate:ratio",
            "expr": f"slo:sli_error:ratio_rate{spec.period}{{{sel}}}\n/ {on}\nslo:error_budget:ratio{{{sel}}}\n",
            "labels": labels,
        },
        {
            "record": "slo:period_error_budget_remaining:ratio",
            "expr": f"1 - slo:period_burn_rate:ratio{{{sel}}}",
            "labels": labels,
        },
        {
            "record": "sloth_slo_info",
            "expr": "vector(1)",
            "labels": {
                **labels,
                "sloth_mode": "cli-gen-prom",
                "sloth_spec": "prometheus/v1",
                "sloth_objective": _num(slo.objective),
            },
        },
    ]


def alert_expr(spec: SLOSpec, slo: SLO, severity: str) -> str:
    """The PromQL of an SLO's alert of one severity: any of its multiwindow conditions holds."""
    sel = _selector(spec, slo)
    budget = _num(slo.error_budget)
    parts = []
    for window in burn_windows(slo):
        if window.severity != severity:
            continue
        threshold = f"({_num(window.factor)} * {budget})"
        short = f"max(slo:sli_error:ratio_rate{window.short}{{{sel}}} > {threshold}) without (sloth_window)"
        long = f"max(slo:sli_error:ratio_rate{window.long}{{{sel}}} > {threshold}) without (sloth_window)"
        parts.append(f"(\n    {short}\n    and\n    {long}\n)")
    return "\nor\n".join(parts) + "\n"


def severities(slo: SLO) -> list[str]:
    """The severities an SLO alerts with, page first."""
    found = {window.severity for window in burn_windows(slo)}
    return [severity for severity in ("page", "ticket") if severity in found]


def runbook_url(spec: SLOSpec, alert: str) -> str:
    """Where the runbook says what to do about ``alert``: its section of the runbook page (GitHub's heading
    anchor of a heading that is the alert's name)."""
    return f"{spec.runbook_url}#{alert.lower()}"


def alert_annotations(spec: SLOSpec, slo: SLO, severity: str) -> dict[str, str]:
    """Static annotations of an SLO alert (static so that rule unit tests can state them)."""
    if slo.kind is SLOKind.THRESHOLD:
        summary = f"{slo.title} is below its objective of {_num(slo.objective)}% over 1d and 2h."
    else:
        summary = f"{slo.title} SLO ({_num(slo.objective)}%) is burning its error budget too fast."
    trouble = "is below its objective" if slo.kind is SLOKind.THRESHOLD else "error budget burn rate is too high"
    return {
        "title": f"({severity}) {spec.service} {slo.name} SLO {trouble}.",
        "summary": summary,
        "description": slo.description,
        "runbook_url": runbook_url(spec, slo.alert_name),
    }


def alert_rules(spec: SLOSpec, slo: SLO) -> list[dict[str, Any]]:
    """The Prometheus alerting rules of an SLO."""
    return [
        {
            "alert": slo.alert_name,
            "expr": alert_expr(spec, slo, severity),
            "labels": {"severity": severity, "sloth_severity": severity},
            "annotations": alert_annotations(spec, slo, severity),
        }
        for severity in severities(slo)
    ]


def prometheus_rules(spec: SLOSpec, slo: SLO) -> dict[str, Any]:
    """A Prometheus rule file (``groups:``) with the recordings and alerts of one SLO."""
    slo_id = spec.slo_id(slo)
    return {
        "groups": [
            {"name": f"sloth-slo-sli-recordings-{slo_id}", "rules": sli_rules(spec, slo)},
            {"name": f"sloth-slo-meta-recordings-{slo_id}", "rules": meta_rules(spec, slo)},
            {"name": f"sloth-slo-alerts-{slo_id}", "rules": alert_rules(spec, slo)},
        ]
    }


def training_rules(spec: SLOSpec) -> dict[str, Any]:
    """The retraining alert: no successful run for RETRAIN_STALE_AFTER_DAYS (the loop is weekly)."""
    last_success = f"{m.RAY_PREFIX}{m.TRAINING_LAST_SUCCESS_TIME}"
    days = RETRAIN_STALE_AFTER_DAYS
    alert = "AlertsieveRetrainingStale"
    rule = {
        "alert": alert,
        "expr": f"time() - max by (cluster, namespace, job) ({last_success}) > {days} * 86400\n",
        "for": "15m",
        "labels": {"severity": "ticket", **spec.labels},
        "annotations": {
            "title": f"(ticket) {spec.service}: no successful retraining for {days} days.",
            "summary": f"The weekly retraining of {spec.service} has not succeeded for more than {days} days.",
            "description": "The model in service is getting stale: look at the last runs of the retrain job "
            "(CronJob alertsieve-retrain, its RayJobs) and the pipeline record in the state store.",
            "runbook_url": runbook_url(spec, alert),
        },
    }
    return {"groups": [{"name": f"{spec.service}-training", "rules": [rule]}]}


def prometheus_rule_files(spec: SLOSpec) -> dict[str, dict[str, Any]]:
    """One rule file per SLO (``<sloth_id>.yaml``), as Sloth writes one per spec, and the training rules."""
    files = {f"{spec.slo_id(slo)}.yaml": prometheus_rules(spec, slo) for slo in spec.slos}
    return {**files, TRAINING_RULES_FILE: training_rules(spec)}


def _grafana_rule(spec: SLOSpec, slo: SLO, severity: str, datasource_uid: str) -> dict[str, Any]:
    uid = f"{spec.service}-{slo.name}-{severity}"[:40]
    condition = {
        "evaluator": {"params": [0], "type": "gt"},
        "operator": {"type": "and"},
        "query": {"params": ["C"]},
        "reducer": {"params": [], "type": "last"},
        "type": "query",
    }
    return {
        "uid": uid,
        "title": f"{slo.alert_name}{severity.title()}",
        "condition": "C",
        "data": [
            {
                "refId": "A",
                "relativeTimeRange": {"from": 600, "to": 0},
                "datasourceUid": datasource_uid,
                "model": {
                    "datasource": {"type": "prometheus", "uid": datasource_uid},
                    "editorMode": "code",
                    "expr": alert_expr(spec, slo, severity),
                    "instant": True,
                    "range": False,
                    "intervalMs": 60000,
                    "maxDataPoints": 43200,
                    "refId": "A",
                },
            },
            {
                "refId": "C",
                "relativeTimeRange": {"from": 0, "to": 0},
                "datasourceUid": "__expr__",
                "model": {
                    "conditions": [condition],
                    "datasource": {"type": "__expr__", "uid": "__expr__"},
                    "expression": "A",
                    "refId": "C",
                    "type": "threshold",
                },
            },
        ],
        "noDataState": "OK",
        "execErrState": "Error",
        "for": "0s",
        "isPaused": False,
        "annotations": alert_annotations(spec, slo, severity),
        "labels": {"severity": severity, "sloth_severity": severity, **spec.labels},
    }


def grafana_alert_rules(
    spec: SLOSpec, datasource_uid: str = DATASOURCE_UID, folder: str = GRAFANA_FOLDER
) -> dict[str, Any]:
    """Grafana-managed alert rules in Grafana 11's alerting file-provisioning format."""
    rules = [_grafana_rule(spec, slo, severity, datasource_uid) for slo in spec.slos for severity in severities(slo)]
    group = {"orgId": 1, "name": f"{spec.service}-slo-burn-rate", "folder": folder, "interval": "1m"}
    return {"apiVersion": 1, "groups": [{**group, "rules": rules}]}
