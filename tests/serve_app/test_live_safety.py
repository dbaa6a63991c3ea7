"""Live safety in the Serve app (issue 19, part 4): the router's watch pauses a service whose stream departs
from validation (its suppressions page, reason live_safety), writes the pause to the audit log, keeps it
across a restart, and resumes when a person says so through POST /v1/live-safety/{service}/resume (token);
and against the session's real Serve app, a person's "should have paged" pauses the service: the gauge,
GET /v1/live-safety, the audit entry, the banner on the threshold and Suppressed pages (headless Chromium),
a live decision's reason, and the resume button on the banner.

The in-process tests use a stand-in for the model deployment (Serve cannot run there) that decides with the
small bundle's own thresholds, as its version; the router, its watch, the store and the audit log are real."""

from __future__ import annotations

import asyncio
import dataclasses
import time
from collections.abc import Awaitable
from pathlib import Path
from types import SimpleNamespace
from typing import Any

import httpx
import numpy as np
import pytest
from fastapi import FastAPI
from fastapi.testclient import TestClient

from alertsieve import metric_names as m
from alertsieve.bundle import ModelBundle
from alertsieve.schema import Alert, Decision, Reason
from alertsieve.store import LocalStore
from serve_app import live_safety_api
from serve_app.app_context import STATE_NAME, AppContext
from serve_app.config import IngressConfig, LiveSafetyConfig
from serve_app.router import Router
from serve_app.shards import ShardedRouter, score_as, shard_of, snapshot_blob
from tests.conftest import TOKEN
from tests.factories import alert
from tests.serve_app.test_ui import browser  # noqa: F401 - the headless Chromium fixture
from thresholds.overrides import LiveSafetyChange, OverrideLog

AUTH = {"Authorization": f"Bearer {TOKEN}"}
# min_validation 100: the small bundle's services are held to the pooled figures (12% above threshold)
ON = IngressConfig(live_safety=LiveSafetyConfig(enabled=True, min_validation=100))


class ThresholdScorer:
    """Stands in for a ModelScorer handle: scores 0.99 an alert labelled hot=yes, else 0.0, and decides it
    under the bundle's own thresholds, as the bundle's version."""

    def __init__(self, bundle: ModelBundle) -> None:
        self.bundle = bundle
        self.score = SimpleNamespace(remote=self._score)

    def _score(self, alerts: list[Alert], rows: np.ndarray) -> Awaitable[list[Decision]]:
        async def answer() -> list[Decision]:
            out = []
            for a in alerts:
                found = self.bundle.meta.policy.threshold_for(a.service())
                assert found is not None
                score = 0.99 if a.labels.get("hot") == "yes" else 0.0
                below = score < found[0]
                out.append(
                    Decision(
                        fingerprint=a.fingerprint,
                        service=a.service(),
                        score=score,
                        threshold=found[0],
                        decision="suppress" if below else "page",
                        model_version=self.bundle.version,
                        reason="stand-in",
                        reason_code=Reason.BELOW_THRESHOLD if below else Reason.AT_OR_ABOVE_THRESHOLD,
                        startsAt=a.startsAt,
                    )
                )
            return out

        return answer()


def router_on(tmp_path: Path, bundle: ModelBundle) -> Router:
    router = Router(ThresholdScorer(bundle), None, "champion", lambda ref: bundle, str(tmp_path))  # type: ignore[arg-type]
    router.configure(ON)
    return router


def burst(n: int, start: int, hot_every: int) -> list[Alert]:
    return [
        alert(
            name="Restart",
            service="checkout",
            at=9 * 24 * 60.0 + start + i,
            pod=f"p{start + i}",
            hot="yes" if hot_every and i % hot_every == 0 else "no",
        )
        for i in range(n)
    ]


def score(router: Router, alerts: list[Alert]) -> list[Decision]:
    """The router's decisions, once its watch's audit entries are written."""

    async def run() -> list[Decision]:
        decisions = await router.score(alerts)
        await asyncio.gather(*router.safety.tasks)
        return decisions

    return asyncio.run(run())


def audit(tmp_path: Path) -> list[LiveSafetyChange]:
    return [e for e in OverrideLog(LocalStore(tmp_path)).events() if isinstance(e, LiveSafetyChange)]


def test_a_departing_stream_pauses_is_audited_survives_a_restart_and_a_person_resumes(
    tmp_path: Path, small_bundle: ModelBundle
) -> None:
    router = router_on(tmp_path, small_bundle)
    calm = score(router, burst(60, 0, 8))  # one in eight above: validation has 12% above
    assert {d.decision for d in calm} == {"suppress", "page"} and audit(tmp_path) == []
    hot = score(router, burst(300, 100, 0))  # none above any more: the scores moved down
    turned = [d for d in hot if d.reason_code is Reason.LIVE_SAFETY]
    assert turned and all(d.decision == "page" and d.score < d.threshold for d in turned)
    assert turned[0].reason.startswith("live safety: checkout paused (share above threshold ")
    assert "in validation" in turned[0].reason and "the model: stand-in" in turned[0].reason
    assert hot[-1].decision == "page" and hot[-2].decision == "page"
    assert router.memory.was_paged(burst(300, 100, 0)[-1].occurrence.key), "remembered as paged: its resolution goes"

    [paused] = audit(tmp_path)  # written in the background while scoring
    assert OverrideLog(LocalStore(tmp_path)).overrides().thresholds == [], "an audit entry, not an override"
    assert (paused.service, paused.paused, paused.by) == ("checkout", True, "live-safety")
    view = asyncio.run(router.live_safety())
    assert view.enabled and [p.service for p in view.paused] == ["checkout"]
    [checkout] = [s for s in view.services if s.service == "checkout"]
    assert checkout.group == "*" and checkout.validation_alerts > 100 and checkout.above is not None

    asyncio.run(router.close())  # graceful shutdown snapshots it
    again = router_on(tmp_path, small_bundle)
    assert score(again, burst(1, 500, 0))[0].reason_code is Reason.LIVE_SAFETY

    client = api_client(again, tmp_path)
    body = {"by": "alice", "reason": "a deploy, checked"}
    assert client.post("/v1/live-safety/checkout/resume", json=body).status_code == 401
    assert (
        client.post("/v1/live-safety/checkout/resume", json=body, headers={"Authorization": "Bearer x"}).status_code
        == 403
    )
    reply = client.post("/v1/live-safety/checkout/resume", json=body, headers=AUTH)
    assert reply.status_code == 200, reply.text
    assert (reply.json()["paused"], reply.json()["by"], reply.json()["kind"]) == (False, "alice", "live_safety")
    assert client.post("/v1/live-safety/checkout/resume", json=body, headers=AUTH).status_code == 404
    assert client.get("/v1/live-safety").json()["paused"] == []
    assert [(c.paused, c.by) for c in audit(tmp_path)] == [(True, "live-safety"), (False, "alice")]
    assert score(again, burst(5, 600, 0))[0].decision == "suppress"


def test_should_have_paged_pauses_and_off_means_off(tmp_path: Path, small_bundle: ModelBundle) -> None:
    router = router_on(tmp_path, small_bundle)
    [missed] = score(router, burst(1, 0, 0))
    assert missed.decision == "suppress"

    async def say() -> None:
        await router.should_have_paged(missed, "bob")
        await asyncio.gather(*router.safety.tasks)

    asyncio.run(say())
    assert score(router, burst(1, 10, 0))[0].reason_code is Reason.LIVE_SAFETY
    assert "bob said a suppressed alert should have paged" in audit(tmp_path)[0].reason
    router.configure(IngressConfig(live_safety=LiveSafetyConfig(enabled=False)))
    assert score(router, burst(1, 20, 0))[0].decision == "suppress", "off: the model decides"
    assert asyncio.run(router.live_safety()).paused == []


class ShardHandle:
    """Stands in for a DeploymentHandle[StreamShard]: ``m.remote(...)`` awaits the router's port method ``m``."""

    def __init__(self, router: Router) -> None:
        for name in ("live_safety", "resume_suppression", "should_have_paged"):
            setattr(self, name, SimpleNamespace(remote=getattr(router, name)))
        self.score = SimpleNamespace(remote=lambda alerts, webhook: score_as(router, alerts, webhook))


def test_over_stream_shards_each_service_is_watched_by_its_shard(tmp_path: Path, small_bundle: ModelBundle) -> None:
    routers = []
    for i in range(2):
        scorer = ThresholdScorer(small_bundle)
        routers.append(Router(scorer, None, "champion", lambda ref: small_bundle, str(tmp_path), snapshot_blob(i, 2)))  # type: ignore[arg-type]
        routers[-1].configure(ON)
    sharded = ShardedRouter([ShardHandle(r) for r in routers], lambda: ("service",), LocalStore(tmp_path))
    services = ["checkout", "payments", "search", "auth"]
    owner = {s: routers[shard_of(s, 2)] for s in services}
    assert len({id(r) for r in owner.values()}) == 2, "the services span both shards"

    async def run() -> None:
        decisions = await sharded.score([alert(name="Restart", service=s, pod=f"p-{s}") for s in services])
        assert {d.decision for d in decisions} == {"suppress"}
        for d in decisions[:2]:  # checkout and payments: a person says both should have paged
            await sharded.should_have_paged(d, "erin")
        for r in routers:
            await asyncio.gather(*r.safety.tasks)
        view = await sharded.live_safety()
        assert [p.service for p in view.paused] == ["checkout", "payments"]
        assert {p.service for p in (await owner["checkout"].live_safety()).paused} == {"checkout"}
        assert await sharded.resume_suppression("checkout", "erin", "checked") is not None
        assert [p.service for p in (await sharded.live_safety()).paused] == ["payments"]
        again = await sharded.score([alert(name="Restart", service=s, pod=f"q-{s}") for s in services])
        assert [d.reason_code is Reason.LIVE_SAFETY for d in again] == [False, True, False, False]

    asyncio.run(run())


def api_client(router: Router, tmp_path: Path) -> TestClient:
    app = FastAPI()
    app.include_router(live_safety_api.router)
    context = AppContext.of(router.describe, LocalStore(tmp_path), TOKEN)
    setattr(app.state, STATE_NAME, dataclasses.replace(context, safety=router))
    return TestClient(app)


# ---- the session's real Serve app ----------------------------------------------------------------------
def redeploy(receiver_url: str, **live_safety: Any) -> None:
    """The session app with this live-safety config (only the Ingress's user_config changes: in place)."""
    from ray import serve

    from serve_app.app import build_app
    from serve_app.config import AppArgs

    args = AppArgs(downstream_url=receiver_url, live_safety=LiveSafetyConfig(**live_safety))
    serve.run(build_app(args), name="alertsieve", route_prefix="/")


def gauge(metrics_port: int, service: str) -> float | None:
    text = httpx.get(f"http://127.0.0.1:{metrics_port}/metrics", timeout=10).text
    name = m.prom(m.LIVE_SAFETY_PAUSED)
    values = [
        float(line.rsplit(" ", 1)[1])
        for line in text.splitlines()
        if line.startswith(name + "{") and f'service="{service}"' in line
    ]
    return max(values) if values else None


def wait_for(check: Any, what: str, timeout_s: float = 40.0) -> None:
    deadline = time.monotonic() + timeout_s
    while not check():
        assert time.monotonic() < deadline, what
        time.sleep(0.5)


def decide_again(url: str, alert_body: dict[str, Any], marker: str) -> dict[str, Any]:
    """The same alert as a new occurrence (its own pod label): the model's text, a new fingerprint."""
    body = {k: alert_body[k] for k in ("labels", "annotations", "startsAt")}
    body["labels"] = {**body["labels"], "pod": marker}
    decision: dict[str, Any] = httpx.post(f"{url}/v1/score", json={"alerts": [body]}, timeout=30).json()["decisions"][0]
    return decision


@pytest.mark.slow
def test_should_have_paged_pauses_the_service_in_the_serve_app(
    serve_url: str,
    receiver: Any,
    ray_cluster: int,
    small_history: Any,
    browser: Any,  # noqa: F811
) -> None:
    from selenium.webdriver.common.by import By
    from selenium.webdriver.support.ui import WebDriverWait

    from tests.serve_app.test_suppressed import feedback, suppressed_alerts

    redeploy(receiver.url, enabled=True)
    try:
        missed = suppressed_alerts(serve_url, small_history, "live-safety", 1)[0]
        service = missed["service"]
        assert httpx.get(f"{serve_url}/v1/live-safety").json()["paused"] == []
        assert feedback(serve_url, missed, True, by="carol").json()["late_page"] == "sent"

        view = httpx.get(f"{serve_url}/v1/live-safety").json()
        assert view["enabled"] and [p["service"] for p in view["paused"]] == [service]
        assert view["paused"][0]["cause"] == "should_have_paged"
        again = decide_again(serve_url, missed, "live-safety-after")
        assert (again["decision"], again["reason_code"]) == ("page", "live_safety")
        assert again["reason"].startswith(f"live safety: {service} paused (carol said a suppressed alert should")
        wait_for(lambda: gauge(ray_cluster, service) == 1.0, "the gauge shows the pause")
        entries = httpx.get(f"{serve_url}/v1/thresholds/audit", params={"service": service}).json()
        assert entries[0]["kind"] == "live_safety" and entries[0]["paused"] and entries[0]["by"] == "live-safety"

        wait = WebDriverWait(browser, 60)
        browser.get(f"{serve_url}/ui")
        wait.until(lambda d: d.find_element(By.TAG_NAME, "body").get_attribute("data-ready") == "true")
        banner = browser.find_element(By.ID, "live-safety-banner")
        assert banner.is_displayed() and f"LIVE SAFETY: {service} stops suppressing" in banner.text
        assert "carol said a suppressed alert should have paged" in banner.text
        audit_rows = browser.find_element(By.ID, "audit").text
        assert "live safety" in audit_rows and "paused" in audit_rows

        browser.get(f"{serve_url}/ui/suppressed?service={service}")
        wait.until(lambda d: d.find_element(By.TAG_NAME, "body").get_attribute("data-ready") == "true")
        banner = browser.find_element(By.ID, "live-safety-banner")
        assert banner.is_displayed() and service in banner.text
        browser.find_element(By.ID, "by").send_keys("dave")
        browser.find_element(By.ID, "token").send_keys(TOKEN)
        banner.find_element(By.CSS_SELECTOR, f'li[data-service="{service}"] button').click()
        wait.until(lambda d: not d.find_element(By.ID, "live-safety-banner").is_displayed())
        assert "suppression resumed for " + service in browser.find_element(By.ID, "message").text

        assert httpx.get(f"{serve_url}/v1/live-safety").json()["paused"] == []
        entries = httpx.get(f"{serve_url}/v1/thresholds/audit", params={"service": service}).json()
        assert (entries[0]["paused"], entries[0]["by"]) == (False, "dave")
        wait_for(lambda: gauge(ray_cluster, service) == 0.0, "the gauge shows the resume")
        assert decide_again(serve_url, missed, "live-safety-resumed")["decision"] == "suppress"
    finally:
        redeploy(receiver.url)  # off again (ALERTSIEVE_LIVE_SAFETY=false in the tests)
