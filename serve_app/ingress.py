"""The Ingress deployment: alertsieve's HTTP API (FastAPI, OpenAPI at /docs, served offline).

POST /v1/score and POST /v1/alertmanager score alerts through the router (``serve_app/router.py``, held
here: the one writer of the stream context, hence one replica) and the model deployments; the webhook
forwards what was paged to the team's real receiver. Anything that goes wrong while scoring, a timeout included,
pages every alert (fail open, and logged) and, on the webhook, forwards everything; what the webhook cannot
score at all is forwarded as it came (``serve_app/relay.py``). POST /v1/feedback is stored durably before
it is acknowledged. Writes need the bearer token; client mistakes get a 4xx that names the field; bodies
over the limit get 413 (except on the webhook, which never refuses alerts).
"""

import asyncio
import logging
import threading
import time
from collections.abc import Callable
from typing import Any

import httpx
from fastapi import FastAPI, Header, Request
from fastapi.exceptions import RequestValidationError
from fastapi.responses import JSONResponse
from fastapi_offline import FastAPIOffline
from ray import serve
from ray.serve.handle import DeploymentHandle

from alertsieve import __version__
from alertsieve import metric_names as m
from alertsieve.bundle import ModelBundle
from alertsieve.pipeline import store_gauges
from alertsieve.schema import Alert, Decision, Feedback
from alertsieve.scoring import fail_open
from alertsieve.settings import get_settings
from alertsieve.store import open_store
from serve_app import ui
from serve_app.config import IngressConfig, config_problem
from serve_app.loading import load_model
from serve_app.relay import Body, ForwardError, NothingToScore, Relay, parse_payload, read_bounded
from serve_app.router import Router
from serve_app.telemetry import telemetry
from serve_app.webhook import (
    AlertmanagerWebhook,
    AuthError,
    BodyLimit,
    SafeJSONResponse,
    ScoreRequest,
    ScoreResponse,
    WebhookResponse,
    check_bearer,
    documented,
    validation_problems,
)

logger = logging.getLogger("ray.serve")
WEBHOOK = "/v1/alertmanager"
# The webhook reads its own body (to forward what it cannot parse); its schema is documented here.
_webhook_schema = AlertmanagerWebhook.model_json_schema(ref_template="#/components/schemas/{model}")
_webhook_schema.pop("$defs", None)
WEBHOOK_BODY = {"requestBody": {"required": True, "content": {"application/json": {"schema": _webhook_schema}}}}
# /docs and /redoc from the assets fastapi-offline ships (not a CDN): air-gapped networks get their docs too
api: FastAPI = FastAPIOffline(title="alertsieve", version=__version__, static_url="/docs/static",
                              description="Page or suppress every alert, under an FNR budget.")  # fmt: skip
api.include_router(ui.router)


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


@serve.deployment(name="Ingress", num_replicas=1, ray_actor_options={"num_cpus": 0.2}, max_ongoing_requests=256)
@serve.ingress(api)
class Ingress:
    def __init__(
        self,
        champion: DeploymentHandle,
        challenger: DeploymentHandle | None = None,
        champion_ref: str = "champion",
        loader: Callable[[str], ModelBundle] = load_model,
    ) -> None:
        self.router = Router(champion, challenger, champion_ref, loader)
        self.args = IngressConfig()
        settings = get_settings()
        self.token = settings.api_token.get_secret_value() if settings.api_token else None
        self.store = open_store(settings.state_location)
        ui.bind(self.router.describe, self.store, self.token, loader)
        self.http = httpx.AsyncClient(timeout=self.args.forward_timeout_s)
        threading.Thread(target=self._export_pipeline_status, daemon=True, name="pipeline-status").start()
        api.add_middleware(BodyLimit, limit=lambda: self.args.max_body_bytes, exempt=frozenset({WEBHOOK}))

    def reconfigure(self, user_config: dict[str, Any]) -> None:
        config = IngressConfig.model_validate(user_config)
        if config.forward_timeout_s != self.args.forward_timeout_s:
            self.http = httpx.AsyncClient(timeout=config.forward_timeout_s)
        self.router.reconfigure(config.router)
        self.args = config

    # ---- helpers --------------------------------------------------------------------------------
    def _export_pipeline_status(self, read_every_s: float = 15.0) -> None:
        """Publish the retraining pipeline's last run as gauges (the job itself is not long-lived).

        Ray exports a gauge only while it is being set, so the values are set every second and the
        store (a local file or S3 listing) is read every ``read_every_s``."""
        gauges = {m.TRAINING_LAST_RUN: telemetry().training_last_run, m.TRAINING_ROWS: telemetry().training_rows,
                  m.TRAINING_LAST_DURATION: telemetry().training_duration,
                  m.TRAINING_LAST_SUCCESS: telemetry().training_success,
                  m.TRAINING_LAST_SUCCESS_TIME: telemetry().training_last_success_time}  # fmt: skip
        values: dict[str, float] = {}
        read_at = 0.0
        while True:
            try:
                if time.monotonic() - read_at >= read_every_s:
                    read_at = time.monotonic()
                    values = store_gauges(self.store)
                for name, value in values.items():
                    gauges[name].set(value)
            except Exception:  # noqa: BLE001 - a status we cannot read is not worth a crash
                telemetry().errors.inc(tags={"stage": "pipeline-status"})
            time.sleep(1.0)

    def _relay(self) -> Relay:
        """Where alerts go downstream: the one way pages, late pages and resolutions are delivered."""
        return Relay(self.http, self.args.downstream_url, self.args.max_alerts_per_request)

    def _require_token(self, authorization: str | None) -> None:
        check_bearer(authorization, self.token)

    def _check_size(self, alerts: list[Alert]) -> JSONResponse | None:
        if len(alerts) > self.args.max_alerts_per_request:
            return JSONResponse(
                status_code=413,
                content={
                    "detail": f"alerts: {len(alerts)} alerts, at most {self.args.max_alerts_per_request} per request"
                },
            )
        return None

    async def _score(self, alerts: list[Alert], route: str) -> tuple[list[Decision], bool]:
        """Decisions in input order, and whether they are fail-open pages."""
        started = time.perf_counter()
        reason = ""
        try:  # a timeout cancels the router's call, and with it the model deployments' requests
            decisions: list[Decision] = await asyncio.wait_for(self.router.score(alerts), self.args.score_timeout_s)
        except TimeoutError:
            reason = "timeout"
            telemetry().errors.inc(tags={"stage": "score-timeout"})
        except Exception as exc:  # noqa: BLE001 - any failure pages (fail open)
            reason = type(exc).__name__
            telemetry().errors.inc(tags={"stage": "score"})
            logger.exception("scoring failed: paging %d alerts", len(alerts), extra={"route": route})
        if reason:
            telemetry().fail_open.inc(len(alerts), tags={"reason": "timeout" if reason == "timeout" else "error"})
            decisions = [fail_open(a, a.service(get_settings().service_labels), "none", reason) for a in alerts]
            try:  # the record of what was paged has no holes, and their resolutions are forwarded
                await self.router.record(alerts, decisions)
            except Exception:  # noqa: BLE001 - the pages are answered even if the log cannot take them
                telemetry().errors.inc(tags={"stage": "fail-open-log"})
                logger.exception("fail-open decisions could not be logged", extra={"route": route})
        telemetry().latency.observe(time.perf_counter() - started, tags={"route": route})
        return decisions, bool(reason)

    # ---- routes ---------------------------------------------------------------------------------
    @api.post("/v1/score", response_model=ScoreResponse, summary="Decide page or suppress for alerts",
              responses=documented(401, 403, 413, 422, 503))  # fmt: skip
    async def score(self, body: ScoreRequest, authorization: str | None = Header(default=None)) -> Any:
        problem = config_problem(self.args, self.token)
        if problem:
            return SafeJSONResponse(status_code=503, content={"detail": problem})
        if self.args.protect_scoring:
            self._require_token(authorization)
        too_large = self._check_size(body.alerts)
        if too_large:
            return too_large
        decisions, _ = await self._score(body.alerts, "/v1/score")
        return ScoreResponse(decisions=decisions)

    @api.post(WEBHOOK, response_model=WebhookResponse, summary="Alertmanager webhook (version 4)",
              openapi_extra=WEBHOOK_BODY, responses=documented(422, 502))  # fmt: skip
    async def alertmanager(self, request: Request, authorization: str | None = Header(default=None)) -> Any:
        """Score what can be scored; forward the pages and everything that cannot be scored, as it came."""
        relay = self._relay()
        body = await read_bounded(request.stream(), self.args.max_body_bytes)
        content_type = request.headers.get("content-type", "application/json")
        length = request.headers.get("content-length")
        try:
            problem = self._webhook_problem(authorization, body)
            if problem:
                return await relay.forward_raw(body, content_type, problem, length)
            raw = parse_payload(body.head)
            if raw is None:
                return await relay.forward_raw(body, content_type, "malformed", length)
            return await relay.relay(raw, lambda alerts: self._score(alerts, WEBHOOK), self.router.resolve)
        except NothingToScore as exc:
            return SafeJSONResponse(status_code=422, content={"message": str(exc), "detail": []})
        except ForwardError as exc:
            return SafeJSONResponse(status_code=502, content={"detail": str(exc)})

    def _webhook_problem(self, authorization: str | None, body: Body) -> str | None:
        """Why this notification cannot be scored at all (it is then forwarded as it came), or None."""
        if config_problem(self.args, self.token):
            return "config"
        if self.args.protect_scoring:
            try:
                self._require_token(authorization)
            except AuthError:
                return "auth"
        return "too_large" if body.rest is not None else None

    @api.post("/v1/feedback", status_code=202, summary="Was this alert actionable? (needs the write token)",
              responses=documented(401, 403, 413, 422))  # fmt: skip
    async def feedback(self, body: Feedback, authorization: str | None = Header(default=None)) -> dict[str, Any]:
        self._require_token(authorization)
        await asyncio.to_thread(self.store.append, "feedback", [body])
        decision = self.router.decision_for(body.fingerprint, body.startsAt.timestamp())
        telemetry().feedback.inc(tags={
            "service": decision.service if decision else "unknown",
            "decision": decision.decision if decision else "unknown",
            "actionable": str(body.actionable).lower(),
            "arm": decision.arm if decision else "unknown",
            "model_version": decision.model_version if decision else "unknown"})  # fmt: skip
        return {"stored": True, "decision": decision.decision if decision else None}

    @api.get("/healthz", summary="Alive")
    async def healthz(self) -> dict[str, str]:
        return {"status": "alive"}

    @api.get("/readyz", summary="Ready: every deployment can score", responses=documented(503))
    async def readyz(self) -> Any:
        problem = config_problem(self.args, self.token)
        if problem:
            return JSONResponse(status_code=503, content={"status": "not ready", "detail": problem})
        try:
            described = await asyncio.wait_for(self.router.describe(), 30)
        except Exception as exc:  # noqa: BLE001 - not ready, whatever the reason
            return JSONResponse(status_code=503, content={"status": "not ready", "detail": type(exc).__name__})
        return {"status": "ready", "models": described}

    @api.get("/v1/models", summary="Models in service, split and thresholds")
    async def models(self) -> Any:
        return await self.router.describe()
