"""Local HTTP receivers for the receiver tests: each stands in for a vendor (PagerDuty, Slack, a team's
webhook) that cannot run here, over real HTTP on 127.0.0.1; and the alerts, decisions and notifications
the tests send them."""

from __future__ import annotations

import asyncio
import datetime as dt
import json
import ssl
import threading
from collections.abc import Callable, Iterator
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any

import pytest

from alertsieve.decider import fail_open
from alertsieve.schema import Alert, fingerprint_of
from serve_app.delivery import DeliveryClock
from serve_app.notifications import Forwarded
from serve_app.receivers import RetryPolicy
from tests.conftest import request_body

FAST = RetryPolicy(attempts=3, backoff_s=0.05, max_backoff_s=2.0)


class LocalReceiver:
    """An HTTP server on 127.0.0.1 that records every POST (path, headers, body) and answers from a
    script (``replies``: status and headers, one per request), then with ``status`` and ``answer``."""

    status, answer = 200, b"ok"

    def __init__(self, replies: list[tuple[int, dict[str, str]]] | None = None, tls: ssl.SSLContext | None = None):
        self.requests: list[dict[str, Any]] = []
        self.replies = list(replies or [])
        owner = self

        class Handler(BaseHTTPRequestHandler):
            def do_POST(self) -> None:  # noqa: N802 - http.server's naming
                data = request_body(self)
                owner.requests.append(
                    {"path": self.path, "headers": {k.lower(): v for k, v in self.headers.items()}, "data": data}
                )
                status, headers = owner.respond(data)
                self.send_response(status)
                for name, value in headers.items():
                    self.send_header(name, value)
                self.send_header("content-length", str(len(owner.answer)))
                self.end_headers()
                self.wfile.write(owner.answer)

            def log_message(self, *args: object) -> None:
                return

        self.server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        if tls is not None:
            self.server.socket = tls.wrap_socket(self.server.socket, server_side=True)
        scheme = "https" if tls else "http"
        self.url = f"{scheme}://127.0.0.1:{self.server.server_address[1]}/hook"
        threading.Thread(target=self.server.serve_forever, daemon=True).start()

    def respond(self, data: bytes) -> tuple[int, dict[str, str]]:
        """The status and headers for a request: the next scripted reply, else ``status``."""
        return self.replies.pop(0) if self.replies else (self.status, {})

    @property
    def bodies(self) -> list[Any]:
        return [json.loads(r["data"]) for r in self.requests]

    def close(self) -> None:
        self.server.shutdown()
        self.server.server_close()


class FakePagerDuty(LocalReceiver):
    """Stands in for PagerDuty's Events API v2 (the vendor cannot run here): answers 202 as it does."""

    status, answer = 202, b'{"status":"success","message":"Event processed"}'


class FakeClock:
    """Simulated time for the delivery's rate limit, backoff and retry outbox (``DeliveryClock``): a
    sleep moves it on at once, so a minute of pacing takes no wall time."""

    def __init__(self, now: float = 1_800_000_000.0) -> None:
        self.now = now
        self.lock = threading.Lock()

    def time(self) -> float:
        with self.lock:
            return self.now

    def advance(self, seconds: float) -> None:
        with self.lock:
            self.now += max(0.0, seconds)

    async def sleep(self, seconds: float) -> None:
        self.advance(seconds)
        await asyncio.sleep(0)

    def delivery(self) -> DeliveryClock:
        return DeliveryClock(monotonic=self.time, wall=self.time, sleep=self.sleep, draw=lambda: 0.5)


class RateLimitedPagerDuty(FakePagerDuty):
    """Stands in for PagerDuty's Events API v2 and its rate limit (the vendor cannot run here): at most
    ``per_minute`` events accepted (202) in any 60 s of ``clock``'s time; past that, 429 with Retry-After.
    ``accepted`` holds the events it took, ``throttled`` counts the 429s."""

    def __init__(self, clock: FakeClock, per_minute: int = 120) -> None:
        self.clock, self.per_minute = clock, per_minute
        self.accepted: list[tuple[float, dict[str, Any]]] = []
        self.throttled = 0
        self.guard = threading.Lock()
        super().__init__()

    def respond(self, data: bytes) -> tuple[int, dict[str, str]]:
        now = self.clock.time()
        with self.guard:
            recent = [t for t, _ in self.accepted if now - t < 60.0]
            if len(recent) >= self.per_minute:
                self.throttled += 1
                return 429, {"Retry-After": "60"}
            self.accepted.append((now, json.loads(data)))
        return self.status, {}


class FakeSlack(LocalReceiver):
    """Stands in for a Slack incoming webhook (the vendor cannot run here): answers 200 "ok" as it does."""


class FakeWebhook(LocalReceiver):
    """Stands in for a team's Alertmanager-compatible webhook receiver, which cannot run here."""


@pytest.fixture
def servers() -> Iterator[Callable[..., Any]]:
    """Start receivers (``servers(FakePagerDuty)``); all are closed at the end of the test."""
    started: list[LocalReceiver] = []

    def start(kind: type[LocalReceiver], *args: Any, **kwargs: Any) -> LocalReceiver:
        started.append(kind(*args, **kwargs))
        return started[-1]

    yield start
    for server in started:
        server.close()


def alert(name: str, **labels: str) -> Alert:
    labels = {"alertname": name, "service": "checkout", **labels}
    return Alert(
        labels=labels,
        annotations={"summary": f"{name} is up"},
        startsAt=dt.datetime(2026, 1, 5, 9, tzinfo=dt.UTC),
        fingerprint=fingerprint_of(labels),
        generatorURL="http://prometheus/graph",
    )


def page(a: Alert, reason: str = "novel alert") -> Forwarded:
    """A paged alert with a real decision (the fail-open constructor, reason rewritten)."""
    decision = fail_open(a, "checkout", "7", "x").model_copy(update={"reason": reason, "score": 0.9, "threshold": 0.3})
    return Forwarded(a.model_dump(mode="json"), a, decision)


def notification(receiver: str, alerts: list[Forwarded]) -> dict[str, Any]:
    return {
        "version": "4",
        "groupKey": "{}:{}",
        "status": "firing",
        "receiver": receiver,
        "newerField": [1],
        "alerts": [f.item for f in alerts],
    }


def run(coro: Any) -> Any:
    return asyncio.run(coro)
