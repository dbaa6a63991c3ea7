"""The prometheus-operator objects of the SLO rules: a PrometheusRule and a ServiceMonitor (monitoring.coreos.com/v1).

Generated with the rest of ``generated/`` (``alertsieve dashboards generate``) into
``generated/kubernetes/``, a kustomize directory that infra/kustomize/base includes:

* ``prometheusrule.yaml``: every group of every Prometheus rule file (``rules.prometheus_rule_files``),
  so the cluster evaluates exactly what promtool tests;
* ``servicemonitor.yaml``: scrapes the metrics port of every Serve pod through the headless Service
  ``alertsieve-metrics`` (infra/kustomize/base/metrics-service.yaml) every SCRAPE_INTERVAL, the interval
  the Grafana datasource is told about;
* ``kustomization.yaml``: lists the two.

No namespace: the kustomize overlay sets it. A Prometheus from kube-prometheus-stack selects these
objects only if its ``ruleSelector``/``serviceMonitorSelector`` match their labels (the chart's default
asks for ``release: <release name>``: add it in an overlay, or set ``*SelectorNilUsesHelmValues: false``).
"""

from __future__ import annotations

from typing import Any

from dashboards.rules import prometheus_rule_files
from dashboards.slo import SLOSpec

SCRAPE_INTERVAL = "15s"
MONITORING_API = "monitoring.coreos.com/v1"
METRICS_SERVICE = "alertsieve-metrics"  # infra/kustomize/base/metrics-service.yaml
METRICS_PORT = "metrics"  # the Service's port name (Ray's metrics export port, 8080)
DIRECTORY = "generated/kubernetes"


def _labels(spec: SLOSpec, component: str) -> dict[str, str]:
    return {"app.kubernetes.io/name": spec.service, "app.kubernetes.io/component": component}


def prometheus_rule(spec: SLOSpec) -> dict[str, Any]:
    """One PrometheusRule holding the groups of every generated rule file, in file order."""
    groups = [group for rules in prometheus_rule_files(spec).values() for group in rules["groups"]]
    return {
        "apiVersion": MONITORING_API,
        "kind": "PrometheusRule",
        "metadata": {"name": f"{spec.service}-rules", "labels": _labels(spec, "rules")},
        "spec": {"groups": groups},
    }


def service_monitor(spec: SLOSpec) -> dict[str, Any]:
    """A ServiceMonitor scraping every endpoint of the metrics Service."""
    return {
        "apiVersion": MONITORING_API,
        "kind": "ServiceMonitor",
        "metadata": {"name": spec.service, "labels": _labels(spec, "metrics")},
        "spec": {
            "selector": {"matchLabels": _labels(spec, "metrics")},
            "endpoints": [{"port": METRICS_PORT, "path": "/metrics", "interval": SCRAPE_INTERVAL}],
        },
    }


def kubernetes_files(spec: SLOSpec) -> dict[str, dict[str, Any]]:
    """The objects and their kustomization, keyed by file name under DIRECTORY."""
    objects = {"prometheusrule.yaml": prometheus_rule(spec), "servicemonitor.yaml": service_monitor(spec)}
    kustomization = {
        "apiVersion": "kustomize.config.k8s.io/v1beta1",
        "kind": "Kustomization",
        "resources": list(objects),
    }
    return {**objects, "kustomization.yaml": kustomization}
