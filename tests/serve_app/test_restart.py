"""The Ingress killed hard, on the session's real Serve app (issue 12): familiar alerts are still familiar
after the restart (the router's snapshot, ``serve_app/snapshot.py``), and a kill while real Alertmanager is
delivering loses no alert (finding 11: Alertmanager retries a failed webhook notification).

The Ingress replica is killed with ``ray.kill``, so no graceful shutdown runs: only the periodic snapshot
(``snapshot_every_s``, 1 s here) carries the memory over, and Serve's controller starts a new replica. The
receiver is the session's local HTTP server (conftest.Receiver), the one stand-in: no pager runs here."""

from __future__ import annotations

import logging
import time
from collections.abc import Callable, Collection, Iterator
from datetime import datetime, timedelta
from pathlib import Path
from typing import Any

import httpx
import pytest

from alertsieve.schema import fingerprint_of
from alertsieve.settings import get_settings
from serve_app.config import AppArgs
from serve_app.snapshot import SNAPSHOT_BLOB, decode
from tests.conftest import TOKEN
from tests.serve_app.test_alertmanager import alertmanager, delivered_fingerprints, wait_until_delivered  # noqa: F401
from tests.serve_app.test_suppressed import suppressed_alerts

pytestmark = pytest.mark.slow
AUTH = {"Authorization": f"Bearer {TOKEN}"}
PROBE = {"labels": {"alertname": "RestartProbe", "service": "checkout"}, "startsAt": "2026-01-05T09:00:00Z"}
log = logging.getLogger(__name__)


def deploy(receiver_url: str, **args: Any) -> None:
    from ray import serve

    from serve_app.app import build_app

    serve.run(build_app(AppArgs(downstream_url=receiver_url, **args)), name="alertsieve", route_prefix="/")


def ingress_replicas() -> set[str]:
    import ray

    return {
        a["name"]
        for a in ray.util.list_named_actors(all_namespaces=True)
        if a["namespace"] == "serve" and "alertsieve#Ingress#" in a["name"]
    }


def kill_ingress() -> set[str]:
    """Kill the Ingress replica hard (no graceful shutdown); Serve's controller starts another."""
    import ray

    names = ingress_replicas()
    assert names, "no Ingress replica to kill"
    for name in names:
        ray.kill(ray.get_actor(name, namespace="serve"), no_restart=False)
    return names


def wait_for(check: Callable[[], bool], timeout_s: float, what: str) -> None:
    deadline = time.monotonic() + timeout_s
    while not check():
        assert time.monotonic() < deadline, f"not within {timeout_s:g} s: {what}"
        time.sleep(0.25)


def answers(url: str) -> bool:
    """Ready, and scoring: the replica that answers is a live one."""
    try:
        ready = httpx.get(f"{url}/readyz", timeout=10).status_code == 200
        return ready and httpx.post(f"{url}/v1/score", json={"alerts": [PROBE]}, timeout=10).status_code == 200
    except httpx.HTTPError:
        return False


def wait_serving(url: str, killed: Collection[str] = ()) -> None:
    wait_for(lambda: bool(ingress_replicas() - set(killed)), 120, "Serve starts a new Ingress replica")
    wait_for(lambda: answers(url), 120, "the new Ingress answers")


@pytest.fixture(scope="module")
def app(serve_url: str, receiver) -> Iterator[str]:
    """The session app snapshotting every second; its normal args again afterwards, and ready."""
    deploy(receiver.url, snapshot_every_s=1.0)
    try:
        wait_serving(serve_url)
        yield serve_url
    finally:
        deploy(receiver.url)
        wait_serving(serve_url)


def blob() -> Path:
    return Path(get_settings().state_location) / "blobs" / SNAPSHOT_BLOB  # where LocalStore.put_blob puts it


def snapshot_holds(keys: set[tuple[str, float]], after: float) -> bool:
    try:
        if blob().stat().st_mtime <= after:
            return False
        saved = decode(blob().read_bytes())
    except (OSError, ValueError):
        return False
    return keys <= {(d.fingerprint, d.startsAt.timestamp()) for d in saved.decisions if d.startsAt}


def key(alert: dict[str, Any]) -> tuple[str, float]:
    return alert["fingerprint"], datetime.fromisoformat(alert["startsAt"]).timestamp()


def notify(url: str, alert: dict[str, Any]) -> dict[str, Any]:
    reply = httpx.post(f"{url}/v1/alertmanager", json={"version": "4", "alerts": [alert]}, timeout=60)
    assert reply.status_code == 200, reply.text
    return dict(reply.json())


def resolved(alert: dict[str, Any]) -> dict[str, Any]:
    ends = datetime.fromisoformat(alert["startsAt"]) + timedelta(hours=1)
    return {**alert, "status": "resolved", "endsAt": ends.isoformat()}


def forwarded(receiver, fingerprint: str) -> list[dict[str, Any]]:
    return [a for b in list(receiver.bodies) for a in b.get("alerts", []) if a.get("fingerprint") == fingerprint]


def score_of(url: str, alert: dict[str, Any]) -> dict[str, Any]:
    reply = httpx.post(f"{url}/v1/score", json={"alerts": [alert]}, timeout=30)
    assert reply.status_code == 200, reply.text
    return dict(reply.json()["decisions"][0])


def feedback_decision(url: str, alert: dict[str, Any]) -> str | None:
    body = {"fingerprint": alert["fingerprint"], "startsAt": alert["startsAt"], "actionable": False, "by": "restart"}
    reply = httpx.post(f"{url}/v1/feedback", json=body, headers=AUTH, timeout=30)
    assert reply.status_code == 202, reply.text
    decision: str | None = reply.json()["decision"]
    return decision


def test_familiar_alerts_are_still_familiar_after_the_ingress_is_killed(app, receiver, small_history) -> None:
    began = time.time()
    noise = suppressed_alerts(app, small_history, "restart", 3)  # via /v1/score: remembered as suppressed
    before = score_of(app, noise[0])  # a resend: the same occurrence, the same row
    actionable = next(a for a in small_history if a.actionable)
    labels = {**actionable.labels, "pod": "restart-paged"}
    paged = {
        "labels": labels,
        "annotations": actionable.annotations,
        "startsAt": actionable.startsAt.isoformat(),
        "endsAt": "0001-01-01T00:00:00Z",
        "status": "firing",
        "fingerprint": fingerprint_of(labels),
    }  # firing for months: it pages (by the model, or by delayed paging), and that is all this needs
    assert notify(app, paged)["decisions"][0]["decision"] == "page"
    assert forwarded(receiver, paged["fingerprint"])
    keys = {key(paged)} | {key(a) for a in noise}
    wait_for(lambda: snapshot_holds(keys, began), 30, "the snapshot holds the decisions")

    wait_serving(app, kill_ingress())
    receiver.bodies.clear()
    notify(app, resolved(paged))
    (resolution,) = forwarded(receiver, paged["fingerprint"])
    assert resolution["status"] == "resolved" and resolution["endsAt"] == resolved(paged)["endsAt"]
    assert datetime.fromisoformat(resolution["startsAt"]) == datetime.fromisoformat(paged["startsAt"])
    # remembered as suppressed: its resolution is not forwarded (a forgotten one is, to fail open: below)
    assert notify(app, resolved(noise[1]))["forwarded"] == 0 and not forwarded(receiver, noise[1]["fingerprint"])
    assert feedback_decision(app, noise[0]) == before["decision"] == "suppress"
    after = score_of(app, noise[0])
    assert abs(after["score"] - before["score"]) < 1e-6 and after["decision"] == before["decision"]

    # the control: with the snapshot gone, the memory is gone (deleted on both sides of the kill, so a write
    # in between cannot bring it back; the new replica reads it seconds later)
    blob().unlink(missing_ok=True)
    killed = kill_ingress()
    blob().unlink(missing_ok=True)
    wait_serving(app, killed)
    receiver.bodies.clear()
    assert notify(app, resolved(noise[2]))["forwarded"] == 1 and forwarded(receiver, noise[2]["fingerprint"])


def test_a_kill_while_alertmanager_delivers_loses_no_alert(app, alertmanager, receiver) -> None:  # noqa: F811
    """Finding 11: the notifications in flight fail, and Alertmanager sends them again (it retries a
    connection failure or a 5xx, within each flush and at the next one) until the new replica takes them."""
    marker = "killed"
    posted: list[dict[str, Any]] = [
        {
            "labels": {"alertname": f"Killed{i % 10}", "service": "checkout", "pod": f"checkout-{i}", "case": marker},
            "annotations": {"summary": "storm while the Ingress restarts"},
            "startsAt": "2026-01-05T09:00:00Z",
        }
        for i in range(300)
    ]  # ten groups of 30 (grouped by alertname and service), so ten notifications at once
    fingerprints = {fingerprint_of(p["labels"]) for p in posted}
    started = time.monotonic()
    assert httpx.post(f"{alertmanager}/api/v2/alerts", json=posted, timeout=60).status_code == 200
    time.sleep(1.0)  # group_wait: Alertmanager starts delivering
    delivered_at_kill = len(delivered_fingerprints(receiver, marker) & fingerprints)
    killed = kill_ingress()
    lost = wait_until_delivered(receiver, marker, fingerprints, timeout_s=150)
    took = time.monotonic() - started
    metrics = httpx.get(f"{alertmanager}/metrics").text.splitlines()
    failed = [
        line for line in metrics if line.startswith('alertmanager_notifications_failed_total{integration="webhook')
    ]
    summary = f"{delivered_at_kill} delivered at the kill, {len(lost)} lost, all in {took:.1f} s; {failed}"
    log.warning("kill mid-delivery: %s", summary)
    assert lost == set(), f"{len(lost)} of {len(fingerprints)} alerts lost ({delivered_at_kill} delivered at the kill)"
    wait_serving(app, killed)
