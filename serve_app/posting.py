"""One event to one receiver: its wire form, paced by the rate limit, retried, deferred or final.

``Poster`` holds the receivers' HTTP clients (receivers with their own TLS get a client of their own; the
rest share one), the rate limiter (``serve_app/ratelimit.py``) and the retry outbox
(``serve_app/retry_outbox.py``). ``send`` posts one event by a deadline: a 429 is retried after the
receiver's Retry-After, else exponential backoff with jitter, while the deadline allows, and what the
deadline cannot fit (throttled, or held by the rate limit) comes back as an outbox entry; 5xx and
connection errors are retried per ``RetryPolicy``; a 400 (413, 422: the event itself is bad) is final,
logged and counted (``outcome="rejected"``); what still fails raises ``ForwardError``. ``send_deferred`` is
the outbox's one try of an entry; ``post`` sends a body as it came (an unreadable notification). File
receivers append a JSON line instead. Credentials are read when a post is made: an unset one is a
``ForwardError`` with status 503.
"""

from __future__ import annotations

import asyncio
import email.utils
import json
import logging
import random
import threading
import time
from collections.abc import AsyncIterator, Awaitable, Callable, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Literal

import httpx

from serve_app.delivered import Key
from serve_app.notifications import Forwarded
from serve_app.ratelimit import RateLimiter
from serve_app.receivers import AnyReceiver, FileReceiver, MissingCredential, PagerDutyReceiver
from serve_app.retry_outbox import Deferred, RetryOutbox, Verdict
from serve_app.telemetry import telemetry

logger = logging.getLogger("ray.serve")
Content = Callable[[], bytes | AsyncIterator[bytes]]  # a fresh body for each attempt
JSON = "application/json"
FINAL = frozenset({400, 413, 422})  # the event itself is bad: resending cannot help
MAX_THROTTLED = 10  # 429s one event takes within a request before the outbox takes it over
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


def count(receiver: str, outcome: str, n: int = 1) -> None:
    telemetry().forwarded.inc(n, tags={"receiver": receiver, "outcome": outcome})


def log_delivery(level: int, message: str, receiver: str, alerts: Sequence[Forwarded], **extra: Any) -> None:
    decided = [a.decision for a in alerts if a.decision is not None]
    fields = {
        "fingerprint": ",".join(a.fingerprint for a in alerts[:20]),
        "service": ",".join(sorted({d.service for d in decided}))[:200],
        "arm": ",".join(sorted({str(d.arm) for d in decided})) or "none",
        "receiver": receiver,
        **extra,
    }
    logger.log(level, message, extra=fields)


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


class Poster:
    """Posts events to the receivers, paced and retried."""

    def __init__(
        self,
        receivers: Sequence[AnyReceiver],
        http: httpx.AsyncClient | None,
        clock: DeliveryClock,
        limiter: RateLimiter,
        retry: RetryOutbox | None,
    ) -> None:
        self.receivers, self.clock, self.limiter, self.retry = list(receivers), clock, limiter, retry
        shared = http if http is not None else httpx.AsyncClient()
        self.clients = {r.name: shared if r.default_tls else httpx.AsyncClient(verify=r.tls()) for r in receivers}

    def _wire(self, receiver: AnyReceiver, body: dict[str, Any]) -> tuple[str, dict[str, str], bytes]:
        """URL, headers and bytes of a post; raises ``ForwardError`` (503) for a missing credential."""
        try:
            url, headers = receiver.endpoint(), {"content-type": JSON, **receiver.headers()}
            if isinstance(receiver, PagerDutyReceiver):
                body = {**body, "routing_key": receiver.routing_key()}
        except MissingCredential as exc:
            count(receiver.name, "error")
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
            count(receiver.name, "error")
            raise ForwardError(f"receiver {receiver.name!r}: {exc}") from exc
        count(receiver.name, "ok")

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
                count(receiver.name, "ok")
                return
            if reply.verdict in ("rejected", "refused"):
                break
            if attempt + 1 < receiver.retry.attempts:
                count(receiver.name, "retry")
                await self.clock.sleep(receiver.retry.backoff(attempt, reply.retry_after, self.clock.draw()))
        count(receiver.name, "error")
        log_delivery(
            logging.WARNING, f"delivery: receiver {receiver.name!r} did not take a delivery", receiver.name, []
        )
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
                count(receiver.name, "ok")
                return None
            if reply.verdict == "rejected":
                self._rejected(event, reply.problem)
                return None
            if reply.verdict == "refused":
                count(receiver.name, "error")
                raise ForwardError(f"receiver {receiver.name!r} refused: {reply.problem}")
            if reply.verdict == "throttled":
                throttled += 1
                pause = receiver.retry.backoff(throttled - 1, reply.retry_after, self.clock.draw())
                if reply.retry_after is not None:
                    pause = reply.retry_after  # PagerDuty asks for minutes: honoured, by the outbox if need be
                if throttled > MAX_THROTTLED or self.clock.monotonic() + pause > deadline:
                    return self._deferred(event, reply.problem, reply.retry_after or pause)
            else:
                failed += 1
                pause = receiver.retry.backoff(failed - 1, reply.retry_after, self.clock.draw())
                if failed >= receiver.retry.attempts or self.clock.monotonic() + pause > deadline:
                    count(receiver.name, "error")
                    log_delivery(
                        logging.WARNING, f"delivery: receiver {receiver.name!r} failed", receiver.name, event.alerts
                    )
                    raise ForwardError(f"receiver {receiver.name!r} failed: {reply.problem}")
            count(receiver.name, "retry")
            await self.clock.sleep(pause)

    def _rejected(self, event: Event, problem: str) -> None:
        count(event.receiver.name, "rejected")
        message = f"delivery: receiver {event.receiver.name!r} refused an event for good, not retried: {problem}"
        log_delivery(logging.ERROR, message, event.receiver.name, event.alerts, problem=problem)

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
            count(receiver.name, "ok")
        elif reply.verdict == "rejected":
            self._rejected(Event(receiver, entry.body, []), reply.problem)
        else:
            count(receiver.name, "retry")
        verdict: Verdict = "failed" if reply.verdict == "refused" else reply.verdict
        return verdict, reply.retry_after
