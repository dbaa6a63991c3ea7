"""The typed bodies of the threshold API (``serve_app/ui.py``): what GET /v1/thresholds and /trends answer,
what PUT and DELETE /v1/thresholds/{service} take, and how the rows are built from the champion scorer's
``describe()`` and the override log; ``TrendsCache`` keeps /trends from re-reading the decision log."""

from __future__ import annotations

import asyncio
import time

from pydantic import BaseModel, Field

from alertsieve.override_scope import InputMatchers
from alertsieve.store import RecordStore
from serve_app.views import ModelView
from thresholds.overrides import ScopeInput
from thresholds.preview import LiveThresholds
from thresholds.trends import TrendRow, production_trends

TRENDS_TTL_S = 300.0  # weekly trends: five minutes old is fresh enough, and scoring shares this replica


class ServiceThreshold(BaseModel):
    service: str
    in_force: float | None = Field(description="None: unknown to the model, paged")
    source: str | None = Field(description="service, pooled, override, or None when paged")
    optimised: float | None
    optimised_source: str | None
    override: float | None
    note: str = Field(default="", description="why it suppresses what it does, from training's validation")


class ThresholdsView(BaseModel):
    model_version: str
    budget: float
    pooled: float
    services: list[ServiceThreshold]
    serving_overrides: dict[str, float] = Field(description="what the champion scorer applied at its last read")


class OverrideRequest(ScopeInput):
    """A threshold for the service's alerts, or only those the matchers take (service "*": any service's),
    until reverted or for ``for_minutes`` / until ``expires_at``."""

    threshold: float = Field(ge=0.0, le=1.0, strict=True, description="suppress scores below this (a number)")
    by: str = Field(min_length=1, max_length=200)
    reason: str = Field(min_length=1, max_length=2000)


class RevertRequest(BaseModel):
    matchers: InputMatchers = Field(default_factory=dict, description="the scope to revert (empty: the unscoped one)")
    by: str = Field(min_length=1, max_length=200)
    reason: str = Field(default="reverted to the optimised threshold", min_length=1, max_length=2000)


class TrendsView(BaseModel):
    rows: list[TrendRow]


def live_thresholds(champion: ModelView, overrides: dict[str, float]) -> LiveThresholds:
    """The champion scorer's ``describe()`` and the override log's overrides in force."""
    return LiveThresholds(
        model_version=champion.model_version,
        pooled=champion.pooled_threshold,
        services=dict(champion.thresholds),
        known_services=list(champion.known_services),
        overrides=overrides,
    )


def service_rows(live: LiveThresholds, notes: dict[str, str] | None = None) -> list[ServiceThreshold]:
    notes = notes or {}
    rows = []
    for service in live.all_services():
        now, optimised = live.in_force(service), live.optimised(service)
        rows.append(
            ServiceThreshold(
                service=service,
                in_force=now[0] if now else None,
                source=now[1] if now else None,
                optimised=optimised[0] if optimised else None,
                optimised_source=optimised[1] if optimised else None,
                override=live.overrides.get(service),
                note=notes.get(service, ""),
            )
        )
    return rows


class TrendsCache:
    """/trends reads the whole decision log: at most once a TRENDS_TTL_S, however many pages are open."""

    def __init__(self) -> None:
        self.rows: list[TrendRow] = []
        self.read_at: float | None = None
        self.lock = asyncio.Lock()

    async def rows_of(self, store: RecordStore) -> list[TrendRow]:
        async with self.lock:  # parallel callers wait for one read rather than each doing their own
            if self.read_at is None or time.monotonic() - self.read_at > TRENDS_TTL_S:
                self.rows = await asyncio.to_thread(production_trends, store, True)
                self.read_at = time.monotonic()
        return self.rows
