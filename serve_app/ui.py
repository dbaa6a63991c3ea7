"""The threshold UI at /ui and its API under /v1/thresholds, mounted on the Ingress's FastAPI app.

GET /v1/thresholds lists every service with its threshold in force (optimised, pooled or overridden);
/preview replays the champion's validation slice under a candidate threshold (thresholds.preview);
PUT and DELETE /v1/thresholds/{service} set and revert an override (bearer token; optionally scoped by
label matchers, service "*" for any, and expiring: ``for_minutes`` or ``expires_at``), appended to the
override audit log in the state store that the scorers re-read every few seconds; /audit lists the log,
/trends the weekly trends from the decision log joined with feedback. The Ingress calls ``bind`` once
per replica with the router's describe, its record store and the write token.
"""

from __future__ import annotations

import asyncio
import time
from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field
from functools import lru_cache
from importlib import resources
from typing import Annotated, Any

from fastapi import APIRouter, Header, HTTPException, Query
from fastapi import Path as PathParam
from fastapi.responses import HTMLResponse, Response
from pydantic import BaseModel, Field

from alertsieve.bundle import ModelBundle
from alertsieve.override_scope import ANY_SERVICE, Matchers
from alertsieve.settings import get_settings
from alertsieve.store import RecordStore
from serve_app.views import ModelsView, ModelView
from serve_app.webhook import AuthError, check_bearer, documented
from thresholds.overrides import AuditEvent, OverrideChange, OverrideLog, ScopeInput
from thresholds.preview import LiveThresholds, Preview, preview
from thresholds.trends import ALL, TrendRow, production_trends

router = APIRouter()
STATIC_TYPES = {
    "app.js": "text/javascript; charset=utf-8",
    "style.css": "text/css; charset=utf-8",
    "overrides.js": "text/javascript; charset=utf-8",
    "common.js": "text/javascript; charset=utf-8",
}
Loader = Callable[[str], ModelBundle]
Describe = Callable[[], Awaitable[ModelsView | dict[str, Any]]]  # the router's, or a stand-in's plain dict
READ_ONLY = frozenset({"audit", "trends", "preview", "overrides"})  # routes under /v1/thresholds/, never service names
ServiceName = Annotated[str, PathParam(min_length=1, max_length=200)]


@dataclass
class UIContext:
    describe: Describe  # the router's describe(): the model and thresholds each arm serves with
    store: RecordStore
    token: str | None
    loader: Loader | None = None
    budget: float = 0.015
    bundles: dict[str, ModelBundle] = field(default_factory=dict)
    # /trends reads the whole decision log: at most once a TRENDS_TTL_S, however many pages are open
    trends_rows: list[TrendRow] = field(default_factory=list)
    trends_at: float | None = None
    trends_lock: asyncio.Lock = field(default_factory=asyncio.Lock)

    @property
    def log(self) -> OverrideLog:
        return OverrideLog(self.store)


_context: UIContext | None = None
TRENDS_TTL_S = 300.0  # weekly trends: five minutes old is fresh enough, and scoring shares this replica


async def _trend_rows(ctx: UIContext) -> list[TrendRow]:
    async with ctx.trends_lock:  # parallel callers wait for one read rather than each doing their own
        if ctx.trends_at is None or time.monotonic() - ctx.trends_at > TRENDS_TTL_S:
            ctx.trends_rows = await asyncio.to_thread(production_trends, ctx.store, True)
            ctx.trends_at = time.monotonic()
    return ctx.trends_rows


def bind(describe: Describe, store: RecordStore, token: str | None, loader: Loader | None = None) -> None:
    """Give the routes what they need (called in ``Ingress.__init__``, once per replica)."""
    global _context
    _context = UIContext(describe=describe, store=store, token=token, loader=loader, budget=get_settings().fnr_budget)


def context() -> UIContext:
    if _context is None:
        raise HTTPException(status_code=503, detail="the threshold UI is not bound to a router yet")
    return _context


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
    matchers: Matchers = Field(default_factory=dict, description="the scope to revert (empty: the unscoped one)")
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


def _writable(service: str) -> None:
    if service in READ_ONLY:
        raise HTTPException(status_code=405, detail=f"/v1/thresholds/{service} is read-only", headers={"Allow": "GET"})


def _authorise(ctx: UIContext, authorization: str | None) -> None:
    try:
        check_bearer(authorization, ctx.token)
    except AuthError as exc:
        headers = {"WWW-Authenticate": "Bearer"} if exc.status == 401 else None
        raise HTTPException(status_code=exc.status, detail=exc.message, headers=headers) from None


async def _champion(ctx: UIContext) -> ModelView:
    try:
        described = ModelsView.model_validate(await asyncio.wait_for(ctx.describe(), 30))
    except Exception as exc:  # noqa: BLE001 - any failure of the model side is a 503 here
        raise HTTPException(status_code=503, detail=f"no model to describe: {type(exc).__name__}") from None
    return described.champion


async def _bundle(ctx: UIContext, ref: str) -> ModelBundle:
    if ref not in ctx.bundles:
        loader = ctx.loader
        if loader is None:
            from serve_app.loading import load_model

            loader = load_model
        bundle = await asyncio.to_thread(loader, ref)
        ctx.bundles = {ref: bundle}  # only the champion in service now is kept
    return ctx.bundles[ref]


@lru_cache(maxsize=8)
def static_text(name: str) -> str:
    return (resources.files("serve_app") / "static" / name).read_text(encoding="utf-8")


@router.get("/ui", response_class=HTMLResponse, include_in_schema=False)
@router.get("/ui/", response_class=HTMLResponse, include_in_schema=False)
async def ui_page() -> HTMLResponse:
    return HTMLResponse(static_text("index.html"))


@router.get("/ui/static/{name}", include_in_schema=False)
async def ui_static(name: str) -> Response:
    if name not in STATIC_TYPES:
        raise HTTPException(status_code=404, detail="no such file")
    return Response(static_text(name), media_type=STATIC_TYPES[name])


@router.get(
    "/v1/thresholds",
    response_model=ThresholdsView,
    summary="Services and their thresholds in force",
    responses=documented(503),
)
async def list_thresholds() -> ThresholdsView:
    ctx = context()
    champion = await _champion(ctx)
    live = live_thresholds(champion, await asyncio.to_thread(ctx.log.current))
    serving = dict(champion.overrides)
    return ThresholdsView(
        model_version=live.model_version,
        budget=ctx.budget,
        pooled=live.pooled,
        services=service_rows(live, dict(champion.notes)),
        serving_overrides=serving,
    )


@router.get(
    "/v1/thresholds/preview",
    response_model=Preview,
    summary="Noise reduction and FNR of a candidate",
    responses=documented(422, 503),
)
async def preview_threshold(
    service: Annotated[str, Query(min_length=1, max_length=200)],
    threshold: Annotated[float, Query(ge=0.0, le=1.0)],
) -> Preview:
    ctx = context()
    champion = await _champion(ctx)
    live = live_thresholds(champion, await asyncio.to_thread(ctx.log.current))
    bundle = await _bundle(ctx, champion.ref or champion.model_version)
    policy = bundle.meta.policy
    params = policy.params.model_copy(update={"budget": ctx.budget})
    return preview(bundle.meta.validation, live, service, threshold, params)


@router.put(
    "/v1/thresholds/{service}",
    response_model=OverrideChange,
    summary="Override (needs the write token)",
    responses=documented(401, 403, 405, 413, 422, 503),
)
async def set_override(
    service: ServiceName, body: OverrideRequest, authorization: Annotated[str | None, Header()] = None
) -> OverrideChange:
    _writable(service)
    ctx = context()
    _authorise(ctx, authorization)
    if service == ANY_SERVICE and not body.matchers:
        raise HTTPException(status_code=422, detail='an override for any service ("*") needs label matchers')
    log = ctx.log
    expires_at = body.expiry(log.clock())
    return await asyncio.to_thread(log.set, service, body.threshold, body.by, body.reason, body.matchers, expires_at)


@router.delete(
    "/v1/thresholds/{service}",
    response_model=OverrideChange,
    summary="Revert to the optimised one",
    responses=documented(401, 403, 404, 405, 413, 422, 503),
)
async def revert_override(
    service: ServiceName, body: RevertRequest, authorization: Annotated[str | None, Header()] = None
) -> OverrideChange:
    _writable(service)
    ctx = context()
    _authorise(ctx, authorization)
    log = ctx.log
    if await asyncio.to_thread(log.in_force, service, body.matchers) is None:
        scope = f" for {', '.join(f'{k}={v}' for k, v in sorted(body.matchers.items()))}" if body.matchers else ""
        raise HTTPException(status_code=404, detail=f"{service} has no override in force{scope}")
    return await asyncio.to_thread(log.set, service, None, body.by, body.reason, body.matchers)


@router.get(
    "/v1/thresholds/audit",
    response_model=list[AuditEvent],
    summary="Override and page-everything changes, newest first",
    responses=documented(422, 503),
)
async def audit(
    service: Annotated[str | None, Query(max_length=200)] = None,
    limit: Annotated[int, Query(ge=1, le=10_000)] = 200,
) -> list[AuditEvent]:
    changes = await asyncio.to_thread(context().log.events)
    chosen = [c for c in changes if service is None or c.service == service]
    return sorted(chosen, key=lambda c: c.at, reverse=True)[:limit]


@router.get(
    "/v1/thresholds/trends",
    response_model=TrendsView,
    summary="Weekly trends from decisions and feedback",
    responses=documented(422, 503),
)
async def trends(service: Annotated[str | None, Query(max_length=200)] = None) -> TrendsView:
    rows = await _trend_rows(context())
    return TrendsView(rows=[r for r in rows if service is None or r.service in (service, ALL)])
