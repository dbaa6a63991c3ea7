"""The Ingress deployment: alertsieve's HTTP API (FastAPI, OpenAPI at /docs, served offline).

POST /v1/score and POST /v1/alertmanager score alerts through the router (``serve_app/router.py``, held
here: the one writer of the stream context, hence one replica) and the model deployments; the webhook
forwards what was paged to the team's real receiver. Anything that goes wrong while scoring, a timeout included,
pages every alert (fail open, and logged) and, on the webhook, forwards everything; what the webhook cannot
score at all is forwarded as it came (``serve_app/relay.py``). POST /v1/feedback is stored durably before
it is acknowledged; "should have paged" on a suppression pages it late, and a sweep pages suppressed webhook
alerts still firing after their delay (``serve_app/late_paging.py``); GET /v1/decisions and the Suppressed
page read the decision log (``serve_app/suppressed.py``). Writes need the bearer token; client mistakes
get a 4xx that names the field; bodies over the limit get 413 (except on the webhook, which never refuses
alerts).

Every scoring answer is due ``score_timeout_s`` after the request arrived (per chunk of a storm): past it,
the alerts page at once. Queues are capped (``max_queued_requests``): a full proxy queue answers 503 with
Retry-After (Alertmanager retries a 5xx), a full model-deployment queue pages at once. Requests pass the
guards first (``serve_app/guards.py``: Host header, and the token on reads under ``protect_reads``).
"""

import asyncio
import json
import logging
import threading
import time
from collections.abc import Callable
from datetime import datetime
from typing import TYPE_CHECKING, Annotated, Any

import httpx
from fastapi import Header, Query, Request
from fastapi.responses import JSONResponse
from ray import serve
from ray.serve.handle import DeploymentHandle

from alertsieve import metric_names as m
from alertsieve.bundle import ModelBundle
from alertsieve.pipeline import store_gauges
from alertsieve.schema import Alert, Feedback, Verdict
from alertsieve.settings import get_settings
from alertsieve.store import open_store
from serve_app import ui
from serve_app.config import IngressConfig, config_problem
from serve_app.deadline import DeadlineScorer
from serve_app.delivery import Outbox
from serve_app.guards import GuardPolicy, RequestGuards
from serve_app.http_api import WEBHOOK, WEBHOOK_BODY, api
from serve_app.late_paging import FeedbackResponse, LatePager, MarkWebhook
from serve_app.loading import load_model
from serve_app.receivers import configured_receivers
from serve_app.relay import Body, ForwardError, NothingToScore, Relay, parse_payload, read_bounded
from serve_app.router import Router
from serve_app.suppressed import MAX_LIMIT, DecisionsView, read_decisions
from serve_app.telemetry import telemetry
from serve_app.views import ModelsView, ReadyView
from serve_app.webhook import (
    AuthError,
    BodyLimit,
    SafeJSONResponse,
    ScoreRequest,
    ScoreResponse,
    WebhookResponse,
    check_bearer,
    check_webhook_auth,
    documented,
    webhook_credentials,
)

if TYPE_CHECKING:
    from serve_app.scorer import ModelScorer

logger = logging.getLogger("ray.serve")


@serve.deployment(
    name="Ingress",
    num_replicas=1,
    ray_actor_options={"num_cpus": 0.2},
    max_ongoing_requests=256,
    # beyond this many waiting at the proxy: 503 with Retry-After, which Alertmanager retries (it retries 5xx)
    max_queued_requests=256,
    backpressure_config={"status_code": 503, "retry_after_s": 1},
)
@serve.ingress(api)
class Ingress:
    def __init__(
        self,
        champion: "DeploymentHandle[ModelScorer]",
        challenger: "DeploymentHandle[ModelScorer] | None" = None,
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
        # late pages (serve_app/late_paging.py): the sweep starts with the first request, on the serving loop
        self.late = LatePager(self.router, self._relay, self.store)
        self.sweep: asyncio.Task[None] | None = None
        self.decisions_read = asyncio.Lock()  # one read of the decision log at a time, however many pages ask
        api.add_middleware(MarkWebhook, paths=frozenset({WEBHOOK}), on_request=self._start_sweep)
        # arrival time, Host header, token on reads (serve_app/guards.py); added last, so the outermost
        self.guard_policy = self._guard_policy(self.args)
        api.add_middleware(RequestGuards, policy=lambda: self.guard_policy)
        self.scoring = DeadlineScorer(self.router, lambda: self.args)  # every answer by its deadline

    async def __del__(self) -> None:
        """Serve's graceful shutdown (Ray 2.60 awaits an async ``__del__`` on the replica's loop): the
        router snapshots what changed since its last snapshot, so the next Ingress starts where this left."""
        router: Router | None = getattr(self, "router", None)
        if router is not None:
            await router.close()

    def _guard_policy(self, config: IngressConfig) -> GuardPolicy:
        return GuardPolicy.of(config.allowed_hosts, get_settings().host, config.protect_reads, self.token)

    def _start_sweep(self) -> None:
        if self.sweep is None or self.sweep.done():
            self.sweep = asyncio.get_running_loop().create_task(self.late.run())

    def reconfigure(self, user_config: dict[str, Any]) -> None:
        config = IngressConfig.model_validate(user_config)
        self.guard_policy = self._guard_policy(config)
        if config.forward_timeout_s != self.args.forward_timeout_s:
            self.http = httpx.AsyncClient(timeout=config.forward_timeout_s)
        self.router.page_after = config.page_after_s
        self.router.reconfigure(config.router, config.snapshot_every_s)
        self.args = config

    # ---- helpers --------------------------------------------------------------------------------
    def _export_pipeline_status(self, read_every_s: float = 15.0) -> None:
        """Publish the retraining pipeline's last run as gauges (the job itself is not long-lived).

        Ray exports a gauge only while it is being set, so the values are set every second and the
        store (a local file or S3 listing) is read every ``read_every_s``."""
        gauges = {
            m.TRAINING_LAST_RUN: telemetry().training_last_run,
            m.TRAINING_ROWS: telemetry().training_rows,
            m.TRAINING_LAST_DURATION: telemetry().training_duration,
            m.TRAINING_LAST_SUCCESS: telemetry().training_success,
            m.TRAINING_LAST_SUCCESS_TIME: telemetry().training_last_success_time,
        }
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
        """Where alerts go downstream: the one way pages, late pages and resolutions are delivered.

        The receivers (and their HTTP clients) are built once per config and shared by every request."""
        args = self.args
        receivers_json = json.dumps([r.model_dump(mode="json") for r in args.receivers])
        key = (receivers_json, args.downstream_url, args.forward_timeout_s, id(self.http))
        built: tuple[Any, Outbox] | None = getattr(self, "_outbox", None)
        if built is None or built[0] != key:
            receivers = configured_receivers(args.receivers, args.downstream_url, args.forward_timeout_s)
            built = self._outbox = (key, Outbox(receivers, self.http))
        return Relay(self.http, args.downstream_url, args.max_alerts_per_request, built[1])

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

    # ---- routes ---------------------------------------------------------------------------------
    @api.post(
        "/v1/score",
        response_model=ScoreResponse,
        summary="Decide page or suppress for alerts",
        responses=documented(401, 403, 413, 422, 503),
    )
    async def score(
        self, body: ScoreRequest, request: Request, authorization: str | None = Header(default=None)
    ) -> Any:
        deadline = self.scoring.deadlines(request)()
        problem = config_problem(self.args, self.token)
        if problem:
            return SafeJSONResponse(status_code=503, content={"detail": problem})
        if self.args.protect_scoring:
            self._require_token(authorization)
        too_large = self._check_size(body.alerts)
        if too_large:
            return too_large
        decisions, _ = await self.scoring.score(body.alerts, "/v1/score", deadline)
        return ScoreResponse(decisions=decisions)

    @api.post(
        WEBHOOK,
        response_model=WebhookResponse,
        summary="Alertmanager webhook (version 4)",
        openapi_extra=WEBHOOK_BODY,
        responses=documented(422, 502),
    )
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
            deadline = self.scoring.deadlines(request)
            score = lambda alerts: self.scoring.score(alerts, WEBHOOK, deadline())  # noqa: E731
            return await relay.relay(raw, score, self.router.resolve)
        except NothingToScore as exc:
            return SafeJSONResponse(status_code=422, content={"message": str(exc), "detail": []})
        except ForwardError as exc:
            return SafeJSONResponse(status_code=502, content={"detail": str(exc)})

    def _webhook_problem(self, authorization: str | None, body: Body) -> str | None:
        """Why this notification cannot be scored at all (it is then forwarded as it came), or None.

        With ``protect_scoring`` the webhook takes Alertmanager's ``http_config`` credentials: the webhook
        token (ALERTSIEVE_WEBHOOK_TOKEN) or basic auth (ALERTSIEVE_WEBHOOK_USER/_PASSWORD), and the admin
        token for back-compat. A notification that fails them is not refused (Alertmanager would drop it
        after a 4xx) but forwarded unscored, counted as reason "auth": an open relay to the receivers,
        chosen so that a credential mix-up never loses a page. Keep the webhook off untrusted networks."""
        settings = get_settings()
        credentials = webhook_credentials(
            self.token, settings.webhook_token, settings.webhook_user, settings.webhook_password
        )
        if config_problem(self.args, self.token) and not credentials.configured:
            return "config"
        if self.args.protect_scoring:
            try:  # Alertmanager's http_config: the webhook token, basic auth, or the admin token
                check_webhook_auth(authorization, credentials)
            except AuthError:
                return "auth"
        return "too_large" if body.rest is not None else None

    @api.post(
        "/v1/feedback",
        status_code=202,
        summary="Was this alert actionable? (needs the write token)",
        response_model=FeedbackResponse,
        responses=documented(401, 403, 413, 422),
    )
    async def feedback(self, body: Feedback, authorization: str | None = Header(default=None)) -> FeedbackResponse:
        """Stored before it is answered. "actionable: true" on a suppression not paged yet pages the alert at
        once (a late page, reason_code should_have_paged); ``late_page`` says whether it was delivered, and
        posting the feedback again retries a failed one."""
        self._require_token(authorization)
        await asyncio.to_thread(self.store.append, "feedback", [body])
        decision, answer = await self.late.on_feedback(body)
        telemetry().feedback.inc(
            tags={
                "service": decision.service if decision else "unknown",
                "decision": decision.decision if decision else "unknown",
                "actionable": str(body.actionable).lower(),
                "arm": decision.arm if decision else "unknown",
                "model_version": decision.model_version if decision else "unknown",
            }
        )
        return answer

    @api.get(
        "/v1/decisions",
        response_model=DecisionsView,
        summary="Decided alerts, newest first, with feedback",
        responses=documented(422),
    )
    async def decisions(
        self,
        decision: Annotated[Verdict | None, Query(description="only occurrences last decided so")] = None,
        service: Annotated[str | None, Query(max_length=200)] = None,
        since: Annotated[datetime | None, Query(description="ISO datetime (UTC without offset); default: 24 h")] = None,
        limit: Annotated[int, Query(ge=1, le=MAX_LIMIT)] = 100,
    ) -> DecisionsView:
        """Each alert occurrence once, with its latest applied decision and latest feedback; only the decision
        log's days since ``since`` are read, in a thread."""
        async with self.decisions_read:
            return await asyncio.to_thread(read_decisions, self.store, decision, service, since, limit)

    @api.get("/healthz", summary="Alive")
    async def healthz(self) -> dict[str, str]:
        return {"status": "alive"}

    @api.get(
        "/readyz",
        response_model=ReadyView,
        response_model_exclude_unset=True,
        summary="Ready: every deployment can score",
        responses=documented(503),
    )
    async def readyz(self) -> Any:
        problem = config_problem(self.args, self.token)
        if problem:
            return JSONResponse(status_code=503, content={"status": "not ready", "detail": problem})
        try:
            described = await asyncio.wait_for(self.router.describe(), 30)
        except Exception as exc:  # noqa: BLE001 - not ready, whatever the reason
            return JSONResponse(status_code=503, content={"status": "not ready", "detail": type(exc).__name__})
        return ReadyView(status="ready", models=described)

    @api.get(
        "/v1/models",
        response_model=ModelsView,
        response_model_exclude_unset=True,
        summary="Models in service, split and thresholds",
    )
    async def models(self) -> ModelsView:
        return await self.router.describe()
