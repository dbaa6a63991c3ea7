"""The Alertmanager webhook's relay (POST /v1/alertmanager): no alert is ever lost.

Alertmanager retries a notification only on a 5xx, so any other answer must mean "delivered". What can be
scored is scored, a storm in chunks of ``chunk`` alerts rather than refused; what cannot be (a body over
the limit, one that is not an Alertmanager payload, a malformed alert, an auth or config problem) is
forwarded downstream as it came, counted in ``alertsieve_unscored`` by reason and logged. A body over the
limit is streamed through to the receiver, never held whole in memory (it is spooled to a temporary file,
so that it can be retried and sent to more than one receiver). When forwarding fails the relay raises
``ForwardError`` and the Ingress answers 502 (503 when no receiver is configured, or a credential is
missing: ``NoReceiver``), so Alertmanager retries.

A notification whose ``truncatedAlerts`` is over 0 (Alertmanager's ``max_alerts``) names alerts nobody here
can see: they are counted (``alertsieve_unscored{reason="truncated"}``), logged, and paged as a notice to the
group's receivers (routed by its ``commonLabels``), whatever was decided for the alerts that came: fail open.

Downstream are the receivers of ``serve_app/receivers.py`` (PagerDuty, webhooks, Slack; ``downstream_url``
is one catch-all webhook), delivered to by ``serve_app/delivery.py``. Pages carry their decision (webhook
annotations, PagerDuty ``custom_details``, a Slack line); resolutions and unscored alerts carry what is
known. A body that cannot be read goes as it came to the webhook receivers, and PagerDuty and Slack get a
notice that a notification went unread (one page, deduplicated by the body's digest), rather than nothing.
Late pages (``late_page``) carry no Alertmanager receiver name: they are routed by label matchers, else to
the catch-all receivers, else to every receiver.
"""

from __future__ import annotations

import asyncio
import hashlib
import inspect
import json
import logging
import os
import tempfile
from collections.abc import AsyncIterator, Awaitable, Callable
from dataclasses import dataclass
from typing import IO, Any

import httpx
from pydantic import ValidationError

from alertsieve.schema import Alert, Decision, Reason, clean_text
from serve_app.delivery import Content, ForwardError, Outbox, truncated_of
from serve_app.notifications import Forwarded
from serve_app.receivers import configured_receivers
from serve_app.telemetry import telemetry
from serve_app.webhook import WebhookResponse

logger = logging.getLogger("ray.serve")
Score = Callable[[list[Alert]], Awaitable[tuple[list[Decision], bool]]]
Resolve = Callable[[list[Alert]], list[bool | None] | Awaitable[list[bool | None]]]  # the router's (port: async)
__all__ = ["Body", "ForwardError", "NothingToScore", "Relay", "parse_payload", "read_bounded", "split_alerts"]
SPOOL_CHUNK = 65536


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
    logger.warning(
        "webhook: forwarding %d alert(s) unscored: %s",
        count,
        reason,
        extra={"fingerprint": named, "service": "", "arm": "none", "reason": reason},
    )


async def _spool(body: Body) -> IO[bytes]:
    """The whole body in a temporary file (on disk, not in memory), so it can be sent more than once."""
    spool = tempfile.TemporaryFile()
    try:
        await asyncio.to_thread(spool.write, body.head)
        if body.rest is not None:
            async for chunk in body.rest:
                await asyncio.to_thread(spool.write, chunk)
        await asyncio.to_thread(spool.flush)
    except BaseException:
        spool.close()
        raise
    return spool


def _replay(spool: IO[bytes]) -> Content:
    """A fresh stream of the spooled body for each attempt (``pread``: concurrent readers do not collide)."""

    async def chunks() -> AsyncIterator[bytes]:
        offset = 0
        while chunk := await asyncio.to_thread(os.pread, spool.fileno(), SPOOL_CHUNK, offset):
            offset += len(chunk)
            yield chunk

    return chunks


def _readable(body: Body, reason: str) -> tuple[dict[str, Any] | None, list[Forwarded]]:
    """A whole body that is an Alertmanager payload (refused for auth or config, say), and its alerts."""
    if body.rest is not None:
        return None, []
    try:
        raw = parse_payload(body.head)
    except NothingToScore:  # a JSON object without alerts: nothing to page
        return {}, []
    if raw is None:
        return None, []
    valid = dict(split_alerts(raw["alerts"])[0])
    alerts = [
        Forwarded(item, valid.get(i), unscored=reason if i in valid else "malformed")
        for i, item in enumerate(raw["alerts"])
    ]
    return raw, alerts


def _notice(body: Body, declared: str | None) -> tuple[str, str]:
    """The size (as far as it is known) and a digest of a body, for the notice that it went unread."""
    size = (declared or f"{len(body.head)}+") if body.rest is not None else str(len(body.head))
    return size, hashlib.sha256(body.head[:SPOOL_CHUNK]).hexdigest()[:16]


class Relay:
    """Scores what it can of one notification and forwards the rest, with the pages, downstream."""

    def __init__(
        self, http: httpx.AsyncClient | None, url: str | None, chunk: int, outbox: Outbox | None = None
    ) -> None:
        """``outbox``: the receivers in force; without it, ``url`` is the one (catch-all webhook) receiver."""
        self.chunk = chunk
        if outbox is None:
            timeout = http.timeout.read if http is not None and http.timeout.read else 5.0
            outbox = Outbox(configured_receivers([], url, timeout), http)
        self.outbox = outbox

    async def forward_raw(self, body: Body, content_type: str, reason: str, length: str | None) -> WebhookResponse:
        """Forward the notification as it came (with its declared length), streaming what was not read yet."""
        _unscored(reason, 1)
        raw, alerts = await asyncio.to_thread(_readable, body, reason)
        declared = length if length and length.isdigit() else None
        notice = _notice(body, declared)
        if body.rest is None:
            head = body.head  # read whole: httpx declares its length
            await self.outbox.deliver_raw(lambda: head, content_type, None, reason, raw, alerts, notice)
        else:
            try:
                spool = await _spool(body)
            except OSError as exc:
                raise ForwardError(f"the body could not be spooled for forwarding: {exc}") from exc
            with spool:
                await self.outbox.deliver_raw(_replay(spool), content_type, declared, reason, raw, alerts, notice)
        return WebhookResponse(decisions=[], forwarded=0, fail_open=True, unscored={reason: 1}, as_received=True)

    async def late_page(self, alerts: list[Alert], decisions: list[Decision]) -> None:
        """Forward alerts that were suppressed as late pages (delayed paging, "should have paged"): a
        notification of their own, each alert with its decision (whose reason says why it is paged late).
        Raises ``ForwardError`` when delivery fails."""
        known: list[Decision | None] = [*decisions, *[None] * (len(alerts) - len(decisions))]
        forwarded = [
            Forwarded(a.model_dump(mode="json", exclude_none=True), a, d) for a, d in zip(alerts, known, strict=False)
        ]
        digest = hashlib.sha256(",".join(sorted(f.fingerprint for f in forwarded)).encode()).hexdigest()[:16]
        payload = {
            "version": "4",
            "status": "firing",
            "receiver": "alertsieve-late-page",
            "groupKey": f"alertsieve-late-page-{digest}",  # a group of its own (PagerDuty's group mode: an incident)
            "groupLabels": {},
            "commonLabels": {},
            "commonAnnotations": {},
            "externalURL": "",
            "truncatedAlerts": 0,
            "alerts": [f.item for f in forwarded],
        }
        await self.outbox.deliver(payload, forwarded)

    async def relay(self, raw: dict[str, Any], score: Score, resolve: Resolve) -> WebhookResponse:
        items: list[Any] = raw["alerts"]
        truncated = truncated_of(raw)
        if truncated:
            _unscored("truncated", truncated, [])
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
            answer = resolve([a for _, a in resolved])
            paged = await answer if inspect.isawaitable(answer) else answer
        except Exception:  # noqa: BLE001 - when in doubt, a resolution is forwarded
            logger.exception("webhook: resolutions could not be matched: forwarding them all")
            paged = [None] * len(resolved)
        if malformed:
            _unscored("malformed", len(malformed), [_fingerprint_of(items[i]) for i in malformed])
        by_index = dict(valid)
        pages = [i for i, d in decided.items() if d.decision == "page"]
        resolutions = [i for (i, _), p in zip(resolved, paged, strict=True) if p is not False]
        keep = sorted(pages + malformed + resolutions)
        forwarded = [
            Forwarded(items[i], by_index.get(i), decided.get(i), None if i in by_index else "malformed") for i in keep
        ]
        await self.outbox.deliver(raw, forwarded)
        unscored = {"malformed": len(malformed)} if malformed else {}
        if truncated:
            unscored["truncated"] = truncated
        return WebhookResponse(
            decisions=[decided[i] for i, _ in firing],
            forwarded=len(keep) if self.outbox.receivers else 0,
            fail_open=failed or any(d.reason_code == Reason.FAIL_OPEN for d in decided.values()),
            unscored=unscored,
        )
