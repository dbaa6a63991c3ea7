"""The threshold UI: its API on a plain FastAPI app with a stand-in for the router's describe (fast), and the real page in
headless Chromium against the session's Serve app (slow): an override saved in the page changes a live
decision on /v1/score, shows in the audit log, and reverting restores the decision."""

from __future__ import annotations

import os
import random
import shutil
import time
from collections.abc import Awaitable, Callable, Sequence
from datetime import timedelta
from pathlib import Path
from typing import Any

import httpx
import pytest
from fastapi import FastAPI
from fastapi.testclient import TestClient

from alertsieve.bundle import ModelBundle
from alertsieve.schema import Alert, Decision, Feedback, LoggedDecision
from alertsieve.settings import get_settings
from alertsieve.store import LocalStore
from serve_app import ui
from serve_app.app_context import STATE_NAME, AppContext
from tests.conftest import TOKEN
from tests.factories import T0, alert, decision, pod_name
from thresholds.overrides import OverrideLog
from thresholds.preview import LiveThresholds, preview

AUTH = {"Authorization": f"Bearer {TOKEN}"}
CHROME_FLAGS = (
    "--headless",
    "--no-sandbox",
    "--disable-gpu",
    "--disable-dev-shm-usage",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
    "--no-first-run",
    "--window-size=1400,1250",
)


def describing(champion: dict[str, Any] | Exception) -> Callable[[], Awaitable[dict[str, Any]]]:
    """A stand-in for the router's ``describe`` (the models each arm serves), or its failure."""

    async def describe() -> dict[str, Any]:
        if isinstance(champion, Exception):
            raise champion
        return {"champion": champion}

    return describe


def champion_view(bundle: ModelBundle) -> dict[str, Any]:
    """What the champion scorer's describe() says of a bundle served as version 3, without overrides."""
    policy = bundle.meta.policy
    return {
        "model_version": "3",
        "ref": "3",
        "pooled_threshold": policy.pooled.threshold,
        "thresholds": {s: c.threshold for s, c in policy.services.items()},
        "known_services": policy.known_services,
        "overrides": {},
    }


def suppression_of(a: Alert) -> Decision:
    """A model decision that suppressed ``a`` (score 0.1 under threshold 0.3), as version 3 logs it."""
    return decision(a, "suppress", score=0.1, model_version="3")


@pytest.fixture
def client(tmp_path, small_bundle):
    champion = champion_view(small_bundle)
    app = FastAPI()
    app.include_router(ui.router)
    loads: list[str] = []

    def loader(ref: str):
        loads.append(ref)
        return small_bundle

    setattr(app.state, STATE_NAME, AppContext.of(describing(champion), LocalStore(tmp_path), TOKEN, loader))
    with TestClient(app) as c:
        c.loads = loads  # type: ignore[attr-defined]
        yield c


def test_page_and_static_files_are_self_contained(client):
    page = client.get("/ui")
    assert page.status_code == 200 and page.headers["content-type"].startswith("text/html")
    assert client.get("/ui/").text == page.text
    assert '<script src="static/app.js">' in page.text
    for name, kind in (("app.js", "javascript"), ("style.css", "text/css")):
        response = client.get(f"/ui/static/{name}")
        assert response.status_code == 200 and kind in response.headers["content-type"]
        assert (
            "http://" not in response.text.replace("http://www.w3.org/2000/svg", "") and "https://" not in response.text
        )
    assert "https://" not in page.text and "http://" not in page.text
    assert client.get("/ui/static/../ui.py").status_code == 404
    assert client.get("/ui/static/index.py").status_code == 404


def test_list_set_preview_revert_and_audit(client, small_bundle):
    policy = small_bundle.meta.policy
    view = client.get("/v1/thresholds").json()
    assert view["model_version"] == "3" and view["budget"] == pytest.approx(0.015)
    services = {s["service"]: s for s in view["services"]}
    assert set(services) == set(policy.known_services)
    for name, row in services.items():
        found = policy.threshold_for(name)
        assert (row["in_force"], row["source"], row["override"]) == (found[0], found[1], None)

    body = {"threshold": 0.9, "by": "ana", "reason": "night noise"}
    assert client.put("/v1/thresholds/checkout", json=body).status_code == 401
    assert client.put("/v1/thresholds/checkout", json=body, headers={"Authorization": "Bearer nope"}).status_code == 403
    assert client.put("/v1/thresholds/checkout", json={**body, "threshold": 2}, headers=AUTH).status_code == 422
    saved = client.put("/v1/thresholds/checkout", json=body, headers=AUTH)
    assert saved.status_code == 200 and saved.json()["new"] == 0.9 and saved.json()["old"] is None
    row = next(s for s in client.get("/v1/thresholds").json()["services"] if s["service"] == "checkout")
    assert (row["in_force"], row["source"], row["override"]) == (0.9, "override", 0.9)
    assert row["optimised"] == policy.threshold_for("checkout")[0]

    p = client.get("/v1/thresholds/preview", params={"service": "checkout", "threshold": 0.4})
    assert p.status_code == 200
    live = LiveThresholds.from_policy(policy, {"checkout": 0.9})
    params = policy.params.model_copy(update={"budget": get_settings().fnr_budget})
    expected = preview(small_bundle.meta.validation, live, "checkout", 0.4, params)
    assert p.json() == expected.model_dump(mode="json")
    assert p.json()["current"] == 0.9 and p.json()["current_source"] == "override"
    client.get("/v1/thresholds/preview", params={"service": "search", "threshold": 0.1})
    assert client.loads == ["3"]  # the bundle is loaded once per model version
    assert client.get("/v1/thresholds/preview", params={"service": "checkout", "threshold": 1.2}).status_code == 422

    revert = {"by": "bo", "reason": "fixed"}
    assert client.request("DELETE", "/v1/thresholds/checkout", json=revert).status_code == 401
    reverted = client.request("DELETE", "/v1/thresholds/checkout", json=revert, headers=AUTH)
    assert reverted.status_code == 200 and reverted.json()["old"] == 0.9 and reverted.json()["new"] is None
    assert client.request("DELETE", "/v1/thresholds/checkout", json=revert, headers=AUTH).status_code == 404
    audit = client.get("/v1/thresholds/audit").json()
    assert [(c["by"], c["old"], c["new"]) for c in audit] == [("bo", 0.9, None), ("ana", None, 0.9)]
    assert client.get("/v1/thresholds/audit", params={"service": "search"}).json() == []
    assert client.get("/v1/thresholds/audit", params={"limit": 1}).json()[0]["by"] == "bo"


def test_trends_from_the_decision_log(client, tmp_path):

    a = alert(service="checkout", at=T0)
    decision = suppression_of(a)
    store = LocalStore(tmp_path)
    store.append("decisions", [LoggedDecision(alert=a, decision=decision, applied=True)])
    store.append("feedback", [Feedback(fingerprint=a.fingerprint, startsAt=a.startsAt, actionable=False, by="x")])
    rows = client.get("/v1/thresholds/trends", params={"service": "checkout"}).json()["rows"]
    assert [(r["service"], r["week"], r["noise_reduction"], r["threshold"]) for r in rows] == [
        ("checkout", "2026-W02", 1.0, 0.3),
        ("ALL", "2026-W02", 1.0, None),
    ]
    assert client.get("/v1/thresholds/trends", params={"service": "search"}).json()["rows"][0]["service"] == "ALL"


def test_unbound_or_failing_model_side_is_a_503(tmp_path):
    app = FastAPI()
    app.include_router(ui.router)
    with TestClient(app) as c:
        assert c.get("/v1/thresholds").status_code == 503  # no context on the app
        setattr(app.state, STATE_NAME, AppContext.of(describing(RuntimeError("down")), LocalStore(tmp_path), None))
        assert c.get("/v1/thresholds").status_code == 503
        body = {"threshold": 0.5, "by": "a", "reason": "r"}
        assert c.put("/v1/thresholds/x", json=body, headers=AUTH).status_code == 403  # no token configured


# ---- the real page in headless Chromium against the real Serve app -------------------------------------
def _score(url: str, alerts: Sequence[Alert]) -> list[dict[str, Any]]:
    body = {"alerts": [a.model_dump(mode="json", exclude_none=True) for a in alerts]}
    response = httpx.post(f"{url}/v1/score", json=body, timeout=30)
    response.raise_for_status()
    return list(response.json()["decisions"])


def _decided(url: str, target: Any, verdict: str | None = None, timeout: float = 60.0) -> dict[str, Any]:
    """The first decision on ``target`` that is ``verdict`` (any, if None); fail-open pages (timeouts under
    load) are asked again."""
    deadline = time.monotonic() + timeout
    seen: list[str] = []
    while time.monotonic() < deadline:
        decision = _score(url, [target])[0]
        if verdict in (None, decision["decision"]) and not decision["reason"].startswith("fail-open"):
            return decision
        seen.append(f"{decision['decision']} ({decision['reason']})")
        time.sleep(0.5)
    raise AssertionError(f"no {verdict or 'model'} decision within {timeout}s; last: {seen[-3:]}")


@pytest.fixture
def browser(tmp_path):
    from selenium import webdriver
    from selenium.webdriver.chrome.options import Options
    from selenium.webdriver.chrome.service import Service

    for path in ("/usr/bin/chromium", "/usr/bin/chromedriver"):  # missing Chromium fails, never skips
        assert Path(path).exists(), f"{path} missing: install the Debian packages chromium and chromium-driver"
    options = Options()
    options.binary_location = "/usr/bin/chromium"
    for flag in (*CHROME_FLAGS, f"--user-data-dir={tmp_path / 'chromium-profile'}"):
        options.add_argument(flag)
    driver = webdriver.Chrome(service=Service("/usr/bin/chromedriver"), options=options)
    driver.set_page_load_timeout(60)
    yield driver
    driver.quit()


@pytest.mark.slow
def test_override_in_the_ui_changes_a_live_decision_and_reverts(serve_url, browser, tmp_path):
    from selenium.webdriver.common.by import By
    from selenium.webdriver.support import expected_conditions as ec
    from selenium.webdriver.support.ui import WebDriverWait

    # three weeks of an alert the model knows on checkout, with feedback, so the trend charts have something to
    # show; all before the stream clock of the served model, so the shared stream state is not moved forward
    rng = random.Random(5)
    times = [T0 + timedelta(days=7 * (week - 2), hours=hour) for week in range(3) for hour in range(0, 48, 8)]
    demo = [
        alert(name="HighLatency", service="checkout", severity="warning", pod=pod_name("checkout", rng), at=at)
        for at in times
    ]
    _score(serve_url, demo)
    for i, a in enumerate(demo):
        feedback = {
            "fingerprint": a.fingerprint,
            "startsAt": a.startsAt.isoformat(),
            "actionable": i % 6 == 0,
            "by": "ui-test",
        }
        httpx.post(f"{serve_url}/v1/feedback", json=feedback, headers=AUTH, timeout=30).raise_for_status()
    target = demo[-1]
    before = _decided(serve_url, target)
    assert before["score"] < 1.0
    new = 1.0 if before["decision"] == "page" else 0.0
    flipped = "suppress" if before["decision"] == "page" else "page"

    wait = WebDriverWait(browser, 60)
    try:
        browser.get(f"{serve_url}/ui#checkout")
        wait.until(lambda d: d.find_element(By.TAG_NAME, "body").get_attribute("data-ready") == "true")
        row = browser.find_element(By.CSS_SELECTOR, '#services tbody tr[data-service="checkout"]')
        assert "selected" in (row.get_attribute("class") or "")
        assert browser.find_element(By.ID, "detail-title").text == "checkout"
        in_force = float(row.find_element(By.CSS_SELECTOR, ".in-force").text)
        assert in_force == pytest.approx(before["threshold"], abs=5e-4)
        wait.until(lambda d: d.find_elements(By.CSS_SELECTOR, "#chart-volume rect"))  # the weekly trend is drawn

        candidate = browser.find_element(By.ID, "candidate")
        candidate.clear()
        candidate.send_keys(f"{new:.3f}")
        wait.until(ec.text_to_be_present_in_element((By.ID, "preview-threshold"), f"{new:.3f}"))
        assert browser.find_element(By.ID, "preview-service-nr").text.endswith("%")
        assert browser.find_element(By.ID, "preview-fleet-fnr").text.endswith("%")
        assert browser.find_element(By.ID, "budget-badge").text.startswith("fleet FNR")

        browser.find_element(By.ID, "by").send_keys("selenium")
        browser.find_element(By.ID, "reason").send_keys("ui test override")
        browser.find_element(By.ID, "token").send_keys("wrong-token")
        browser.find_element(By.ID, "save").click()
        wait.until(ec.text_to_be_present_in_element((By.ID, "message"), "not saved: 403"))
        browser.find_element(By.ID, "token").clear()
        browser.find_element(By.ID, "token").send_keys(TOKEN)
        browser.find_element(By.ID, "save").click()
        wait.until(ec.text_to_be_present_in_element((By.ID, "message"), "saved: checkout"))

        after = _decided(serve_url, target, flipped)  # the scorers re-read the override log every 2 s
        assert (
            after["threshold"] == new and "override threshold" in after["reason"] and after["score"] == before["score"]
        )
        audit = httpx.get(f"{serve_url}/v1/thresholds/audit", params={"service": "checkout"}).json()
        assert (audit[0]["new"], audit[0]["by"], audit[0]["reason"]) == (new, "selenium", "ui test override")
        wait.until(ec.text_to_be_present_in_element((By.CSS_SELECTOR, "#audit tbody tr"), "ui test override"))
        assert browser.find_element(By.CSS_SELECTOR, '#services tr[data-service="checkout"] .src-override')
        shot = tmp_path / "ui.png"
        browser.save_screenshot(str(shot))
        assert shot.stat().st_size > 10_000
        if os.environ.get("ALERTSIEVE_UI_SCREENSHOT"):
            shutil.copy(shot, os.environ["ALERTSIEVE_UI_SCREENSHOT"])

        browser.find_element(By.ID, "revert").click()
        wait.until(ec.text_to_be_present_in_element((By.ID, "message"), "reverted: checkout"))
        restored = _decided(serve_url, target, before["decision"])
        assert restored["threshold"] == before["threshold"] and restored["score"] == before["score"]
        audit = httpx.get(f"{serve_url}/v1/thresholds/audit", params={"service": "checkout"}).json()
        assert (audit[0]["old"], audit[0]["new"]) == (new, None)
    finally:  # never leave an override behind for the other tests of the session
        if "checkout" in OverrideLog(LocalStore(Path(os.environ["ALERTSIEVE_HOME"]) / "state")).current():
            httpx.request(
                "DELETE",
                f"{serve_url}/v1/thresholds/checkout",
                json={"by": "ui-test", "reason": "cleanup"},
                headers=AUTH,
            )


def test_trends_read_the_decision_log_once_per_interval(client, tmp_path):
    """Opening the UI must not slow scoring: /trends re-read the whole decision log on every call (2 s a
    call in the probe; five in parallel failed 112 of 150 alerts open). Within TRENDS_TTL_S a call is
    answered from the last read, parallel calls included."""
    import concurrent.futures

    assert client.get("/v1/thresholds/trends").json()["rows"] == []
    a = alert(service="checkout", at=T0)
    decision = suppression_of(a)
    LocalStore(tmp_path).append("decisions", [LoggedDecision(alert=a, decision=decision, applied=True)])
    with concurrent.futures.ThreadPoolExecutor(5) as pool:
        replies = list(pool.map(lambda _: client.get("/v1/thresholds/trends").json()["rows"], range(5)))
    assert replies == [[]] * 5, "answered from the last read, without reading the log again"
    context = getattr(client.app.state, STATE_NAME)
    assert isinstance(context, AppContext)
    context.trends.read_at = time.monotonic() - ui.TRENDS_TTL_S - 1  # the interval has passed
    assert {r["service"] for r in client.get("/v1/thresholds/trends").json()["rows"]} == {"checkout", "ALL"}
