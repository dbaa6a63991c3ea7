"""The FastAPI application the Ingress serves: the app object with its routers (threshold UI and overrides,
decisions and the Suppressed page, live safety), error handlers that always answer a 4xx with a body that renders,
a 405 whose ``Allow`` the routes compute (``serve_app/allowed_methods.py``), request counting, and the middlewares, declared here once: from the outside in, the guards (arrival time,
Host header, token on reads: ``serve_app/guards.py``), the webhook mark and sweep start
(``serve_app/late_paging.py``) and the body limit (``serve_app/webhook.py``). What they enforce is read
per request from the ``AppContext`` the Ingress put on the app's state (``serve_app/app_context.py``), so
one app object serves every replica with that replica's config. /docs and /redoc come from the assets
fastapi-offline ships (not a CDN), so air-gapped networks get their docs too."""

from typing import Any

from fastapi import FastAPI, Request
from fastapi.exception_handlers import http_exception_handler
from fastapi.exceptions import RequestValidationError
from fastapi.responses import JSONResponse, Response
from fastapi_offline import FastAPIOffline
from starlette.exceptions import HTTPException as StarletteHTTPException

from alertsieve import __version__
from serve_app import live_safety_api, overrides_api, suppressed, ui
from serve_app.allowed_methods import allow_header
from serve_app.app_context import on_request, request_policy
from serve_app.guards import WEBHOOK, RequestGuards
from serve_app.late_paging import MarkWebhook
from serve_app.telemetry import telemetry
from serve_app.webhook import AlertmanagerWebhook, AuthError, BodyLimit, SafeJSONResponse, validation_problems

# The webhook reads its own body (to forward what it cannot parse); its schema is documented here.
_webhook_schema = AlertmanagerWebhook.model_json_schema(ref_template="#/components/schemas/{model}")
_webhook_schema.pop("$defs", None)
WEBHOOK_BODY = {"requestBody": {"required": True, "content": {"application/json": {"schema": _webhook_schema}}}}

api: FastAPI = FastAPIOffline(
    title="alertsieve",
    version=__version__,
    static_url="/docs/static",
    description="Page or suppress every alert, under an FNR budget.",
)
api.include_router(ui.router)
api.include_router(overrides_api.router)
api.include_router(suppressed.router)
api.include_router(live_safety_api.router)


@api.exception_handler(RequestValidationError)
async def _invalid(request: Request, exc: RequestValidationError) -> JSONResponse:
    return SafeJSONResponse(status_code=422, content=validation_problems(exc.errors()))


@api.exception_handler(StarletteHTTPException)
async def _http_error(request: Request, exc: StarletteHTTPException) -> Response:
    """FastAPI's answer, but a 405's ``Allow`` lists the methods of the path's resource (``serve_app/allowed_methods.py``)."""
    if exc.status_code == 405:
        allow = allow_header(request.app.routes, request.scope)
        if allow is not None:
            exc.headers = {**(exc.headers or {}), "Allow": allow}
    return await http_exception_handler(request, exc)


@api.exception_handler(AuthError)
async def _unauthorised(request: Request, exc: AuthError) -> JSONResponse:
    headers = {"WWW-Authenticate": "Bearer"} if exc.status == 401 else {}
    return JSONResponse(status_code=exc.status, content={"detail": exc.message}, headers=headers)


@api.middleware("http")
async def _count_requests(request: Request, call_next: Any) -> Any:
    response = await call_next(request)
    route = request.scope.get("route")
    path = getattr(route, "path", "unmatched")
    telemetry().requests.inc(tags={"route": path, "code": str(response.status_code)})
    return response


# each added outside the ones before: the guards outermost, request counting innermost
api.add_middleware(BodyLimit, limit=lambda scope: request_policy(scope).max_body_bytes, exempt=frozenset({WEBHOOK}))
api.add_middleware(MarkWebhook, paths=frozenset({WEBHOOK}), on_request=on_request)
api.add_middleware(RequestGuards, policy=lambda scope: request_policy(scope).guards)
