"""The stream context partitioned by service across router shards (issue 11, "past one Ingress").

With ``AppArgs.stream_shards`` = 1 (the default) the router (``serve_app/router.py``) lives in the Ingress,
the stream context's one writer, and a request costs no extra Serve hop. With N > 1 each of N
``StreamShard`` deployments (``serve_app/stream_shard.py``, one replica each: one writer per shard) holds a
router over the services whose stable hash picks it (``shard_of``: blake2b of the service name, mod N; the
service named by the champion bundle's service labels, "" for none), snapshotted under its own blob
(``snapshot_blob``). The Ingress then holds no stream state, so it may have several replicas; its
``ShardedRouter`` fans each batch out by shard, concurrently, and merges the answers in input order.

``RouterPort`` is what the Ingress, the deadline (``serve_app/deadline.py``) and the late pager
(``serve_app/late_paging.py``) ask of a router; the in-process ``Router`` and ``ShardedRouter`` both
implement it. Fail open: a shard that errors pages its alerts (remembered and logged by the shard when it
can take them, else logged here), its resolutions are forwarded, and a slow shard runs the whole call past
its deadline: its alerts page (``SCORE_DUE``, less ``SHARD_GRACE_S``) and the other shards' decisions stand.

A shard sees only its services: the context features counted across services (``all_*``, ``env_*``, the
alert name's fires in other services) count the shard's services only, so decisions can differ from one
shard's; see the README's scaling section.
"""

from __future__ import annotations

import asyncio
import hashlib
import logging
import time
from collections.abc import Awaitable, Callable, Sequence
from typing import Any, Protocol, TypeVar

from alertsieve.contracts import OccurrenceKey
from alertsieve.decider import fail_open
from alertsieve.schema import Alert, Decision, LoggedDecision
from alertsieve.store import RecordStore
from serve_app.config import IngressConfig
from serve_app.deadline import SCORE_DUE
from serve_app.late_paging import FROM_WEBHOOK, Occurrence, OverduePage
from serve_app.live_watch import LiveSafetyView
from serve_app.snapshot import SNAPSHOT_BLOB
from serve_app.telemetry import telemetry
from serve_app.views import ModelsView
from thresholds.overrides import LiveSafetyChange

logger = logging.getLogger("ray.serve")
MAX_SHARDS = 16
SHARD_GRACE_S = 0.05  # a shard's answer is waited for until this long before the call's deadline
T = TypeVar("T")


def shard_of(service: str, shards: int) -> int:
    """The shard that owns ``service``'s stream: the same in every process and run (blake2b, not hash())."""
    if shards <= 1:
        return 0
    return int.from_bytes(hashlib.blake2b(service.encode(), digest_size=8).digest(), "big") % shards


def snapshot_blob(index: int, shards: int) -> str:
    """The state store blob shard ``index`` of ``shards`` snapshots to (the one router's when unsharded)."""
    return SNAPSHOT_BLOB if shards <= 1 else f"router-snapshot-{index}-of-{shards}.json.gz"


def shard_name(index: int) -> str:
    return f"StreamShard{index}"


class RouterPort(Protocol):
    """What the Ingress, its DeadlineScorer and its LatePager ask of the router, wherever it runs."""

    async def score(self, alerts: list[Alert]) -> list[Decision]: ...

    async def record(self, alerts: list[Alert], decisions: list[Decision]) -> None: ...

    async def resolutions(self, alerts: list[Alert]) -> list[bool | None]:
        """Record resolutions; for each, whether its firing was ever paged (None: never seen)."""
        ...

    async def overdue(self, now: float) -> list[OverduePage]:
        """The suppressions due for delayed paging, claimed for the caller (no other sweeper gets them)."""
        ...

    async def release(self, alerts: list[Alert]) -> None:
        """Give claims back: their late pages were not delivered."""
        ...

    async def occurrence(self, key: OccurrenceKey) -> Occurrence: ...

    async def describe(self) -> ModelsView: ...

    async def live_safety(self) -> LiveSafetyView:
        """The live-safety watch: paused services and every watched one (``serve_app/live_watch.py``)."""
        ...

    async def resume_suppression(self, service: str, by: str, reason: str) -> LiveSafetyChange | None:
        """A person resumes a paused service (None: it is not paused)."""
        ...

    async def should_have_paged(self, decision: Decision, by: str) -> None:
        """A person said a suppression should have paged: live safety pauses its service."""
        ...

    def configure(self, config: IngressConfig) -> None: ...

    async def close(self) -> None: ...


async def score_as(router: RouterPort, alerts: list[Alert], from_webhook: bool) -> list[Decision]:
    """A shard's scoring of alerts that came on the webhook or not (``FROM_WEBHOOK``: delayed paging watches
    the webhook's), as the Ingress's router would have seen them."""
    mark = FROM_WEBHOOK.set(from_webhook)
    try:
        return await router.score(alerts)
    finally:
        FROM_WEBHOOK.reset(mark)


class ShardedRouter:
    """The Ingress's router over stream shards: each alert goes to the shard of its service.

    ``shards``: handles of the ``StreamShard`` deployments, in shard order (``method.remote(...)`` returns an
    awaitable); ``service_labels``: the labels naming an alert's service (the champion bundle's);
    ``store``: where fail-open decisions a shard could not take are logged."""

    def __init__(self, shards: Sequence[Any], service_labels: Callable[[], Sequence[str]], store: RecordStore) -> None:
        self.shards, self.service_labels, self.store = list(shards), service_labels, store
        self.background: set[asyncio.Task[None]] = set()  # fail-open records that outlive their call

    def _split(self, alerts: Sequence[Alert]) -> dict[int, list[int]]:
        """Input positions per shard, in input order."""
        labels, n = self.service_labels(), len(self.shards)
        parts: dict[int, list[int]] = {}
        for i, alert in enumerate(alerts):
            parts.setdefault(shard_of(alert.service(labels), n), []).append(i)
        return parts

    async def _fan_out(
        self, alerts: list[Alert], call: Callable[[Any, list[Alert], list[int]], Awaitable[list[T]]]
    ) -> list[tuple[list[int], list[T] | BaseException]]:
        parts = self._split(alerts)
        answers = await asyncio.gather(
            *(call(self.shards[s], [alerts[i] for i in idx], idx) for s, idx in parts.items()), return_exceptions=True
        )
        for answer in answers:
            if isinstance(answer, asyncio.CancelledError):
                raise answer
        return list(zip(parts.values(), answers, strict=True))

    async def score(self, alerts: list[Alert]) -> list[Decision]:
        webhook = FROM_WEBHOOK.get()  # the shard's router watches webhook suppressions for delayed paging
        due = SCORE_DUE.get()  # the DeadlineScorer's: a shard not done by then pages its alerts
        out: list[Decision | None] = [None] * len(alerts)

        async def call(shard: Any, part: list[Alert], _: list[int]) -> list[Decision]:
            if due is None:
                return await shard.score.remote(part, webhook)  # type: ignore[no-any-return]
            return await asyncio.wait_for(shard.score.remote(part, webhook), due - SHARD_GRACE_S - time.monotonic())

        answers = await self._fan_out(alerts, call)
        for idx, answer in answers:
            if isinstance(answer, BaseException):
                answer = self._fail_open([alerts[i] for i in idx], answer)
            for i, decision in zip(idx, answer, strict=True):
                out[i] = decision
        return [d for d in out if d is not None]

    def _fail_open(self, alerts: list[Alert], error: BaseException) -> list[Decision]:
        """A shard failed: its alerts page; remembered and logged in the background (the answer does not wait)."""
        timeout = isinstance(error, TimeoutError)
        reason = "timeout" if timeout else type(error).__name__
        telemetry().errors.inc(tags={"stage": "shard-timeout" if timeout else "shard"})
        telemetry().fail_open.inc(len(alerts), tags={"reason": "timeout" if timeout else "error"})
        logger.error(
            "stream shard failed (%s): paging %d alerts", reason, len(alerts), exc_info=None if timeout else error
        )
        labels = self.service_labels()
        decisions = [fail_open(a, a.service(labels), "none", reason) for a in alerts]
        task = asyncio.ensure_future(self.record(alerts, decisions))
        self.background.add(task)
        task.add_done_callback(self.background.discard)
        return decisions

    async def record(self, alerts: list[Alert], decisions: list[Decision]) -> None:
        """Remembered and logged by each alert's shard; a shard that cannot take them: logged here."""
        answers = await self._fan_out(
            alerts, lambda shard, part, idx: shard.record.remote(part, [decisions[i] for i in idx])
        )
        failed = [i for idx, answer in answers if isinstance(answer, BaseException) for i in idx]
        if failed:
            telemetry().errors.inc(tags={"stage": "shard-record"})
            records = [LoggedDecision(alert=alerts[i], decision=decisions[i], applied=True) for i in failed]
            await asyncio.to_thread(self.store.append, "decisions", records)

    async def resolutions(self, alerts: list[Alert]) -> list[bool | None]:
        """A shard that fails answers None for its alerts: their resolutions are forwarded."""
        out: list[bool | None] = [None] * len(alerts)
        for idx, answer in await self._fan_out(alerts, lambda shard, part, _: shard.resolutions.remote(part)):
            if isinstance(answer, BaseException):
                telemetry().errors.inc(tags={"stage": "shard-resolve"})
                logger.error("stream shard failed on resolutions: forwarding them", exc_info=answer)
                continue
            for i, paged in zip(idx, answer, strict=True):
                out[i] = paged
        return out

    async def overdue(self, now: float) -> list[OverduePage]:
        """Every shard's, claimed; a shard that fails is skipped (its candidates wait for the next sweep)."""
        answers = await asyncio.gather(*(s.overdue.remote(now) for s in self.shards), return_exceptions=True)
        out: list[OverduePage] = []
        for answer in answers:
            if isinstance(answer, BaseException):
                telemetry().errors.inc(tags={"stage": "shard-overdue"})
                logger.error("stream shard failed on the delayed paging sweep", exc_info=answer)
            else:
                out.extend(answer)
        return out

    async def release(self, alerts: list[Alert]) -> None:
        """Never raises: a claim that cannot be given back runs out by itself (late_paging.CLAIM_S)."""
        for _, answer in await self._fan_out(alerts, lambda shard, part, _: shard.release.remote(part)):
            if isinstance(answer, BaseException):
                logger.warning("stream shard: claims not given back (they run out)", exc_info=answer)

    async def occurrence(self, key: OccurrenceKey) -> Occurrence:
        """Feedback names no service: every shard is asked, and the one that knows the occurrence answers."""
        answers = await asyncio.gather(*(s.occurrence.remote(key) for s in self.shards), return_exceptions=True)
        known = [a for a in answers if isinstance(a, Occurrence) and (a.decision or a.waiting or a.paged)]
        if len(known) < len(answers) and any(isinstance(a, BaseException) for a in answers):
            logger.warning("stream shard failed on an occurrence: answering from the others and the decision log")
        return known[0] if known else Occurrence()

    async def describe(self) -> ModelsView:
        """The first shard's describe, once every shard answers (readiness: every shard can score)."""
        described: list[ModelsView] = await asyncio.gather(*(s.describe.remote() for s in self.shards))
        return described[0]

    async def live_safety(self) -> LiveSafetyView:
        """Every shard's watch, merged (a shard that fails is left out, logged)."""
        answers = await asyncio.gather(*(s.live_safety.remote() for s in self.shards), return_exceptions=True)
        views = [a for a in answers if isinstance(a, LiveSafetyView)]
        if len(views) < len(answers):
            telemetry().errors.inc(tags={"stage": "shard-live-safety"})
            logger.error("stream shard failed on live safety: its services are left out of the view")
        if not views:
            raise RuntimeError("no stream shard answered for live safety")
        return views[0].model_copy(
            update={
                "enabled": any(v.enabled for v in views),
                "paused": sorted((p for v in views for p in v.paused), key=lambda p: p.service),
                "services": sorted((s for v in views for s in v.services), key=lambda s: s.service),
            }
        )

    async def resume_suppression(self, service: str, by: str, reason: str) -> LiveSafetyChange | None:
        shard = self.shards[shard_of(service, len(self.shards))]
        return await shard.resume_suppression.remote(service, by, reason)  # type: ignore[no-any-return]

    async def should_have_paged(self, decision: Decision, by: str) -> None:
        await self.shards[shard_of(decision.service, len(self.shards))].should_have_paged.remote(decision, by)

    def configure(self, config: IngressConfig) -> None:
        """Nothing here: each shard takes the split and the delays from its own user_config."""

    async def close(self) -> None:
        """Nothing here: each shard snapshots its memory at its own shutdown."""
