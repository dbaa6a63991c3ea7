"""Live safety over HTTP, beside the threshold UI: GET /v1/live-safety says which services stopped suppressing
and why (the banner on the threshold and Suppressed pages reads it), and every watched service's live shares
against validation; POST /v1/live-safety/{service}/resume, with the write token, is a person resuming a paused
service (an audit entry by that person). The watch itself is ``serve_app/live_watch.py``, in the router."""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Depends, HTTPException

from serve_app.app_context import Context, ServiceName, require_token
from serve_app.live_watch import LiveSafetyView, ResumeRequest, SafetyPort
from serve_app.webhook import documented
from thresholds.overrides import LiveSafetyChange

router = APIRouter()


def _safety(context: Context) -> SafetyPort:
    if context.safety is None:
        raise HTTPException(status_code=503, detail="no router holds a live-safety watch here")
    return context.safety


Safety = Annotated[SafetyPort, Depends(_safety)]


@router.get(
    "/v1/live-safety",
    response_model=LiveSafetyView,
    summary="Services that stopped suppressing because their stream departed from validation",
    responses=documented(503),
)
async def live_safety(safety: Safety) -> LiveSafetyView:
    return await safety.live_safety()


@router.post(
    "/v1/live-safety/{service}/resume",
    response_model=LiveSafetyChange,
    summary="Resume a paused service's suppression (needs the write token)",
    responses=documented(401, 403, 404, 413, 422, 503),
    dependencies=[Depends(require_token)],
)
async def resume(service: ServiceName, body: ResumeRequest, safety: Safety) -> LiveSafetyChange:
    change = await safety.resume_suppression(service, body.by, body.reason)
    if change is None:
        raise HTTPException(status_code=404, detail=f"{service} is not paused by live safety")
    return change
