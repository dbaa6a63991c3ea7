"""Manual threshold overrides, the "page everything" switch, and their audit log.

Every change is an event (who, when, scope, old, new, expiry, reason) appended to the ``overrides``
record store (local directory or S3, the same store as feedback), so the log is the audit trail and
what is in force is the fold of it at a clock: for threshold overrides the latest event per scope
(service and label matchers), where ``new=None`` reverts to the optimised threshold; for the switch
the latest switch event. What has expired by the clock is dropped with no new event. Lines written
before scopes existed (no ``kind``, ``matchers`` or ``expires_at``) are unscoped threshold changes that
never expire. The log also holds the live-safety watch's pauses and resumes of a service's suppression
(``LiveSafetyChange``, written by ``serve_app/live_watch.py``): audit entries only, which change no
threshold. Scorer replicas re-read the log every few seconds, so a change takes effect without a
redeploy and survives restarts. The types the policy matches with live in ``alertsieve.override_scope``.
"""

from __future__ import annotations

import json
from collections.abc import Callable
from datetime import UTC, datetime, timedelta
from typing import Literal

from pydantic import BaseModel, Field, model_validator

from alertsieve.override_scope import (
    ANY_SERVICE,
    InputMatchers,
    Matchers,
    Overrides,
    PageEverything,
    ThresholdOverride,
)
from alertsieve.schema import IsoDatetime
from alertsieve.settings import get_settings
from alertsieve.store import RecordStore, open_store

Clock = Callable[[], datetime]


def wall_clock() -> datetime:
    return datetime.now(UTC)


class OverrideChange(BaseModel):
    kind: Literal["threshold"] = "threshold"
    service: str = Field(min_length=1, max_length=200, description='"*": any service (needs matchers)')
    old: float | None = Field(default=None, ge=0.0, le=1.0)
    new: float | None = Field(default=None, ge=0.0, le=1.0, description="None reverts to the optimised threshold")
    by: str = Field(min_length=1, max_length=200)
    reason: str = Field(min_length=1, max_length=2000)
    at: datetime = Field(default_factory=wall_clock)
    matchers: Matchers = Field(default_factory=dict, description="label matchers; empty: every alert of the service")
    expires_at: datetime | None = Field(default=None, description="None: until reverted")

    @property
    def scope(self) -> tuple[str, tuple[tuple[str, str], ...]]:
        return self.service, tuple(sorted(self.matchers.items()))


class PageEverythingChange(BaseModel):
    """The switch turned on (with its scope and expiry) or off."""

    kind: Literal["page_everything"] = "page_everything"
    on: bool
    service: str = Field(default=ANY_SERVICE, min_length=1, max_length=200)
    matchers: Matchers = Field(default_factory=dict)
    expires_at: datetime | None = None
    by: str = Field(min_length=1, max_length=200)
    reason: str = Field(min_length=1, max_length=2000)
    at: datetime = Field(default_factory=wall_clock)


class LiveSafetyChange(BaseModel):
    """Live safety paused a service's suppression (by "live-safety") or resumed it (by itself or a person):
    written by the Serve app's watch (``serve_app/live_watch.py``); it changes no threshold."""

    kind: Literal["live_safety"] = "live_safety"
    service: str = Field(max_length=200)
    paused: bool
    by: str = Field(min_length=1, max_length=200)
    reason: str = Field(min_length=1, max_length=2000)
    at: datetime = Field(default_factory=wall_clock)
    matchers: Matchers = Field(default_factory=dict, description="always empty: a pause is per service")
    expires_at: datetime | None = None


AuditEvent = OverrideChange | PageEverythingChange | LiveSafetyChange
MAX_MINUTES = 30 * 24 * 60  # the longest an override or the switch can be set for: 30 days


class ScopeInput(BaseModel):
    """Scope and expiry as the API and the CLI take them: label matchers, and ``for_minutes`` or ``expires_at``."""

    matchers: InputMatchers = Field(default_factory=dict, description="label matchers (equality, '|' alternatives)")
    for_minutes: float | None = Field(
        default=None,
        gt=0,
        le=MAX_MINUTES,
        strict=True,
        allow_inf_nan=False,
        description="expire this many minutes from now",
    )
    expires_at: IsoDatetime | None = Field(default=None, description="expire at this time (UTC unless given)")

    @model_validator(mode="after")
    def _one_expiry_ahead(self) -> ScopeInput:
        if self.for_minutes is not None and self.expires_at is not None:
            raise ValueError("give for_minutes or expires_at, not both")
        if self.expires_at is not None:
            at = self.expires_at if self.expires_at.tzinfo else self.expires_at.replace(tzinfo=UTC)
            if not wall_clock() < at <= wall_clock() + timedelta(minutes=MAX_MINUTES):
                raise ValueError(f"expires_at must be in the future and within {MAX_MINUTES // 1440} days")
            self.expires_at = at
        return self

    def expiry(self, now: datetime) -> datetime | None:
        if self.for_minutes is not None:
            return now + timedelta(minutes=self.for_minutes)
        return self.expires_at


def parse_event(line: str) -> AuditEvent:
    """One line of the log: a switch event, a live-safety pause or resume, or a threshold change (also every
    line without ``kind``)."""
    kind = json.loads(line).get("kind")
    if kind == "page_everything":
        return PageEverythingChange.model_validate_json(line)
    if kind == "live_safety":
        return LiveSafetyChange.model_validate_json(line)
    return OverrideChange.model_validate_json(line)


def _live(expires_at: datetime | None, now: datetime) -> bool:
    return expires_at is None or now < expires_at


# what a rule in force keeps of the change that set it: its scope, its expiry, and who set it, why and when
RULE_FIELDS = {"service", "matchers", "expires_at", "by", "reason", "at"}


def _threshold_override(change: OverrideChange) -> ThresholdOverride:
    assert change.new is not None
    return ThresholdOverride(threshold=change.new, **change.model_dump(include=RULE_FIELDS))


class OverrideLog:
    def __init__(self, store: RecordStore, clock: Clock = wall_clock) -> None:
        self.store, self.clock = store, clock

    def events(self) -> list[AuditEvent]:
        """Every change, threshold and switch, in the order written."""
        return [parse_event(line) for line in self.store.lines("overrides")]

    def changes(self) -> list[OverrideChange]:
        """The threshold changes."""
        return [e for e in self.events() if isinstance(e, OverrideChange)]

    def overrides(self) -> Overrides:
        """What is in force at the clock: the latest change per scope and the switch, less what has expired."""
        now = self.clock()
        scopes: dict[tuple[str, tuple[tuple[str, str], ...]], OverrideChange] = {}
        switch: PageEverythingChange | None = None
        for event in sorted(self.events(), key=lambda e: e.at):
            if isinstance(event, LiveSafetyChange):
                continue
            if isinstance(event, PageEverythingChange):
                switch = event
            elif event.new is None:
                scopes.pop(event.scope, None)
            else:
                scopes[event.scope] = event
        # "*" without matchers predates scopes (a service named "*"): never read as an override of every service
        live = [_threshold_override(c) for c in scopes.values() if _live(c.expires_at, now) and c.scope != ("*", ())]
        page = None
        if switch is not None and switch.on and _live(switch.expires_at, now):
            page = PageEverything(**switch.model_dump(include=RULE_FIELDS))
        return Overrides(thresholds=live, page_everything=page)

    def current(self) -> dict[str, float]:
        """``{service: threshold}`` of the unscoped overrides in force (the service-level view)."""
        return self.overrides().unscoped(self.clock())

    def in_force(self, service: str, matchers: dict[str, str] | None = None) -> ThresholdOverride | None:
        """The override in force for exactly this scope, if any."""
        scope = (service, tuple(sorted((matchers or {}).items())))
        return next(
            (o for o in self.overrides().thresholds if (o.service, tuple(sorted(o.matchers.items()))) == scope), None
        )

    def set(
        self,
        service: str,
        new: float | None,
        by: str,
        reason: str,
        matchers: dict[str, str] | None = None,
        expires_at: datetime | None = None,
    ) -> OverrideChange:
        """Set (``new``) or revert (None) the override of one scope; ``old`` is the one it replaces."""
        if service == ANY_SERVICE and not matchers:
            raise ValueError('an override for any service ("*") needs label matchers')
        before = self.in_force(service, matchers)
        change = OverrideChange(
            service=service,
            old=before.threshold if before else None,
            new=new,
            by=by,
            reason=reason,
            matchers=matchers or {},
            expires_at=expires_at,
            at=self.clock(),
        )
        self.store.append("overrides", [change])
        return change

    def set_page_everything(
        self,
        on: bool,
        by: str,
        reason: str,
        service: str = ANY_SERVICE,
        matchers: dict[str, str] | None = None,
        expires_at: datetime | None = None,
    ) -> PageEverythingChange:
        change = PageEverythingChange(
            on=on,
            service=service,
            matchers=matchers or {},
            expires_at=expires_at,
            by=by,
            reason=reason,
            at=self.clock(),
        )
        self.store.append("overrides", [change])
        return change

    def live_safety(self, service: str, paused: bool, by: str, reason: str, at: datetime) -> LiveSafetyChange:
        change = LiveSafetyChange(service=service, paused=paused, by=by, reason=reason[:2000], at=at)
        self.store.append("overrides", [change])
        return change


def overrides_reader(location: str | None = None) -> Callable[[], Overrides]:
    """A function the scorer calls to read the overrides in force (from the configured state store)."""

    def read() -> Overrides:
        return OverrideLog(open_store(location or get_settings().state_location)).overrides()

    return read
