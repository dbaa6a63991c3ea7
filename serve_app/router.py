"""The router: the single writer of the alert stream's context, and the champion/challenger split.

In "ab" mode a stable hash of the fingerprint sends a share of alert streams to the challenger (sticky:
one fingerprint always on one arm); in "shadow" mode the challenger scores every alert too, and its
decisions are logged, never applied. Every decision is appended to the decision log with its alert, arm
and model version. An occurrence once paged stays paged for its resolution, whatever later resends decide.
Alerts dated more than ``MAX_FUTURE_S`` ahead of the clock reach the stream context at the stream's latest
time (counted), so one bad timestamp cannot age out everyone else's history. It runs inside the Ingress
deployment (one replica, since the stream context has one writer), so a request costs no extra Serve hop
before it reaches the model deployments."""

from __future__ import annotations

import asyncio
import hashlib
import logging
import time
from collections import OrderedDict
from collections.abc import Callable
from datetime import UTC, datetime

import numpy as np
from ray.serve.handle import DeploymentHandle

from alertsieve.bundle import ModelBundle
from alertsieve.context import StreamState
from alertsieve.schema import Alert, Decision, LoggedDecision
from alertsieve.scoring import StreamContext
from alertsieve.settings import get_settings
from alertsieve.store import open_store
from serve_app.config import RouterConfig
from serve_app.loading import load_model
from serve_app.telemetry import telemetry

logger = logging.getLogger("ray.serve")
Key = tuple[str, float]
MAX_FUTURE_S = 86_400.0  # an alert may start at most a day ahead of this clock, for the stream context
REMEMBERED = 200_000


def arm_for(fingerprint: str, config: RouterConfig) -> str:
    """Sticky A/B assignment: the same fingerprint always lands on the same arm for a given weight."""
    if config.mode != "ab" or config.challenger_weight <= 0:
        return "champion"
    bucket = int.from_bytes(hashlib.blake2b(fingerprint.encode(), digest_size=8).digest(), "big") / 2**64
    return "challenger" if bucket < config.challenger_weight else "champion"


class Router:
    def __init__(
        self,
        champion: DeploymentHandle,
        challenger: DeploymentHandle | None,
        champion_ref: str = "champion",
        loader: Callable[[str], ModelBundle] = load_model,
        state_location: str | None = None,
    ) -> None:
        self.champion, self.challenger = champion, challenger
        snapshot = loader(champion_ref).meta.stream
        self.stream = StreamContext(StreamState.from_snapshot(snapshot, get_settings().stream_memory))
        self.store = open_store(state_location or get_settings().state_location)
        self.config = RouterConfig()
        self.decisions: OrderedDict[Key, Decision] = OrderedDict()
        self.paged: OrderedDict[Key, None] = OrderedDict()  # occurrences ever paged: their resolution is sent
        self.clamped: OrderedDict[Key, datetime] = OrderedDict()  # far-future startsAt -> the stream's time
        self.pending: set[asyncio.Task[None]] = set()

    def reconfigure(self, config: RouterConfig) -> None:
        self.config = config

    def _remember(self, decisions: list[Decision]) -> None:
        for d in decisions:
            if d.startsAt is not None:
                key = (d.fingerprint, d.startsAt.timestamp())
                self.decisions[key] = d
                if d.decision == "page":
                    self.paged[key] = None
        for table in (self.decisions, self.paged):
            while len(table) > REMEMBERED:
                table.popitem(last=False)

    def for_stream(self, alert: Alert, now: float | None = None) -> Alert:
        """The alert as the stream context sees it: one dated more than MAX_FUTURE_S ahead of the clock
        starts at the stream's own latest time (the same for every resend of it), so it cannot move the
        shared stream clock, and with it every other alert's history, into the future."""
        clock = time.time() if now is None else now
        key = (alert.fingerprint, alert.startsAt.timestamp())
        if key[1] <= clock + MAX_FUTURE_S:
            return alert
        if key not in self.clamped:
            stream_now = self.stream.state.now  # the latest startsAt the stream has seen (0 before any)
            self.clamped[key] = datetime.fromtimestamp(min(clock, stream_now) if stream_now > 0 else clock, UTC)
            service = alert.service(get_settings().service_labels)
            telemetry().clock_skew.inc(tags={"service": service or "unknown"})
            logger.warning("startsAt %s is in the future: the stream context uses its latest time",
                           alert.startsAt.isoformat(),
                           extra={"fingerprint": alert.fingerprint, "service": service, "arm": "none"})  # fmt: skip
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
            telemetry().scored.inc(tags={"service": d.service or "unknown", "decision": d.decision, "arm": d.arm,
                                         "model_version": d.model_version})  # fmt: skip
            logger.info("decision %s", d.decision,
                        extra={"fingerprint": d.fingerprint, "service": d.service, "arm": d.arm,
                               "model_version": d.model_version, "score": d.score, "decision": d.decision})  # fmt: skip

    async def score(self, alerts: list[Alert]) -> list[Decision]:
        rows = self.stream.rows([self.for_stream(a) for a in alerts])
        use_challenger = self.challenger is not None
        arms = [arm_for(a.fingerprint, self.config) if use_challenger else "champion" for a in alerts]
        decisions: list[Decision | None] = [None] * len(alerts)
        calls = []
        for arm, handle in (("champion", self.champion), ("challenger", self.challenger)):
            idx = [i for i, a in enumerate(arms) if a == arm]
            if idx and handle is not None:
                calls.append((idx, handle.score.remote([alerts[i] for i in idx], rows[idx])))
        for idx, call in calls:
            for i, decision in zip(idx, await call, strict=True):
                decisions[i] = decision
        applied = [d for d in decisions if d is not None]
        self._remember(applied)
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
            await self._log(alerts, [d.model_copy(update={"arm": "shadow"}) for d in decisions], applied=False)
        except Exception:  # noqa: BLE001 - shadow traffic must never hurt the live path
            telemetry().errors.inc(tags={"stage": "shadow"})
            logger.exception("shadow scoring failed")

    def resolve(self, alerts: list[Alert]) -> list[bool | None]:
        """Record resolutions; for each, whether its firing was ever paged (None: never seen here)."""
        out: list[bool | None] = []
        for alert in alerts:
            self.stream.state.observe(self.for_stream(alert))
            key = (alert.fingerprint, alert.startsAt.timestamp())
            out.append(True if key in self.paged else None if key not in self.decisions else False)
        return out

    def decision_for(self, fingerprint: str, starts_at: float) -> Decision | None:
        return self.decisions.get((fingerprint, starts_at))

    async def describe(self) -> dict[str, object]:
        out: dict[str, object] = {"mode": self.config.mode, "challenger_weight": self.config.challenger_weight,
                                  "champion": await self.champion.describe.remote()}  # fmt: skip
        if self.challenger is not None:
            out["challenger"] = await self.challenger.describe.remote()
        return out
