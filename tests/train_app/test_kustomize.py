"""The kustomize overlays (infra/kustomize/overlays/dev and prod): `kubectl kustomize` builds each, every
document of the output validates against the vendored schemas, and what the overlay promises holds there:
its namespace, its worker counts, receiver credentials from the Secret, the NetworkPolicy's fences, and a
ServiceMonitor that reaches the metrics port of every Serve pod."""

from __future__ import annotations

import json
import re
import shutil
import subprocess
from functools import cache
from typing import Any

import pytest
import yaml

from tests.train_app.manifest_schemas import BASE, INFRA, ROOT, embedded, errors

OVERLAYS = {"dev": "alertsieve-dev", "prod": "alertsieve"}
KINDS = {
    "RayService",
    "ConfigMap",
    "CronJob",
    "ServiceAccount",
    "Role",
    "RoleBinding",
    "Secret",
    "NetworkPolicy",
    "Service",
    "PrometheusRule",
    "ServiceMonitor",
}


@cache
def built(overlay: str) -> tuple[dict[str, Any], ...]:
    """The documents `kubectl kustomize` makes of an overlay."""
    kubectl = shutil.which("kubectl")
    if kubectl is None:
        pytest.skip("kubectl is not installed (apt-get install kubectl): the overlays cannot be built")
    path = INFRA / "kustomize" / "overlays" / overlay
    result = subprocess.run([kubectl, "kustomize", str(path)], capture_output=True, text=True, timeout=120)
    assert result.returncode == 0, result.stderr
    return tuple(d for d in yaml.safe_load_all(result.stdout) if d)


def one(overlay: str, kind: str, name: str | None = None) -> dict[str, Any]:
    [doc] = [d for d in built(overlay) if d["kind"] == kind and name in (None, d["metadata"]["name"])]
    return doc


def pods(service: dict[str, Any]) -> list[dict[str, Any]]:
    """The pod templates of a RayService: the head's, then each worker group's."""
    cluster = service["spec"]["rayClusterConfig"]
    return [cluster["headGroupSpec"]["template"], *(g["template"] for g in cluster["workerGroupSpecs"])]


def selects(selector: dict[str, str], labels: dict[str, str]) -> bool:
    return all(labels.get(k) == v for k, v in selector.items())


@pytest.mark.parametrize("overlay", sorted(OVERLAYS))
def test_every_document_of_the_overlay_validates_against_the_vendored_schemas(overlay: str) -> None:
    docs = built(overlay)
    assert {d["kind"] for d in docs} == KINDS
    inner = [(f"{d['metadata']['name']}/{key}", doc) for d in docs for key, doc in embedded(d)]
    assert [doc["kind"] for _, doc in inner] == ["RayJob"]
    problems = {f"{d['kind']}/{d['metadata']['name']}": errors(d) for d in docs} | {w: errors(d) for w, d in inner}
    assert {where: e for where, e in problems.items() if e} == {}
    assert {d["metadata"].get("namespace") for d in docs} == {OVERLAYS[overlay]}


@pytest.mark.parametrize(
    ("kind", "breakage", "expected"),
    [
        ("PrometheusRule", lambda d: d["spec"]["groups"][0]["rules"][0].update(expression="up"), "Additional"),
        ("PrometheusRule", lambda d: d["spec"]["groups"][-1]["rules"][0].update({"for": "15 minutes"}), "match"),
        ("ServiceMonitor", lambda d: d["spec"]["endpoints"][0].update(scheme="tcp"), "is not one of"),
        ("ServiceMonitor", lambda d: d["spec"].pop("selector"), "'selector' is a required property"),
        ("NetworkPolicy", lambda d: d["spec"]["ingress"][1]["ports"][0].update(port_number=8000), "Additional"),
        ("Secret", lambda d: d.update(stringdata={}), "Additional properties"),
        ("RayService", lambda d: d["spec"]["upgradeStrategy"].update(type="Rolling"), "is not one of"),
    ],
)
def test_the_schemas_reject_broken_objects_of_the_overlay(kind: str, breakage: Any, expected: str) -> None:
    doc = json.loads(json.dumps(one("prod", kind)))
    assert errors(doc) == []
    breakage(doc)
    assert any(expected in e for e in errors(doc)), errors(doc)


def test_dev_is_one_small_worker_and_prod_keeps_two_or_more() -> None:
    def workers(overlay: str) -> dict[str, Any]:
        group: dict[str, Any] = one(overlay, "RayService")["spec"]["rayClusterConfig"]["workerGroupSpecs"][0]
        return group

    def memory(overlay: str) -> str:
        return str(workers(overlay)["template"]["spec"]["containers"][0]["resources"]["limits"]["memory"])

    dev, prod = workers("dev"), workers("prod")
    assert (dev["replicas"], dev["minReplicas"], dev["maxReplicas"]) == (1, 1, 1)
    assert 2 <= prod["minReplicas"] <= prod["replicas"] <= prod["maxReplicas"]
    assert int(memory("dev").removesuffix("Gi")) < int(memory("prod").removesuffix("Gi"))


@pytest.mark.parametrize("overlay", sorted(OVERLAYS))
def test_the_rayservice_proxies_on_every_node_and_upgrades_on_a_new_cluster(overlay: str) -> None:
    service = one(overlay, "RayService")
    assert yaml.safe_load(service["spec"]["serveConfigV2"])["proxy_location"] == "EveryNode"
    assert service["spec"]["upgradeStrategy"] == {"type": "NewCluster"}


def test_every_credential_variable_serve_config_names_comes_from_the_secret() -> None:
    # the receivers' *_env settings, those of the commented examples included (they are what a team uncomments)
    text = (ROOT / "serve_config.yaml").read_text()
    named = set(re.findall(r"\b(?:url|routing_key|token|username|password)_env: *([A-Z][A-Z0-9_]*)", text))
    assert {"PAGERDUTY_ROUTING_KEY", "SLACK_WEBHOOK_URL"} <= named
    wanted = named | {"ALERTSIEVE_API_TOKEN", "ALERTSIEVE_WEBHOOK_TOKEN"}
    secret = one("prod", "Secret")
    assert not {"data", "stringData"} & set(secret), "the placeholder must not carry values for apply to own"
    documented = (BASE / "secrets.yaml").read_text()
    for template in pods(one("prod", "RayService")):
        [container] = template["spec"]["containers"]
        refs = {e["name"]: e["valueFrom"]["secretKeyRef"] for e in container["env"] if "valueFrom" in e}
        assert wanted <= set(refs), wanted - set(refs)
        for name in wanted:
            assert refs[name]["name"] == secret["metadata"]["name"] and refs[name]["optional"] is True
            assert re.search(rf"^#\s+{re.escape(refs[name]['key'])}\s+{name}\s", documented, re.M), name


def test_the_network_policy_lets_in_serve_metrics_and_the_operator_only() -> None:
    policy = one("prod", "NetworkPolicy")["spec"]
    service = one("prod", "RayService")
    for template in pods(service):
        assert selects(policy["podSelector"]["matchLabels"], template["metadata"]["labels"])
    head_ports = {p["name"]: p["containerPort"] for p in pods(service)[0]["spec"]["containers"][0]["ports"]}
    open_to: dict[int, list[dict[str, Any]]] = {}
    for rule in policy["ingress"]:
        if "ports" not in rule:  # every port: only for the cluster's own pods
            assert rule["from"] == [{"podSelector": {"matchLabels": policy["podSelector"]["matchLabels"]}}]
            continue
        for port in rule["ports"]:
            open_to.setdefault(port["port"], []).extend(rule["from"])
    assert set(open_to) == {head_ports["serve"], head_ports["metrics"], head_ports["dashboard"], 52365}
    monitoring = {"namespaceSelector": {"matchLabels": {"kubernetes.io/metadata.name": "monitoring"}}}
    assert {"podSelector": {}} in open_to[head_ports["serve"]] and monitoring in open_to[head_ports["serve"]]
    assert open_to[head_ports["metrics"]] == [monitoring]
    operator = [
        {"namespaceSelector": {}, "podSelector": {"matchLabels": {"app.kubernetes.io/name": "kuberay-operator"}}}
    ]
    assert open_to[head_ports["dashboard"]] == operator and open_to[52365] == operator


def test_the_service_monitor_scrapes_the_metrics_port_of_every_serve_pod() -> None:
    monitor = one("prod", "ServiceMonitor")["spec"]
    [service] = [
        d
        for d in built("prod")
        if d["kind"] == "Service" and selects(monitor["selector"]["matchLabels"], d["metadata"]["labels"])
    ]
    assert service["spec"]["clusterIP"] == "None"  # headless: each pod is a target
    [endpoint] = monitor["endpoints"]
    [port] = [p for p in service["spec"]["ports"] if p["name"] == endpoint["port"]]
    for template in pods(one("prod", "RayService")):
        assert selects(service["spec"]["selector"], template["metadata"]["labels"])
        named = {p["name"]: p["containerPort"] for p in template["spec"]["containers"][0]["ports"]}
        assert named[port["targetPort"]] == port["port"] == 8080
