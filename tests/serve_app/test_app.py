"""The real Serve app over HTTP: scoring, validation, the Alertmanager webhook, feedback, readiness."""

from __future__ import annotations

import json
from datetime import timedelta
from pathlib import Path
from typing import Any

import httpx
import pytest

from alertsieve.schema import LoggedDecision
from alertsieve.settings import get_settings
from tests.conftest import TOKEN
from tests.factories import T0, alert

pytestmark = pytest.mark.slow


def payload(a) -> dict[str, Any]:  # an Alert as a sender posts it
    sent: dict[str, Any] = json.loads(a.model_dump_json(exclude_none=True))
    return sent


def history_payloads(history, actionable: bool, count: int) -> list[dict[str, Any]]:
    return [payload(a) for a in history if a.actionable == actionable][:count]


def test_score_returns_decisions_in_order_with_model_version(serve_url, champion_version, small_history) -> None:
    alerts = history_payloads(small_history, False, 5) + history_payloads(small_history, True, 2)
    reply = httpx.post(f"{serve_url}/v1/score", json={"alerts": alerts}, timeout=30)
    assert reply.status_code == 200, reply.text
    decisions = reply.json()["decisions"]
    assert [d["fingerprint"] for d in decisions] == [a["fingerprint"] for a in alerts]
    assert {d["model_version"] for d in decisions} == {champion_version}
    assert {d["arm"] for d in decisions} == {"champion"}
    assert all(d["neighbours"] for d in decisions)
    assert all((d["decision"] == "suppress") == (d["score"] < d["threshold"]) for d in decisions)


def test_unknown_service_is_paged(serve_url) -> None:
    unseen = alert(name="BrandNew", service="never-seen-service", at=T0)
    reply = httpx.post(f"{serve_url}/v1/score", json={"alerts": [payload(unseen)]}, timeout=30)
    decision = reply.json()["decisions"][0]
    assert decision["decision"] == "page" and "unknown service" in decision["reason"]


def test_first_sightings_are_decided_with_neighbours(serve_url, small_history) -> None:
    """Texts the model never saw, sent concurrently: each is embedded and looked up (one Embedder call,
    batched across the requests) and decided by the model, not failed open."""
    from concurrent.futures import ThreadPoolExecutor

    known = history_payloads(small_history, False, 1)[0]
    fresh = [
        {
            **known,
            "annotations": {"summary": f"first sighting number {word} of this text"},
            "fingerprint": f"first-{word}",
        }
        for word in ("one", "two", "three", "four", "five", "six")
    ]

    def score(body: dict[str, Any]) -> dict[str, Any]:
        reply = httpx.post(f"{serve_url}/v1/score", json={"alerts": [body]}, timeout=30)
        assert reply.status_code == 200, reply.text
        decision: dict[str, Any] = reply.json()["decisions"][0]
        return decision

    with ThreadPoolExecutor(len(fresh)) as pool:
        decisions = list(pool.map(score, fresh))
    assert [d["fingerprint"] for d in decisions] == [a["fingerprint"] for a in fresh]
    assert all(d["neighbours"] and not d["reason"].startswith("fail-open") for d in decisions)


@pytest.mark.parametrize(
    ("body", "field"),
    [
        ({"alerts": [{"labels": {}, "startsAt": "2026-01-05T00:00:00Z"}]}, "body.alerts.0.labels"),
        ({"alerts": [{"labels": {"alertname": "A"}}]}, "body.alerts.0.startsAt"),
        ({"alerts": [{"labels": {"alertname": "A"}, "startsAt": "yesterday"}]}, "body.alerts.0.startsAt"),
        ({"alerts": []}, "body.alerts"),
        ({}, "body.alerts"),
    ],
)
def test_bad_input_gets_422_naming_the_field(serve_url, body, field) -> None:
    reply = httpx.post(f"{serve_url}/v1/score", json=body, timeout=30)
    assert reply.status_code == 422
    assert field in reply.json()["message"]


def test_malformed_json_and_oversized_bodies_are_4xx(serve_url) -> None:
    reply = httpx.post(f"{serve_url}/v1/score", content=b"{not json", headers={"content-type": "application/json"})
    assert reply.status_code == 422
    big = b'{"alerts": [' + b" " * 2_100_000 + b"]}"
    assert (
        httpx.post(
            f"{serve_url}/v1/score", content=big, headers={"content-type": "application/json"}, timeout=30
        ).status_code
        == 413
    )
    many = [payload(alert(at=i)) for i in range(1001)]
    assert httpx.post(f"{serve_url}/v1/score", json={"alerts": many}, timeout=60).status_code == 413


def test_alertmanager_webhook_forwards_only_pages(serve_url, receiver, small_history) -> None:
    # occurrences of their own (a second later): an occurrence paged in an earlier test keeps its resolution
    picked = [a for a in small_history if not a.actionable][:6] + [a for a in small_history if a.actionable][:2]
    firing = [payload(a.model_copy(update={"startsAt": a.startsAt + timedelta(seconds=1)})) for a in picked]
    body: dict[str, Any] = {
        "version": "4",
        "groupKey": '{}:{alertname="x"}',
        "status": "firing",
        "receiver": "alertsieve",
        "groupLabels": {},
        "commonLabels": {},
        "commonAnnotations": {},
        "externalURL": "http://am",
        "truncatedAlerts": 0,
        "newerField": {"kept": True},
        "alerts": [{**a, "status": "firing", "endsAt": "0001-01-01T00:00:00Z"} for a in firing],
    }
    receiver.bodies.clear()
    reply = httpx.post(f"{serve_url}/v1/alertmanager", json=body, timeout=30)
    assert reply.status_code == 200, reply.text
    result = reply.json()
    paged = {d["fingerprint"] for d in result["decisions"] if d["decision"] == "page"}
    assert result["forwarded"] == len(paged) > 0
    assert len(receiver.bodies) == 1
    sent = receiver.bodies[0]
    assert {a["fingerprint"] for a in sent["alerts"]} == paged
    assert sent["groupKey"] == body["groupKey"] and sent["newerField"] == {"kept": True}

    # their resolutions: forwarded only where the firing alert was paged
    resolved = {
        **body,
        "status": "resolved",
        "alerts": [{**a, "status": "resolved", "endsAt": "2026-01-20T00:00:00Z"} for a in body["alerts"]],
    }
    receiver.bodies.clear()
    assert httpx.post(f"{serve_url}/v1/alertmanager", json=resolved, timeout=30).status_code == 200
    forwarded = {a["fingerprint"] for b in receiver.bodies for a in b["alerts"]}
    assert forwarded == paged


def test_downstream_failure_is_502_so_alertmanager_retries(serve_url, receiver, small_history) -> None:
    alerts = history_payloads(small_history, True, 1)
    receiver.fail = True
    try:
        reply = httpx.post(f"{serve_url}/v1/alertmanager", json={"version": "4", "alerts": alerts}, timeout=30)
    finally:
        receiver.fail = False
    assert reply.status_code == 502


def test_feedback_needs_the_token_and_is_stored_durably(serve_url) -> None:
    body = {"fingerprint": "abc123", "startsAt": "2026-01-05T10:00:00Z", "actionable": True, "by": "oncall"}
    assert httpx.post(f"{serve_url}/v1/feedback", json=body).status_code == 401
    assert (
        httpx.post(f"{serve_url}/v1/feedback", json=body, headers={"Authorization": "Bearer wrong"}).status_code == 403
    )
    assert (
        httpx.post(
            f"{serve_url}/v1/feedback", json={**body, "by": ""}, headers={"Authorization": f"Bearer {TOKEN}"}
        ).status_code
        == 422
    )
    reply = httpx.post(f"{serve_url}/v1/feedback", json=body, headers={"Authorization": f"Bearer {TOKEN}"})
    assert reply.status_code == 202
    stored = [
        json.loads(line)
        for p in (Path(get_settings().state_location) / "feedback").glob("*.jsonl")
        for line in p.read_text().splitlines()
    ]
    assert any(f["fingerprint"] == "abc123" and f["by"] == "oncall" for f in stored)


def test_every_decision_is_logged_with_its_alert(serve_url) -> None:
    marker = alert(name="LoggedOnce", service="checkout", at=T0, summary="log me")
    httpx.post(f"{serve_url}/v1/score", json={"alerts": [payload(marker)]}, timeout=30)
    lines = [
        LoggedDecision.model_validate_json(line)
        for p in (Path(get_settings().state_location) / "decisions").glob("*.jsonl")
        for line in p.read_text().splitlines()
    ]
    mine = [entry for entry in lines if entry.alert.fingerprint == marker.fingerprint]
    assert mine and mine[0].applied and mine[0].decision.arm == "champion"


def test_health_readiness_and_docs(serve_url, champion_version) -> None:
    assert httpx.get(f"{serve_url}/healthz").json() == {"status": "alive"}
    ready = httpx.get(f"{serve_url}/readyz", timeout=30)
    assert ready.status_code == 200 and ready.json() == {"status": "ready"}  # issue 23: nothing of the models
    assert httpx.get(f"{serve_url}/v1/models").json()["champion"]["model_version"] == champion_version
    spec = httpx.get(f"{serve_url}/openapi.json").json()
    assert {"/v1/score", "/v1/alertmanager", "/v1/feedback", "/readyz"} <= set(spec["paths"])


def test_serve_config_names_the_apps_deployments(serve_url) -> None:
    """Every deployment serve_config.yaml configures exists in the app (Serve refuses unknown names),
    and the app runs nothing the config forgot (the challenger scorer is configured by default)."""
    import yaml
    from ray import serve

    config = yaml.safe_load((Path(__file__).resolve().parents[2] / "serve_config.yaml").read_text())
    (app,) = config["applications"]
    configured = {d["name"] for d in app["deployments"]}
    running = set(serve.status().applications["alertsieve"].deployments)
    assert configured == running == {"Ingress", "ChampionScorer", "Embedder"}
    assert app["import_path"] == "serve_app.app:build_app"


def exported(metrics_port: int, name: str) -> float:
    """The sum over all series of one metric on Ray's Prometheus export."""
    text = httpx.get(f"http://127.0.0.1:{metrics_port}/metrics", timeout=10).text
    return sum(
        float(line.rsplit(" ", 1)[1])
        for line in text.splitlines()
        if line.startswith(name + "{") or line.startswith(name + " ")
    )


def test_familiar_texts_are_remembered_by_the_scorer(serve_url, ray_cluster, small_history) -> None:
    """Texts the model was trained on are decided from the scorer's memory (filled at model load): the
    embedding-cache hits grow by one per familiar alert, and the decisions carry neighbours all the same."""
    import time

    from alertsieve import metric_names as m

    hits, lookups = m.prom(m.EMBED_CACHE_HITS, counter=True), m.prom(m.EMBED_CACHE_LOOKUPS, counter=True)
    time.sleep(2.5)  # let the exporter catch up with earlier tests' traffic
    before = exported(ray_cluster, hits), exported(ray_cluster, lookups)
    alerts = history_payloads(small_history, False, 3)
    reply = httpx.post(f"{serve_url}/v1/score", json={"alerts": alerts}, timeout=30)
    assert reply.status_code == 200
    assert all(d["neighbours"] and not d["reason"].startswith("fail-open") for d in reply.json()["decisions"])
    deadline = time.monotonic() + 30
    while time.monotonic() < deadline and exported(ray_cluster, lookups) < before[1] + 3:
        time.sleep(0.5)
    assert exported(ray_cluster, lookups) - before[1] == 3
    assert exported(ray_cluster, hits) - before[0] == 3
