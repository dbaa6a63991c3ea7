"""The router's live-safety watch (issue 19, part 4): ``alertsieve.live_safety`` in the process that holds
the stream (the Ingress's router, or each stream shard's, over its own services), with what serving adds:

- expectations from the champion bundle the router loaded; a champion decision of another model version
  (a promotion) loads that version's in a thread, once per version, and the windows start afresh;
- the gauge ``alertsieve_live_safety_paused{service}``: 1 while the service is paused (and the watch on);
- every pause and resume as an entry of the override audit log (``thresholds.overrides.LiveSafetyChange``,
  GET /v1/thresholds/audit), by "live-safety" or by the person who resumed it; a pause is written in the
  background (the decisions do not wait), a person's resume before it is answered;
- its state in the router snapshot (``serve_app/snapshot.py``), so a pause survives a restart;
- its config, ``IngressConfig.live_safety``: the bounds, and ``enabled`` (unset: ALERTSIEVE_LIVE_SAFETY,
  on by default). While off, decisions pass as the model made them and nothing is watched.

GET /v1/live-safety and POST /v1/live-safety/{service}/resume are ``serve_app/live_safety_api.py``.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Awaitable, Callable
from typing import Protocol

from pydantic import BaseModel, Field

from alertsieve.bundle import ModelBundle
from alertsieve.contracts import Arm
from alertsieve.live_safety import (
    Change,
    Expectations,
    LiveSafety,
    LiveSafetyParams,
    LiveSafetyState,
    Pause,
    ServiceSafety,
)
from alertsieve.schema import Decision
from alertsieve.store import RecordStore
from serve_app.config import LiveSafetyConfig
from serve_app.telemetry import telemetry
from thresholds.overrides import LiveSafetyChange, OverrideLog

logger = logging.getLogger("ray.serve")


class LiveSafetyView(BaseModel):
    """GET /v1/live-safety: whether the watch acts, its bounds, the paused services and every watched one."""

    enabled: bool
    params: LiveSafetyParams
    model_version: str | None = Field(description="whose validation the live stream is compared with")
    paused: list[Pause] = Field(description="services that page what the model would suppress")
    services: list[ServiceSafety]


class ResumeRequest(BaseModel):
    by: str = Field(min_length=1, max_length=200)
    reason: str = Field(min_length=1, max_length=2000)


class SafetyPort(Protocol):
    """What the live-safety routes ask of the router (in process, or over stream shards)."""

    async def live_safety(self) -> LiveSafetyView: ...

    async def resume_suppression(self, service: str, by: str, reason: str) -> LiveSafetyChange | None: ...


def expectations_of(bundle: ModelBundle, params: LiveSafetyParams) -> Expectations:
    return Expectations.of(bundle.version, bundle.meta.validation, bundle.meta.policy, params.min_validation)


class LiveWatch:
    def __init__(
        self,
        bundle: ModelBundle,
        store: RecordStore,
        loader: Callable[[str], ModelBundle],
        saved: LiveSafetyState | None = None,
    ) -> None:
        self.config, self.bundle, self.loader = LiveSafetyConfig(), bundle, loader
        self.safety = LiveSafety(expectations_of(bundle, self.config))
        if saved is not None:
            self.safety.restore(saved)
        self.log = OverrideLog(store)
        self.tried: set[str] = {bundle.version}  # model versions whose expectations were loaded (or tried)
        self.tasks: set[asyncio.Future[None]] = set()
        self._gauges()

    def configure(self, config: LiveSafetyConfig) -> None:
        params = LiveSafetyParams.model_validate(config.model_dump(include=set(LiveSafetyParams.model_fields)))
        if params != LiveSafetyParams.model_validate(
            self.config.model_dump(include=set(LiveSafetyParams.model_fields))
        ):
            self.safety.expect(expectations_of(self.bundle, params), params)
        self.config = config
        self._gauges()

    def _gauges(self) -> None:
        for service in self.safety.paused:
            self._gauge(service, True)

    def _gauge(self, service: str, paused: bool) -> None:
        value = 1.0 if paused and self.config.on else 0.0
        telemetry().live_safety_paused.set(value, tags={"service": service or "unknown"})

    # ---- the watch ------------------------------------------------------------------------------
    def watch(self, decisions: list[Decision]) -> list[Decision]:
        """The decisions to apply: suppressions of paused services page (the model's decisions are watched)."""
        if not self.config.on:
            return decisions
        self._follow(decisions)
        applied, changes = self.safety.watch(decisions)
        for change in changes:
            self._record(change)
        return applied

    async def should_have_paged(self, decision: Decision, by: str) -> None:
        """A person said this suppression should have paged: its service pauses."""
        if not self.config.on:
            return
        key = (decision.fingerprint, decision.startsAt.timestamp() if decision.startsAt else 0.0)
        change = self.safety.should_have_paged(decision.service, key, by)
        if change is not None:
            self._record(change)

    async def resume(self, service: str, by: str, reason: str) -> LiveSafetyChange | None:
        """A person resumes a paused service (None: it is not paused); audited before it is answered."""
        change = self.safety.resume(service, by, reason)
        if change is None:
            return None
        self._gauge(service, False)
        logger.warning("live safety: %s resumed by %s: %s", service, by, reason, extra={"service": service})
        return await asyncio.to_thread(self.log.live_safety, service, False, by, reason, change.at)

    def view(self) -> LiveSafetyView:
        expected = self.safety.expected
        return LiveSafetyView(
            enabled=self.config.on,
            params=self.safety.params,
            model_version=expected.version if expected else None,
            paused=list(self.safety.paused.values()) if self.config.on else [],
            services=self.safety.status(),
        )

    def state(self) -> LiveSafetyState:
        return self.safety.state()

    # ---- around it ------------------------------------------------------------------------------
    def _record(self, change: Change) -> None:
        """Gauge and log now, the audit entry in the background."""
        self._gauge(change.service, change.paused)
        word = "paused" if change.paused else "resumed"
        logger.warning("live safety: %s %s by %s: %s", change.service, word, change.by, change.reason)
        write = asyncio.to_thread(
            self.log.live_safety, change.service, change.paused, change.by, change.reason, change.at
        )
        self._background(write)

    def _background(self, work: Awaitable[object]) -> None:
        async def run() -> None:
            try:
                await work
            except Exception:  # noqa: BLE001 - the watch must never hurt the live path
                telemetry().errors.inc(tags={"stage": "live-safety"})
                logger.exception("live safety: audit entry or expectations not written")

        task = asyncio.ensure_future(run())
        self.tasks.add(task)
        task.add_done_callback(self.tasks.discard)

    def _follow(self, decisions: list[Decision]) -> None:
        """A champion decision of a model version not seen yet: load its expectations (once per version)."""
        new = {d.model_version for d in decisions if d.arm is Arm.CHAMPION} - self.tried
        for version in new:
            self.tried.add(version)
            self._background(self._load(version))

    async def _load(self, version: str) -> None:
        bundle = await asyncio.to_thread(self.loader, version)
        if bundle.version == version:
            self.bundle = bundle
            self.safety.expect(expectations_of(bundle, self.safety.params))
            logger.info("live safety: the stream is now compared with model %s's validation", version)
