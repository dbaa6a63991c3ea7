"""Delivering to the receivers (``serve_app/receivers.py``): routing, pacing, retries, and never a silent drop.

``Outbox`` holds the receivers in force, each with its HTTP client (receivers with their own TLS get a
client of their own; the rest share one). ``deliver`` routes each forwarded alert to its receivers, builds
their events (``serve_app/notifications.py``, ``serve_app/pagerduty_events.py``) and posts them
concurrently, within ``DeliveryOptions.deadline_s`` of the request; ``deliver_raw`` sends a notification
that could not be read as it came. With no receiver at all both raise ``NoReceiver`` (the webhook answers
503, and /readyz says why): a 200 would tell Alertmanager that pages nobody got were delivered.

Each event is paced by its receiver's rate limit (``serve_app/ratelimit.py``). A 429 is retried after the
receiver's Retry-After, else exponential backoff with jitter, while the deadline allows; an event the
deadline cannot fit (throttled, or held by the rate limit) goes to the durable retry outbox
(``serve_app/retry_outbox.py``), sent later, and counts as handed over. 5xx and connection errors are
retried per ``RetryPolicy``. A 400 (also 413, 422: the event itself is bad) is final: logged and counted
(``outcome="rejected"``), not a 502 that would make Alertmanager resend it forever. What still fails (5xx,
another 4xx, a missing credential) raises ``ForwardError`` once every event has been tried: the webhook
answers 502 (503 for a missing credential) and Alertmanager resends the whole notification, of which only
what was not delivered is sent again (``serve_app/delivered.py``). Each post is counted in
``alertsieve_forwarded{receiver, outcome}`` (outcome ok, retry, error, rejected, deferred, resent_skipped;
``unrouted`` counts alerts no routing matched, which go to every receiver).
"""

from __future__ import annotations

import asyncio
import email.utils
import json
import logging
import random
import threading
import time
from collections import defaultdict
from collections.abc import AsyncIterator, Awaitable, Callable, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Literal

import httpx

from serve_app.delivered import DeliveredMemory, Key
from serve_app.notifications import Forwarded, slack_message, slack_notice, truncated_text
from serve_app.notifications import webhook_payload as webhook_body
from serve_app.pagerduty_events import group_events, pagerduty_event, pagerduty_notice, truncated_notice
from serve_app.ratelimit import RateLimiter
from serve_app.receivers import (
    AnyReceiver,
    FileReceiver,
    MissingCredential,
    PagerDutyReceiver,
    SlackReceiver,
    WebhookReceiver,
    delivery_problem,
    route,
)
from serve_app.retry_outbox import Deferred, OutboxFull, RetryOutbox, Verdict
from serve_app.telemetry import telemetry

logger = logging.getLogger("ray.serve")
Content = Callable[[], bytes | AsyncIterator[bytes]]  # a fresh body for each attempt
JSON = "application/json"
FINAL = frozenset({400, 413, 422})  # the event itself is bad: resending cannot help
_file_lock = threading.Lock()


class ForwardError(Exception):
    """The downstream receiver could not be reached or did not accept the notification."""

    def __init__(self, message: str, status: int = 502) -> None:
        super().__init__(message)
        self.status = status  # what the webhook answers: 502, or 503 for what configuration must fix


class NoReceiver(ForwardError):
    """No receiver is configured: nothing could be delivered."""

    def __init__(self, message: str) -> None:
        super().__init__(message, 503)


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


def _log(level: int, message: str, receiver: str, alerts: Sequence[Forwarded], **extra: Any) -> None:
    decided = [a.decision for a in alerts if a.decision is not None]
    fields = {
        "fingerprint": ",".join(a.fingerprint for a in alerts[:20]),
        "service": ",".join(sorted({d.service for d in decided}))[:200],
        "arm": ",".join(sorted({str(d.arm) for d in decided})) or "none",
        "receiver": receiver,
        **extra,
    }
    logger.log(level, message, extra=fields)


def truncated_of(raw: dict[str, Any] | None) -> int:
    value = raw.get("truncatedAlerts") if raw else 0
    return value if isinstance(value, int) and value > 0 else 0


@dataclass(frozen=True)
class DeliveryOptions:
    external_url: str = "http://127.0.0.1:8000"  # where the "why" links point
    deadline_s: float = 10.0  # from the start of a delivery: what is not sent by then goes to the outbox
    resend_memory_s: float = 900.0


@dataclass(frozen=True)
class DeliveryClock:
    """Time, injected so the tests can run minutes of pacing and backoff in no time."""

    monotonic: Callable[[], float] = time.monotonic
    wall: Callable[[], float] = time.time
    sleep: Callable[[float], Awaitable[None]] = asyncio.sleep
    draw: Callable[[], float] = random.random


@dataclass
class Event:
    """One post to one receiver, and the deliveries it makes (remembered once it is handed over)."""

    receiver: AnyReceiver
    body: dict[str, Any]
    alerts: list[Forwarded]
    extra_keys: list[Key] = field(default_factory=list)

    @property
    def keys(self) -> list[Key]:
        return [(self.receiver.name, *a.occurrence) for a in self.alerts] + self.extra_keys


@dataclass(frozen=True)
class Reply:
    verdict: Literal["ok", "rejected", "throttled", "failed", "refused"]
    retry_after: float | None = None
    problem: str = ""


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
        shared = http if http is not None else httpx.AsyncClient()
        self.clients = {r.name: shared if r.default_tls else httpx.AsyncClient(verify=r.tls()) for r in receivers}

    def close(self) -> None:
        if self.drainer is not None:
            self.drainer.cancel()

    def _start_drain(self) -> None:
        """The retry outbox's sender, started on the serving loop with the first delivery."""
        if self.retry is not None and (self.drainer is None or self.drainer.done()):
            self.drainer = asyncio.get_running_loop().create_task(self.retry.run(self.send_deferred))

    # ---- one post ---------------------------------------------------------------------------------
    def _wire(self, receiver: AnyReceiver, body: dict[str, Any]) -> tuple[str, dict[str, str], bytes]:
        """URL, headers and bytes of a post; raises ``ForwardError`` (503) for a missing credential."""
        try:
            url, headers = receiver.endpoint(), {"content-type": JSON, **receiver.headers()}
            if isinstance(receiver, PagerDutyReceiver):
                body = {**body, "routing_key": receiver.routing_key()}
        except MissingCredential as exc:
            _count(receiver.name, "error")
            raise ForwardError(str(exc), 503) from exc
        return url, headers, json.dumps(body, ensure_ascii=True, default=str).encode()

    async def _post_once(self, receiver: AnyReceiver, url: str, content: Content, headers: dict[str, str]) -> Reply:
        client = self.clients[receiver.name]
        try:
            reply = await client.post(url, content=content(), headers=headers, timeout=receiver.timeout_s)
        except httpx.TransportError as exc:  # connection refused or reset, timeouts, TLS failures
            return Reply("failed", None, f"{type(exc).__name__}: {exc}")
        except Exception as exc:  # noqa: BLE001 - an invalid URL and the like: retrying cannot help
            return Reply("refused", None, f"{type(exc).__name__}: {exc}")
        if reply.is_success:
            return Reply("ok")
        problem = f"HTTP {reply.status_code}: {reply.text[:200]}"
        if reply.status_code == 429:
            return Reply("throttled", retry_after_s(reply.headers.get("retry-after")), problem)
        if reply.status_code >= 500:
            return Reply("failed", retry_after_s(reply.headers.get("retry-after")), problem)
        return Reply("rejected" if reply.status_code in FINAL else "refused", None, problem)

    async def _append(self, receiver: FileReceiver, body: dict[str, Any]) -> None:
        line = json.dumps(body, ensure_ascii=True, default=str, separators=(",", ":")) + "\n"

        def write() -> None:
            path = Path(receiver.endpoint())
            path.parent.mkdir(parents=True, exist_ok=True)
            with _file_lock, path.open("a", encoding="utf-8") as out:
                out.write(line)
                out.flush()

        try:
            await asyncio.to_thread(write)
        except OSError as exc:
            _count(receiver.name, "error")
            raise ForwardError(f"receiver {receiver.name!r}: {exc}") from exc
        _count(receiver.name, "ok")

    async def post(
        self, receiver: AnyReceiver, content: Content, content_type: str = JSON, length: str | None = None
    ) -> None:
        """Post a body as it came to one receiver, retrying 429, 5xx and connection errors per its policy;
        raises ``ForwardError`` when it does not take it."""
        url, headers, _ = self._wire(receiver, {})
        headers["content-type"] = content_type
        if length:
            headers["content-length"] = length
        reply = Reply("failed")
        for attempt in range(receiver.retry.attempts):
            reply = await self._post_once(receiver, url, content, headers)
            if reply.verdict == "ok":
                _count(receiver.name, "ok")
                return
            if reply.verdict in ("rejected", "refused"):
                break
            if attempt + 1 < receiver.retry.attempts:
                _count(receiver.name, "retry")
                await self.clock.sleep(receiver.retry.backoff(attempt, reply.retry_after, self.clock.draw()))
        _count(receiver.name, "error")
        _log(logging.WARNING, f"delivery: receiver {receiver.name!r} did not take a delivery", receiver.name, [])
        raise ForwardError(f"receiver {receiver.name!r} failed: {reply.problem}")

    async def post_json(self, receiver: AnyReceiver, body: dict[str, Any]) -> None:
        data = self._wire(receiver, body)[2] if isinstance(receiver, PagerDutyReceiver) else None
        payload = data if data is not None else json.dumps(body, ensure_ascii=True, default=str).encode()
        await self.post(receiver, lambda: payload)

    # ---- one event: paced, retried, deferred or final ---------------------------------------------
    def _rate_key(self, receiver: AnyReceiver) -> str:
        return receiver.routing_key() if isinstance(receiver, PagerDutyReceiver) else f"receiver:{receiver.name}"

    async def send(self, event: Event, deadline: float) -> Deferred | None:
        """Send one event by ``deadline``: None once it is taken (or refused for good); the outbox entry
        when it is to be sent later. Raises ``ForwardError`` when it fails."""
        receiver = event.receiver
        if isinstance(receiver, FileReceiver):
            await self._append(receiver, event.body)
            return None
        url, headers, data = self._wire(receiver, event.body)
        throttled = failed = 0
        while True:
            if receiver.rate is not None:
                wait = self.limiter.reserve(self._rate_key(receiver), receiver.rate, deadline)
                if wait is None:
                    return self._deferred(event, "rate limit", 60.0 / receiver.rate.per_minute)
                if wait:
                    await self.clock.sleep(wait)
            reply = await self._post_once(receiver, url, lambda: data, headers)
            if reply.verdict == "ok":
                _count(receiver.name, "ok")
                return None
            if reply.verdict == "rejected":
                self._rejected(event, reply.problem)
                return None
            if reply.verdict == "refused":
                _count(receiver.name, "error")
                raise ForwardError(f"receiver {receiver.name!r} refused: {reply.problem}")
            if reply.verdict == "throttled":
                throttled += 1
                pause = receiver.retry.backoff(throttled - 1, reply.retry_after, self.clock.draw())
                if reply.retry_after is not None:
                    pause = reply.retry_after  # PagerDuty asks for minutes: honoured, by the outbox if need be
                if self.clock.monotonic() + pause > deadline:
                    return self._deferred(event, reply.problem, reply.retry_after or pause)
            else:
                failed += 1
                pause = receiver.retry.backoff(failed - 1, reply.retry_after, self.clock.draw())
                if failed >= receiver.retry.attempts or self.clock.monotonic() + pause > deadline:
                    _count(receiver.name, "error")
                    _log(logging.WARNING, f"delivery: receiver {receiver.name!r} failed", receiver.name, event.alerts)
                    raise ForwardError(f"receiver {receiver.name!r} failed: {reply.problem}")
            _count(receiver.name, "retry")
            await self.clock.sleep(pause)

    def _rejected(self, event: Event, problem: str) -> None:
        _count(event.receiver.name, "rejected")
        message = f"delivery: receiver {event.receiver.name!r} refused an event for good, not retried: {problem}"
        _log(logging.ERROR, message, event.receiver.name, event.alerts, problem=problem)

    def _deferred(self, event: Event, why: str, wait_s: float) -> Deferred:
        if self.retry is None:
            raise ForwardError(f"receiver {event.receiver.name!r}: {why}, and no retry outbox to keep it")
        prints = [a.fingerprint for a in event.alerts]
        return Deferred(
            receiver=event.receiver.name, body=event.body, due=self.clock.wall() + wait_s, why=why, fingerprints=prints
        )

    async def send_deferred(self, entry: Deferred) -> tuple[Verdict, float | None]:
        """One try of an event from the retry outbox (paced like the rest; no retry of its own)."""
        receiver = next((r for r in self.receivers if r.name == entry.receiver), None)
        if receiver is None:
            logger.warning("delivery: the retry outbox holds an event for %r, which is not configured", entry.receiver)
            return "failed", None
        if isinstance(receiver, FileReceiver):
            await self._append(receiver, entry.body)
            return "ok", None
        if receiver.rate is not None:
            wait = self.limiter.reserve(self._rate_key(receiver), receiver.rate, self.clock.monotonic() + 5.0)
            if wait is None:
                return "throttled", None
            await self.clock.sleep(wait)
        url, headers, data = self._wire(receiver, entry.body)
        reply = await self._post_once(receiver, url, lambda: data, headers)
        if reply.verdict == "ok":
            _count(receiver.name, "ok")
        elif reply.verdict == "rejected":
            self._rejected(Event(receiver, entry.body, []), reply.problem)
        else:
            _count(receiver.name, "retry")
        verdict: Verdict = "failed" if reply.verdict == "refused" else reply.verdict
        return verdict, reply.retry_after

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
        if truncated_of(raw):  # the alerts left out page the group's receivers (routed by what they share)
            shared = raw.get("commonLabels") if isinstance(raw.get("commonLabels"), dict) else {}
            for i in route(self.receivers, str(name), shared)[0]:  # type: ignore[arg-type]
                groups.setdefault(i, [])
        return dict(sorted(groups.items()))

    def events(
        self, receiver: AnyReceiver, raw: dict[str, Any], alerts: list[Forwarded], truncated: int
    ) -> list[Event]:
        """What ``receiver`` is sent for these alerts of a notification (and for ``truncated`` left out)."""
        base = self.options.external_url
        if isinstance(receiver, PagerDutyReceiver) and receiver.mode == "group":
            return [
                Event(receiver, b, chunk)
                for b, chunk in group_events(raw, alerts, receiver.source_labels, base, truncated)
            ]
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
                _count(receiver.name, "resent_skipped", len(alerts) - len(fresh))
            notice: Key = (receiver.name, f"truncated:{group}", "", "firing")
            left_out = truncated if truncated and notice not in self.memory else 0
            if not fresh and not left_out:
                continue
            events = self.events(receiver, raw, fresh, left_out)
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
                entry = await self.send(event, deadline)
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
            _count(event.receiver.name, "deferred")
            _log(
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
