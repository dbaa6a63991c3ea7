"""What a hostile-input and fault probe found (issue 12, section 4), against the session's real Serve app:
lone surrogates, inputs that crashed the 422 handler, chunked over-size bodies, a year-9999 alert, fail-open
decisions in the decision log, and Ray listening beyond 127.0.0.1."""

from __future__ import annotations

import ipaddress
import json
import os
import time
from datetime import datetime, timedelta
from pathlib import Path
from typing import Any, cast

import httpx
import pytest

from alertsieve.schema import LoggedDecision
from alertsieve.settings import get_settings
from serve_app.config import AppArgs, IngressConfig, config_problem
from tests.conftest import TOKEN

pytestmark = pytest.mark.slow
AUTH = {"Authorization": f"Bearer {TOKEN}"}


def logged() -> list[LoggedDecision]:
    folder = Path(get_settings().state_location) / "decisions"
    return [
        LoggedDecision.model_validate_json(line) for p in folder.glob("*.jsonl") for line in p.read_text().splitlines()
    ]


def history_alert(history, i: int, **labels: str) -> dict[str, Any]:
    a = [h for h in history if not h.actionable][i]
    return {"labels": {**a.labels, **labels}, "annotations": a.annotations, "startsAt": a.startsAt.isoformat()}


def test_a_lone_surrogate_affects_only_its_own_alert(serve_url, small_history) -> None:
    good = [history_alert(small_history, i, pod=f"surrogate-{i}") for i in range(3)]
    bad = {
        **good[0],
        "labels": {**good[0]["labels"], "pod": "x\ud800", "team\udc00": "a\ud800"},
        "fingerprint": "f\ud800",
    }
    body = json.dumps({"alerts": [*good, bad]})  # ensure_ascii: the surrogates travel as \ud800 escapes
    for path in ("/v1/score", "/v1/alertmanager"):
        reply = httpx.post(f"{serve_url}{path}", content=body, headers={"content-type": "application/json"}, timeout=60)
        assert reply.status_code == 200, reply.text
        decisions = reply.json()["decisions"]
        assert len(decisions) == 4 and decisions[3]["fingerprint"] == "f\ufffd"


@pytest.mark.parametrize(
    ("method", "path", "content", "content_type", "code"),
    [
        ("POST", "/v1/score", b"alerts=1", "text/plain", 422),
        ("POST", "/v1/score", b"\xff\xfe", "application/octet-stream", 422),
        ("POST", "/v1/score", b'{"alerts": [{"labels": {"a\\ud800": 1}}]}', "application/json", 422),
        ("POST", "/v1/feedback", b'{"fingerprint": "\\ud800", "startsAt": NaN}', "application/json", 422),
        ("PUT", "/v1/thresholds/checkout", b'{"threshold": NaN, "by": "x", "reason": "y"}', "application/json", 422),
        (
            "PUT",
            "/v1/thresholds/checkout",
            b'{"threshold": Infinity, "by": "x", "reason": "y"}',
            "application/json",
            422,
        ),
        ("PUT", "/v1/thresholds/checkout", b'{"threshold": true, "by": "x", "reason": "y"}', "application/json", 422),
        (
            "PUT",
            "/v1/thresholds/checkout",
            b'{"threshold": 0.5, "by": "\\ud800", "reason": "y"}',
            "application/json",
            422,
        ),
        (
            "PUT",
            "/v1/thresholds/" + "s" * 201,
            b'{"threshold": 0.5, "by": "x", "reason": "y"}',
            "application/json",
            422,
        ),
        ("PUT", "/v1/thresholds/audit", b'{"threshold": 0.5, "by": "x", "reason": "y"}', "application/json", 405),
        ("DELETE", "/v1/thresholds/trends", b'{"by": "x"}', "application/json", 405),
        # a number is not a datetime (pydantic would read it as a Unix time): RFC 3339 text only
        ("GET", "/v1/decisions?since=0.5", b"", "application/json", 422),
        (
            "POST",
            "/v1/score",
            b'{"alerts": [{"labels": {"alertname": "A"}, "startsAt": "2026-01-05T09:00:00Z", "endsAt": 0}]}',
            "application/json",
            422,
        ),
    ],
)
def test_hostile_inputs_get_a_documented_4xx(serve_url, method, path, content, content_type, code) -> None:
    """Each of these was a 500 (the 422 handler itself crashed, or the store did); each code is in the
    OpenAPI of its route."""
    reply = httpx.request(
        method, f"{serve_url}{path}", content=content, timeout=30, headers={"content-type": content_type, **AUTH}
    )
    assert reply.status_code == code, reply.text
    assert reply.json()
    spec = httpx.get(f"{serve_url}/openapi.json", timeout=30).json()
    template = "/v1/thresholds/{service}" if path.startswith("/v1/thresholds/") else path.split("?")[0]
    assert str(code) in spec["paths"][template][method.lower()]["responses"]


def test_audit_route_is_not_shadowed_and_every_route_documents_its_errors(serve_url) -> None:
    assert httpx.get(f"{serve_url}/v1/thresholds/audit", timeout=30).status_code == 200
    spec = httpx.get(f"{serve_url}/openapi.json", timeout=30).json()
    assert {"401", "403", "413", "422", "503"} <= set(spec["paths"]["/v1/score"]["post"]["responses"])
    assert {"422", "502"} <= set(spec["paths"]["/v1/alertmanager"]["post"]["responses"])
    assert "requestBody" in spec["paths"]["/v1/alertmanager"]["post"]
    assert "503" in spec["paths"]["/readyz"]["get"]["responses"]


def test_chunked_over_size_body_is_413(serve_url) -> None:
    def chunks():
        yield b'{"alerts": ['
        for _ in range(40):
            yield b" " * 65536
        yield b"]}"

    reply = httpx.post(
        f"{serve_url}/v1/score", content=chunks(), headers={"content-type": "application/json"}, timeout=60
    )
    assert reply.status_code == 413, reply.text


def test_a_year_9999_alert_changes_nothing_for_the_next_ones(serve_url, small_history) -> None:
    """Unclamped, the stream clock jumped to 9999 and forgot every alert's history (the probe saw
    suppression fall from 50/600 to 0/600 until a restart). The same two-batch sequence runs twice, a
    month apart in stream time (older history is forgotten in between), the second time with a year-9999
    alert between its batches: the second batch must be decided as it was the first time. With the HEAD
    model, unclamped, its scores moved by up to 0.18; clamped, by 0.0002."""
    base = max(a.startsAt for a in small_history)

    def batch(tag: str, at: datetime) -> list[dict[str, Any]]:
        return [{**history_alert(small_history, i, pod=f"{tag}-{i}"), "startsAt": at.isoformat()} for i in range(12)]

    def scores(alerts: list[dict[str, Any]]) -> list[dict[str, Any]]:
        reply = httpx.post(f"{serve_url}/v1/score", json={"alerts": alerts}, timeout=60)
        assert reply.status_code == 200, reply.text
        decisions: list[dict[str, Any]] = reply.json()["decisions"]
        return decisions

    def gap(xs: list[dict[str, Any]], ys: list[dict[str, Any]]) -> float:
        return max(float(abs(x["score"] - y["score"])) for x, y in zip(xs, ys, strict=True))

    first, month = base + timedelta(days=30), base + timedelta(days=60)
    c1 = scores(batch("c1", first))
    c2 = scores(batch("c2", first + timedelta(minutes=1)))
    f1 = scores(batch("f1", month))
    future = {**history_alert(small_history, 0, pod="future"), "startsAt": "9999-01-01T00:00:00Z"}
    assert scores([future])[0]["decision"] in ("page", "suppress")
    f2 = scores(batch("f2", month + timedelta(minutes=1)))
    assert sum(a["decision"] == b["decision"] for a, b in zip(f2, c2, strict=True)) >= len(c2) - 1, (f2, c2)
    assert gap(f2, c2) <= gap(f1, c1) + 0.02, [(a["score"], b["score"]) for a, b in zip(f2, c2, strict=True)]


def test_fail_open_decisions_are_logged(serve_url, receiver, small_history) -> None:
    from ray import serve

    from serve_app.app import build_app

    marker = history_alert(small_history, 1, pod="fail-open-logged")
    serve.run(
        build_app(AppArgs(downstream_url=receiver.url, score_timeout_s=0.0001)), name="alertsieve", route_prefix="/"
    )
    try:
        deadline = time.monotonic() + 60
        while True:
            reply = httpx.post(f"{serve_url}/v1/score", json={"alerts": [marker]}, timeout=60).json()["decisions"][0]
            if reply["reason"] == "fail-open: timeout" or time.monotonic() > deadline:
                break
            marker = {**marker, "labels": {**marker["labels"], "pod": f"fail-open-{time.monotonic_ns()}"}}
            time.sleep(0.5)
        assert reply["reason"] == "fail-open: timeout" and reply["decision"] == "page"
    finally:
        serve.run(build_app(AppArgs(downstream_url=receiver.url)), name="alertsieve", route_prefix="/")
    mine = [e for e in logged() if e.alert.fingerprint == reply["fingerprint"]]
    assert mine and mine[0].applied and mine[0].decision.reason == "fail-open: timeout"


def test_protected_scoring_without_a_token_is_not_ready() -> None:
    assert config_problem(IngressConfig(protect_scoring=True), None)
    assert config_problem(IngressConfig(protect_scoring=True), "") and config_problem(IngressConfig(), None) is None
    assert config_problem(IngressConfig(protect_scoring=True), TOKEN) is None


def test_an_app_that_cannot_accept_alerts_is_not_ready(serve_url, receiver, monkeypatch) -> None:
    """protect_scoring without ALERTSIEVE_API_TOKEN answered 403 to every alert while /readyz said 200.
    A second real app whose Ingress has no token (set through Ray's runtime_env) says not ready, answers
    /v1/score with a 503, and forwards webhook notifications as they came."""
    from ray import serve
    from ray.serve.deployment import Deployment

    from serve_app import app as app_module
    from serve_app.ingress import Ingress

    no_token = {"num_cpus": 0.1, "runtime_env": {"env_vars": {"ALERTSIEVE_API_TOKEN": ""}}}
    ingress = cast(Deployment, Ingress)  # @serve.deployment made the class a Deployment
    monkeypatch.setattr(app_module, "Ingress", ingress.options(ray_actor_options=no_token))
    args = AppArgs(protect_scoring=True, downstream_url=receiver.url)
    serve.run(app_module.build_app(args), name="notoken", route_prefix="/notoken")
    try:
        url = f"{serve_url}/notoken"
        ready = httpx.get(f"{url}/readyz", timeout=60)
        assert ready.status_code == 503 and "ALERTSIEVE_API_TOKEN" in ready.json()["detail"]
        alert = {
            "labels": {"alertname": "NoToken", "service": "checkout"},
            "startsAt": "2026-01-05T09:00:00Z",
            "fingerprint": "00000000000000aa",
        }
        assert httpx.post(f"{url}/v1/score", json={"alerts": [alert]}, headers=AUTH, timeout=60).status_code == 503
        receiver.bodies.clear()
        reply = httpx.post(f"{url}/v1/alertmanager", json={"version": "4", "alerts": [alert]}, timeout=60)
        assert reply.status_code == 200 and reply.json()["unscored"] == {"config": 1}
        assert receiver.bodies == [{"version": "4", "alerts": [alert]}]
    finally:
        serve.delete("notoken")


def test_an_app_with_no_receiver_answers_503_and_is_not_ready(serve_url) -> None:
    """The shipped default (no downstream_url, no receivers) scored, forwarded nothing and answered 200, so
    Alertmanager counted every page delivered. A second real app with that config says not ready, naming
    what is missing, and answers the webhook 503 (Alertmanager retries a 5xx) with a JSON body saying why."""
    from ray import serve

    from serve_app.app import build_app

    serve.run(build_app(AppArgs()), name="noreceiver", route_prefix="/noreceiver")
    try:
        url = f"{serve_url}/noreceiver"
        ready = httpx.get(f"{url}/readyz", timeout=60)
        assert ready.status_code == 503 and "no receiver configured" in ready.json()["detail"]
        alert = {
            "labels": {"alertname": "NobodyToPage", "service": "checkout"},
            "startsAt": "2026-01-05T09:00:00Z",
            "fingerprint": "00000000000000ab",
        }
        reply = httpx.post(f"{url}/v1/alertmanager", json={"version": "4", "alerts": [alert]}, timeout=60)
        assert reply.status_code == 503 and reply.headers["content-type"].startswith("application/json")
        assert "no receiver configured" in reply.json()["detail"]
    finally:
        serve.delete("noreceiver")


def _loopback(address: str) -> bool:
    ip = ipaddress.ip_address(address.rsplit(":", 1)[0].strip("[]"))
    mapped = getattr(ip, "ipv4_mapped", None)
    return ip.is_loopback or bool(mapped and mapped.is_loopback)


def test_ray_and_serve_listen_on_loopback_only(serve_url) -> None:
    """GCS, raylet, agents, workers, Serve's proxy and the metrics export of this session's Ray: every
    listening TCP socket of a process this test run started is on 127.0.0.1 (or its IPv6 forms), but one:
    Ray 2.60 binds each Serve replica's inter-deployment gRPC server to "[::]:0" in code
    (ray/serve/_private/replica.py), with no option; it is behind Ray's token authentication."""
    from collections import Counter

    from tests.serve_app.sockets import descendants, listening

    sockets = listening(descendants(os.getpid()))
    assert len(sockets) >= 5, sockets
    beyond = [
        (pid, Path(f"/proc/{pid}/cmdline").read_bytes().split(b"\x00")[0], address)
        for pid, address in sockets
        if not _loopback(address)
    ]
    assert [b for b in beyond if not b[1].startswith(b"ray::ServeReplica")] == []
    assert set(Counter(pid for pid, _, _ in beyond).values()) <= {1}, "one gRPC port per replica, no more"
