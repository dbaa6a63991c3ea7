"""The Alertmanager webhook's relay (POST /v1/alertmanager): no alert is ever lost.

Alertmanager retries a notification only on a 5xx, so any other answer must mean "delivered". What can be
scored is scored, a storm in chunks of ``chunk`` alerts rather than refused; what cannot be (a body over
the limit, one that is not an Alertmanager payload, a malformed alert, an auth or config problem) is
forwarded downstream as it came, counted in ``alertsieve_unscored`` by reason and logged. A body over the
limit is streamed through to the receiver, never held whole in memory. When forwarding fails the relay
raises ``ForwardError`` and the Ingress answers 502, so Alertmanager retries.
"""

from __future__ import annotations

import asyncio
import json
import logging
from collections.abc import AsyncIterator, Awaitable, Callable
from dataclasses import dataclass
from typing import Any

import httpx
from pydantic import ValidationError

from alertsieve.schema import Alert, Decision, clean_text
from serve_app.telemetry import telemetry
from serve_app.webhook import WebhookResponse, forwarded_payload

logger = logging.getLogger("ray.serve")
Score = Callable[[list[Alert]], Awaitable[tuple[list[Decision], bool]]]
Resolve = Callable[[list[Alert]], list[bool | None]]


class ForwardError(Exception):
    """The downstream receiver could not be reached or did not accept the notification."""


class NothingToScore(ValueError):
    """A JSON object with no alerts in it: nothing can be lost, the sender gets a 422."""


@dataclass
class Body:
    head: bytes  # what was read: the whole body unless it is over the limit
    rest: AsyncIterator[bytes] | None = None  # the unread remainder of a body over the limit


async def read_bounded(stream: AsyncIterator[bytes], limit: int) -> Body:
    """Read a request body up to ``limit`` bytes; past it, keep the rest unread for streaming through."""
    chunks: list[bytes] = []
    seen = 0
    iterator = stream.__aiter__()
    while True:
        try:
            chunk = await iterator.__anext__()
        except StopAsyncIteration:
            return Body(b"".join(chunks))
        chunks.append(chunk)
        seen += len(chunk)
        if seen > limit:
            return Body(b"".join(chunks), iterator)


def parse_payload(body: bytes) -> dict[str, Any] | None:
    """The webhook payload, or None when the body is not a JSON object with a list of alerts."""
    try:
        raw = json.loads(body)
    except (ValueError, RecursionError):  # invalid JSON or UTF-8, or nested beyond the parser
        return None
    if isinstance(raw, dict) and ("alerts" not in raw or raw["alerts"] == []):
        raise NothingToScore("alerts: a webhook payload needs at least one alert")
    if not isinstance(raw, dict) or not isinstance(raw["alerts"], list):
        return None
    return raw


def split_alerts(items: list[Any]) -> tuple[list[tuple[int, Alert]], list[int]]:
    """The alerts that validate, with their positions, and the positions of those that do not."""
    valid: list[tuple[int, Alert]] = []
    malformed: list[int] = []
    for i, item in enumerate(items):
        try:
            valid.append((i, Alert.model_validate(item)))
        except ValidationError:
            malformed.append(i)
    return valid, malformed


def _fingerprint_of(item: Any) -> str:
    value = item.get("fingerprint", "") if isinstance(item, dict) else ""
    return clean_text(value) if isinstance(value, str) else ""


def _unscored(reason: str, count: int, fingerprints: list[str] | None = None) -> None:
    """Count and log what is forwarded undecided: one line per notification, naming up to 20 alerts."""
    telemetry().unscored.inc(count, tags={"reason": reason})
    named = ",".join((fingerprints or [])[:20])
    logger.warning("webhook: forwarding %d alert(s) unscored: %s", count, reason,
                   extra={"fingerprint": named, "service": "", "arm": "none", "reason": reason})  # fmt: skip


class Relay:
    """Scores what it can of one notification and forwards the rest, with the pages, downstream."""

    def __init__(self, http: httpx.AsyncClient, url: str | None, chunk: int) -> None:
        self.http, self.url, self.chunk = http, url, chunk

    async def _post(self, content: bytes | AsyncIterator[bytes], content_type: str, length: str | None = None) -> None:
        if not self.url:
            logger.error("webhook: no downstream_url configured, nothing is forwarded")
            return
        headers = {"content-type": content_type} | ({"content-length": length} if length else {})
        try:
            reply = await self.http.post(self.url, content=content, headers=headers)
            reply.raise_for_status()
        except httpx.HTTPError as exc:
            telemetry().forwarded.inc(tags={"outcome": "error"})
            raise ForwardError(f"downstream receiver failed: {type(exc).__name__}: {exc}") from exc
        telemetry().forwarded.inc(tags={"outcome": "ok"})

    async def forward_raw(self, body: Body, content_type: str, reason: str, length: str | None) -> WebhookResponse:
        """Forward the notification as it came (with its declared length), streaming what was not read yet."""
        _unscored(reason, 1)

        async def content() -> AsyncIterator[bytes]:
            yield body.head
            if body.rest is not None:
                async for chunk in body.rest:
                    yield chunk

        await self._post(content(), content_type, length if length and length.isdigit() else None)
        return WebhookResponse(decisions=[], forwarded=0, fail_open=True, unscored={reason: 1}, as_received=True)

    async def late_page(self, alerts: list[Alert], decisions: list[Decision]) -> None:
        """Forward alerts that were suppressed as late pages (delayed paging, "should have paged"): a
        webhook notification of their own. Raises ``ForwardError`` when delivery fails."""
        payload = {"version": "4", "status": "firing", "receiver": "alertsieve-late-page",
                   "groupKey": "alertsieve-late-page", "groupLabels": {}, "commonLabels": {},
                   "commonAnnotations": {}, "externalURL": "", "truncatedAlerts": 0,
                   "alerts": [a.model_dump(mode="json", exclude_none=True) for a in alerts]}  # fmt: skip
        await self._post(json.dumps(payload).encode(), "application/json")

    async def relay(self, raw: dict[str, Any], score: Score, resolve: Resolve) -> WebhookResponse:
        items: list[Any] = raw["alerts"]
        valid, malformed = await asyncio.to_thread(split_alerts, items)
        firing = [(i, a) for i, a in valid if a.status == "firing"]
        resolved = [(i, a) for i, a in valid if a.status == "resolved"]
        decided: dict[int, Decision] = {}
        failed = False
        for start in range(0, len(firing), self.chunk):
            part = firing[start : start + self.chunk]
            decisions, part_failed = await score([a for _, a in part])
            failed |= part_failed
            decided.update(zip([i for i, _ in part], decisions, strict=True))
        try:
            paged = resolve([a for _, a in resolved])
        except Exception:  # noqa: BLE001 - when in doubt, a resolution is forwarded
            logger.exception("webhook: resolutions could not be matched: forwarding them all")
            paged = [None] * len(resolved)
        if malformed:
            _unscored("malformed", len(malformed), [_fingerprint_of(items[i]) for i in malformed])
        keep = sorted([i for i, d in decided.items() if d.decision == "page"] + malformed
                      + [i for (i, _), p in zip(resolved, paged, strict=True) if p is not False])  # fmt: skip
        payload = forwarded_payload(raw, keep)
        if payload is not None:
            await self._post(json.dumps(payload).encode(), "application/json")
        unscored = {"malformed": len(malformed)} if malformed else {}
        return WebhookResponse(decisions=[decided[i] for i, _ in firing], forwarded=len(keep) if self.url else 0,
                               fail_open=failed, unscored=unscored)  # fmt: skip
