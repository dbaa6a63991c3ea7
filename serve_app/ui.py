"""The threshold UI at /ui/ (``/ui`` redirects there) and its API under /v1/thresholds, mounted on the Ingress's FastAPI app.

GET /v1/thresholds lists every service with its threshold in force (optimised, pooled or overridden);
/preview replays the champion's validation slice under a candidate threshold (thresholds.preview);
PUT and DELETE /v1/thresholds/{service} set and revert an override (bearer token; optionally scoped by
label matchers, service "*" for any, and expiring: ``for_minutes`` or ``expires_at``), appended to the
override audit log in the state store that the scorers re-read every few seconds; /audit lists the log,
/trends the weekly trends from the decision log joined with feedback. The routes reach the Ingress's
``AppContext`` (router's describe, record store, write token, champion bundle) through ``Depends``
(``serve_app/app_context.py``); the bodies they answer and take are ``serve_app/threshold_views.py``.
"""

from __future__ import annotations

import asyncio
from typing import Annotated

from fastapi import APIRouter, Depends, HTTPException, Query
from fastapi.responses import RedirectResponse

from alertsieve.bundle import ModelBundle
from alertsieve.override_scope import ANY_SERVICE
from serve_app.app_context import AppContext, Context, ServiceName, require_token
from serve_app.static_files import add_page
from serve_app.threshold_views import (
    TRENDS_TTL_S,
    OverrideRequest,
    RevertRequest,
    ThresholdsView,
    TrendsView,
    live_thresholds,
    service_rows,
)
from serve_app.views import ModelsView, ModelView
from serve_app.webhook import documented
from thresholds.overrides import AuditEvent, OverrideChange, OverrideLog
from thresholds.preview import Preview, preview
from thresholds.trends import ALL

router = APIRouter()
STATIC_TYPES = {
    "app.js": "text/javascript; charset=utf-8",
    "style.css": "text/css; charset=utf-8",
    "overrides.js": "text/javascript; charset=utf-8",
    "common.js": "text/javascript; charset=utf-8",
}
READ_ONLY = frozenset({"audit", "trends", "preview", "overrides"})  # routes under /v1/thresholds/, never service names
__all__ = ["TRENDS_TTL_S", "router"]


def override_log(context: Context) -> OverrideLog:
    return OverrideLog(context.store)


Log = Annotated[OverrideLog, Depends(override_log)]


def writable(service: ServiceName) -> None:
    """FastAPI dependency: the names of the read-only routes cannot be written as services (405; the app's
    handler writes ``Allow`` from the routes: ``serve_app/allowed_methods.py``)."""
    if service in READ_ONLY:
        raise HTTPException(status_code=405, detail=f"/v1/thresholds/{service} is read-only")


WRITE = [Depends(writable), Depends(require_token)]  # in this order: a read-only name is a 405 before any 401


async def _champion(context: AppContext) -> ModelView:
    try:
        described = ModelsView.model_validate(await asyncio.wait_for(context.describe(), 30))
    except Exception as exc:  # noqa: BLE001 - any failure of the model side is a 503 here
        raise HTTPException(status_code=503, detail=f"no model to describe: {type(exc).__name__}") from None
    return described.champion


async def _bundle(context: AppContext, ref: str) -> ModelBundle:
    """The champion's bundle, shared with the router (loaded once per model: ``BundleCache``)."""
    return await asyncio.to_thread(context.bundles.load, ref)


add_page(router, ["/ui/"], "index.html", "/ui/static", STATIC_TYPES)


@router.get("/ui", include_in_schema=False)
async def ui_folder() -> RedirectResponse:
    """``/ui`` is ``ui/``: the pages' links and fetches are relative to the ``/ui/`` folder, so they work under
    any path prefix a proxy adds; the redirect is relative too, so it keeps the prefix."""
    return RedirectResponse("ui/", status_code=307)


@router.get(
    "/v1/thresholds",
    response_model=ThresholdsView,
    summary="Services and their thresholds in force",
    responses=documented(503),
)
async def list_thresholds(context: Context, log: Log) -> ThresholdsView:
    champion = await _champion(context)
    live = live_thresholds(champion, await asyncio.to_thread(log.current))
    serving = dict(champion.overrides)
    return ThresholdsView(
        model_version=live.model_version,
        budget=context.budget,
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
    context: Context,
    log: Log,
) -> Preview:
    champion = await _champion(context)
    live = live_thresholds(champion, await asyncio.to_thread(log.current))
    bundle = await _bundle(context, champion.ref or champion.model_version)
    policy = bundle.meta.policy
    params = policy.params.model_copy(update={"budget": context.budget})
    return preview(bundle.meta.validation, live, service, threshold, params)


@router.put(
    "/v1/thresholds/{service}",
    response_model=OverrideChange,
    summary="Override (needs the write token)",
    responses=documented(401, 403, 405, 413, 422, 503),
    dependencies=WRITE,
)
async def set_override(service: ServiceName, body: OverrideRequest, log: Log) -> OverrideChange:
    if service == ANY_SERVICE and not body.matchers:
        raise HTTPException(status_code=422, detail='an override for any service ("*") needs label matchers')
    expires_at = body.expiry(log.clock())
    return await asyncio.to_thread(log.set, service, body.threshold, body.by, body.reason, body.matchers, expires_at)


@router.delete(
    "/v1/thresholds/{service}",
    response_model=OverrideChange,
    summary="Revert to the optimised one",
    responses=documented(401, 403, 404, 405, 413, 422, 503),
    dependencies=WRITE,
)
async def revert_override(service: ServiceName, body: RevertRequest, log: Log) -> OverrideChange:
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
    log: Log,
    service: Annotated[str | None, Query(max_length=200)] = None,
    limit: Annotated[int, Query(ge=1, le=10_000)] = 200,
) -> list[AuditEvent]:
    changes = await asyncio.to_thread(log.events)
    chosen = [c for c in changes if service is None or c.service == service]
    return sorted(chosen, key=lambda c: c.at, reverse=True)[:limit]


@router.get(
    "/v1/thresholds/trends",
    response_model=TrendsView,
    summary="Weekly trends from decisions and feedback",
    responses=documented(422, 503),
)
async def trends(context: Context, service: Annotated[str | None, Query(max_length=200)] = None) -> TrendsView:
    rows = await context.trends.rows_of(context.store)
    return TrendsView(rows=[r for r in rows if service is None or r.service in (service, ALL)])
