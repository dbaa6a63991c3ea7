"""The FastAPI application the Ingress serves: the app object with its routers (threshold UI and overrides,
decisions and the Suppressed page), error handlers that always answer a 4xx with a body that renders,
and request counting. /docs and /redoc come from the assets fastapi-offline ships (not a CDN), so
air-gapped networks get their docs too."""

from typing import Any

from fastapi import FastAPI, Request
from fastapi.exceptions import RequestValidationError
from fastapi.responses import JSONResponse
from fastapi_offline import FastAPIOffline

from alertsieve import __version__
from serve_app import overrides_api, suppressed, ui
from serve_app.telemetry import telemetry
from serve_app.webhook import AlertmanagerWebhook, AuthError, SafeJSONResponse, validation_problems

WEBHOOK = "/v1/alertmanager"
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


@api.exception_handler(RequestValidationError)
async def _invalid(request: Request, exc: RequestValidationError) -> JSONResponse:
    return SafeJSONResponse(status_code=422, content=validation_problems(exc.errors()))


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
