"""Champion/challenger routing on the real Serve app: sticky A/B split, shadow mode, config updates
without dropped requests, and a killed replica that loses no alert (fail open, then restored)."""

from __future__ import annotations

import json
import threading
import time
from collections.abc import Sequence
from pathlib import Path
from typing import Any

import httpx
import pytest
import ray
from ray import serve

from alertsieve.schema import Alert, LoggedDecision
from alertsieve.settings import get_settings
from serve_app.app import build_app
from serve_app.config import AppArgs, RouterConfig
from tests.factories import T0, alert

pytestmark = pytest.mark.slow


def score(url: str, alerts: Sequence[Alert]) -> list[dict[str, Any]]:
    body = {"alerts": [json.loads(a.model_dump_json(exclude_none=True)) for a in alerts]}
    reply = httpx.post(f"{url}/v1/score", json=body, timeout=60)
    assert reply.status_code == 200, reply.text
    decisions: list[dict[str, Any]] = reply.json()["decisions"]
    return decisions


def deploy(args: AppArgs) -> None:
    serve.run(build_app(args), name="alertsieve", route_prefix="/")


class Traffic:
    """Single-alert requests in a background thread; records every status code and decision."""

    def __init__(self, url: str) -> None:
        self.url = url
        self.codes: list[int | str] = []  # a status code, or the name of the transport error
        self.decisions: list[dict[str, Any]] = []
        self.stop = threading.Event()
        self.thread = threading.Thread(target=self.run, daemon=True)

    def run(self) -> None:
        i = 0
        while not self.stop.is_set():
            i += 1
            a = alert(name="HighLatency", service="checkout", at=float(i % 500), pod=f"checkout-{i}")
            try:
                reply = httpx.post(
                    f"{self.url}/v1/score", json={"alerts": [json.loads(a.model_dump_json())]}, timeout=120
                )
                self.codes.append(reply.status_code)
                if reply.status_code == 200:
                    self.decisions.append(reply.json()["decisions"][0])
            except httpx.HTTPError as exc:
                self.codes.append(type(exc).__name__)
            time.sleep(0.05)

    def __enter__(self) -> Traffic:
        self.thread.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self.stop.set()
        self.thread.join(timeout=60)


def eventually(call, done, timeout_s: float = 60.0):
    """The result of ``call`` once ``done`` holds: after `serve.run` returns, handles learn of the new
    replicas asynchronously, so the old Ingress may answer for a few more requests."""
    deadline = time.monotonic() + timeout_s
    result = call()
    while not done(result) and time.monotonic() < deadline:
        time.sleep(0.5)
        result = call()
    return result


@pytest.fixture
def restore_app(serve_url, receiver):
    yield
    deploy(AppArgs(downstream_url=receiver.url))


def test_ab_split_is_sticky_and_shadow_is_logged_not_applied(serve_url, champion_version, receiver, restore_app):
    with Traffic(serve_url) as traffic:
        deploy(
            AppArgs(
                challenger=champion_version,
                router=RouterConfig(mode="ab", challenger_weight=0.5),
                downstream_url=receiver.url,
            )
        )
    assert traffic.codes and set(traffic.codes) == {200}, "a config update drops no request"

    alerts = [alert(name="HighLatency", service="checkout", at=T0, pod=f"p{i}", team=f"t{i}") for i in range(40)]
    first = eventually(
        lambda: score(serve_url, alerts), lambda ds: {d["arm"] for d in ds} == {"champion", "challenger"}
    )
    arms = {d["fingerprint"]: d["arm"] for d in first}
    assert set(arms.values()) == {"champion", "challenger"}
    again = score(serve_url, alerts)
    assert {d["fingerprint"]: d["arm"] for d in again} == arms  # sticky by fingerprint

    deploy(AppArgs(challenger=champion_version, router=RouterConfig(mode="shadow"), downstream_url=receiver.url))
    probes = [alert(name="DiskPressure", service="checkout", at=T0, pod=f"probe{i}", team=f"p{i}") for i in range(20)]
    eventually(lambda: score(serve_url, probes), lambda ds: {d["arm"] for d in ds} == {"champion"})
    shadowed = [alert(name="DiskPressure", service="checkout", at=T0, pod=f"s{i}", team="shadow") for i in range(5)]
    assert {d["arm"] for d in score(serve_url, shadowed)} == {"champion"}
    wanted = {a.fingerprint for a in shadowed}
    deadline = time.monotonic() + 20
    while time.monotonic() < deadline:
        logged = [
            LoggedDecision.model_validate_json(line)
            for p in (Path(get_settings().state_location) / "decisions").glob("*.jsonl")
            for line in p.read_text().splitlines()
        ]
        shadow = [e for e in logged if e.alert.fingerprint in wanted and e.decision.arm == "shadow"]
        if len(shadow) == len(wanted):
            break
        time.sleep(0.5)
    assert len(shadow) == len(wanted) and not any(e.applied for e in shadow)


def test_killed_scorer_replica_loses_no_alert(serve_url):
    names = [a["name"] for a in ray.util.list_named_actors(all_namespaces=True) if "ChampionScorer" in a["name"]]
    assert names, "the champion scorer replica runs as a named actor"
    with Traffic(serve_url) as traffic:
        time.sleep(1.0)
        for name in names:
            ray.kill(ray.get_actor(name, namespace="serve"), no_restart=True)
        time.sleep(3.0)
    assert set(traffic.codes) == {200}, "every request was answered"
    assert all(d["decision"] == "page" for d in traffic.decisions if d["reason"].startswith("fail-open"))
    deadline = time.monotonic() + 90
    while time.monotonic() < deadline:  # Serve starts a new replica; decisions come from the model again
        decision = score(serve_url, [alert(name="HighLatency", service="checkout", at=T0, pod="after-kill")])[0]
        if not decision["reason"].startswith("fail-open"):
            break
        time.sleep(1.0)
    assert not decision["reason"].startswith("fail-open")
