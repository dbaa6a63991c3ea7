"""The overrides in force and the "page everything" switch, beside the threshold UI (``serve_app.ui``).

GET /v1/thresholds/overrides lists every threshold override in force with its scope (service, label
matchers) and expiry; GET /v1/page-everything says whether the switch is on, for what and until when;
PUT /v1/page-everything turns it on (optionally scoped and expiring) or off, with the write token. Every
change goes to the override audit log (GET /v1/thresholds/audit), which the scorers re-read every few
seconds; the decision rule itself is ``alertsieve.policy``.
"""

from __future__ import annotations

import asyncio
from datetime import datetime

from fastapi import APIRouter, Depends
from pydantic import BaseModel, Field

from alertsieve.override_scope import ANY_SERVICE, Name, Scope
from serve_app.app_context import require_token
from serve_app.ui import Log
from serve_app.webhook import documented
from thresholds.overrides import PageEverythingChange, ScopeInput

router = APIRouter()


class ScopeView(BaseModel):
    service: str = Field(description='"*": any service')
    matchers: dict[str, str]
    scope: str = Field(description="the matchers in words, or 'all alerts'")
    expires_at: datetime | None
    seconds_left: float | None = Field(description="None: until changed")
    by: str
    reason: str
    at: datetime


class OverrideView(ScopeView):
    threshold: float


class PageEverythingState(BaseModel):
    on: bool
    switch: ScopeView | None = Field(default=None, description="its scope and expiry while on")


class PageEverythingRequest(ScopeInput):
    """Turn the switch on (for every alert, or a service's, or those the matchers take; until turned off or
    for ``for_minutes`` / until ``expires_at``) or off (scope and expiry are then ignored)."""

    on: bool = Field(strict=True)
    service: Name = Field(default=ANY_SERVICE, min_length=1, max_length=200)
    by: str = Field(min_length=1, max_length=200)
    reason: str = Field(min_length=1, max_length=2000)


def _view(scope: Scope, now: datetime) -> ScopeView:
    left = None if scope.expires_at is None else max(0.0, (scope.expires_at - now).total_seconds())
    return ScopeView(
        service=scope.service,
        matchers=scope.matchers,
        scope=scope.scope_text(),
        expires_at=scope.expires_at,
        seconds_left=left,
        by=scope.by,
        reason=scope.reason,
        at=scope.at,
    )


@router.get(
    "/v1/thresholds/overrides",
    response_model=list[OverrideView],
    summary="Threshold overrides in force, with scope and expiry",
    responses=documented(503),
)
async def overrides_in_force(log: Log) -> list[OverrideView]:
    now = log.clock()
    found = await asyncio.to_thread(log.overrides)
    ordered = sorted(found.thresholds, key=lambda o: (o.service, -o.specificity, o.at))
    return [OverrideView(**_view(o, now).model_dump(), threshold=o.threshold) for o in ordered]


@router.get(
    "/v1/page-everything",
    response_model=PageEverythingState,
    summary="Whether every alert pages now",
    responses=documented(503),
)
async def page_everything_state(log: Log) -> PageEverythingState:
    switch = (await asyncio.to_thread(log.overrides)).page_everything
    return PageEverythingState(on=switch is not None, switch=_view(switch, log.clock()) if switch else None)


@router.put(
    "/v1/page-everything",
    response_model=PageEverythingChange,
    summary="Turn page-everything on or off (needs the write token)",
    responses=documented(401, 403, 413, 422, 503),
    dependencies=[Depends(require_token)],
)
async def set_page_everything(body: PageEverythingRequest, log: Log) -> PageEverythingChange:
    if not body.on:
        return await asyncio.to_thread(log.set_page_everything, False, body.by, body.reason)
    expires_at = body.expiry(log.clock())
    return await asyncio.to_thread(
        log.set_page_everything, True, body.by, body.reason, body.service, body.matchers, expires_at
    )
