"""Scoped, expiring overrides and the page-everything switch over HTTP: the API on a plain FastAPI app with a
stand-in for the router's describe (fast), and once end to end through the session's Serve app: an override
that expires stops applying with no new event, and the switch pages an alert the model suppresses until
it is turned off."""

from __future__ import annotations

import json
import os
import time
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import httpx
import pytest
from fastapi import FastAPI, Request
from fastapi.exceptions import RequestValidationError
from fastapi.responses import JSONResponse
from fastapi.testclient import TestClient

from alertsieve.store import LocalStore
from serve_app import overrides_api, ui
from serve_app.app_context import STATE_NAME, AppContext
from serve_app.webhook import SafeJSONResponse, validation_problems
from tests.conftest import TOKEN
from tests.serve_app.test_ui import champion_view, describing
from thresholds.overrides import OverrideLog

AUTH = {"Authorization": f"Bearer {TOKEN}"}


@pytest.fixture
def client(tmp_path, small_bundle):
    champion = champion_view(small_bundle)
    app = FastAPI()
    app.include_router(ui.router)
    app.include_router(overrides_api.router)

    @app.exception_handler(RequestValidationError)
    async def invalid(request: Request, exc: RequestValidationError) -> JSONResponse:  # the Ingress's 422s
        return SafeJSONResponse(status_code=422, content=validation_problems(exc.errors()))

    context = AppContext.of(describing(champion), LocalStore(tmp_path), TOKEN, lambda ref: small_bundle)
    setattr(app.state, STATE_NAME, context)
    with TestClient(app) as c:
        yield c


def test_scoped_expiring_overrides_are_listed_reverted_and_audited(client):
    body = {"threshold": 0.8, "by": "ana", "reason": "db noise", "matchers": {"team": "db|cache"}, "for_minutes": 90}
    saved = client.put("/v1/thresholds/checkout", json=body, headers=AUTH)
    assert saved.status_code == 200, saved.text
    expires = datetime.fromisoformat(saved.json()["expires_at"])
    assert timedelta(minutes=89) < expires - datetime.now(UTC) <= timedelta(minutes=90)
    wide = {"threshold": 0.6, "by": "bo", "reason": "any db alert", "matchers": {"team": "db"}}
    assert client.put("/v1/thresholds/*", json=wide, headers=AUTH).status_code == 200
    listed = client.get("/v1/thresholds/overrides").json()
    assert [(o["service"], o["threshold"], o["scope"]) for o in listed] == [
        ("*", 0.6, "team=db"),
        ("checkout", 0.8, "team=db|cache"),
    ]
    assert listed[0]["seconds_left"] is None and 89 * 60 < listed[1]["seconds_left"] <= 90 * 60
    row = next(s for s in client.get("/v1/thresholds").json()["services"] if s["service"] == "checkout")
    assert row["override"] is None and row["source"] != "override", "the service-level view holds unscoped ones"

    revert = {"by": "cy", "reason": "done"}
    assert client.request("DELETE", "/v1/thresholds/checkout", json=revert, headers=AUTH).status_code == 404
    scoped = client.request(
        "DELETE", "/v1/thresholds/checkout", json={**revert, "matchers": {"team": "db|cache"}}, headers=AUTH
    )
    assert scoped.status_code == 200 and (scoped.json()["old"], scoped.json()["new"]) == (0.8, None)
    assert [o["service"] for o in client.get("/v1/thresholds/overrides").json()] == ["*"]
    audit = client.get("/v1/thresholds/audit").json()
    assert [(c["by"], c["matchers"]) for c in audit] == [
        ("cy", {"team": "db|cache"}),
        ("bo", {"team": "db"}),
        ("ana", {"team": "db|cache"}),
    ]


@pytest.mark.parametrize(
    "change",
    [
        {"matchers": {"bad-name": "x"}},
        {"matchers": {"team": "x" * 201}},
        {"matchers": {f"l{i}": "x" for i in range(17)}},
        {"matchers": ["team=db"]},
        {"for_minutes": 0},
        {"for_minutes": 1e9},
        {"for_minutes": True},
        {"for_minutes": "10"},
        {"for_minutes": 5, "expires_at": "2099-01-01T00:00:00Z"},
        {"expires_at": "2000-01-01T00:00:00Z"},
        {"expires_at": "9999-12-31T23:59:59Z"},
        {"expires_at": "tomorrow"},
        {"matchers": {"team": "db\ufffd"}},  # what a decoder leaves of bad UTF-8
    ],
)
def test_bad_scope_or_expiry_is_a_422(client, change):
    body = {"threshold": 0.5, "by": "ana", "reason": "r", **change}
    assert client.put("/v1/thresholds/checkout", json=body, headers=AUTH).status_code == 422
    assert (
        client.put(
            "/v1/page-everything", json={"on": True, "by": "a", "reason": "r", **change}, headers=AUTH
        ).status_code
        == 422
    )


def test_a_service_named_in_bad_utf8_is_a_422_not_an_override_for_replacement_characters(client):
    """Issue 23: "/v1/thresholds/%ED%A0%80" decoded to U+FFFD and stored an override for "\ufffd"."""
    body = {"threshold": 0.5, "by": "ana", "reason": "r"}
    for path in ("/v1/thresholds/%ED%A0%80", "/v1/thresholds/%FF%FE", "/v1/thresholds/db%EF%BF%BD"):
        refused = client.put(path, json=body, headers=AUTH)
        assert refused.status_code == 422 and "UTF-8" in refused.text, (path, refused.text)
    escaped = {**AUTH, "Content-Type": "application/json"}  # json.dumps escapes a lone surrogate as \ud800
    for change in ({"matchers": {"team": "db\ud800"}}, {"service": "\udfff"}):
        raw = json.dumps({"on": True, "by": "a", "reason": "r", **change})
        refused = client.put("/v1/page-everything", content=raw, headers=escaped)
        named = next(iter(change))  # the 422 names the field
        assert refused.status_code == 422 and named in refused.text, refused.text
    scoped = json.dumps({**body, "matchers": {"team": "\ud800"}})
    assert client.put("/v1/thresholds/checkout", content=scoped, headers=escaped).status_code == 422
    assert client.get("/v1/thresholds/overrides").json() == []
    assert client.put("/v1/thresholds/caf%C3%A9", json=body, headers=AUTH).status_code == 200  # UTF-8 is fine


def test_nan_expiry_and_unscoped_any_service_are_422s(client):
    nan = '{"threshold": 0.5, "by": "a", "reason": "r", "for_minutes": NaN}'
    headers = {**AUTH, "Content-Type": "application/json"}
    assert client.put("/v1/thresholds/checkout", content=nan, headers=headers).status_code == 422
    bare = client.put("/v1/thresholds/*", json={"threshold": 0.5, "by": "a", "reason": "r"}, headers=AUTH)
    assert bare.status_code == 422 and "needs label matchers" in bare.text
    assert (
        client.put(
            "/v1/thresholds/overrides", json={"threshold": 0.5, "by": "a", "reason": "r"}, headers=AUTH
        ).status_code
        == 405
    )
    assert client.get("/v1/thresholds/overrides").json() == []


def test_the_switch_needs_the_token_and_is_audited(client):
    on = {"on": True, "by": "ana", "reason": "incident 42", "for_minutes": 30, "matchers": {"env": "prod"}}
    assert client.put("/v1/page-everything", json=on).status_code == 401
    assert client.put("/v1/page-everything", json=on, headers={"Authorization": "Bearer no"}).status_code == 403
    assert client.put("/v1/page-everything", json={**on, "on": "yes"}, headers=AUTH).status_code == 422
    assert client.get("/v1/page-everything").json() == {"on": False, "switch": None}
    changed = client.put("/v1/page-everything", json=on, headers=AUTH)
    assert changed.status_code == 200 and changed.json()["kind"] == "page_everything" and changed.json()["on"]
    state = client.get("/v1/page-everything").json()
    assert state["on"] and state["switch"]["scope"] == "env=prod" and state["switch"]["service"] == "*"
    assert 29 * 60 < state["switch"]["seconds_left"] <= 30 * 60 and state["switch"]["by"] == "ana"
    off = client.put("/v1/page-everything", json={"on": False, "by": "bo", "reason": "resolved"}, headers=AUTH)
    assert off.status_code == 200 and not off.json()["on"] and off.json()["expires_at"] is None
    assert client.get("/v1/page-everything").json()["on"] is False
    audit = client.get("/v1/thresholds/audit").json()
    assert [(e["kind"], e["on"], e["by"]) for e in audit] == [
        ("page_everything", False, "bo"),
        ("page_everything", True, "ana"),
    ]


# ---- end to end through the session's Serve app ---------------------------------------------------------
def _score(url: str, alert: dict[str, Any]) -> dict[str, Any]:
    reply = httpx.post(f"{url}/v1/score", json={"alerts": [alert]}, timeout=30)
    reply.raise_for_status()
    decision: dict[str, Any] = reply.json()["decisions"][0]
    return decision


def _until(url: str, alert: dict[str, Any], wanted, what: str, timeout: float = 60.0) -> dict[str, Any]:
    """The first decision on ``alert`` that ``wanted`` accepts; fail-open pages (timeouts under load) are
    asked again."""
    deadline, seen = time.monotonic() + timeout, []
    while time.monotonic() < deadline:
        decision = _score(url, alert)
        if wanted(decision) and not decision["reason"].startswith("fail-open"):
            return decision
        seen.append(f"{decision['decision']} ({decision['reason']})")
        time.sleep(0.3)
    raise AssertionError(f"no decision {what} within {timeout}s; last: {seen[-3:]}")


@pytest.mark.slow
def test_an_override_expires_and_the_switch_pages_what_the_model_suppresses(serve_url, small_history):
    """Scoped to one alert's pod, so nothing else of the session is touched; everything is reverted."""
    state = OverrideLog(LocalStore(Path(os.environ["ALERTSIEVE_HOME"]) / "state"))
    noise = [a.model_dump(mode="json", exclude_none=True) for a in small_history if not a.actionable][:30]
    decided = [(a, _until(serve_url, a, lambda d: True, "from the model")) for a in noise]
    target, before = next(((a, d) for a, d in decided if d["decision"] == "suppress"), decided[0])
    service, scope = before["service"], {"pod": target["labels"]["pod"]}
    forced = before["decision"] == "page"  # the small model paged all 30: a scoped override makes it suppress
    try:
        if forced:
            body = {"threshold": 1.0, "by": "e2e", "reason": "make it suppress", "matchers": scope}
            httpx.put(f"{serve_url}/v1/thresholds/{service}", json=body, headers=AUTH, timeout=30).raise_for_status()
            before = _until(serve_url, target, lambda d: d["decision"] == "suppress", "suppressed")

        # an override for 6 s pages it, then stops applying with no new event
        body = {
            "threshold": 0.0,
            "by": "e2e",
            "reason": "short",
            "matchers": {**scope, "alertname": "|".join(["nothing", target["labels"]["alertname"]])},
            "for_minutes": 0.1,
        }
        put = httpx.put(f"{serve_url}/v1/thresholds/{service}", json=body, headers=AUTH, timeout=30)
        put.raise_for_status()
        events = len(state.events())
        paged = _until(serve_url, target, lambda d: d["decision"] == "page", "paged by the override", timeout=6)
        assert "override threshold 0.0000 (by e2e, until" in paged["reason"] and paged["threshold"] == 0.0
        assert datetime.now(UTC) < datetime.fromisoformat(put.json()["expires_at"]) + timedelta(seconds=1)
        again = _until(serve_url, target, lambda d: d["decision"] == "suppress", "after expiry", timeout=30)
        assert (again["threshold"], again["score"]) == (before["threshold"], before["score"])
        assert len(state.events()) == events, "expiry wrote nothing"

        # the switch pages it, and turning it off gives it back to the model
        on = {
            "on": True,
            "by": "e2e",
            "reason": "incident drill",
            "service": service,
            "matchers": scope,
            "for_minutes": 5,
        }
        httpx.put(f"{serve_url}/v1/page-everything", json=on, headers=AUTH, timeout=30).raise_for_status()
        assert httpx.get(f"{serve_url}/v1/page-everything", timeout=30).json()["on"] is True
        switched = _until(serve_url, target, lambda d: d["reason_code"] == "page_everything", "paged by the switch")
        assert switched["decision"] == "page" and "incident drill" in switched["reason"]
        off = {"on": False, "by": "e2e", "reason": "drill over"}
        httpx.put(f"{serve_url}/v1/page-everything", json=off, headers=AUTH, timeout=30).raise_for_status()
        _until(serve_url, target, lambda d: d["decision"] == "suppress", "suppressed again after the switch")
        audit = httpx.get(f"{serve_url}/v1/thresholds/audit", params={"limit": 3}, timeout=30).json()
        assert [(e["kind"], e.get("on"), e["by"]) for e in audit[:2]] == [
            ("page_everything", False, "e2e"),
            ("page_everything", True, "e2e"),
        ]
    finally:  # leave the session app as it was
        if state.overrides().page_everything is not None:
            state.set_page_everything(False, "e2e", "cleanup")
        if forced and state.in_force(service, scope) is not None:
            state.set(service, None, "e2e", "cleanup", matchers=scope)
