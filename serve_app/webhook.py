"""The HTTP side of scoring, free of Ray: request and response models, bearer-token checks and the
credentials Alertmanager's ``http_config`` may send to the webhook (bearer or basic auth), the body size
limit, and error bodies that always render (and the status codes the OpenAPI documents). What the webhook
forwards, and to whom, is serve_app/notifications.py and serve_app/delivery.py."""

from __future__ import annotations

import base64
import binascii
import json
import secrets
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import Any

from fastapi.responses import JSONResponse
from pydantic import BaseModel, ConfigDict, Field, SecretStr
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from alertsieve.schema import Alert, Decision, clean_text


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
    forwarded: int = Field(description="alerts forwarded downstream (0 when the body went as it came)")
    fail_open: bool = Field(default=False, description="some alerts paged because they could not be scored")
    unscored: dict[str, int] = Field(default_factory=dict, description="alerts forwarded undecided, by reason")
    as_received: bool = Field(default=False, description="the notification was forwarded as it came, unscored")


_DESCRIPTIONS = {
    401: "missing bearer token",
    403: "wrong bearer token, or writes disabled",
    404: "not found",
    405: "method not allowed",
    413: "request body or alert count over the limit",
    422: "invalid input: the message names the field",
    502: "the downstream receiver failed (retry)",
    503: "not ready, misconfigured, or busy (retry after Retry-After)",
}


def documented(*codes: int) -> dict[int | str, dict[str, Any]]:
    """``responses=`` for a route: the error codes it can answer, so the OpenAPI lists every one."""
    return {code: {"description": _DESCRIPTIONS[code]} for code in codes}


class SafeJSONResponse(JSONResponse):
    """JSON that renders whatever the content: lone surrogates escaped, never NaN, unknown types as text."""

    def render(self, content: Any) -> bytes:
        return json.dumps(content, ensure_ascii=True, allow_nan=False, default=str, separators=(",", ":")).encode()


def validation_problems(errors: Sequence[Any]) -> dict[str, Any]:
    """A 422 body from pydantic's errors: where and what, without echoing the input (which may be bytes,
    NaN or text that cannot be encoded)."""
    detail = []
    for error in errors:
        loc = [p if isinstance(p, int) else clean_text(str(p)) for p in error.get("loc", ())]
        detail.append({"loc": loc, "msg": clean_text(str(error.get("msg", ""))), "type": str(error.get("type", ""))})
    message = "; ".join(f"{'.'.join(str(p) for p in d['loc'])}: {d['msg']}" for d in detail)
    return {"message": message, "detail": detail}


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


@dataclass(frozen=True)
class WebhookCredentials:
    """What /v1/alertmanager accepts under ``protect_scoring``: Alertmanager's ``http_config`` sends a
    bearer token (the webhook token, or the admin token for back-compat) or basic auth."""

    tokens: tuple[str, ...] = ()
    basic: tuple[str, str] | None = None

    @property
    def configured(self) -> bool:
        return bool(self.tokens or self.basic)


def webhook_credentials(
    admin_token: str | None, webhook_token: SecretStr | None, user: str | None, password: SecretStr | None
) -> WebhookCredentials:
    """The webhook's credentials from the settings (ALERTSIEVE_WEBHOOK_TOKEN, _USER, _PASSWORD) and the
    admin token (ALERTSIEVE_API_TOKEN), which the webhook still accepts."""
    tokens = tuple(t for t in (webhook_token.get_secret_value() if webhook_token else None, admin_token) if t)
    secret = password.get_secret_value() if password else ""
    return WebhookCredentials(tokens=tokens, basic=(user, secret) if user and secret else None)


def check_webhook_auth(header: str | None, credentials: WebhookCredentials) -> None:
    """401 without credentials, 403 with wrong ones or when none is configured (then no caller could pass)."""
    if not credentials.configured:
        raise AuthError(403, "set ALERTSIEVE_WEBHOOK_TOKEN (or _USER and _PASSWORD) on the server")
    scheme, _, value = (header or "").strip().partition(" ")
    value = value.strip()
    if scheme.lower() == "bearer" and value:
        if any(secrets.compare_digest(value.encode(), t.encode()) for t in credentials.tokens):
            return
        raise AuthError(403, "invalid bearer token")
    if scheme.lower() == "basic" and value:
        try:
            user, _, password = base64.b64decode(value, validate=True).decode().partition(":")
        except (binascii.Error, UnicodeDecodeError):
            raise AuthError(403, "invalid basic credentials") from None
        wanted = credentials.basic
        if wanted is not None and all(  # both compared, whatever the first gives
            [
                secrets.compare_digest(user.encode(), wanted[0].encode()),
                secrets.compare_digest(password.encode(), wanted[1].encode()),
            ]
        ):
            return
        raise AuthError(403, "invalid basic credentials")
    raise AuthError(401, "missing credentials: bearer token or basic auth")


class BodyLimit:
    """ASGI middleware: refuse request bodies over ``limit`` bytes with 413, declared or streamed
    (chunked): the body is read up to the limit before the route runs. Paths in ``exempt`` (the webhook,
    which streams what it cannot hold through to the receiver) read their own bodies."""

    def __init__(self, app: ASGIApp, limit: Callable[[Scope], int], exempt: frozenset[str] = frozenset()) -> None:
        self.app, self.limit_of, self.exempt = app, limit, exempt

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        path, root = scope.get("path", ""), scope.get("root_path", "")
        if scope["type"] != "http" or (path[len(root) :] if root and path.startswith(root) else path) in self.exempt:
            await self.app(scope, receive, send)
            return
        limit = self.limit_of(scope)  # the limit for the app serving this request
        declared = dict(scope.get("headers") or []).get(b"content-length")
        if declared is not None and declared.isdigit() and int(declared) > limit:
            await _too_large(send, limit)
            return
        messages: list[Message] = []
        seen = 0
        while True:
            message = await receive()
            messages.append(message)
            if message["type"] != "http.request":
                break
            seen += len(message.get("body", b""))
            if seen > limit:
                await _too_large(send, limit)
                return
            if not message.get("more_body", False):
                break

        async def replay() -> Message:
            return messages.pop(0) if messages else await receive()

        await self.app(scope, replay, send)


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
