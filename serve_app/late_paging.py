"""Late pages: suppressed alerts that are paged after all (issue 12, "a human loop for suppressed alerts").

Two things undo a suppression. **Delayed paging** bounds the harm of a false negative: a suppressed alert
that came in on the webhook and is still firing (no resolution seen; its endsAt unset or ahead) once
``IngressConfig.page_after_s(service)`` has passed since its startsAt is paged, reason "still firing after
N min" (``Reason.STILL_FIRING``): on arrival, when a resend is already that old (``page_overdue``, applied
by the router after scoring), else by the Ingress's sweep every ``SWEEP_EVERY_S`` over the suppressions
waiting in the router's decision memory (``serve_app/decision_memory.py``). Only webhook alerts are delayed-paged: it is the one route on which alertsieve
delivers pages and sees resolutions (a /v1/score caller delivers its own, and never sends resolutions).
And a person's **"should have paged"** (POST /v1/feedback, actionable: true) pages a suppressed occurrence
at once, reason "marked actionable by <by>: paged late" (``Reason.SHOULD_HAVE_PAGED``); the alert comes
from the router's memory or, after a restart, from the decision log.

An occurrence already paged is not paged late, and one is paged late once. A late page goes downstream
through ``Relay.late_page``, then is remembered and logged as a page (``Router.record``), so that its
resolution is forwarded and the decision log shows it; one that cannot be delivered stays a candidate and
is tried again (by the next sweep, or by the next "should have paged"). Counted in ``alertsieve_late_pages``.

The pager reads the router through its port (``serve_app/shards.py``: ``RouterPort``), so it works the same
over the in-process router and over stream shards in other processes: ``overdue(now)`` returns the
suppressions due and claims them for ``CLAIM_S`` (``OverdueClaims``), so that two sweepers (several Ingress
replicas) never page one occurrence twice; a delivery that fails gives its claims back (``release``), and
a claim whose sweeper died runs out, so the occurrence is tried again.
"""

from __future__ import annotations

import asyncio
import logging
import time
from collections.abc import Callable, Container, Iterable
from contextvars import ContextVar
from typing import TYPE_CHECKING, Literal, Protocol

from pydantic import BaseModel, Field
from starlette.types import ASGIApp, Receive, Scope, Send

from alertsieve.schema import Alert, Decision, Feedback, Reason, Verdict
from alertsieve.store import RecordStore
from serve_app.feedback_lane import FeedbackLane
from serve_app.suppressed import logged_occurrence
from serve_app.telemetry import telemetry

if TYPE_CHECKING:
    from serve_app.decision_memory import DecisionMemory
    from serve_app.shards import RouterPort

logger = logging.getLogger("ray.serve")
Key = tuple[str, float]
PageAfter = Callable[[str], float | None]  # seconds after startsAt, per service; None: never
SWEEP_EVERY_S = 30.0
LATE_PAGE_CHUNK = 100  # alerts per late-page notification
CLAIM_S = 120.0  # how long a sweeper's claim on an overdue occurrence holds, unless delivered or given back
# True while a request to the Alertmanager webhook is being handled: its alerts are the ones delayed paging
# watches (set by MarkWebhook, read by the router; a context variable, so concurrent requests do not mix)
FROM_WEBHOOK: ContextVar[bool] = ContextVar("alertsieve_from_webhook", default=False)


class LateRelay(Protocol):
    """What delivers late pages downstream (``serve_app.relay.Relay``); raises when delivery fails."""

    async def late_page(self, alerts: list[Alert], decisions: list[Decision]) -> None: ...


class FeedbackResponse(BaseModel):
    """POST /v1/feedback's answer: stored, the decision it was about, and whether it was paged late."""

    stored: bool = True
    decision: Verdict | None = Field(description="the occurrence's decision when the feedback came; None: unknown")
    late_page: Literal["sent", "failed", "already_paged", "resolved"] | None = Field(
        default=None,
        description="for actionable feedback on a suppression: the late page's fate (resolved: the alert had"
        " resolved, so nothing is paged: a firing page would open an incident downstream that never closes);"
        " None: not needed",
    )
    detail: str = Field(default="", description="why a late page failed (post the feedback again to retry)")


class OverduePage(BaseModel):
    """A suppressed webhook alert still firing past its service's delay, claimed by the sweeper it went to."""

    alert: Alert
    decision: Decision
    delay_s: float


class Occurrence(BaseModel):
    """What the router remembers of one occurrence, for "should have paged"."""

    decision: Decision | None = None
    waiting: Alert | None = Field(default=None, description="the alert, while it waits for delayed paging")
    paged: bool = False
    resolved: bool = Field(default=False, description="its resolution came")


class MarkWebhook:
    """ASGI middleware: sets FROM_WEBHOOK for requests to ``paths``, and calls ``on_request`` with the scope of
    every HTTP request (the Ingress starts its sweep there, on the replica's event loop)."""

    def __init__(self, app: ASGIApp, paths: frozenset[str], on_request: Callable[[Scope], None]) -> None:
        self.app, self.paths, self.on_request = app, paths, on_request

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        self.on_request(scope)
        path, root = scope.get("path", ""), scope.get("root_path", "")
        mark = FROM_WEBHOOK.set((path[len(root) :] if root and path.startswith(root) else path) in self.paths)
        try:
            await self.app(scope, receive, send)
        finally:
            FROM_WEBHOOK.reset(mark)


def still_firing(alert: Alert, now: float) -> bool:
    """Firing, and not ended by its own endsAt (Alertmanager sends none for firing alerts)."""
    return alert.status == "firing" and (alert.endsAt is None or alert.endsAt.timestamp() > now)


def overdue(alert: Alert, decision: Decision, delay_s: float | None, now: float) -> bool:
    """A suppression still firing ``delay_s`` after the alert started."""
    return (
        decision.decision == "suppress"
        and delay_s is not None
        and still_firing(alert, now)
        and alert.startsAt.timestamp() + delay_s <= now
    )


def late_decision(decision: Decision, reason: str, code: Reason) -> Decision:
    """A copy of a suppression that pages, saying why."""
    return decision.model_copy(update={"decision": "page", "reason": reason, "reason_code": code})


def still_firing_page(decision: Decision, delay_s: float) -> Decision:
    return late_decision(decision, f"still firing after {delay_s / 60:g} min", Reason.STILL_FIRING)


def page_overdue(
    alerts: list[Alert], decisions: list[Decision], page_after: PageAfter, paged: Container[Key], now: float
) -> list[Decision]:
    """The decisions with every overdue suppression (a resend already older than its service's delay) paged
    now; ``paged``: the occurrences already paged once, which stay as decided."""
    out = []
    for alert, decision in zip(alerts, decisions, strict=True):
        delay = page_after(decision.service)
        if delay is not None and overdue(alert, decision, delay, now):
            if alert.occurrence.key not in paged:
                decision = still_firing_page(decision, delay)
                telemetry().late_pages.inc(tags={"reason": Reason.STILL_FIRING.value, "via": "resend", "outcome": "ok"})
        out.append(decision)
    return out


class OverdueClaims:
    """The router's claims on overdue occurrences: each is handed to one sweeper at a time, for ``claim_s``."""

    def __init__(self, claim_s: float = CLAIM_S) -> None:
        self.claim_s = claim_s
        self._until: dict[Key, float] = {}

    def claim_due(self, memory: DecisionMemory, page_after: PageAfter, now: float) -> list[OverduePage]:
        """Suppressed webhook alerts still firing past their service's delay and not claimed, now claimed;
        occurrences paged since, or ended by their endsAt, leave the table."""
        self._until = {key: until for key, until in self._until.items() if until > now}
        out = []
        for key, (alert, decision) in memory.firing_suppressed().items():
            if memory.was_paged(key) or not still_firing(alert, now):
                memory.stop_waiting(key)
                self._until.pop(key, None)
                continue
            delay = page_after(decision.service)
            if key not in self._until and delay is not None and overdue(alert, decision, delay, now):
                self._until[key] = now + self.claim_s
                out.append(OverduePage(alert=alert, decision=decision, delay_s=delay))
        return out

    def release(self, keys: Iterable[Key]) -> None:
        for key in keys:
            self._until.pop(key, None)


class LatePager:
    """Sends late pages for the Ingress: the sweep of delayed paging, and "should have paged" feedback."""

    def __init__(
        self,
        router: RouterPort,
        relay: Callable[[], LateRelay],
        store: RecordStore,
        clock: Callable[[], float] = time.time,
        chunk: int = LATE_PAGE_CHUNK,
        lane: FeedbackLane | None = None,
    ) -> None:
        self.router, self.relay, self.store, self.clock, self.chunk = router, relay, store, clock, chunk
        self.lane = lane or FeedbackLane()  # feedback's reads of the decision log: off scoring's threads
        self.in_flight: set[Key] = set()  # being delivered now: the sweep leaves them alone

    async def send(self, alerts: list[Alert], decisions: list[Decision], via: str) -> None:
        """Deliver late pages, then remember and log them as pages; raises when delivery fails."""
        keys = [a.occurrence.key for a in alerts]
        tags = {"reason": decisions[0].reason_code.value, "via": via}
        self.in_flight.update(keys)
        try:
            try:
                await self.relay().late_page(alerts, decisions)
            except Exception:
                telemetry().late_pages.inc(len(alerts), tags={**tags, "outcome": "error"})
                raise
            telemetry().late_pages.inc(len(alerts), tags={**tags, "outcome": "ok"})
            try:  # remembered first (its resolution is forwarded), then logged
                await self.router.record(alerts, decisions)
            except Exception:  # noqa: BLE001 - the page went out; the log missing it must not undo that
                telemetry().errors.inc(tags={"stage": "late-page-log"})
                logger.exception("late pages were delivered but could not be logged")
        finally:
            self.in_flight.difference_update(keys)

    async def sweep(self) -> int:
        """Page what is due (claimed for this sweeper), in notifications of ``chunk`` alerts; what fails is
        given back, and tried again at the next sweep."""
        claimed = await self.router.overdue(self.clock())
        due = [o for o in claimed if o.alert.occurrence.key not in self.in_flight]
        busy = [o.alert for o in claimed if o.alert.occurrence.key in self.in_flight]  # a feedback is paging them
        if busy:
            await self.router.release(busy)
        sent = 0
        for start in range(0, len(due), self.chunk):
            part = due[start : start + self.chunk]
            alerts = [o.alert for o in part]
            try:
                await self.send(alerts, [still_firing_page(o.decision, o.delay_s) for o in part], "sweep")
                sent += len(part)
            except Exception:  # noqa: BLE001 - they stay candidates: the next sweep tries again
                logger.exception("delayed paging: %d late page(s) not delivered, retrying later", len(part))
                await self.router.release(alerts)
        return sent

    async def run(self, every_s: float = SWEEP_EVERY_S) -> None:
        """The sweep, forever (an asyncio task on the Ingress's event loop; it awaits, it never blocks)."""
        while True:
            await asyncio.sleep(every_s)
            try:
                await self.sweep()
            except Exception:  # noqa: BLE001 - a failed sweep must not end delayed paging
                telemetry().errors.inc(tags={"stage": "late-page-sweep"})
                logger.exception("delayed paging: sweep failed")

    async def on_feedback(self, body: Feedback) -> tuple[Decision | None, FeedbackResponse]:
        """For stored feedback: the decision it is about and the answer; "should have paged" on a suppression
        not paged yet sends a late page at once."""
        key = body.occurrence.key
        known = await self.router.occurrence(key)
        decision, alert = known.decision, known.waiting
        needs_alert = body.actionable and (decision is None or decision.decision == "suppress") and alert is None
        if decision is None or needs_alert:  # forgotten (a restart, or decided on /v1/score): the decision log
            logged = await self.lane.run(logged_occurrence, self.store, body.fingerprint, body.startsAt, self.clock())
            if logged is not None:
                decision = decision or logged.decision
                alert = logged.alert
        if decision is None or not body.actionable or decision.decision != "suppress":
            return decision, FeedbackResponse(decision=decision.decision if decision else None)
        if known.paged:
            return decision, FeedbackResponse(decision="suppress", late_page="already_paged")
        if known.resolved or (alert is not None and alert.status == "resolved"):
            over = "the alert had resolved: nothing to page"
            return decision, FeedbackResponse(decision="suppress", late_page="resolved", detail=over)
        if alert is None:
            missing = "the alert is not in the decision log"
            return decision, FeedbackResponse(decision="suppress", late_page="failed", detail=missing)
        page = late_decision(decision, f"marked actionable by {body.by}: paged late", Reason.SHOULD_HAVE_PAGED)
        try:
            await self.send([alert], [page], "feedback")
        except Exception as exc:  # noqa: BLE001 - the feedback is stored; the answer says the page failed
            logger.warning(
                "should have paged: late page not delivered: %s", exc, extra={"fingerprint": body.fingerprint}
            )
            return decision, FeedbackResponse(
                decision="suppress", late_page="failed", detail=f"{type(exc).__name__}: {exc}"
            )
        return decision, FeedbackResponse(decision="suppress", late_page="sent")
