"""The stream context partitioned by service (serve_app/shards.py), in process and without Ray: the stable
shard of a service, the ShardedRouter's fan-out and merge, fail-open on a failing shard, delayed paging's
claims with two sweepers (two Ingress replicas), each shard's own snapshot, the config rule for Ingress
replicas, and the decision log taking appends from several processes at once.

The StreamShard deployments cannot run here without Serve, so each shard is a stand-in handle whose
``method.remote`` runs a real Router's port method, as ``StreamShard`` does (the Serve test in
test_shards_serve.py runs the real deployments); behind each router the model deployment is the stand-in
of test_late_paging (suppresses unless labelled page=yes) and the downstream relay a recording stand-in."""

from __future__ import annotations

import asyncio
import subprocess
import sys
import time
from collections.abc import Awaitable, Callable
from pathlib import Path
from types import SimpleNamespace
from typing import Any, cast

import pytest
from pydantic import ValidationError
from ray.serve._private.build_app import build_app as build_serve_app

from alertsieve.bundle import ModelBundle
from alertsieve.schema import Alert, Feedback, LoggedDecision
from alertsieve.store import LocalStore
from serve_app.app import build_app_with
from serve_app.config import AppArgs, IngressConfig
from serve_app.deadline import DeadlineScorer
from serve_app.late_paging import FROM_WEBHOOK, LatePager
from serve_app.router import Router
from serve_app.shards import ShardedRouter, score_as, shard_of, snapshot_blob
from tests.serve_app.test_late_paging import Clock, FakeRelay, firing, suppressing

SERVICES = [f"svc{i}" for i in range(8)]  # shards of 2: svc0, svc3, svc4, svc6, svc7 -> 0; svc1, svc2, svc5 -> 1


class StandInShard:
    """Stands in for a DeploymentHandle[StreamShard]: ``m.remote(...)`` runs the router's port method ``m``
    (awaitable, as a DeploymentResponse is); ``failing`` makes every call raise, like a dead shard, and
    ``delay_s`` makes every call wait that long first, like a stuck one."""

    def __init__(self, router: Router) -> None:
        self.router, self.failing, self.delay_s = router, False, 0.0
        for name in ("record", "resolutions", "overdue", "release", "occurrence", "describe"):
            setattr(self, name, SimpleNamespace(remote=self._remote(getattr(router, name))))
        self.score = SimpleNamespace(remote=self._remote(lambda alerts, hook: score_as(router, alerts, hook)))

    def _remote(self, method: Callable[..., Awaitable[Any]]) -> Callable[..., Awaitable[Any]]:
        async def call(*args: Any) -> Any:
            await asyncio.sleep(self.delay_s)
            if self.failing:
                raise ConnectionError("stream shard unreachable")
            return await method(*args)

        return lambda *args: call(*args)


def shard_router(tmp_path: Path, bundle: ModelBundle, index: int, shards: int = 2) -> Router:
    stand_in = SimpleNamespace(score=SimpleNamespace(remote=suppressing))  # the model deployment
    router = Router(stand_in, None, "champion", lambda ref: bundle, str(tmp_path), snapshot_blob(index, shards))  # type: ignore[arg-type]
    router.configure(IngressConfig(page_after_minutes=60))
    return router


def sharded(tmp_path: Path, bundle: ModelBundle) -> tuple[ShardedRouter, list[StandInShard]]:
    shards = [StandInShard(shard_router(tmp_path, bundle, i)) for i in range(2)]
    return ShardedRouter(shards, lambda: ("service",), LocalStore(tmp_path)), shards


def stream(now: float, minutes_ago: float = 30) -> list[Alert]:
    """Two alerts per service, the first of each paged (page=yes), the second suppressed."""
    return [
        firing(f"Alert{i}", minutes_ago, now, service=s, **({"page": "yes"} if i == 0 else {}))
        for s in SERVICES
        for i in range(2)
    ]


def resolved(alerts: list[Alert]) -> list[Alert]:
    return [a.model_copy(update={"status": "resolved"}) for a in alerts]


def test_shard_of_is_stable_across_processes_and_spreads_services() -> None:
    # fixed values: blake2b, not Python's per-process salted hash()
    assert [shard_of(s, 4) for s in ("checkout", "payments", "search", "auth", "")] == [0, 1, 2, 2, 0]
    assert [shard_of(s, 2) for s in SERVICES] == [0, 1, 1, 0, 0, 1, 0, 0]
    assert {shard_of(s, 1) for s in SERVICES} == {0}
    counts = [0] * 4
    for i in range(400):
        counts[shard_of(f"service-{i}", 4)] += 1
    assert min(counts) > 60, counts
    assert snapshot_blob(1, 2) == "router-snapshot-1-of-2.json.gz" and snapshot_blob(0, 1) == "router-snapshot.json.gz"


def test_batches_fan_out_by_service_and_merge_in_input_order(tmp_path: Path, small_bundle: ModelBundle) -> None:
    router, shards = sharded(tmp_path, small_bundle)
    alerts = stream(time.time())

    async def run() -> None:
        decisions = await router.score(alerts)
        assert [d.fingerprint for d in decisions] == [a.fingerprint for a in alerts]
        assert [d.decision for d in decisions] == ["page", "suppress"] * len(SERVICES)
        for index, shard in enumerate(shards):  # each shard decided its services only
            mine = {d.service for d in shard.router.memory.latest_decisions(100)}
            assert mine == {s for s in SERVICES if shard_of(s, 2) == index}
        unseen = firing("Unseen", 5, time.time(), service="svc1")
        assert await router.resolutions(resolved([alerts[0], alerts[3], unseen])) == [True, False, None]
        for shard in shards:
            await shard.router.close()  # each snapshots its own memory under its own blob

    asyncio.run(run())
    again = [shard_router(tmp_path, small_bundle, i) for i in range(2)]  # a restart: each restores its own
    for index, restarted in enumerate(again):
        paged = [a for a in alerts[::2] if shard_of(a.labels["service"], 2) == index]
        others = [a for a in alerts[::2] if shard_of(a.labels["service"], 2) != index]
        assert restarted.resolve(resolved(paged)) == [True] * len(paged)
        assert restarted.resolve(resolved(others)) == [None] * len(others)


def test_a_failing_shard_pages_its_alerts_and_forwards_their_resolutions(
    tmp_path: Path, small_bundle: ModelBundle
) -> None:
    router, shards = sharded(tmp_path, small_bundle)
    shards[1].failing = True
    alerts = stream(time.time())

    async def run() -> None:
        decisions = await router.score(alerts)
        await asyncio.gather(*router.background)
        for a, d in zip(alerts, decisions, strict=True):
            if shard_of(a.labels["service"], 2) == 1:
                assert d.decision == "page" and d.reason.startswith("fail-open"), d
            else:
                assert d.reason != "" and not d.reason.startswith("fail-open")
        assert await router.resolutions(resolved(alerts)) == [
            None if shard_of(a.labels["service"], 2) == 1 else a.labels.get("page") == "yes" for a in alerts
        ]

    asyncio.run(run())
    logged = [LoggedDecision.model_validate_json(line) for line in LocalStore(tmp_path).lines("decisions")]
    fail_open = {e.alert.fingerprint for e in logged if e.decision.reason.startswith("fail-open")}
    assert fail_open == {a.fingerprint for a in alerts if shard_of(a.labels["service"], 2) == 1}


def test_a_stuck_shard_pages_its_alerts_by_the_deadline(tmp_path: Path, small_bundle: ModelBundle) -> None:
    """Through the Ingress's DeadlineScorer: the stuck shard's alerts page at the deadline, the other shard's
    decisions stand."""
    router, shards = sharded(tmp_path, small_bundle)
    shards[0].delay_s = 30.0
    alerts = stream(time.time())
    scoring = DeadlineScorer(router, lambda: IngressConfig(score_timeout_s=0.5), lambda: ("service",))

    async def run() -> None:
        decisions, _ = await scoring.score(alerts, "/v1/score")
        for a, d in zip(alerts, decisions, strict=True):
            stuck = shard_of(a.labels["service"], 2) == 0
            assert d.reason.startswith("fail-open") is stuck and (d.decision == "page" or not stuck), d
        assert any(d.decision == "suppress" for d in decisions)  # shard 1's own decisions stand
        for task in router.background:
            task.cancel()  # the stuck shard would take the fail-open record in 30 s

    asyncio.run(run())


def test_two_sweepers_never_page_one_occurrence_twice(tmp_path: Path, small_bundle: ModelBundle) -> None:
    """Two Ingress replicas, each with its ShardedRouter and LatePager over the same shards: every overdue
    suppression is paged late once; one whose delivery failed is given back and paged by the next sweep."""
    _, shards = sharded(tmp_path, small_bundle)
    now = time.time()
    alerts = stream(now)
    clock = Clock(now + 31 * 60)  # the suppressions are 61 minutes old: past the 60 minute delay
    replicas = [ShardedRouter(shards, lambda: ("service",), LocalStore(tmp_path)) for _ in range(2)]
    relays = [FakeRelay(), FakeRelay()]
    pagers = [
        LatePager(r, lambda relay=relay: relay, LocalStore(tmp_path), clock=clock)  # type: ignore[misc]
        for r, relay in zip(replicas, relays, strict=True)
    ]

    async def run() -> None:
        mark = FROM_WEBHOOK.set(True)
        try:
            await replicas[0].score(alerts)
        finally:
            FROM_WEBHOOK.reset(mark)
        relays[1].failing = True
        assert await pagers[1].sweep() == 0  # delivery fails: its claims are given back
        relays[1].failing = False
        assert sum(await asyncio.gather(pagers[0].sweep(), pagers[1].sweep())) == len(SERVICES)
        assert await pagers[0].sweep() == 0 and await pagers[1].sweep() == 0

    asyncio.run(run())
    late = [a.fingerprint for relay in relays for alerts_sent, _ in relay.sent for a in alerts_sent]
    assert sorted(late) == sorted(a.fingerprint for a in alerts[1::2])  # every suppression, once


def test_should_have_paged_finds_the_occurrence_on_its_shard(tmp_path: Path, small_bundle: ModelBundle) -> None:
    router, _ = sharded(tmp_path, small_bundle)
    relay = FakeRelay()
    pager = LatePager(router, lambda: relay, LocalStore(tmp_path))
    suppressed = stream(time.time())[3]  # svc1's second alert: shard 1

    async def run() -> None:
        mark = FROM_WEBHOOK.set(True)
        try:
            await router.score([suppressed])
        finally:
            FROM_WEBHOOK.reset(mark)
        feedback = Feedback(fingerprint=suppressed.fingerprint, startsAt=suppressed.startsAt, actionable=True, by="sre")
        assert (await pager.on_feedback(feedback))[1].late_page == "sent"
        again = (await pager.on_feedback(feedback))[1]  # now decided "page": nothing more to send
        assert again.decision == "page" and again.late_page is None
        assert await router.resolutions(resolved([suppressed])) == [True]

    asyncio.run(run())
    assert [a.fingerprint for alerts, _ in relay.sent for a in alerts] == [suppressed.fingerprint]


def test_ingress_replicas_need_stream_shards_and_shards_are_deployed() -> None:
    with pytest.raises(ValidationError, match="ingress_replicas"):
        AppArgs(ingress_replicas=2)
    with pytest.raises(ValidationError, match="stream_shards"):
        AppArgs(stream_shards=17)
    args = AppArgs(stream_shards=3, ingress_replicas=2, page_after_minutes=5)
    built = build_serve_app(build_app_with(args, loader=lambda ref: pytest.fail("must not load")), name="sharded")
    deployments = {d.name: d for d in built.deployments}
    assert {"StreamShard0", "StreamShard1", "StreamShard2"} <= set(deployments)
    assert deployments["Ingress"].num_replicas == 2 and deployments["StreamShard1"].num_replicas == 1
    assert cast(dict[str, Any], deployments["StreamShard2"].user_config)["page_after_minutes"] == 5
    single = build_serve_app(build_app_with(AppArgs(), loader=lambda ref: pytest.fail("must not load")), name="one")
    assert not any(d.name.startswith("StreamShard") for d in single.deployments)


APPEND = """
import sys
from pathlib import Path
from alertsieve.schema import Feedback
from alertsieve.store import LocalStore
root, writer = Path(sys.argv[1]), int(sys.argv[2])
store = LocalStore(root)
for b in range(20):
    store.append("feedback", [
        Feedback(fingerprint=f"{writer:04x}{b:04x}{i:08x}", startsAt="2001-09-09T01:46:40Z", actionable=True, by="x" * 150)
        for i in range(300)
    ])
"""


def test_the_log_takes_appends_from_several_processes_at_once(tmp_path: Path) -> None:
    """Several Ingress replicas (and shards) append to one local decision log: each batch (here ~80 KB, past
    Python's 8 KB write buffer) is one write() on an O_APPEND file, so lines never interleave."""
    writers = [subprocess.Popen([sys.executable, "-c", APPEND, str(tmp_path), str(w)]) for w in range(4)]
    assert [w.wait(60) for w in writers] == [0] * 4
    lines = list(LocalStore(tmp_path).lines("feedback"))
    assert len(lines) == 4 * 20 * 300
    assert len({Feedback.model_validate_json(line).fingerprint for line in lines}) == len(lines)
