"""Delivering to the receivers (``serve_app/receivers.py``): routing, retries, and never a silent drop.

``Outbox`` holds the receivers in force, each with its HTTP client (receivers with their own TLS get a
client of their own; the rest share one). ``deliver`` routes each forwarded alert to its receivers and
posts to them concurrently; ``deliver_raw`` sends a notification that could not be read as it came.

Every post is retried on 429, 5xx and connection errors (``RetryPolicy``: exponential backoff, or the
receiver's Retry-After, capped). A delivery that still fails, or fails for good (another 4xx, a missing
credential), raises ``ForwardError`` once every receiver has been tried: the webhook answers 502 and
Alertmanager resends the whole notification. Delivery is therefore at least once: receivers that took it
the first time get it again (PagerDuty deduplicates by ``dedup_key``). Each post is counted in
``alertsieve_forwarded{receiver, outcome}`` (outcome ok, error or retry; ``unrouted`` counts alerts no
routing matched, which go to every receiver).
"""

from __future__ import annotations

import asyncio
import email.utils
import json
import logging
import time
from collections import defaultdict
from collections.abc import AsyncIterator, Awaitable, Callable, Sequence
from typing import Any

import httpx

from serve_app.notifications import Forwarded, pagerduty_event, pagerduty_notice, slack_message, slack_notice
from serve_app.notifications import webhook_payload as webhook_body
from serve_app.receivers import AnyReceiver, MissingCredential, PagerDutyReceiver, SlackReceiver, WebhookReceiver, route
from serve_app.telemetry import telemetry

logger = logging.getLogger("ray.serve")
Content = Callable[[], bytes | AsyncIterator[bytes]]  # a fresh body for each attempt
JSON = "application/json"


class ForwardError(Exception):
    """The downstream receiver could not be reached or did not accept the notification."""


def retry_after_s(header: str | None) -> float | None:
    """Retry-After in seconds (delta-seconds or an HTTP date), or None when absent or unreadable."""
    if not header:
        return None
    header = header.strip()
    if header.isdigit():
        return float(header)
    try:
        when = email.utils.parsedate_to_datetime(header)
    except (TypeError, ValueError):
        return None
    return max(0.0, when.timestamp() - time.time())


def _count(receiver: str, outcome: str, n: int = 1) -> None:
    telemetry().forwarded.inc(n, tags={"receiver": receiver, "outcome": outcome})


class Outbox:
    """The receivers in force and their HTTP clients."""

    def __init__(
        self, receivers: Sequence[AnyReceiver], http: httpx.AsyncClient | None = None, concurrency: int = 8
    ) -> None:
        self.receivers = list(receivers)
        self.concurrency = concurrency
        shared = http if http is not None else httpx.AsyncClient()
        self.clients = {r.name: shared if r.default_tls else httpx.AsyncClient(verify=r.tls()) for r in receivers}

    # ---- one post, retried ------------------------------------------------------------------------
    async def post(
        self, receiver: AnyReceiver, content: Content, content_type: str = JSON, length: str | None = None
    ) -> None:
        """Post to one receiver, retrying per its policy; raises ``ForwardError`` when it does not take it."""
        try:
            url = receiver.endpoint()
            headers = {"content-type": content_type, **receiver.headers()}
        except MissingCredential as exc:
            _count(receiver.name, "error")
            raise ForwardError(str(exc)) from exc
        if length:
            headers["content-length"] = length
        client, policy = self.clients[receiver.name], receiver.retry
        problem = ""
        for attempt in range(policy.attempts):
            retry_after = None
            try:
                reply = await client.post(url, content=content(), headers=headers, timeout=receiver.timeout_s)
            except httpx.TransportError as exc:  # connection refused or reset, timeouts, TLS failures
                problem = f"{type(exc).__name__}: {exc}"
            except Exception as exc:  # noqa: BLE001 - an invalid URL and the like: retrying cannot help
                _count(receiver.name, "error")
                raise ForwardError(f"receiver {receiver.name!r}: {type(exc).__name__}: {exc}") from exc
            else:
                if reply.is_success:
                    _count(receiver.name, "ok")
                    return
                problem = f"HTTP {reply.status_code}: {reply.text[:200]}"
                if reply.status_code != 429 and reply.status_code < 500:
                    break  # refused for good (a bad event, bad credentials): Alertmanager's resend may fix it
                retry_after = retry_after_s(reply.headers.get("retry-after"))
            if attempt + 1 < policy.attempts:
                _count(receiver.name, "retry")
                await asyncio.sleep(policy.backoff(attempt, retry_after))
        _count(receiver.name, "error")
        logger.warning("webhook: receiver %r did not take a delivery: %s", receiver.name, problem)
        raise ForwardError(f"receiver {receiver.name!r} failed: {problem}")

    async def post_json(self, receiver: AnyReceiver, body: dict[str, Any]) -> None:
        data = json.dumps(body, ensure_ascii=True, default=str).encode()
        await self.post(receiver, lambda: data)

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
            _count("*", "unrouted", unrouted)
            logger.warning("webhook: %d alert(s) matched no receiver's routing: sent to every receiver", unrouted)
        return dict(sorted(groups.items()))

    async def deliver(self, raw: dict[str, Any], alerts: list[Forwarded]) -> None:
        """Deliver the forwarded alerts of one notification to the receivers they are routed to."""
        if not alerts:
            return
        if not self.receivers:
            logger.error("webhook: no receivers (nor downstream_url) configured, nothing is forwarded")
            return
        await self._all(self._to(self.receivers[i], raw, group) for i, group in self.routed(raw, alerts).items())

    async def _to(self, receiver: AnyReceiver, raw: dict[str, Any], alerts: list[Forwarded]) -> None:
        if isinstance(receiver, PagerDutyReceiver):
            await self._pagerduty(receiver, alerts)
        elif isinstance(receiver, SlackReceiver):
            await self.post_json(receiver, slack_message(raw, alerts, receiver.blocks, receiver.max_lines))
        else:
            await self.post_json(receiver, webhook_body(raw, alerts))

    async def _pagerduty(self, receiver: PagerDutyReceiver, alerts: list[Forwarded]) -> None:
        try:
            key = receiver.routing_key()
        except MissingCredential as exc:
            _count(receiver.name, "error")
            raise ForwardError(str(exc)) from exc
        gate = asyncio.Semaphore(self.concurrency)

        async def one(alert: Forwarded) -> None:
            async with gate:
                await self.post_json(receiver, pagerduty_event(key, alert, receiver.source_labels))

        await self._all(one(a) for a in alerts)

    async def _all(self, deliveries: Any) -> None:
        """Run every delivery to the end; then raise one ``ForwardError`` naming all that failed."""
        results = await asyncio.gather(*deliveries, return_exceptions=True)
        failures = [r for r in results if isinstance(r, BaseException)]
        for failure in failures:
            if not isinstance(failure, Exception):
                raise failure  # cancellation and the like are not delivery failures
        if len(failures) == 1:
            raise ForwardError(str(failures[0])) from failures[0]
        if failures:
            distinct = sorted({str(f) for f in failures})
            more = f" (and {len(distinct) - 3} more)" if len(distinct) > 3 else ""
            raise ForwardError(f"{len(failures)} deliveries failed: {'; '.join(distinct[:3])}{more}")

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
        (``raw``), else all of them. PagerDuty and Slack get the alerts converted when it could be read,
        else a notice (``notice``: size and digest of the body) that a notification went unread."""
        if not self.receivers:
            logger.error("webhook: no receivers (nor downstream_url) configured, nothing is forwarded")
            return
        everyone: dict[int, list[Forwarded]] = dict.fromkeys(range(len(self.receivers)), [])
        groups = self.routed(raw, alerts) if raw is not None else everyone
        if raw is not None and not alerts:  # nothing to page: webhooks get it as it came, pagers nothing
            groups = {i: [] for i, r in enumerate(self.receivers) if isinstance(r, WebhookReceiver)}
        size, digest = notice
        jobs: list[Awaitable[None]] = []
        for i, group in groups.items():
            receiver = self.receivers[i]
            if isinstance(receiver, PagerDutyReceiver | SlackReceiver) and raw is not None:
                jobs.append(self._to(receiver, raw, group))
            elif isinstance(receiver, PagerDutyReceiver):
                jobs.append(self._notice_pagerduty(receiver, reason, size, digest))
            elif isinstance(receiver, SlackReceiver):
                jobs.append(self.post_json(receiver, slack_notice(reason, size)))
            else:
                jobs.append(self.post(receiver, content, content_type, length))
        await self._all(jobs)

    async def _notice_pagerduty(self, receiver: PagerDutyReceiver, reason: str, size: str, digest: str) -> None:
        try:
            key = receiver.routing_key()
        except MissingCredential as exc:
            _count(receiver.name, "error")
            raise ForwardError(str(exc)) from exc
        await self.post_json(receiver, pagerduty_notice(key, reason, size, digest))
