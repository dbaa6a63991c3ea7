"""Every scoring call answered by its deadline: the Ingress's one way to turn alerts into decisions.

An answer is due ``score_timeout_s`` after the request arrived (``serve_app/guards.py`` stamps the arrival;
a storm scored in chunks gets as much again per chunk). Past it, or when the router fails, or when a model
deployment's queue is full (Serve's ``BackPressureError``), every alert of the call pages at once (fail
open). Fail-open pages are remembered at once, so their resolutions are forwarded, and logged: the log
write is waited for only until the deadline and finishes in the background. They name each alert's
service by ``service_labels`` (the Ingress's: the champion bundle's, as the model's own decisions do).
The deadline is also in ``SCORE_DUE`` while the router scores, so a router over stream shards
(``serve_app/shards.py``) can page one slow shard's alerts by it and keep the other shards' decisions.
"""

from __future__ import annotations

import asyncio
import logging
import time
from collections.abc import Callable, Sequence
from contextvars import ContextVar
from itertools import count
from typing import Protocol

from ray.serve.exceptions import BackPressureError
from starlette.requests import Request

from alertsieve.decider import fail_open
from alertsieve.schema import Alert, Decision
from alertsieve.settings import get_settings
from serve_app.config import IngressConfig
from serve_app.guards import arrived_at
from serve_app.telemetry import telemetry

logger = logging.getLogger("ray.serve")
RECORD_GRACE_S = 0.05  # past the deadline, how long a fail-open answer waits for its log write (it goes on)
# while the router scores: when (time.monotonic()) the answer is due; None outside a DeadlineScorer call
SCORE_DUE: ContextVar[float | None] = ContextVar("alertsieve_score_due", default=None)


class Scores(Protocol):
    """What the deadline needs of the router."""

    async def score(self, alerts: list[Alert]) -> list[Decision]: ...

    async def record(self, alerts: list[Alert], decisions: list[Decision]) -> None: ...


class DeadlineScorer:
    def __init__(
        self,
        router: Scores,
        config: Callable[[], IngressConfig],
        service_labels: Callable[[], Sequence[str]] | None = None,
    ) -> None:
        """``service_labels``: the labels naming an alert's service in fail-open pages (default: the settings')."""
        self.router, self.config = router, config
        self.service_labels = service_labels or (lambda: get_settings().service_labels)
        self.background: set[asyncio.Task[None]] = set()  # fail-open logging that outlives its request

    def deadlines(self, request: Request) -> Callable[[], float]:
        """Deadlines counted from the request's arrival: score_timeout_s for its first scoring call, and as
        much again for each further one (a storm is scored in chunks)."""
        arrived, calls = arrived_at(request.scope), count(1)
        return lambda: arrived + self.config().score_timeout_s * next(calls)

    async def score(
        self, alerts: list[Alert], route: str, deadline: float | None = None
    ) -> tuple[list[Decision], bool]:
        """Decisions in input order, and whether they are fail-open pages. ``deadline`` (monotonic; default
        score_timeout_s from now) is when the answer is due: past it, every alert pages at once."""
        started = time.perf_counter()
        due = time.monotonic() + self.config().score_timeout_s if deadline is None else deadline
        reason = ""
        try:  # a timeout cancels the router's call, and with it the model deployments' requests
            if due - time.monotonic() <= 0:
                raise TimeoutError  # it waited its whole time before it got here (queued, or earlier chunks)
            mark = SCORE_DUE.set(due)  # the router's task, made by wait_for, copies the context with it
            try:
                decisions: list[Decision] = await asyncio.wait_for(self.router.score(alerts), due - time.monotonic())
            finally:
                SCORE_DUE.reset(mark)
        except TimeoutError:
            reason = "timeout"
            telemetry().errors.inc(tags={"stage": "score-timeout"})
        except BackPressureError:  # a model deployment's queue is full: shed at once, no traceback per request
            reason = "overloaded"
            telemetry().errors.inc(tags={"stage": "score-shed"})
            logger.warning("scoring shed: paging %d alerts", len(alerts), extra={"route": route})
        except Exception as exc:  # noqa: BLE001 - any failure pages (fail open)
            reason = type(exc).__name__
            telemetry().errors.inc(tags={"stage": "score"})
            logger.exception("scoring failed: paging %d alerts", len(alerts), extra={"route": route})
        if reason:
            telemetry().fail_open.inc(len(alerts), tags={"reason": "timeout" if reason == "timeout" else "error"})
            labels = self.service_labels()
            decisions = [fail_open(a, a.service(labels), "none", reason) for a in alerts]
            await self._record_fail_open(alerts, decisions, route, due)
        telemetry().latency.observe(time.perf_counter() - started, tags={"route": route})
        return decisions, bool(reason)

    async def _record_fail_open(self, alerts: list[Alert], decisions: list[Decision], route: str, due: float) -> None:
        async def record() -> None:
            try:
                await self.router.record(alerts, decisions)
            except Exception:  # noqa: BLE001 - the pages are answered even if the log cannot take them
                telemetry().errors.inc(tags={"stage": "fail-open-log"})
                logger.exception("fail-open decisions could not be logged", extra={"route": route})

        task = asyncio.ensure_future(record())  # its first step, before any await, remembers the decisions
        self.background.add(task)
        task.add_done_callback(self.background.discard)
        await asyncio.wait({task}, timeout=max(due - time.monotonic(), RECORD_GRACE_S))
