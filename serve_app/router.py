"""The router: the single writer of the alert stream's context, and the champion/challenger split.

In "ab" mode a stable hash of the fingerprint sends a share of alert streams to the challenger (sticky:
one fingerprint always on one arm); in "shadow" mode the challenger scores every alert too, and its
decisions are logged, never applied. Every decision is appended to the decision log with its alert, arm
and model version. An occurrence once paged stays paged for its resolution, whatever later resends decide.
A webhook alert suppressed but still firing past its service's delay is paged (delayed paging: on arrival
here, else by the Ingress's sweep over the decision memory's waiting suppressions; ``serve_app/late_paging.py``).
What was decided per occurrence lives in one ``DecisionMemory`` (``serve_app/decision_memory.py``).
Alerts dated more than ``MAX_FUTURE_S`` ahead of the clock reach the stream context at the stream's latest
time (counted), so one bad timestamp cannot age out everyone else's history. It runs inside the Ingress
deployment (one replica, since the stream context has one writer), so a request costs no extra Serve hop
before it reaches the model deployments; or, with ``stream_shards`` > 1, one per ``StreamShard`` deployment,
each over the services that hash to it (``serve_app/shards.py``). Either way it implements ``RouterPort``. The stream context and the decision memory survive a restart:
snapshotted to the state store while they change and restored at start (``serve_app/snapshot.py``). The
live-safety watch (``serve_app/live_watch.py``) sees the model's decisions first: a service whose stream
departs from validation pages what the model would suppress, until it comes back or a person resumes it."""

from __future__ import annotations

import asyncio
import hashlib
import logging
import time
from collections import OrderedDict
from collections.abc import Callable
from datetime import UTC, datetime
from typing import TYPE_CHECKING

import numpy as np
from ray.serve.handle import DeploymentHandle

from alertsieve.bundle import ModelBundle
from alertsieve.context import StreamSnapshot, StreamState
from alertsieve.contracts import Arm, OccurrenceKey, RouterConfig
from alertsieve.incidents import IncidentGuard
from alertsieve.schema import Alert, Decision, LoggedDecision
from alertsieve.scoring import StreamContext
from alertsieve.settings import get_settings
from alertsieve.store import open_store
from serve_app.config import IngressConfig
from serve_app.decision_memory import DecisionMemory
from serve_app.late_paging import FROM_WEBHOOK, Occurrence, OverdueClaims, OverduePage, PageAfter, page_overdue
from serve_app.live_watch import LiveSafetyView, LiveWatch
from serve_app.loading import load_model
from serve_app.snapshot import (
    SNAPSHOT_BLOB,
    SNAPSHOT_OCCURRENCES,
    RouterSnapshot,
    Snapshotter,
    choose_stream,
    load_snapshot,
)
from serve_app.telemetry import telemetry

if TYPE_CHECKING:
    from serve_app.scorer import ModelScorer
from serve_app.views import ModelsView, ModelView
from thresholds.overrides import LiveSafetyChange

logger = logging.getLogger("ray.serve")
Key = OccurrenceKey
MAX_FUTURE_S = 86_400.0  # an alert may start at most a day ahead of this clock, for the stream context


def arm_for(fingerprint: str, config: RouterConfig) -> Arm:
    """Sticky A/B assignment: the same fingerprint always lands on the same arm for a given weight."""
    if config.mode != "ab" or config.challenger_weight <= 0:
        return Arm.CHAMPION
    bucket = int.from_bytes(hashlib.blake2b(fingerprint.encode(), digest_size=8).digest(), "big") / 2**64
    return Arm.CHALLENGER if bucket < config.challenger_weight else Arm.CHAMPION


class Router:
    def __init__(
        self,
        champion: DeploymentHandle[ModelScorer],
        challenger: DeploymentHandle[ModelScorer] | None,
        champion_ref: str = "champion",
        loader: Callable[[str], ModelBundle] = load_model,
        state_location: str | None = None,
        snapshot_blob: str = SNAPSHOT_BLOB,
    ) -> None:
        """``snapshot_blob``: the state store blob its memory is snapshotted to (one per stream shard)."""
        self.champion, self.challenger = champion, challenger
        self.store = open_store(state_location or get_settings().state_location)
        saved = load_snapshot(self.store, snapshot_blob)  # the memory of the last run (serve_app/snapshot.py), or None
        bundle = loader(champion_ref)
        self.stream = self._restored_stream(saved, bundle.meta.stream)
        self.safety = LiveWatch(bundle, self.store, loader, saved.live_safety if saved is not None else None)
        features = bundle.meta.features  # incidents as units (alertsieve/incidents.py), as in Scorer
        self.incidents = IncidentGuard(bundle.meta.policy.params, features.instance_labels, features.service_labels)
        self.config = RouterConfig()
        # per occurrence: latest decision, ever paged (its resolution is sent), waiting for delayed paging
        self.memory = DecisionMemory()
        self.clamped: OrderedDict[Key, datetime] = OrderedDict()  # far-future startsAt -> the stream's time
        self.pending: set[asyncio.Task[None]] = set()
        self.page_after: PageAfter = IngressConfig().page_after_s  # the Ingress sets its config's
        if saved is not None:  # delayed paging carries over a restart too
            self.memory.restore(saved.decisions, saved.paged, saved.firing_suppressed, saved.resolved)
        self.snapshots = Snapshotter(self.store, self._capture, IngressConfig().snapshot_every_s, snapshot_blob)
        self.claims = OverdueClaims()  # overdue occurrences handed to a sweeper (serve_app/late_paging.py)

    def reconfigure(self, config: RouterConfig, snapshot_every_s: float | None = None) -> None:
        self.config = config
        if snapshot_every_s is not None:
            self.snapshots.every_s = snapshot_every_s

    def configure(self, config: IngressConfig) -> None:
        """The split, the snapshot interval and the delayed paging delays of the config in force."""
        self.page_after = config.page_after_s
        self.safety.configure(config.live_safety)
        self.reconfigure(config.router, config.snapshot_every_s)

    # ---- memory across restarts -----------------------------------------------------------------
    def _restored_stream(self, saved: RouterSnapshot | None, model_stream: StreamSnapshot) -> StreamContext:
        """The saved stream context (and its remembered rows) where it fits the model, else the model's."""
        capacity = get_settings().stream_memory
        chosen = choose_stream(saved, model_stream)
        if saved is not None and chosen is saved.stream:
            try:
                stream = StreamContext(StreamState.from_snapshot(chosen, capacity))
                stream.restore_rows([((fp, t), np.asarray(row, dtype=np.float32)) for fp, t, row in saved.rows])
                return stream
            except Exception:  # noqa: BLE001 - a snapshot that cannot be replayed: start from the model's
                telemetry().errors.inc(tags={"stage": "snapshot-restore"})
                logger.warning("the router snapshot's stream cannot be restored: using the model's", exc_info=True)
        return StreamContext(StreamState.from_snapshot(model_stream, capacity))

    def _capture(self) -> Callable[[], RouterSnapshot]:
        """Copies of the router's memory, taken on the event loop; the function returned builds the snapshot
        from them (in a thread)."""
        state = self.stream.state.frozen()
        rows = self.stream.remembered_rows(SNAPSHOT_OCCURRENCES)
        decisions = self.memory.latest_decisions(SNAPSHOT_OCCURRENCES)
        paged = self.memory.paged_keys()
        firing = self.memory.latest_waiting(SNAPSHOT_OCCURRENCES)
        resolved = self.memory.resolved_keys(SNAPSHOT_OCCURRENCES)
        safety = self.safety.state()

        def build() -> RouterSnapshot:
            stored_rows = [(fp, t, row.tolist()) for (fp, t), row in rows]
            return RouterSnapshot(
                stream=state.snapshot(),
                rows=stored_rows,
                decisions=decisions,
                paged=paged,
                firing_suppressed=firing,
                live_safety=safety,
                resolved=resolved,
            )

        return build

    def _remember(self, decisions: list[Decision]) -> None:
        self.memory.remember(decisions)
        self.snapshots.changed()

    def for_stream(self, alert: Alert, now: float | None = None) -> Alert:
        """The alert as the stream context sees it: one dated more than MAX_FUTURE_S ahead of the clock
        starts at the stream's own latest time (the same for every resend of it), so it cannot move the
        shared stream clock, and with it every other alert's history, into the future."""
        clock = time.time() if now is None else now
        key = alert.occurrence.key
        if key[1] <= clock + MAX_FUTURE_S:
            return alert
        if key not in self.clamped:
            stream_now = self.stream.state.now  # the latest startsAt the stream has seen (0 before any)
            self.clamped[key] = datetime.fromtimestamp(min(clock, stream_now) if stream_now > 0 else clock, UTC)
            service = alert.service(get_settings().service_labels)
            telemetry().clock_skew.inc(tags={"service": service or "unknown"})
            logger.warning(
                "startsAt %s is in the future: the stream context uses its latest time",
                alert.startsAt.isoformat(),
                extra={"fingerprint": alert.fingerprint, "service": service, "arm": "none"},
            )
            while len(self.clamped) > 10_000:
                self.clamped.popitem(last=False)
        ends = alert.endsAt if alert.endsAt is None or alert.endsAt.timestamp() <= clock + MAX_FUTURE_S else None
        return alert.model_copy(update={"startsAt": self.clamped[key], "endsAt": ends})

    async def record(self, alerts: list[Alert], decisions: list[Decision]) -> None:
        """Remember and log decisions made outside the model deployments (the Ingress's fail-open pages)."""
        self._remember(decisions)
        await self._log(alerts, decisions, applied=True)

    async def _log(self, alerts: list[Alert], decisions: list[Decision], applied: bool) -> None:
        records = [LoggedDecision(alert=a, decision=d, applied=applied) for a, d in zip(alerts, decisions, strict=True)]
        await asyncio.to_thread(self.store.append, "decisions", records)
        for d in decisions:
            telemetry().scored.inc(
                tags={
                    "service": d.service or "unknown",
                    "decision": d.decision,
                    "arm": d.arm,
                    "model_version": d.model_version,
                }
            )
            logger.info(
                "decision %s",
                d.decision,
                extra={
                    "fingerprint": d.fingerprint,
                    "service": d.service,
                    "arm": d.arm,
                    "model_version": d.model_version,
                    "score": d.score,
                    "decision": d.decision,
                },
            )

    async def score(self, alerts: list[Alert]) -> list[Decision]:
        seen = [self.for_stream(a) for a in alerts]
        rows = self.stream.rows(seen)
        use_challenger = self.challenger is not None
        arms = [arm_for(a.fingerprint, self.config) if use_challenger else Arm.CHAMPION for a in alerts]
        decisions: list[Decision | None] = [None] * len(alerts)
        calls = []
        for arm, handle in ((Arm.CHAMPION, self.champion), (Arm.CHALLENGER, self.challenger)):
            idx = [i for i, a in enumerate(arms) if a == arm]
            if idx and handle is not None:
                calls.append((idx, handle.score.remote([alerts[i] for i in idx], rows[idx])))
        for idx, call in calls:
            for i, decision in zip(idx, await call, strict=True):
                decisions[i] = decision
        applied = self.incidents.apply(seen, [d for d in decisions if d is not None])
        applied = self.safety.watch(applied)  # live safety: a paused service's suppressions page
        webhook = FROM_WEBHOOK.get()
        if webhook:  # a resend already older than its service's delay, still firing, pages now
            applied = page_overdue(alerts, applied, self.page_after, self.memory.paged, time.time())
        self._remember(applied)
        if webhook:  # suppressed webhook alerts, never paged, wait for delayed paging
            for alert, decision in zip(alerts, applied, strict=True):
                self.memory.watch(alert, decision)
        await self._log(alerts, applied, applied=True)
        if self.config.mode == "shadow" and self.challenger is not None:
            task = asyncio.create_task(self._shadow(alerts, rows))
            self.pending.add(task)
            task.add_done_callback(self.pending.discard)
        return applied

    async def _shadow(self, alerts: list[Alert], rows: np.ndarray) -> None:
        assert self.challenger is not None
        try:
            decisions = await self.challenger.score.remote(alerts, rows)
            await self._log(alerts, [d.model_copy(update={"arm": Arm.SHADOW}) for d in decisions], applied=False)
        except Exception:  # noqa: BLE001 - shadow traffic must never hurt the live path
            telemetry().errors.inc(tags={"stage": "shadow"})
            logger.exception("shadow scoring failed")

    def resolve(self, alerts: list[Alert]) -> list[bool | None]:
        """Record resolutions; for each, whether its firing was ever paged (None: never seen here)."""
        out: list[bool | None] = []
        for alert in alerts:
            self.stream.state.observe(self.for_stream(alert))
            key = alert.occurrence.key
            out.append(self.memory.outcome(key))  # before it is marked: a first sighting stays unknown
            self.memory.mark_resolved([key])
        self.snapshots.changed()
        return out

    # ---- RouterPort (serve_app/shards.py): what the Ingress's parts ask, in process or of a stream shard ----
    async def resolutions(self, alerts: list[Alert]) -> list[bool | None]:
        return self.resolve(alerts)

    async def overdue(self, now: float) -> list[OverduePage]:
        """The suppressions due for delayed paging, claimed for the sweeper that asked."""
        return self.claims.claim_due(self.memory, self.page_after, now)

    async def release(self, alerts: list[Alert]) -> None:
        """Claims given back (their late pages were not delivered): the next sweep takes them again."""
        self.claims.release(a.occurrence.key for a in alerts)

    async def occurrence(self, key: Key) -> Occurrence:
        waiting = self.memory.waiting(key)
        return Occurrence(
            decision=self.memory.decision(key),
            waiting=waiting[0] if waiting else None,
            paged=self.memory.was_paged(key),
            resolved=self.memory.was_resolved(key),
        )

    async def live_safety(self) -> LiveSafetyView:
        return self.safety.view()

    async def resume_suppression(self, service: str, by: str, reason: str) -> LiveSafetyChange | None:
        """A person resumes a service live safety paused (None: it is not paused)."""
        change = await self.safety.resume(service, by, reason)
        self.snapshots.changed()
        return change

    async def should_have_paged(self, decision: Decision, by: str) -> None:
        """A person said this suppression should have paged: live safety pauses its service."""
        await self.safety.should_have_paged(decision, by)
        self.snapshots.changed()

    async def close(self) -> None:
        """Graceful shutdown: snapshot what changed since the last snapshot."""
        await self.snapshots.flush()

    def decision_for(self, fingerprint: str, starts_at: float) -> Decision | None:
        return self.memory.decision((fingerprint, starts_at))

    async def describe(self) -> ModelsView:
        """The split and what each arm's model deployment describes."""
        champion: ModelView = await self.champion.describe.remote()
        challenger: ModelView | None = None if self.challenger is None else await self.challenger.describe.remote()
        return ModelsView.of(self.config.mode, self.config.challenger_weight, champion, challenger)
