"""Delivering a notification's alerts to the receivers (``serve_app/receivers.py``): routing, the events
each receiver gets, resends that send only what failed, and never a silent drop.

``Outbox`` holds the receivers in force. ``deliver`` routes each forwarded alert to its receivers, leaves
out what a receiver already took (``serve_app/delivered.py``: Alertmanager resends the whole group after a
5xx), builds their events (``serve_app/notifications.py``, ``serve_app/pagerduty_events.py``) and sends them
concurrently through ``serve_app/posting.py`` within ``DeliveryOptions.deadline_s``; what the deadline
cannot fit goes to the durable retry outbox (``serve_app/retry_outbox.py``), written before the webhook
answers, and is sent later by its drain, which the first delivery starts. ``deliver_raw`` sends a
notification that could not be read as it came. With no receiver at all both raise ``NoReceiver`` (the
webhook answers 503, and /readyz says why): a 200 would tell Alertmanager that pages nobody got were
delivered. Alerts Alertmanager left out (``truncatedAlerts``) page the group's receivers, routed by its
``commonLabels``, as a notice.

What fails (5xx after retries, another 4xx, a missing credential) raises one ``ForwardError`` once every
event has been tried: the webhook answers 502 (503 for a missing credential) and Alertmanager resends.
Each post is counted in ``alertsieve_forwarded{receiver, outcome}`` (outcome ok, retry, error, rejected,
deferred, resent_skipped; ``unrouted`` counts alerts no routing matched, which go to every receiver).
"""

from __future__ import annotations

import asyncio
import logging
from collections import defaultdict
from collections.abc import Awaitable, Sequence
from dataclasses import dataclass
from typing import Any

import httpx

from serve_app.delivered import DeliveredMemory, Key
from serve_app.notifications import Forwarded, slack_message, slack_notice, truncated_text
from serve_app.notifications import webhook_payload as webhook_body
from serve_app.pagerduty_events import group_events, pagerduty_event, pagerduty_notice, truncated_notice
from serve_app.posting import (
    Content,
    DeliveryClock,
    Event,
    ForwardError,
    NoReceiver,
    Poster,
    count,
    log_delivery,
    retry_after_s,
)
from serve_app.ratelimit import RateLimiter
from serve_app.receivers import AnyReceiver, PagerDutyReceiver, SlackReceiver, WebhookReceiver, delivery_problem, route
from serve_app.retry_outbox import Deferred, OutboxFull, RetryOutbox

logger = logging.getLogger("ray.serve")
__all__ = ["Content", "DeliveryClock", "DeliveryOptions", "ForwardError", "NoReceiver", "Outbox", "retry_after_s"]


def truncated_of(raw: dict[str, Any] | None) -> int:
    value = raw.get("truncatedAlerts") if raw else 0
    return value if isinstance(value, int) and value > 0 else 0


@dataclass(frozen=True)
class DeliveryOptions:
    external_url: str = "http://127.0.0.1:8000"  # where the "why" links point
    deadline_s: float = 10.0  # from the start of a delivery: what is not sent by then goes to the outbox
    resend_memory_s: float = 900.0


class Outbox:
    """The receivers in force and their HTTP clients."""

    def __init__(
        self,
        receivers: Sequence[AnyReceiver],
        http: httpx.AsyncClient | None = None,
        concurrency: int = 8,
        *,
        options: DeliveryOptions | None = None,
        clock: DeliveryClock | None = None,
        retry: RetryOutbox | None = None,
        memory: DeliveredMemory | None = None,
        limiter: RateLimiter | None = None,
    ) -> None:
        self.receivers = list(receivers)
        self.concurrency = concurrency
        self.options = options or DeliveryOptions()
        self.clock = clock or DeliveryClock()
        self.retry = retry  # None: no durable outbox (what the deadline cannot fit then fails: 502)
        self.memory = memory or DeliveredMemory(self.options.resend_memory_s, self.clock.monotonic)
        self.limiter = limiter or RateLimiter(self.clock.monotonic)
        self.drainer: asyncio.Task[None] | None = None
        self.poster = Poster(receivers, http, self.clock, self.limiter, retry)
        self.clients = self.poster.clients
        self.send_deferred = self.poster.send_deferred  # the retry outbox's sender
        self.post = self.poster.post  # a body as it came

    def close(self) -> None:
        if self.drainer is not None:
            self.drainer.cancel()

    def _start_drain(self) -> None:
        """The retry outbox's sender, started on the serving loop with the first delivery."""
        if self.retry is not None and (self.drainer is None or self.drainer.done()):
            self.drainer = asyncio.get_running_loop().create_task(self.retry.run(self.send_deferred))

    # ---- a notification's alerts, routed ----------------------------------------------------------
    def routed(self, raw: dict[str, Any], alerts: list[Forwarded]) -> dict[int, list[Forwarded]]:
        """The alerts each receiver (by index) gets; alerts no routing matches go to every receiver."""
        name = raw.get("receiver") if isinstance(raw.get("receiver"), str) else ""
        groups: dict[int, list[Forwarded]] = defaultdict(list)
        unrouted = 0
        for alert in alerts:
            indices, matched = route(self.receivers, str(name), alert.labels)
            unrouted += not matched
            for i in indices:
                groups[i].append(alert)
        if unrouted:
            count("*", "unrouted", unrouted)
            logger.warning("webhook: %d alert(s) matched no receiver's routing: sent to every receiver", unrouted)
        if truncated_of(raw):  # the alerts left out page the group's receivers (routed by what they share)
            shared = raw.get("commonLabels") if isinstance(raw.get("commonLabels"), dict) else {}
            for i in route(self.receivers, str(name), shared)[0]:  # type: ignore[arg-type]
                groups.setdefault(i, [])
        return dict(sorted(groups.items()))

    def events(
        self,
        receiver: AnyReceiver,
        raw: dict[str, Any],
        alerts: list[Forwarded],
        truncated: int,
        still_firing: bool = False,
    ) -> list[Event]:
        """What ``receiver`` is sent for these alerts of a notification (and for ``truncated`` left out);
        ``still_firing``: alerts of the group it took before still fire (its incident is not resolved)."""
        base = self.options.external_url
        if isinstance(receiver, PagerDutyReceiver) and receiver.mode == "group":
            built = group_events(raw, alerts, receiver.source_labels, base, truncated, still_firing)
            return [Event(receiver, b, chunk) for b, chunk in built]
        if isinstance(receiver, PagerDutyReceiver):
            out = [Event(receiver, pagerduty_event(a, receiver.source_labels, base), [a]) for a in alerts]
            return out + ([Event(receiver, truncated_notice(raw, truncated), [])] if truncated else [])
        if isinstance(receiver, SlackReceiver):
            message = slack_message(raw, alerts, receiver.blocks, receiver.max_lines, base)
            if truncated:
                message["text"] = f"{truncated_text(raw, truncated)}\n{message['text']}"[:39_000]
            return [Event(receiver, message, alerts)]
        return [Event(receiver, webhook_body(raw, alerts, base), alerts)]

    def _fresh(self, raw: dict[str, Any], groups: dict[int, list[Forwarded]]) -> list[Event]:
        """The events of these groups, less what each receiver already took (a resend after a failure)."""
        truncated, group = truncated_of(raw), str(raw.get("groupKey", ""))
        out: list[Event] = []
        for i, alerts in groups.items():
            receiver = self.receivers[i]
            fresh = [a for a in alerts if (receiver.name, *a.occurrence) not in self.memory]
            if len(fresh) < len(alerts):
                count(receiver.name, "resent_skipped", len(alerts) - len(fresh))
            notice: Key = (receiver.name, f"truncated:{group}", "", "firing")
            left_out = truncated if truncated and notice not in self.memory else 0
            if not fresh and not left_out:
                continue
            firing = any(a.status == "firing" for a in alerts)  # the fresh ones or those it took before
            events = self.events(receiver, raw, fresh, left_out, firing)
            if left_out and events:
                events[0].extra_keys.append(notice)
            out.extend(events)
        return out

    async def deliver(self, raw: dict[str, Any], alerts: list[Forwarded]) -> None:
        """Deliver the forwarded alerts of one notification to the receivers they are routed to."""
        if not self.receivers:
            raise NoReceiver(delivery_problem(self.receivers) or "no receiver")
        if not alerts and not truncated_of(raw):
            return
        await self.run(self._fresh(raw, self.routed(raw, alerts)))

    async def run(self, events: list[Event]) -> None:
        """Send the events concurrently by the deadline; hand what it cannot fit to the retry outbox;
        remember what was handed over; then raise one ``ForwardError`` naming all that failed."""
        self._start_drain()
        deadline = self.clock.monotonic() + self.options.deadline_s
        gate = asyncio.Semaphore(self.concurrency)
        later: list[tuple[Event, Deferred]] = []

        async def one(event: Event) -> None:
            async with gate:
                entry = await self.poster.send(event, deadline)
            if entry is None:
                self.memory.mark(event.keys)
            else:
                later.append((event, entry))

        jobs: list[Awaitable[None]] = [one(e) for e in events]
        try:
            await self._all(jobs)
        finally:
            await self._keep(later)

    async def _keep(self, later: list[tuple[Event, Deferred]]) -> None:
        if not later or self.retry is None:
            return
        try:
            await self.retry.add([entry for _, entry in later])
        except (OutboxFull, OSError) as exc:
            raise ForwardError(f"the retry outbox could not keep {len(later)} event(s): {exc}") from exc
        for event, entry in later:
            self.memory.mark(event.keys)
            count(event.receiver.name, "deferred")
            log_delivery(
                logging.WARNING,
                f"delivery: sent later by the retry outbox: {entry.why}",
                event.receiver.name,
                event.alerts,
            )

    async def _all(self, deliveries: Sequence[Awaitable[None]]) -> None:
        """Run every delivery to the end; then raise one ``ForwardError`` naming all that failed."""
        results = await asyncio.gather(*deliveries, return_exceptions=True)
        failures = [r for r in results if isinstance(r, BaseException)]
        for failure in failures:
            if not isinstance(failure, Exception):
                raise failure  # cancellation and the like are not delivery failures
        status = max((f.status for f in failures if isinstance(f, ForwardError)), default=502)
        if len(failures) == 1:
            raise ForwardError(str(failures[0]), status) from failures[0]
        if failures:
            distinct = sorted({str(f) for f in failures})
            more = f" (and {len(distinct) - 3} more)" if len(distinct) > 3 else ""
            raise ForwardError(f"{len(failures)} deliveries failed: {'; '.join(distinct[:3])}{more}", status)

    # ---- a notification that could not be read, as it came ----------------------------------------
    async def deliver_raw(
        self,
        content: Content,
        content_type: str,
        length: str | None,
        reason: str,
        raw: dict[str, Any] | None,
        alerts: list[Forwarded],
        notice: tuple[str, str],
    ) -> None:
        """Webhook receivers get the body as it came: those its alerts route to when it could be read
        (``raw``), else all of them. PagerDuty, Slack and file receivers get the alerts converted when it
        could be read, else a notice (``notice``: size and digest of the body) that a notification went
        unread."""
        if not self.receivers:
            raise NoReceiver(delivery_problem(self.receivers) or "no receiver")
        everyone: dict[int, list[Forwarded]] = dict.fromkeys(range(len(self.receivers)), [])
        groups = self.routed(raw, alerts) if raw is not None else everyone
        if raw is not None and not alerts:  # nothing to page: webhooks get it as it came, pagers nothing
            groups = {i: [] for i, r in enumerate(self.receivers) if isinstance(r, WebhookReceiver)}
        size, digest = notice
        events: list[Event] = []
        jobs: list[Awaitable[None]] = []
        for i, group in groups.items():
            receiver = self.receivers[i]
            if isinstance(receiver, WebhookReceiver):
                jobs.append(self.post(receiver, content, content_type, length))
            elif raw is not None:
                events.extend(self.events(receiver, raw, group, truncated_of(raw)))
            elif isinstance(receiver, PagerDutyReceiver):
                events.append(Event(receiver, pagerduty_notice(reason, size, digest), []))
            else:
                events.append(Event(receiver, {**slack_notice(reason, size), "digest": digest}, []))
        await self._all([self.run(events), *jobs])
