"""The Ingress's typed context (serve_app/app_context.py) on its own, without Serve: the champion bundle loaded
once and shared under both its references, the service labels fail-open pages use, the routes' 503 without
a context and the token dependency, and middlewares that read their policy from the app serving the request.

The app is a plain FastAPI app with the Ingress's own middlewares; the describe and the model loader are
stand-ins (no model deployment runs here), the bundle is the session's small real one."""

from __future__ import annotations

import dataclasses
from pathlib import Path
from typing import Any

from fastapi import Depends, FastAPI
from fastapi.testclient import TestClient

from alertsieve.bundle import ModelBundle
from alertsieve.settings import get_settings
from alertsieve.store import LocalStore
from serve_app.app_context import (
    STATE_NAME,
    AppContext,
    BundleCache,
    Context,
    RequestPolicy,
    on_request,
    request_policy,
    require_token,
)
from serve_app.guards import GuardPolicy, RequestGuards
from serve_app.late_paging import MarkWebhook
from serve_app.webhook import BodyLimit
from tests.conftest import TOKEN


async def no_models() -> dict[str, Any]:
    raise RuntimeError("no model deployment here")


def test_the_bundle_is_loaded_once_under_both_its_references(small_bundle: ModelBundle) -> None:
    loads: list[str] = []

    def loader(ref: str) -> ModelBundle:
        loads.append(ref)
        return small_bundle

    bundles = BundleCache(loader)
    fallback = ("team",)
    assert bundles.latest is None and bundles.service_labels(fallback) == fallback  # before any bundle: settings'
    assert bundles.load("champion") is small_bundle  # as the router loads it, at the Ingress's start
    assert bundles.load(small_bundle.version) is small_bundle  # as the UI asks for the version the scorer serves
    assert loads == ["champion"]
    assert bundles.service_labels(fallback) == tuple(small_bundle.meta.features.service_labels)
    bundles.load("other")  # a new champion replaces it
    bundles.load("champion")
    assert loads == ["champion", "other", "champion"]


def app_with(context: AppContext | None) -> tuple[FastAPI, list[str]]:
    app = FastAPI()
    seen: list[str] = []

    @app.get("/v1/read")
    async def read(context: Context) -> dict[str, str | None]:
        return {"token": context.token}

    @app.put("/v1/write", dependencies=[Depends(require_token)])
    async def write() -> dict[str, bool]:
        return {"written": True}

    app.add_middleware(BodyLimit, limit=lambda scope: request_policy(scope).max_body_bytes)
    app.add_middleware(MarkWebhook, paths=frozenset({"/v1/alertmanager"}), on_request=on_request)
    app.add_middleware(RequestGuards, policy=lambda scope: request_policy(scope).guards)
    if context is not None:
        setattr(app.state, STATE_NAME, dataclasses.replace(context, on_request=lambda: seen.append("request")))
    return app, seen


def test_routes_and_middlewares_read_the_context_of_their_app(tmp_path: Path) -> None:
    with TestClient(app_with(None)[0]) as bare:  # no Ingress: 503, and the middlewares let the request through
        assert bare.get("/v1/read").status_code == 503
    strict = RequestPolicy(1024, GuardPolicy.of(None, "127.0.0.1", True, TOKEN))
    context = dataclasses.replace(AppContext.of(no_models, LocalStore(tmp_path), TOKEN), policy=lambda: strict)
    app, seen = app_with(context)
    auth = {"Authorization": f"Bearer {TOKEN}"}
    with TestClient(app, base_url="http://127.0.0.1") as client:
        assert client.get("/v1/read").status_code == 401  # protect_reads, from the context's policy
        assert client.get("/v1/read", headers=auth).json() == {"token": TOKEN}
        assert client.get("/v1/read", headers={**auth, "Host": "evil.example"}).status_code == 400
        assert client.put("/v1/write").status_code == 401
        assert client.put("/v1/write", headers={"Authorization": "Bearer nope"}).status_code == 403
        assert client.put("/v1/write", headers=auth).json() == {"written": True}
        assert client.put("/v1/write", headers=auth, content=b"x" * 2000).status_code == 413  # the body limit
    assert seen and set(seen) == {"request"}  # the Ingress's hook, every request
    assert context.budget == get_settings().fnr_budget
