"""The serving state of one Ingress replica, typed and in one place: ``AppContext``.

The Ingress builds it once, at start, and puts it on its FastAPI app's ``state`` (``app.state.alertsieve``);
every route reaches it through FastAPI ``Depends`` (``Context``), writes check the bearer token through one
dependency (``require_token``), and the app's middlewares (``serve_app/http_api.py``) read what they
enforce from it (``policy``: body limit and guards, replaced when the Ingress is reconfigured). Nothing
here is a module global set at run time: a route on an app without a context answers 503.

It holds the settings, the record store, the write token, the router's ``describe`` and the champion
bundle (``BundleCache``: loaded once in the Ingress process, for the router's stream, the threshold
preview and the fail-open decisions' service labels).
"""

from __future__ import annotations

import threading
from collections.abc import Awaitable, Callable, Sequence
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Annotated, Any

from fastapi import Depends, Header, HTTPException, Request
from fastapi import Path as PathParam
from pydantic import AfterValidator
from starlette.types import Scope

from alertsieve.bundle import ModelBundle
from alertsieve.override_scope import check_name
from alertsieve.settings import Settings, get_settings
from alertsieve.store import RecordStore
from serve_app.config import IngressConfig
from serve_app.guards import GuardPolicy
from serve_app.loading import load_model, stable_ref
from serve_app.threshold_views import TrendsCache
from serve_app.views import ModelsView
from serve_app.webhook import AuthError, check_bearer

if TYPE_CHECKING:
    from serve_app.live_watch import SafetyPort

STATE_NAME = "alertsieve"  # the attribute of ``app.state`` that holds the AppContext
Loader = Callable[[str], ModelBundle]
Describe = Callable[[], Awaitable[ModelsView | dict[str, Any]]]  # the router's, or a stand-in's plain dict


class BundleCache:
    """The champion bundle in service, loaded once and shared, known by the reference it was asked for and
    by its stable one (the one the scorers describe); a new reference replaces it. Safe across threads."""

    def __init__(self, loader: Loader = load_model) -> None:
        self.loader = loader
        self._lock = threading.Lock()
        self._held: tuple[frozenset[str], ModelBundle] | None = None

    def load(self, ref: str) -> ModelBundle:
        """The bundle for ``ref``, loaded unless it is the one held (blocking: call it in a thread)."""
        with self._lock:
            if self._held is not None and ref in self._held[0]:
                return self._held[1]
        bundle = self.loader(ref)
        with self._lock:
            self._held = (frozenset({ref, stable_ref(ref, bundle)}), bundle)
        return bundle

    @property
    def latest(self) -> ModelBundle | None:
        with self._lock:
            return self._held[1] if self._held else None

    def service_labels(self, fallback: Sequence[str]) -> tuple[str, ...]:
        """The labels that name an alert's service for the bundle held; ``fallback`` before any is loaded."""
        bundle = self.latest
        return tuple(bundle.meta.features.service_labels) if bundle is not None else tuple(fallback)


@dataclass(frozen=True)
class RequestPolicy:
    """What the middlewares enforce: the body limit and the guards (host, token on reads)."""

    max_body_bytes: int
    guards: GuardPolicy


OPEN_POLICY = RequestPolicy(IngressConfig().max_body_bytes, GuardPolicy(hosts=None, protect_reads=False, token=None))


def open_policy() -> RequestPolicy:
    """What an app without an Ingress enforces: the default body limit, any host, open reads."""
    return OPEN_POLICY


def _no_request_hook() -> None:
    return None


@dataclass(frozen=True)
class AppContext:
    """What the routes and middlewares of one Ingress replica share (built once, in ``Ingress.__init__``)."""

    settings: Settings
    store: RecordStore
    token: str | None
    describe: Describe  # the router's describe(): the model and thresholds each arm serves with
    bundles: BundleCache = field(default_factory=BundleCache)
    trends: TrendsCache = field(default_factory=TrendsCache)  # /v1/thresholds/trends, read once per interval
    policy: Callable[[], RequestPolicy] = open_policy  # the Ingress's: from its config, replaced on reconfigure
    on_request: Callable[[], None] = _no_request_hook  # every HTTP request (the Ingress starts its sweep)
    safety: SafetyPort | None = None  # the router's live-safety watch (None: the routes answer 503)

    @classmethod
    def of(cls, describe: Describe, store: RecordStore, token: str | None, loader: Loader = load_model) -> AppContext:
        """A context from the current settings (the routes' tests build theirs so too)."""
        return cls(settings=get_settings(), store=store, token=token, describe=describe, bundles=BundleCache(loader))

    @property
    def budget(self) -> float:
        return self.settings.fnr_budget


def context_of(scope: Scope) -> AppContext | None:
    """The context on the app serving this request (``scope["app"]``, set by Starlette), or None."""
    app = scope.get("app")
    state = getattr(app, "state", None)
    found = getattr(state, STATE_NAME, None)
    return found if isinstance(found, AppContext) else None


def request_policy(scope: Scope) -> RequestPolicy:
    """What the middlewares enforce on this request: its app's context's policy (open without one)."""
    found = context_of(scope)
    return found.policy() if found is not None else OPEN_POLICY


def on_request(scope: Scope) -> None:
    found = context_of(scope)
    if found is not None:
        found.on_request()


def app_context(request: Request) -> AppContext:
    """FastAPI dependency: the Ingress's context; 503 while the app has none."""
    found = context_of(request.scope)
    if found is None:
        raise HTTPException(status_code=503, detail="the HTTP routes are not bound to an Ingress yet")
    return found


Context = Annotated[AppContext, Depends(app_context)]
# a service named in a path (/v1/thresholds/{service}, /v1/live-safety/{service}/resume): bad UTF-8 is a 422
ServiceName = Annotated[str, PathParam(min_length=1, max_length=200), AfterValidator(check_name)]


def require_token(context: Context, authorization: Annotated[str | None, Header()] = None) -> None:
    """FastAPI dependency of every write: the bearer token (401 without one, 403 when wrong or unset)."""
    try:
        check_bearer(authorization, context.token)
    except AuthError as exc:
        headers = {"WWW-Authenticate": "Bearer"} if exc.status == 401 else None
        raise HTTPException(status_code=exc.status, detail=exc.message, headers=headers) from None
