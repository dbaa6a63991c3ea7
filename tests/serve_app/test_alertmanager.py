"""A real client: Debian's prometheus-alertmanager posts its webhook to the Serve ingress, which scores
the alerts and forwards the "page" ones to the downstream receiver."""

from __future__ import annotations

import json
import shutil
import time
from pathlib import Path

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
    command = [binary, f"--config.file={folder / 'alertmanager.yml'}", f"--storage.path={folder / 'data'}",
               f"--web.listen-address=127.0.0.1:{port}", "--cluster.listen-address="]  # fmt: skip
    with running_server(command, f"http://127.0.0.1:{port}/-/ready"):
        yield f"http://127.0.0.1:{port}"


def logged_fingerprints() -> set[str]:
    folder = Path(get_settings().state_location) / "decisions"
    return {LoggedDecision.model_validate_json(line).alert.fingerprint
            for p in folder.glob("*.jsonl") for line in p.read_text().splitlines()}  # fmt: skip


def test_alertmanager_webhook_end_to_end(alertmanager, receiver, small_history) -> None:
    chosen = [a for a in small_history if not a.actionable][:6] + [a for a in small_history if a.actionable][:3]
    posted = [{"labels": {**a.labels, "e2e": "alertmanager"}, "annotations": a.annotations,
               "startsAt": a.startsAt.isoformat(), "generatorURL": "http://prometheus/graph"} for a in chosen]  # fmt: skip
    fingerprints = {fingerprint_of(p["labels"]) for p in posted}
    receiver.bodies.clear()
    assert httpx.post(f"{alertmanager}/api/v2/alerts", json=posted).status_code == 200

    deadline = time.monotonic() + 60
    while time.monotonic() < deadline and not fingerprints <= logged_fingerprints():
        time.sleep(0.5)
    assert fingerprints <= logged_fingerprints(), "Alertmanager's fingerprints are ours, and every alert was scored"

    decisions = {}
    for line in (p for f in (Path(get_settings().state_location) / "decisions").glob("*.jsonl")
                 for p in f.read_text().splitlines()):  # fmt: skip
        entry = LoggedDecision.model_validate_json(line)
        if entry.alert.fingerprint in fingerprints and entry.applied:
            decisions[entry.alert.fingerprint] = entry.decision.decision
    paged = {fp for fp, d in decisions.items() if d == "page"}
    assert paged, "the incident alerts are paged"
    time.sleep(3)  # let every group reach the receiver
    forwarded = {a["fingerprint"] for b in receiver.bodies for a in b.get("alerts", [])
                 if a["labels"].get("e2e") == "alertmanager"}  # fmt: skip
    assert forwarded == paged
    for body in receiver.bodies:
        assert {"version", "groupKey", "status", "receiver", "alerts"} <= set(body)
        assert json.dumps(body)  # Alertmanager's shape, forwarded as JSON
