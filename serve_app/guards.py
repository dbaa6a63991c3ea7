"""Guards around every route of the Ingress's HTTP app (one ASGI middleware, outside all the others): the
time a request arrived, which its scoring deadline counts from; the Host header check; and the bearer
token on reads when ``protect_reads`` is on.

Host header: a request naming a host not in ``allowed_hosts`` gets 400, so a web page that rebinds its
own DNS name to 127.0.0.1 cannot read or drive a local alertsieve from a browser. ``allowed_hosts`` unset
means the loopback names plus ALERTSIEVE_HOST, where Serve binds (``make serve`` and the tests use
127.0.0.1); when that is a wildcard address (0.0.0.0 or ::, as in a pod) any host is allowed unless the
list is set. ``"*"`` allows any host, ``"*.example.com"`` any subdomain. /healthz and /readyz are never
checked: probes address a pod by its IP. Nor is the webhook (POST /v1/alertmanager): a proxy in front of
it may rewrite Host, and a 400 there makes Alertmanager drop the notification, a page lost; what guards the
webhook is its credentials (``protect_scoring``), and the worst a rebound page could do without them is
post alerts, which page.

Reads: the audit log, trends, models and decisions are open by default; with ``protect_reads`` every GET
(and HEAD) under /v1/ needs the bearer token, as writes do.
"""

from __future__ import annotations

import ipaddress
import time
from collections.abc import Callable, Iterable
from dataclasses import dataclass

from starlette.datastructures import Headers
from starlette.responses import JSONResponse
from starlette.types import ASGIApp, Receive, Scope, Send

from serve_app.webhook import AuthError, check_bearer

LOOPBACK_NAMES = ("127.0.0.1", "localhost", "::1")
PROBES = frozenset({"/healthz", "/readyz"})
WEBHOOK = "/v1/alertmanager"
ANY_HOST = PROBES | {WEBHOOK}  # paths the Host check leaves alone
READS = frozenset({"GET", "HEAD"})


def host_of(header: str) -> str:
    """The host part of a Host header, without the port, lower case ("[::1]:8000" -> "::1")."""
    value = header.strip().lower()
    if value.startswith("["):
        return value[1 : value.find("]")] if "]" in value else value
    return value.rsplit(":", 1)[0] if value.count(":") == 1 else value


def default_hosts(bind_host: str) -> frozenset[str] | None:
    """The hosts allowed when none are configured: loopback names and where Serve binds; None (any host)
    when it binds every interface."""
    try:
        if ipaddress.ip_address(bind_host).is_unspecified:
            return None
    except ValueError:
        pass  # a name, not an address
    return frozenset({*LOOPBACK_NAMES, host_of(bind_host)})


@dataclass(frozen=True)
class GuardPolicy:
    """What the guards enforce; ``hosts`` None: any host."""

    hosts: frozenset[str] | None
    protect_reads: bool
    token: str | None

    @classmethod
    def of(
        cls, allowed_hosts: Iterable[str] | None, bind_host: str, protect_reads: bool, token: str | None
    ) -> GuardPolicy:
        if allowed_hosts is None:
            return cls(default_hosts(bind_host), protect_reads, token)
        names = frozenset(host_of(h) if h != "*" else h for h in allowed_hosts)
        return cls(None if "*" in names else names, protect_reads, token)

    def allows_host(self, host: str) -> bool:
        if self.hosts is None:
            return True
        return host in self.hosts or any(
            p.startswith("*.") and host.endswith(p[1:]) and len(host) > len(p) - 1 for p in self.hosts
        )


class RequestGuards:
    """Stamps each request's arrival (``scope["state"]["arrived"]``, monotonic seconds), then checks the
    Host header and, for reads under /v1/ when protected, the bearer token."""

    def __init__(self, app: ASGIApp, policy: Callable[[Scope], GuardPolicy]) -> None:
        self.app, self.policy = app, policy

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        scope.setdefault("state", {})["arrived"] = time.monotonic()
        policy, path = self.policy(scope), scope.get("path", "")  # the policy of the app serving this request
        if path not in PROBES:
            headers = Headers(scope=scope)
            if path not in ANY_HOST and not policy.allows_host(host_of(headers.get("host", ""))):
                await JSONResponse({"detail": "Host header not allowed"}, status_code=400)(scope, receive, send)
                return
            if policy.protect_reads and scope.get("method") in READS and path.startswith("/v1/"):
                try:
                    if not policy.token:
                        raise AuthError(403, "reads are protected but ALERTSIEVE_API_TOKEN is not set on the server")
                    check_bearer(headers.get("authorization"), policy.token)
                except AuthError as exc:
                    extra = {"WWW-Authenticate": "Bearer"} if exc.status == 401 else {}
                    reply = JSONResponse({"detail": exc.message}, status_code=exc.status, headers=extra)
                    await reply(scope, receive, send)
                    return
        await self.app(scope, receive, send)


def arrived_at(scope: Scope) -> float:
    """When the request reached the guards (now, for a request that did not pass them)."""
    state = scope.get("state")
    value = state.get("arrived") if isinstance(state, dict) else None
    return value if isinstance(value, float) else time.monotonic()
