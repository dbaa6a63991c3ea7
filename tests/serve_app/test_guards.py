"""The guards in front of every route (issue 12, finding 14): the Host header check, the token on reads
under ``protect_reads``, and the arrival time that scoring deadlines count from. Unit level, through
FastAPI's TestClient over a small app with the same middleware the Ingress adds."""

from __future__ import annotations

import time

import pytest
from fastapi import FastAPI, Request
from fastapi.testclient import TestClient

from serve_app.config import IngressConfig
from serve_app.guards import GuardPolicy, RequestGuards, arrived_at, default_hosts, host_of

TOKEN = "guard-token"


def client(policy: GuardPolicy) -> TestClient:
    app = FastAPI()
    app.add_middleware(RequestGuards, policy=lambda scope: policy)

    @app.get("/v1/thresholds/audit")
    async def audit(request: Request) -> dict[str, float]:
        return {"arrived": arrived_at(request.scope)}

    @app.post("/v1/feedback")
    async def feedback() -> dict[str, bool]:
        return {"stored": True}

    @app.post("/v1/alertmanager")
    async def webhook() -> dict[str, bool]:
        return {"relayed": True}

    @app.get("/healthz")
    async def healthz() -> dict[str, str]:
        return {"status": "alive"}

    return TestClient(app, base_url="http://127.0.0.1:8000")


@pytest.mark.parametrize(
    ("header", "host"),
    [("127.0.0.1:8000", "127.0.0.1"), ("LocalHost", "localhost"), ("[::1]:8000", "::1"), ("::1", "::1"), ("", "")],
)
def test_host_of_strips_the_port(header: str, host: str) -> None:
    assert host_of(header) == host


def test_by_default_only_loopback_names_and_the_bind_host_are_served() -> None:
    policy = GuardPolicy.of(IngressConfig().allowed_hosts, "127.0.0.1", False, TOKEN)
    with client(policy) as c:
        for host in ("127.0.0.1:8000", "localhost:8000", "[::1]:8000"):
            assert c.get("/v1/thresholds/audit", headers={"host": host}).status_code == 200, host
        refused = c.get("/v1/thresholds/audit", headers={"host": "rebound.attacker.example"})
        assert refused.status_code == 400 and refused.json() == {"detail": "Host header not allowed"}
        assert c.post("/v1/feedback", headers={"host": "rebound.attacker.example"}).status_code == 400
        assert c.get("/healthz", headers={"host": "10.1.2.3:8000"}).status_code == 200  # probes use the pod IP
    assert default_hosts("alertsieve.internal") == frozenset({"127.0.0.1", "localhost", "::1", "alertsieve.internal"})


def test_the_webhook_takes_any_host_so_a_proxy_that_rewrites_it_loses_no_notification() -> None:
    """Issue 23: a 400 on POST /v1/alertmanager makes Alertmanager drop the notification; every other route
    still refuses the rebound host, and protected reads still need the token."""
    policy = GuardPolicy.of(None, "127.0.0.1", True, TOKEN)
    with client(policy) as c:
        rewritten = {"host": "alertsieve-gateway.internal"}
        assert c.post("/v1/alertmanager", headers=rewritten).json() == {"relayed": True}
        assert c.post("/v1/feedback", headers=rewritten).status_code == 400
        assert c.get("/v1/thresholds/audit", headers=rewritten).status_code == 400


def test_a_server_bound_to_every_interface_serves_any_host_unless_a_list_is_set() -> None:
    with client(GuardPolicy.of(None, "0.0.0.0", False, TOKEN)) as c:
        assert c.get("/v1/thresholds/audit", headers={"host": "alertsieve.svc:8000"}).status_code == 200
    listed = GuardPolicy.of(["alertsieve.example.com", "*.svc.cluster.local"], "0.0.0.0", False, TOKEN)
    with client(listed) as c:
        for host, code in [
            ("alertsieve.example.com", 200),
            ("alertsieve.ops.svc.cluster.local:8000", 200),
            ("svc.cluster.local", 400),
            ("other.example.com", 400),
        ]:
            assert c.get("/v1/thresholds/audit", headers={"host": host}).status_code == code, host
    with client(GuardPolicy.of(["*"], "127.0.0.1", False, TOKEN)) as c:
        assert c.get("/v1/thresholds/audit", headers={"host": "anything"}).status_code == 200


def test_reads_are_open_by_default_and_need_the_token_when_protected() -> None:
    with client(GuardPolicy.of(None, "127.0.0.1", False, TOKEN)) as c:
        assert c.get("/v1/thresholds/audit").status_code == 200
    with client(GuardPolicy.of(None, "127.0.0.1", True, TOKEN)) as c:
        missing = c.get("/v1/thresholds/audit")
        assert missing.status_code == 401 and missing.headers["www-authenticate"] == "Bearer"
        assert c.get("/v1/thresholds/audit", headers={"authorization": "Bearer wrong"}).status_code == 403
        assert c.get("/v1/thresholds/audit", headers={"authorization": f"Bearer {TOKEN}"}).status_code == 200
        assert c.post("/v1/feedback").status_code == 200  # writes check their own token, in the route
        assert c.get("/healthz").status_code == 200
    with client(GuardPolicy.of(None, "127.0.0.1", True, None)) as c:
        refused = c.get("/v1/thresholds/audit", headers={"authorization": "Bearer anything"})
        assert refused.status_code == 403 and "ALERTSIEVE_API_TOKEN" in refused.json()["detail"]


def test_the_arrival_time_is_stamped_before_the_route_runs() -> None:
    before = time.monotonic()
    with client(GuardPolicy.of(None, "127.0.0.1", False, TOKEN)) as c:
        arrived = c.get("/v1/thresholds/audit").json()["arrived"]
    assert before <= arrived <= time.monotonic()
