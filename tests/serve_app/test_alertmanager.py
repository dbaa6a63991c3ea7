"""A real client: Debian's prometheus-alertmanager posts its webhook to the Serve ingress, which scores
the alerts and forwards the "page" ones to the downstream receiver."""

from __future__ import annotations

import json
import shutil
import time
from pathlib import Path
from typing import Any

import httpx
import pytest

from alertsieve.schema import LoggedDecision, fingerprint_of
from alertsieve.settings import get_settings
from tests.conftest import free_port, running_server

pytestmark = pytest.mark.slow

CONFIG = """
route:
  receiver: alertsieve
  group_by: ['alertname', 'service']
  group_wait: 1s
  group_interval: 1s
  repeat_interval: 1h
receivers:
  - name: alertsieve
    webhook_configs:
      - url: {url}/v1/alertmanager
        send_resolved: true
"""


@pytest.fixture(scope="module")
def alertmanager(serve_url, tmp_path_factory):
    binary = shutil.which("prometheus-alertmanager") or shutil.which("alertmanager")
    if binary is None:
        pytest.fail("prometheus-alertmanager is not installed: run `make system-deps`")
    folder = tmp_path_factory.mktemp("alertmanager")
    (folder / "alertmanager.yml").write_text(CONFIG.format(url=serve_url))
    port = free_port()
    command = [
        binary,
        f"--config.file={folder / 'alertmanager.yml'}",
        f"--storage.path={folder / 'data'}",
        f"--web.listen-address=127.0.0.1:{port}",
        "--cluster.listen-address=",
    ]
    with running_server(command, f"http://127.0.0.1:{port}/-/ready"):
        yield f"http://127.0.0.1:{port}"


def logged_fingerprints() -> set[str]:
    folder = Path(get_settings().state_location) / "decisions"
    return {
        LoggedDecision.model_validate_json(line).alert.fingerprint
        for p in folder.glob("*.jsonl")
        for line in p.read_text().splitlines()
    }


def test_alertmanager_webhook_end_to_end(alertmanager, receiver, small_history) -> None:
    chosen = [a for a in small_history if not a.actionable][:6] + [a for a in small_history if a.actionable][:3]
    posted = [
        {
            "labels": {**a.labels, "e2e": "alertmanager"},
            "annotations": a.annotations,
            "startsAt": a.startsAt.isoformat(),
            "generatorURL": "http://prometheus/graph",
        }
        for a in chosen
    ]
    fingerprints = {fingerprint_of(p["labels"]) for p in posted}
    receiver.bodies.clear()
    assert httpx.post(f"{alertmanager}/api/v2/alerts", json=posted).status_code == 200

    deadline = time.monotonic() + 60
    while time.monotonic() < deadline and not fingerprints <= logged_fingerprints():
        time.sleep(0.5)
    assert fingerprints <= logged_fingerprints(), "Alertmanager's fingerprints are ours, and every alert was scored"

    decisions = {}
    for line in (
        p
        for f in (Path(get_settings().state_location) / "decisions").glob("*.jsonl")
        for p in f.read_text().splitlines()
    ):
        entry = LoggedDecision.model_validate_json(line)
        if entry.alert.fingerprint in fingerprints and entry.applied:
            decisions[entry.alert.fingerprint] = entry.decision.decision
    paged = {fp for fp, d in decisions.items() if d == "page"}
    assert paged, "the incident alerts are paged"
    time.sleep(3)  # let every group reach the receiver
    forwarded = {
        a["fingerprint"]
        for b in receiver.bodies
        for a in b.get("alerts", [])
        if a["labels"].get("e2e") == "alertmanager"
    }
    assert forwarded == paged
    for body in receiver.bodies:
        assert {"version", "groupKey", "status", "receiver", "alerts"} <= set(body)
        assert json.dumps(body)  # Alertmanager's shape, forwarded as JSON


# ---- no alert is ever lost ---------------------------------------------------------------------------
# The receiver is the session's local HTTP server (conftest.Receiver): the one stand-in allowed, since no
# paging vendor can run here. Alertmanager and the Serve app are real.


def delivered_fingerprints(receiver, marker: str) -> set[str | None]:
    return {
        a.get("fingerprint")
        for b in list(receiver.bodies)
        for a in b.get("alerts", [])
        if isinstance(a, dict) and a.get("labels", {}).get("case") in (marker, None)
    }


def logged_decisions(fingerprints: set[str]) -> dict[str, str]:
    folder = Path(get_settings().state_location) / "decisions"
    out: dict[str, str] = {}
    for line in (p for f in folder.glob("*.jsonl") for p in f.read_text().splitlines()):
        entry = LoggedDecision.model_validate_json(line)
        if entry.applied and entry.alert.fingerprint in fingerprints:
            out[entry.alert.fingerprint] = entry.decision.decision
    return out


def lost(receiver, marker: str, fingerprints: set[str]) -> set[str]:
    """Alerts neither suppressed by a logged decision nor delivered to the receiver."""
    suppressed = {fp for fp, d in logged_decisions(fingerprints).items() if d == "suppress"}
    return fingerprints - suppressed - delivered_fingerprints(receiver, marker)


def storm(marker: str, count: int, summary_chars: int = 0, fingerprinted: bool = False) -> list[dict[str, Any]]:
    """Alerts of one rule on ``count`` pods (Alertmanager adds the fingerprint; direct posts add it here)."""
    alerts: list[dict[str, Any]] = [
        {
            "labels": {"alertname": f"Storm{marker}", "service": "checkout", "pod": f"checkout-{i}", "case": marker},
            "annotations": {"summary": "storm", "description": "x" * summary_chars},
            "startsAt": "2026-01-05T09:00:00Z",
        }
        for i in range(count)
    ]
    return [{**a, "fingerprint": fingerprint_of(a["labels"])} if fingerprinted else a for a in alerts]


def wait_until_delivered(receiver, marker: str, fingerprints: set[str], timeout_s: float = 120.0) -> set[str]:
    deadline = time.monotonic() + timeout_s
    while time.monotonic() < deadline and lost(receiver, marker, fingerprints):
        time.sleep(1.0)
    return lost(receiver, marker, fingerprints)


@pytest.mark.parametrize(("marker", "count", "summary_chars"), [("storm", 1500, 0), ("big", 1200, 3000)])
def test_storms_and_huge_bodies_through_alertmanager_lose_no_alert(
    alertmanager, receiver, marker, count, summary_chars
) -> None:
    """1,500 alerts in one group (over max_alerts_per_request: scored in chunks), and a 3.6 MB
    notification (over max_body_bytes: forwarded as it came, streamed): every alert reaches the receiver
    or is suppressed by a logged decision. Alertmanager would not resend either after a 413."""
    posted = storm(marker, count, summary_chars)
    fingerprints = {fingerprint_of(p["labels"]) for p in posted}
    assert len(fingerprints) == count
    assert httpx.post(f"{alertmanager}/api/v2/alerts", json=posted, timeout=60).status_code == 200
    assert wait_until_delivered(receiver, marker, fingerprints) == set()
    if summary_chars:  # the body went through unscored, exactly as Alertmanager sent it
        whole = [b for b in receiver.bodies if any(a.get("labels", {}).get("case") == marker for a in b["alerts"])]
        assert whole and {"groupKey", "receiver", "version"} <= set(whole[0])
        assert any(a["annotations"]["description"] == "x" * summary_chars for a in whole[0]["alerts"])


def test_malformed_alerts_are_forwarded_as_they_came(serve_url, receiver, ray_cluster) -> None:
    from alertsieve import metric_names as m
    from tests.serve_app.test_app import exported

    unscored = m.prom(m.UNSCORED, counter=True)
    time.sleep(2.5)  # let the exporter catch up with earlier traffic
    counted_before = exported(ray_cluster, unscored)
    good = storm("mixed", 3, fingerprinted=True)
    bad = [
        {"labels": {"alertname": "NoStart", "case": "mixed"}, "fingerprint": "bad0000000000001"},
        {"labels": {}, "startsAt": "2026-01-05T09:00:00Z", "fingerprint": "bad0000000000002"},
        {
            "labels": {"alertname": "BadTime", "case": "mixed"},
            "startsAt": "yesterday",
            "fingerprint": "bad0000000000003",
        },
        "not an alert at all",
        {  # a number is not a datetime: malformed, forwarded as it came
            "labels": {"alertname": "NumericEnd", "case": "mixed"},
            "startsAt": "2026-01-05T09:00:00Z",
            "endsAt": 0,
            "fingerprint": "bad0000000000004",
        },
    ]
    body = {
        "version": "4",
        "groupKey": '{}:{case="mixed"}',
        "status": "firing",
        "receiver": "alertsieve",
        "alerts": [good[0], bad[0], good[1], bad[1], bad[2], good[2], bad[3], bad[4]],
    }
    receiver.bodies.clear()
    reply = httpx.post(f"{serve_url}/v1/alertmanager", json=body, timeout=60)
    assert reply.status_code == 200, reply.text
    assert reply.json()["unscored"] == {"malformed": 5}
    sent = [a for b in receiver.bodies for a in b["alerts"]]
    for item in bad:
        assert item in sent, "a malformed alert is forwarded exactly as it came"
    fingerprints = {fingerprint_of(a["labels"]) for a in good}
    assert lost(receiver, "mixed", fingerprints) == set()

    # a body that is not an Alertmanager payload, and one over the limit sent chunked: both as they came
    receiver.bodies.clear()
    odd = {"version": "4", "alerts": {"labels": {"case": "odd"}}}
    assert httpx.post(f"{serve_url}/v1/alertmanager", json=odd, timeout=60).json()["unscored"] == {"malformed": 1}
    assert receiver.bodies == [odd]
    big = json.dumps({"version": "4", "alerts": storm("chunked", 900, 3000, fingerprinted=True)}).encode()

    def chunks():
        for start in range(0, len(big), 65536):
            yield big[start : start + 65536]

    receiver.bodies.clear()
    reply = httpx.post(f"{serve_url}/v1/alertmanager", content=chunks(), timeout=60)
    assert reply.status_code == 200 and reply.json()["unscored"] == {"too_large": 1}
    assert len(delivered_fingerprints(receiver, "chunked")) == 900
    deadline = time.monotonic() + 30  # counted by reason: 5 malformed alerts, 1 odd body, 1 too large
    while time.monotonic() < deadline and exported(ray_cluster, unscored) < counted_before + 7:
        time.sleep(0.5)
    assert exported(ray_cluster, unscored) - counted_before == 7


def test_resolution_of_a_paged_alert_is_forwarded_after_a_suppressed_resend(serve_url, receiver, small_history):
    """Page, then (after an override) suppress the resend, then resolve: the incident downstream closes."""
    from tests.conftest import TOKEN

    auth = {"Authorization": f"Bearer {TOKEN}"}
    chosen = next(a for a in small_history if a.labels.get("service") and not a.actionable)
    service = chosen.labels["service"]
    labels = {**chosen.labels, "pod": "resolve-probe"}  # an instance label: the text stays familiar
    fp = fingerprint_of(labels)
    firing = {
        "labels": labels,
        "annotations": chosen.annotations,
        "startsAt": "2026-01-06T10:00:00Z",
        "endsAt": "0001-01-01T00:00:00Z",
        "status": "firing",
        "fingerprint": fp,
    }

    def notify(alert: dict[str, Any]) -> dict[str, Any]:
        reply = httpx.post(f"{serve_url}/v1/alertmanager", json={"version": "4", "alerts": [alert]}, timeout=60)
        assert reply.status_code == 200, reply.text
        answer: dict[str, Any] = reply.json()
        return answer

    def override(threshold: float) -> None:
        reply = httpx.put(
            f"{serve_url}/v1/thresholds/{service}",
            headers=auth,
            timeout=30,
            json={"threshold": threshold, "by": "test", "reason": "resolve test"},
        )
        assert reply.status_code == 200, reply.text

    def decided(threshold: float) -> str:  # wait for the scorers to apply the override
        deadline = time.monotonic() + 30
        while True:
            probe = {**firing, "labels": {**labels, "pod": f"probe-{time.monotonic_ns()}"}, "fingerprint": ""}
            decision = httpx.post(f"{serve_url}/v1/score", json={"alerts": [probe]}, timeout=30).json()
            if decision["decisions"][0]["threshold"] == threshold or time.monotonic() > deadline:
                verdict: str = decision["decisions"][0]["decision"]
                return verdict
            time.sleep(0.5)

    try:
        override(0.0)
        assert decided(0.0) == "page"
        receiver.bodies.clear()
        assert notify(firing)["decisions"][0]["decision"] == "page"
        assert fp in delivered_fingerprints(receiver, "")
        override(1.0)
        assert decided(1.0) == "suppress"
        receiver.bodies.clear()
        assert notify(firing)["decisions"][0]["decision"] == "suppress"
        assert fp not in delivered_fingerprints(receiver, "")
        notify({**firing, "status": "resolved", "endsAt": "2026-01-06T11:00:00Z"})
        assert fp in delivered_fingerprints(receiver, ""), "the resolution reaches the receiver"
    finally:
        httpx.request(
            "DELETE",
            f"{serve_url}/v1/thresholds/{service}",
            headers=auth,
            timeout=30,
            json={"by": "test", "reason": "resolve test done"},
        )
