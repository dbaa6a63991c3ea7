"""Every query of every dashboard panel returns data from a real Prometheus scraping the real Serve
app's Ray metrics endpoint, with the generated recording rules loaded, the dashboards' $cluster,
$namespace and $job variables set to the labels the scrape gives (and another job selects nothing)."""

from __future__ import annotations

import json
import shutil
import time
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import httpx
import pytest

from alertsieve.pipeline import PipelineStatus, record_status
from alertsieve.schema import LabelledAlert
from alertsieve.settings import get_settings
from alertsieve.store import open_store
from dashboards.build import all_panel_queries
from serve_app.app import build_app
from serve_app.config import AppArgs
from tests.conftest import TOKEN, free_port, running_server

pytestmark = pytest.mark.slow
RULES = Path(__file__).resolve().parents[2] / "dashboards" / "generated" / "prometheus-rules"
# the scrape's labels, as a Prometheus in a cluster would attach them; the dashboards' variables select them
SCOPE = {"job": "ray", "cluster": "ci", "namespace": "alertsieve"}


@pytest.fixture(scope="module")
def prometheus(ray_cluster: int, tmp_path_factory):
    binary = shutil.which("prometheus")
    if binary is None:
        pytest.fail("prometheus is not installed: run `make system-deps`")
    folder = tmp_path_factory.mktemp("prometheus")
    config = {
        "global": {"scrape_interval": "1s", "evaluation_interval": "1s"},
        "rule_files": [str(p) for p in sorted(RULES.glob("*.yaml"))],
        "scrape_configs": [
            {
                "job_name": SCOPE["job"],
                "static_configs": [
                    {
                        "targets": [f"127.0.0.1:{ray_cluster}"],
                        "labels": {"cluster": SCOPE["cluster"], "namespace": SCOPE["namespace"]},
                    }
                ],
            }
        ],
    }
    (folder / "prometheus.yml").write_text(json.dumps(config))
    port = free_port()
    command = [
        binary,
        f"--config.file={folder / 'prometheus.yml'}",
        f"--storage.tsdb.path={folder / 'data'}",
        f"--web.listen-address=127.0.0.1:{port}",
    ]
    with running_server(command, f"http://127.0.0.1:{port}/-/ready"):
        yield f"http://127.0.0.1:{port}"


def feedback(serve_url: str, decisions: list[dict[str, Any]], by_fp: dict[str, LabelledAlert]) -> None:
    for d in decisions:
        body = {
            "fingerprint": d["fingerprint"],
            "startsAt": d["startsAt"],
            "by": "test",
            "actionable": by_fp[d["fingerprint"]].actionable,
        }
        httpx.post(f"{serve_url}/v1/feedback", json=body, headers={"Authorization": f"Bearer {TOKEN}"})


def traffic(serve_url: str, receiver, small_history) -> list[dict[str, Any]]:
    """Scores, a forwarded webhook, feedback of both kinds, a training run record and fail-open pages."""
    chosen = [a for a in small_history if not a.actionable][:40] + [a for a in small_history if a.actionable][:20]
    alerts = [json.loads(a.model_dump_json(exclude_none=True, exclude={"actionable"})) for a in chosen]
    scored = httpx.post(f"{serve_url}/v1/score", json={"alerts": alerts}, timeout=60).json()
    decisions: list[dict[str, Any]] = scored["decisions"]
    # noise and actionable alerts: the actionable ones page, so the webhook delivers to the receiver
    httpx.post(f"{serve_url}/v1/alertmanager", json={"version": "4", "alerts": alerts[:5] + alerts[-5:]}, timeout=60)
    by_fp = {a.fingerprint: a for a in chosen}
    feedback(serve_url, decisions, by_fp)
    now = datetime.now(UTC)
    record_status(
        open_store(get_settings().state_location),
        PipelineStatus(started_at=now, finished_at=now, duration_s=42.0, outcome="success", rows=1234),
    )
    # a scoring timeout: every alert is paged (fail open) and counted
    serve_run(AppArgs(downstream_url=receiver.url, score_timeout_s=0.0001))
    httpx.post(f"{serve_url}/v1/score", json={"alerts": alerts[:3]}, timeout=60)
    serve_run(AppArgs(downstream_url=receiver.url))
    return decisions


def serve_run(args: AppArgs) -> None:
    from ray import serve

    serve.run(build_app(args), name="alertsieve", route_prefix="/")


def test_every_panel_query_returns_data(prometheus, serve_url, receiver, small_history) -> None:
    decisions = traffic(serve_url, receiver, small_history)
    by_fp = {a.fingerprint: a for a in small_history}
    noise = [d for d in decisions if not by_fp[d["fingerprint"]].actionable]
    actionable = [d for d in decisions if by_fp[d["fingerprint"]].actionable]
    queries = all_panel_queries(values=SCOPE)
    assert len(queries) > 20
    missing: list[str] = []
    deadline = time.monotonic() + 120
    while time.monotonic() < deadline:
        missing = []
        for title, expr in queries:
            reply = httpx.get(f"{prometheus}/api/v1/query", params={"query": expr}, timeout=30).json()
            assert reply["status"] == "success", (title, reply)
            if not reply["data"]["result"]:
                missing.append(title)
            # keep requests and feedback flowing, as in production: a rate needs a counter that moves
        httpx.post(f"{serve_url}/v1/score", json={"alerts": [json.loads(small_history[0].model_dump_json())]})
        feedback(serve_url, [noise[len(missing) % len(noise)], actionable[len(missing) % len(actionable)]], by_fp)
        if not missing:
            break
        time.sleep(2)
    assert not missing, f"panels without data: {sorted(set(missing))}"
    # the selectors do select: another job's scraped series are not there
    other = dict(all_panel_queries(values={**SCOPE, "job": "someone-else"}))
    expr = other["alertsieve / Overview/Requests by route and code"]
    reply = httpx.get(f"{prometheus}/api/v1/query", params={"query": expr}, timeout=30).json()
    assert reply["status"] == "success" and reply["data"]["result"] == [], expr
