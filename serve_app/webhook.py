"""The HTTP side of scoring, free of Ray: request and response models, bearer-token checks, the body
size limit, and what to forward of an Alertmanager webhook (version 4) to the team's real receiver."""

from __future__ import annotations

import secrets
from collections.abc import Callable
from typing import Any

from pydantic import BaseModel, ConfigDict, Field
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from alertsieve.schema import Alert, Decision


class ScoreRequest(BaseModel):
    alerts: list[Alert] = Field(min_length=1)


class ScoreResponse(BaseModel):
    decisions: list[Decision]


class AlertmanagerWebhook(BaseModel):
    """Alertmanager's webhook payload; unknown (newer) fields are kept when forwarding."""

    model_config = ConfigDict(extra="allow")

    version: str = "4"
    groupKey: str = ""
    truncatedAlerts: int = 0
    status: str = "firing"
    receiver: str = ""
    groupLabels: dict[str, str] = Field(default_factory=dict)
    commonLabels: dict[str, str] = Field(default_factory=dict)
    commonAnnotations: dict[str, str] = Field(default_factory=dict)
    externalURL: str = ""
    alerts: list[Alert] = Field(min_length=1)


class WebhookResponse(BaseModel):
    decisions: list[Decision]
    forwarded: int
    fail_open: bool = False


class AuthError(Exception):
    def __init__(self, status: int, message: str) -> None:
        self.status, self.message = status, message
        super().__init__(message)


def check_bearer(header: str | None, token: str | None) -> None:
    """401 without credentials, 403 with wrong ones or when no token is configured (writes disabled)."""
    if not token:
        raise AuthError(403, "writes are disabled: set ALERTSIEVE_API_TOKEN on the server")
    if not header or not header.lower().startswith("bearer "):
        raise AuthError(401, "missing bearer token")
    if not secrets.compare_digest(header[7:].strip().encode(), token.encode()):
        raise AuthError(403, "invalid bearer token")


def forward_indices(
    alerts: list[Alert], firing_decisions: dict[int, Decision], resolved_paged: dict[int, bool | None]
) -> list[int]:
    """Positions to forward: firing alerts decided "page", and resolved alerts whose firing was paged
    (or is unknown here: when in doubt, forward)."""
    keep = []
    for i, alert in enumerate(alerts):
        if alert.status == "firing" and firing_decisions[i].decision == "page":
            keep.append(i)
        elif alert.status == "resolved" and resolved_paged.get(i) is not False:
            keep.append(i)
    return keep


def forwarded_payload(raw: dict[str, Any], keep: list[int]) -> dict[str, Any] | None:
    """The original payload with only the kept alerts (their JSON untouched); None if none is kept."""
    if not keep:
        return None
    alerts = [raw["alerts"][i] for i in keep]
    statuses = {a.get("status", "firing") for a in alerts}
    return {**raw, "alerts": alerts, "status": "firing" if "firing" in statuses else "resolved"}


class BodyLimit:
    """ASGI middleware: refuse request bodies over ``limit`` bytes with 413, declared or streamed."""

    def __init__(self, app: ASGIApp, limit: Callable[[], int]) -> None:
        self.app, self.limit_of = app, limit

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        limit = self.limit_of()
        declared = dict(scope.get("headers") or []).get(b"content-length")
        if declared is not None and declared.isdigit() and int(declared) > limit:
            await _too_large(send, limit)
            return
        seen = 0
        started = False

        async def limited_receive() -> Message:
            nonlocal seen
            message = await receive()
            seen += len(message.get("body", b""))
            if seen > limit:
                raise _TooLarge()
            return message

        async def tracking_send(message: Message) -> None:
            nonlocal started
            started = started or message["type"] == "http.response.start"
            await send(message)

        try:
            await self.app(scope, limited_receive, tracking_send)
        except _TooLarge:
            if not started:
                await _too_large(send, limit)


class _TooLarge(Exception):
    pass


async def _too_large(send: Send, limit: int) -> None:
    body = b'{"detail":"request body larger than %d bytes"}' % limit
    await send(
        {
            "type": "http.response.start",
            "status": 413,
            "headers": [(b"content-type", b"application/json"), (b"content-length", str(len(body)).encode())],
        }
    )
    await send({"type": "http.response.body", "body": body})
