"""The StreamShard deployment: one shard of the stream context, the one writer of its services' streams.

Built by ``serve_app/app.py`` when ``stream_shards`` > 1, as ``StreamShard0`` .. ``StreamShard{N-1}``, one
replica each. Each holds a ``Router`` (``serve_app/router.py``: stream context, decision memory, split,
decision log) over the services that ``shards.shard_of`` gives it, snapshotted under its own blob
(``shards.snapshot_blob``) so it restores its own memory, and answers the Ingress's ``ShardedRouter``
(``serve_app/shards.py``) with the ``RouterPort`` methods. Its user_config is the part of the Ingress's
config a router reads (``ShardConfig``: the split, the snapshot interval, the delayed paging delays, the
live-safety watch).
"""

from __future__ import annotations

import logging
from collections.abc import Callable
from typing import TYPE_CHECKING, Any

from ray import serve
from ray.serve.handle import DeploymentHandle

from alertsieve.bundle import ModelBundle
from alertsieve.contracts import OccurrenceKey
from alertsieve.schema import Alert, Decision
from alertsieve.settings import get_settings
from serve_app.config import IngressConfig, ShardConfig
from serve_app.late_paging import Occurrence, OverduePage
from serve_app.live_watch import LiveSafetyView
from serve_app.loading import load_model
from serve_app.router import Router
from serve_app.shards import score_as, snapshot_blob
from serve_app.snapshot import SNAPSHOT_OCCURRENCES
from serve_app.views import ModelsView
from thresholds.overrides import LiveSafetyChange

if TYPE_CHECKING:
    from serve_app.scorer import ModelScorer

logger = logging.getLogger("ray.serve")


@serve.deployment(name="StreamShard", num_replicas=1, ray_actor_options={"num_cpus": 0.2}, max_ongoing_requests=256)
class StreamShard:
    def __init__(
        self,
        champion: DeploymentHandle[ModelScorer],
        challenger: DeploymentHandle[ModelScorer] | None,
        champion_ref: str,
        loader: Callable[[str], ModelBundle] = load_model,
        index: int = 0,
        shards: int = 1,
    ) -> None:
        self.index, self.shards = index, shards
        blob = snapshot_blob(index, shards)
        self.router = Router(champion, challenger, champion_ref, loader, get_settings().state_location, blob)

    def reconfigure(self, user_config: dict[str, Any]) -> None:
        config = ShardConfig.model_validate(user_config)
        self.router.configure(IngressConfig.model_validate(config.model_dump()))

    async def __del__(self) -> None:
        """Graceful shutdown: snapshot what changed since the last snapshot (as the Ingress's router does)."""
        router: Router | None = getattr(self, "router", None)
        if router is not None:
            await router.close()

    async def score(self, alerts: list[Alert], from_webhook: bool = False) -> list[Decision]:
        """The router's decisions; ``from_webhook``: the alerts came on the webhook (delayed paging watches)."""
        return await score_as(self.router, alerts, from_webhook)

    async def record(self, alerts: list[Alert], decisions: list[Decision]) -> None:
        await self.router.record(alerts, decisions)

    async def resolutions(self, alerts: list[Alert]) -> list[bool | None]:
        return await self.router.resolutions(alerts)

    async def overdue(self, now: float) -> list[OverduePage]:
        return await self.router.overdue(now)

    async def release(self, alerts: list[Alert]) -> None:
        await self.router.release(alerts)

    async def occurrence(self, key: OccurrenceKey) -> Occurrence:
        return await self.router.occurrence(key)

    async def describe(self) -> ModelsView:
        return await self.router.describe()

    async def live_safety(self) -> LiveSafetyView:
        return await self.router.live_safety()

    async def resume_suppression(self, service: str, by: str, reason: str) -> LiveSafetyChange | None:
        return await self.router.resume_suppression(service, by, reason)

    async def should_have_paged(self, decision: Decision, by: str) -> None:
        await self.router.should_have_paged(decision, by)

    async def services(self) -> list[str]:
        """The services this shard decided for (its decision memory's), sorted: which streams it owns."""
        decisions = self.router.memory.latest_decisions(SNAPSHOT_OCCURRENCES)
        return sorted({d.service for d in decisions})
