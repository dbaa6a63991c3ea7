"""The stream context sharded by service on real Serve deployments (serve_app/shards.py): a second app on the
session's Serve instance, under its own name and route prefix, with two StreamShard deployments behind two
Ingress replicas. Webhook alerts of several services all get decisions, a paged occurrence's resolution is
forwarded as paged, and each shard holds only the services that hash to it; then the app is deleted.

The receiver is the session's local HTTP server (conftest.Receiver), the one stand-in: no pager runs here.
Delayed paging is set to 1 minute and the alerts began 10 minutes ago, so every alert pages whatever the
small model decides (a suppression already past its delay pages on arrival)."""

from __future__ import annotations

import time
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from typing import Any

import httpx
import pytest

from alertsieve.schema import fingerprint_of
from serve_app.config import AppArgs
from serve_app.shards import shard_name, shard_of

pytestmark = pytest.mark.slow
APP, PREFIX = "sharded", "/sharded"
SERVICES = ["checkout", "payments", "search", "auth", "billing", "ledger"]


@pytest.fixture(scope="module")
def sharded_url(serve_url: str, receiver) -> Iterator[str]:
    from ray import serve

    from serve_app.app import build_app

    args = AppArgs(downstream_url=receiver.url, stream_shards=2, ingress_replicas=2, page_after_minutes=1)
    serve.run(build_app(args), name=APP, route_prefix=PREFIX)
    url = f"{serve_url}{PREFIX}"
    try:
        deadline = time.monotonic() + 120
        while httpx.get(f"{url}/readyz", timeout=30).status_code != 200:
            assert time.monotonic() < deadline, "the sharded app did not become ready"
            time.sleep(0.5)
        yield url
    finally:
        serve.delete(APP)


def alert(service: str, i: int, status: str = "firing") -> dict[str, Any]:
    started = (datetime.now(UTC) - timedelta(minutes=10)).replace(second=0, microsecond=0)
    labels = {"alertname": f"ShardProbe{i}", "service": service, "pod": f"{service}-{i}"}
    body = {"labels": labels, "startsAt": started.isoformat(), "fingerprint": fingerprint_of(labels), "status": status}
    if status == "resolved":
        body["endsAt"] = datetime.now(UTC).isoformat()
    return body


def test_shards_decide_their_own_services(sharded_url: str, receiver) -> None:
    from ray import serve

    assert {shard_of(s, 2) for s in SERVICES} == {0, 1}  # both shards get some
    firing = [alert(s, i) for s in SERVICES for i in range(2)]
    reply = httpx.post(f"{sharded_url}/v1/alertmanager", json={"version": "4", "alerts": firing}, timeout=60)
    assert reply.status_code == 200, reply.text
    decisions = reply.json()["decisions"]
    assert [d["fingerprint"] for d in decisions] == [a["fingerprint"] for a in firing]
    assert all(d["decision"] == "page" for d in decisions) and not reply.json()["fail_open"]

    receiver.bodies.clear()
    resolutions = [alert(s, 0, "resolved") for s in SERVICES]
    reply = httpx.post(f"{sharded_url}/v1/alertmanager", json={"version": "4", "alerts": resolutions}, timeout=60)
    assert reply.status_code == 200 and reply.json()["forwarded"] == len(SERVICES), reply.text

    for index in range(2):
        shard = serve.get_deployment_handle(shard_name(index), app_name=APP)
        mine = {s for s in SERVICES if shard_of(s, 2) == index}
        assert shard.services.remote().result(timeout_s=30) == sorted(mine)
        for a in resolutions:  # its own resolved occurrences are known as paged; the other shard's are unknown
            known = shard.occurrence.remote((a["fingerprint"], datetime.fromisoformat(a["startsAt"]).timestamp()))
            assert known.result(timeout_s=30).paged is (a["labels"]["service"] in mine)
