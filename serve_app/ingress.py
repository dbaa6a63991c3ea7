"""The Ingress deployment: alertsieve's HTTP API (FastAPI, OpenAPI at /docs, served offline).

POST /v1/score and POST /v1/alertmanager score alerts through the router (``serve_app/router.py``, held here:
the stream context's one writer, hence one replica; with ``stream_shards`` > 1, shards behind a ``ShardedRouter``
and any number of replicas: ``serve_app/shards.py``) and the model deployments; the webhook
forwards what was paged to the team's real receiver. Anything that goes wrong while scoring, a timeout included,
pages every alert (fail open, and logged) and, on the webhook, forwards everything; what the webhook cannot
score at all is forwarded as it came (``serve_app/relay.py``). POST /v1/feedback is stored durably before
it is acknowledged; "should have paged" on a suppression pages it late (and pauses its service's suppression:
``serve_app/live_watch.py``), and a sweep pages suppressed webhook
alerts still firing after their delay (``serve_app/late_paging.py``); GET /v1/decisions and the Suppressed
page read the decision log (``serve_app/suppressed.py``). Writes need the bearer token; client mistakes
get a 4xx that names the field; bodies over the limit get 413 (except on the webhook, which never refuses
alerts).

Every scoring answer is due ``score_timeout_s`` after the request arrived (per chunk of a storm): past it,
the alerts page at once. Queues are capped (``max_queued_requests``): a full proxy queue answers 503 with
Retry-After (Alertmanager retries a 5xx), a full model-deployment queue pages at once. Requests pass the
guards first (``serve_app/guards.py``: Host header, and the token on reads under ``protect_reads``).

The Ingress builds the replica's ``AppContext`` once (``serve_app/app_context.py``: settings, store, token,
the router's describe, the champion bundle loaded once for router, UI and fail-open labels) and puts it on
the app's state, where the routes (``Depends``) and the middlewares (``serve_app/http_api.py``) read it.
"""

import asyncio
import logging
import threading
from collections.abc import Callable
from typing import TYPE_CHECKING, Annotated, Any

import httpx
from fastapi import Depends, Header, HTTPException, Query, Request
from fastapi.responses import JSONResponse
from ray import serve
from ray.serve.handle import DeploymentHandle

from alertsieve.bundle import ModelBundle
from alertsieve.schema import Alert, Feedback, IsoDatetime, Reason, Verdict
from alertsieve.settings import get_settings
from alertsieve.store import open_store
from serve_app.app_context import STATE_NAME, AppContext, BundleCache, RequestPolicy, require_token
from serve_app.config import IngressConfig, config_problem, readiness_problem
from serve_app.deadline import DeadlineScorer
from serve_app.downstream import Downstream
from serve_app.feedback_lane import RETRY_AFTER_S, FeedbackLane, LaneFull
from serve_app.guards import WEBHOOK, GuardPolicy
from serve_app.http_api import WEBHOOK_BODY, api
from serve_app.late_paging import FeedbackResponse, LatePager
from serve_app.loading import load_model
from serve_app.pipeline_status import export_pipeline_status
from serve_app.relay import Body, ForwardError, NothingToScore, Relay, parse_payload, read_bounded
from serve_app.router import Router
from serve_app.shards import RouterPort, ShardedRouter
from serve_app.suppressed import MAX_LIMIT, DecisionsView, read_decisions
from serve_app.telemetry import telemetry
from serve_app.views import ModelsView, ReadyView
from serve_app.webhook import (
    AuthError,
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
LATE = frozenset({Reason.STILL_FIRING})  # suppressed, then paged late by the delay: still a miss when marked so


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
        shards: "list[DeploymentHandle[Any]] | None" = None,
    ) -> None:
        bundles = BundleCache(loader)  # the champion bundle, loaded once here: the router's is the UI's
        settings = get_settings()
        # fail-open pages (and the shards' split) name the service as the champion bundle does
        labels = lambda: bundles.service_labels(settings.service_labels)  # noqa: E731
        self.router: RouterPort = (  # shards: the StreamShard deployments (stream_shards > 1) hold the stream
            ShardedRouter(shards, labels, open_store(settings.state_location))
            if shards
            else Router(champion, challenger, champion_ref, bundles.load)
        )
        self.args = IngressConfig()
        token = settings.api_token.get_secret_value() if settings.api_token else None
        self.request_policy = self._request_policy(self.args, token)  # what the middlewares enforce
        self.context = AppContext(
            settings=settings,
            store=open_store(settings.state_location),
            token=token,
            describe=self.router.describe,
            bundles=bundles,
            policy=lambda: self.request_policy,
            on_request=self._start_sweep,  # late pages: the sweep starts with the first request, on the serving loop
            safety=self.router,  # GET /v1/live-safety, POST /v1/live-safety/{service}/resume
        )
        setattr(api.state, STATE_NAME, self.context)  # this replica's app: its routes and middlewares read it
        self.http = httpx.AsyncClient(timeout=self.args.forward_timeout_s)
        self.downstream = Downstream()  # where alerts go: pages, late pages, resolutions
        threading.Thread(
            target=export_pipeline_status, args=(self.context.store,), daemon=True, name="pipeline-status"
        ).start()
        self.feedback_lane = FeedbackLane()  # feedback's own thread and bound (serve_app/feedback_lane.py)
        self.late = LatePager(self.router, self._relay, self.context.store, lane=self.feedback_lane)
        self.sweep: asyncio.Task[None] | None = None
        self.decisions_read = asyncio.Lock()  # one read of the decision log at a time, however many pages ask
        self.scoring = DeadlineScorer(self.router, lambda: self.args, labels)  # every answer by its deadline

    async def __del__(self) -> None:
        """Serve's graceful shutdown (Ray 2.60 awaits an async ``__del__`` on the replica's loop): the
        router snapshots what changed since its last snapshot, so the next Ingress starts where this left."""
        router: RouterPort | None = getattr(self, "router", None)
        if router is not None:
            await router.close()
        lane: FeedbackLane | None = getattr(self, "feedback_lane", None)
        if lane is not None:
            lane.close()

    @staticmethod
    def _request_policy(config: IngressConfig, token: str | None) -> RequestPolicy:
        guards = GuardPolicy.of(config.allowed_hosts, get_settings().host, config.protect_reads, token)
        return RequestPolicy(max_body_bytes=config.max_body_bytes, guards=guards)

    def _start_sweep(self) -> None:
        if self.sweep is None or self.sweep.done():
            self.sweep = asyncio.get_running_loop().create_task(self.late.run())

    def reconfigure(self, user_config: dict[str, Any]) -> None:
        config = IngressConfig.model_validate(user_config)
        self.request_policy = self._request_policy(config, self.context.token)
        if config.forward_timeout_s != self.args.forward_timeout_s:
            self.http = httpx.AsyncClient(timeout=config.forward_timeout_s)
        self.router.configure(config)
        self.args = config

    # ---- helpers --------------------------------------------------------------------------------
    def _relay(self) -> Relay:
        """Where alerts go downstream (``serve_app/downstream.py``), for the config in force."""
        return self.downstream.relay(self.args, self.http)

    def _check_size(self, alerts: list[Alert]) -> JSONResponse | None:
        most = self.args.max_alerts_per_request
        detail = f"alerts: {len(alerts)} alerts, at most {most} per request"
        return JSONResponse(status_code=413, content={"detail": detail}) if len(alerts) > most else None

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
        problem = config_problem(self.args, self.context.token)
        if problem:
            return SafeJSONResponse(status_code=503, content={"detail": problem})
        if self.args.protect_scoring:
            check_bearer(authorization, self.context.token)  # only under protect_scoring, after the config check
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
        responses=documented(422, 502, 503),
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
            return await relay.relay(raw, score, self.router.resolutions)
        except NothingToScore as exc:
            return SafeJSONResponse(status_code=422, content={"message": str(exc), "detail": []})
        except ForwardError as exc:  # 502, or 503 when no receiver (or its credential) is configured
            return SafeJSONResponse(status_code=exc.status, content={"detail": str(exc)})

    def _webhook_problem(self, authorization: str | None, body: Body) -> str | None:
        """Why this notification cannot be scored at all (it is then forwarded as it came), or None.

        With ``protect_scoring`` the webhook takes Alertmanager's ``http_config`` credentials: the webhook
        token (ALERTSIEVE_WEBHOOK_TOKEN) or basic auth (ALERTSIEVE_WEBHOOK_USER/_PASSWORD), and the admin
        token for back-compat. A notification that fails them is not refused (Alertmanager would drop it
        after a 4xx) but forwarded unscored, counted as reason "auth": an open relay to the receivers,
        chosen so that a credential mix-up never loses a page. Keep the webhook off untrusted networks."""
        settings = get_settings()
        credentials = webhook_credentials(
            self.context.token, settings.webhook_token, settings.webhook_user, settings.webhook_password
        )
        if config_problem(self.args, self.context.token) and not credentials.configured:
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
        responses=documented(401, 403, 413, 422, 503),
        dependencies=[Depends(require_token)],
    )
    async def feedback(self, body: Feedback) -> FeedbackResponse:
        """Stored before it is answered. "actionable: true" on a suppression not paged yet pages the alert at
        once (a late page, reason_code should_have_paged); ``late_page`` says whether it was delivered, and
        posting the feedback again retries a failed one. Feedback has its own lane (``serve_app/feedback_lane.py``):
        when it is full, 503 with Retry-After, before anything is stored."""
        try:
            async with self.feedback_lane.admitted():
                return await self._feedback(body)
        except LaneFull as exc:
            raise HTTPException(
                status_code=503, detail=f"feedback is busy ({exc}): retry", headers={"Retry-After": str(RETRY_AFTER_S)}
            ) from None

    async def _feedback(self, body: Feedback) -> FeedbackResponse:
        await self.feedback_lane.run(self.context.store.append, "feedback", [body])
        decision, answer = await self.late.on_feedback(body)
        if (
            body.actionable
            and decision is not None
            and (decision.decision == "suppress" or decision.reason_code in LATE)
        ):
            try:  # live safety: a person's "should have paged" pauses the service's suppression
                await self.router.should_have_paged(decision, body.by)
            except Exception:  # noqa: BLE001 - the feedback is stored and the late page sent: the answer stands
                telemetry().errors.inc(tags={"stage": "live-safety"})
                logger.exception("live safety: should-have-paged not taken")
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
        since: Annotated[
            IsoDatetime | None,
            Query(description="ISO 8601 datetime (UTC without offset), not a Unix time; default: 24 h"),
        ] = None,
        limit: Annotated[int, Query(ge=1, le=MAX_LIMIT)] = 100,
        fingerprint: Annotated[str | None, Query(max_length=255, description="one alert's occurrences")] = None,
    ) -> DecisionsView:
        """Each alert occurrence once, with its latest applied decision and latest feedback; only the decision
        log's days since ``since`` are read, in a thread."""
        async with self.decisions_read:
            return await asyncio.to_thread(
                read_decisions, self.context.store, decision, service, since, limit, None, fingerprint
            )

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
        problem = readiness_problem(self.args, self.context.token)  # config, or no receiver to deliver to
        if problem:
            return JSONResponse(status_code=503, content={"status": "not ready", "detail": problem})
        try:
            await asyncio.wait_for(self.router.describe(), 30)  # every deployment answers
        except Exception as exc:  # noqa: BLE001 - not ready, whatever the reason
            return JSONResponse(status_code=503, content={"status": "not ready", "detail": type(exc).__name__})
        return ReadyView(status="ready")

    @api.get(
        "/v1/models",
        response_model=ModelsView,
        response_model_exclude_unset=True,
        summary="Models in service, split and thresholds",
    )
    async def models(self) -> ModelsView:
        return await self.router.describe()
