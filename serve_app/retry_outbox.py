"""The durable retry outbox: events a receiver throttled (429) or the rate limiter held past the request's
deadline, kept in the state store and sent later (``serve_app/delivery.py`` puts them here and sends them).

One blob of the state store (``alertsieve.store``: a local file replaced atomically, or one S3 object),
``delivery-outbox.json``, holds the events waiting; it is written before the webhook answers, so an event
handed over survives a restart: the next Ingress reads it back at its first delivery and goes on. Bodies
are kept without credentials (a PagerDuty event's ``routing_key`` is added when it is sent). A due event is
tried once per ``drain``; a 429 or a failure waits again (Retry-After when given, else ``FIRST_WAIT_S``
doubling to ``MAX_WAIT_S``, with jitter), an event refused for good (400) is dropped (logged and counted
by delivery), an accepted one is removed. Nothing is dropped for age: a page that cannot go keeps trying,
and ``alertsieve_forwarded{outcome="deferred"}`` says how many went this way. Past ``capacity`` events
``add`` refuses (``OutboxFull``): the webhook then answers 5xx and Alertmanager keeps the notification.
Several Ingress replicas share the blob: each rewrites it whole, so run the outbox on one (a known limit).
"""

from __future__ import annotations

import asyncio
import json
import logging
import random
import time
import uuid
from collections.abc import Awaitable, Callable
from typing import Any, Literal

from pydantic import BaseModel, Field

from alertsieve.store import RecordStore

logger = logging.getLogger("ray.serve")
BLOB = "delivery-outbox.json"
FIRST_WAIT_S = 30.0
MAX_WAIT_S = 900.0
Verdict = Literal["ok", "rejected", "throttled", "failed"]


class OutboxFull(RuntimeError):
    """The outbox holds ``capacity`` events already."""


class Deferred(BaseModel):
    """One event waiting: for which receiver, its body (no credentials), when it is due (unix seconds)."""

    id: str = Field(default_factory=lambda: uuid.uuid4().hex)
    receiver: str
    body: dict[str, Any]
    due: float
    tries: int = 0
    since: float = Field(default_factory=time.time)
    why: str = ""
    fingerprints: list[str] = Field(default_factory=list)


Send = Callable[[Deferred], Awaitable[tuple[Verdict, float | None]]]  # the verdict, and a Retry-After


class RetryOutbox:
    def __init__(
        self,
        store: RecordStore,
        wall: Callable[[], float] = time.time,
        draw: Callable[[], float] = random.random,
        capacity: int = 50_000,
    ) -> None:
        self.store, self.wall, self.draw, self.capacity = store, wall, draw, capacity
        self.waiting: dict[str, Deferred] | None = None  # None: not read back from the store yet
        self.lock = asyncio.Lock()  # the waiting events and their blob
        self.draining = asyncio.Lock()  # one drain at a time

    def __len__(self) -> int:
        return len(self.waiting or {})

    async def _loaded(self) -> dict[str, Deferred]:
        if self.waiting is None:
            data = await asyncio.to_thread(self.store.get_blob, BLOB)
            items = json.loads(data) if data else []
            self.waiting = {d.id: d for d in map(Deferred.model_validate, items)}
            if self.waiting:
                logger.warning("delivery: %d event(s) waiting in the retry outbox", len(self.waiting))
        return self.waiting

    async def _save(self, waiting: dict[str, Deferred]) -> None:
        data = json.dumps([d.model_dump(mode="json") for d in waiting.values()], separators=(",", ":")).encode()
        await asyncio.to_thread(self.store.put_blob, BLOB, data)

    def wait_s(self, tries: int, retry_after: float | None) -> float:
        if retry_after is not None:
            return max(retry_after, 1.0)
        return min(MAX_WAIT_S, FIRST_WAIT_S * 2.0 ** max(tries - 1, 0)) * (0.8 + 0.4 * self.draw())

    async def add(self, events: list[Deferred]) -> None:
        """Keep these events (durably, before returning)."""
        async with self.lock:
            waiting = await self._loaded()
            if len(waiting) + len(events) > self.capacity:
                raise OutboxFull(f"the retry outbox holds {len(waiting)} events (capacity {self.capacity})")
            waiting.update((e.id, e) for e in events)
            await self._save(waiting)

    async def drain(self, send: Send) -> int:
        """Try every due event once; returns how many left the outbox (accepted or refused for good). The
        sends run outside ``lock``: a webhook handing events over (``add``) never waits behind them."""
        async with self.draining:
            async with self.lock:
                waiting = await self._loaded()
                now = self.wall()
                due = sorted((d for d in waiting.values() if d.due <= now), key=lambda d: (d.due, d.since))
            throttled: set[str] = set()
            finished: list[str] = []
            for event in due:
                if event.receiver in throttled:  # its receiver said 429 this round: it waits too
                    event.due = self.wall() + self.wait_s(event.tries + 1, None)
                    continue
                try:
                    verdict, retry_after = await send(event)
                except Exception:  # noqa: BLE001 - kept, tried again later
                    logger.exception("delivery: retry outbox could not send an event")
                    verdict, retry_after = "failed", None
                if verdict in ("ok", "rejected"):
                    finished.append(event.id)
                    continue
                event.tries += 1
                event.due = self.wall() + self.wait_s(event.tries, retry_after)
                if verdict == "throttled":
                    throttled.add(event.receiver)
            if due:
                async with self.lock:
                    for key in finished:
                        waiting.pop(key, None)
                    await self._save(waiting)
            return len(finished)

    async def run(self, send: Send, every_s: float = 5.0) -> None:
        """Forever: drain the due events every ``every_s`` (the Ingress starts it with its first delivery)."""
        while True:
            try:
                await self.drain(send)
            except Exception:  # noqa: BLE001 - the store may be away for a while: try again
                logger.exception("delivery: retry outbox drain failed")
            await asyncio.sleep(every_s)
