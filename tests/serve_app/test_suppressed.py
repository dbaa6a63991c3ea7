"""The human loop for suppressed alerts against the session's real Serve app (issue 12, section 3):
GET /v1/decisions, the Suppressed page in headless Chromium ("should have paged" reaches the receiver and
the feedback store; "correct" is stored), a late page that fails and is retried, and delayed paging of a
webhook alert already firing longer than the delay.

The receiver is the session's local HTTP server (conftest.Receiver), the one stand-in: a paging vendor
cannot run here. The alerts are the history's noise as new occurrences (an instance label of their own, so
the text stays familiar) that the small model suppresses; no threshold is overridden."""

from __future__ import annotations

import json
import logging
import time
from pathlib import Path
from typing import Any

import httpx
import pytest

from alertsieve import metric_names as m
from alertsieve.schema import LabelledAlert
from alertsieve.settings import get_settings
from tests.conftest import TOKEN
from tests.serve_app.test_app import exported
from tests.serve_app.test_ui import browser  # noqa: F401 - the headless Chromium fixture

pytestmark = pytest.mark.slow
AUTH = {"Authorization": f"Bearer {TOKEN}"}
log = logging.getLogger(__name__)


def suppressed_alerts(url: str, history: list[LabelledAlert], marker: str, count: int) -> list[dict[str, Any]]:
    """``count`` new occurrences of the history's noise that /v1/score suppresses (logged, not delivered)."""
    found: list[dict[str, Any]] = []
    reasons: list[str] = []
    for i, a in enumerate(h for h in history if not h.actionable):
        body = {
            "labels": {**a.labels, "pod": f"{marker}-{i}"},
            "annotations": a.annotations,
            "startsAt": a.startsAt.isoformat(),
        }
        decision = httpx.post(f"{url}/v1/score", json={"alerts": [body]}, timeout=30).json()["decisions"][0]
        reasons.append(decision["reason"])
        if decision["decision"] == "suppress":
            found.append({**body, "fingerprint": decision["fingerprint"], "service": decision["service"]})
            if len(found) == count:
                return found
        if i > 300:
            break
    pytest.fail(f"the small model suppressed {len(found)} of the history's noise alerts, {count} needed: {reasons[:5]}")


def delivered_alerts(receiver) -> list[dict[str, Any]]:
    """Every alert the receiver holds (bodies the fuzz had forwarded as they came are skipped)."""
    bodies = [b for b in list(receiver.bodies) if isinstance(b.get("alerts"), list)]
    return [a for b in bodies for a in b["alerts"] if isinstance(a, dict)]


def delivered(receiver, fingerprint: str) -> bool:
    return any(a.get("fingerprint") == fingerprint for a in delivered_alerts(receiver))


def wait_delivered(receiver, fingerprint: str, timeout_s: float = 30.0) -> float:
    """Seconds until the receiver holds the alert (polled every 5 ms)."""
    started = time.perf_counter()
    while not delivered(receiver, fingerprint):
        assert time.perf_counter() - started < timeout_s, f"{fingerprint} never reached the receiver"
        time.sleep(0.005)
    return time.perf_counter() - started


def stored_feedback(fingerprint: str) -> list[dict[str, Any]]:
    folder = Path(get_settings().state_location) / "feedback"
    # JSON lines end at "\n" only: the fuzz stores texts holding other line breaks (U+2028, U+0085...)
    lines = (line for p in sorted(folder.glob("*.jsonl")) for line in p.read_text().split("\n") if line)
    return [f for f in map(json.loads, lines) if f["fingerprint"] == fingerprint]


def feedback(url: str, a: dict[str, Any], actionable: bool, by: str = "test") -> httpx.Response:
    body = {"fingerprint": a["fingerprint"], "startsAt": a["startsAt"], "actionable": actionable, "by": by}
    return httpx.post(f"{url}/v1/feedback", json=body, headers=AUTH, timeout=30)


def test_decisions_lists_suppressions_newest_first_without_a_token(serve_url, small_history) -> None:
    first, second = suppressed_alerts(serve_url, small_history, "list", 2)
    service = first["service"]
    reply = httpx.get(f"{serve_url}/v1/decisions", params={"decision": "suppress", "service": service})
    assert reply.status_code == 200, reply.text
    entries = reply.json()["decisions"]
    fingerprints = [e["fingerprint"] for e in entries]
    assert first["fingerprint"] in fingerprints
    mine = entries[fingerprints.index(first["fingerprint"])]
    assert (mine["service"], mine["decision"], mine["reason_code"], mine["feedback"]) == (
        service,
        "suppress",
        "below_threshold",
        None,
    )
    assert mine["score"] < mine["threshold"] and mine["neighbours"] and mine["model_version"]
    assert mine["alertname"] == first["labels"]["alertname"] and mine["labels"] == first["labels"]
    decided = [e["decided_at"] for e in entries]
    assert decided == sorted(decided, reverse=True)
    assert all(e["service"] == service and e["decision"] == "suppress" for e in entries)
    assert second["fingerprint"] in {
        e["fingerprint"] for e in httpx.get(f"{serve_url}/v1/decisions").json()["decisions"]
    }
    paged = httpx.get(f"{serve_url}/v1/decisions", params={"decision": "page", "limit": 1000}).json()["decisions"]
    assert first["fingerprint"] not in {e["fingerprint"] for e in paged}
    future = httpx.get(f"{serve_url}/v1/decisions", params={"since": "2999-01-01T00:00:00Z"}).json()
    assert future["decisions"] == []
    for bad in ({"limit": 0}, {"limit": 1001}, {"since": "yesterday"}, {"decision": "maybe"}, {"service": "x" * 201}):
        assert httpx.get(f"{serve_url}/v1/decisions", params=bad).status_code == 422, bad
    spec = httpx.get(f"{serve_url}/openapi.json").json()
    assert "422" in spec["paths"]["/v1/decisions"]["get"]["responses"]
    assert "late_page" in spec["components"]["schemas"]["FeedbackResponse"]["properties"]


def test_should_have_paged_in_chromium_reaches_the_receiver_and_the_feedback_store(
    serve_url,
    receiver,
    small_history,
    browser,  # noqa: F811
) -> None:
    from selenium.webdriver.common.by import By
    from selenium.webdriver.support import expected_conditions as ec
    from selenium.webdriver.support.ui import WebDriverWait

    missed, fine = suppressed_alerts(serve_url, small_history, "chromium", 2)
    service = missed["service"]
    wait = WebDriverWait(browser, 60)
    browser.get(f"{serve_url}/ui")
    wait.until(ec.presence_of_element_located((By.ID, "suppressed-link")))  # the threshold page links here
    browser.get(f"{serve_url}/ui/suppressed?service={service}")
    wait.until(lambda d: d.find_element(By.TAG_NAME, "body").get_attribute("data-ready") == "true")
    row = f'#suppressed tbody tr[data-fingerprint="{missed["fingerprint"]}"]'
    wait.until(ec.presence_of_element_located((By.CSS_SELECTOR, row)))
    assert browser.find_element(By.CSS_SELECTOR, f"{row} td:nth-child(2)").text == service

    browser.find_element(By.ID, "by").send_keys("selenium")
    browser.find_element(By.ID, "token").send_keys("wrong-token")
    browser.find_element(By.CSS_SELECTOR, f"{row} button.should-page").click()
    wait.until(ec.text_to_be_present_in_element((By.ID, "message"), "not stored: 403"))
    assert not delivered(receiver, missed["fingerprint"]) and stored_feedback(missed["fingerprint"]) == []

    browser.find_element(By.ID, "token").clear()
    browser.find_element(By.ID, "token").send_keys(TOKEN)
    browser.find_element(By.CSS_SELECTOR, f"{row} button.should-page").click()
    latency = wait_delivered(receiver, missed["fingerprint"])
    log.warning("should have paged, click to delivery at the receiver: %.0f ms", latency * 1000)
    assert latency < 10, "a late page goes out at once"
    wait.until(ec.text_to_be_present_in_element((By.ID, "message"), "paged late"))
    [stored] = stored_feedback(missed["fingerprint"])
    assert (stored["actionable"], stored["by"], stored["startsAt"][:19]) == (True, "selenium", missed["startsAt"][:19])
    [late] = [a for a in delivered_alerts(receiver) if a.get("fingerprint") == missed["fingerprint"]]
    assert late["labels"] == missed["labels"]
    wait.until(lambda d: not d.find_elements(By.CSS_SELECTOR, row))  # no longer a suppression
    paged = httpx.get(f"{serve_url}/v1/decisions", params={"decision": "page", "service": service}).json()
    [entry] = [e for e in paged["decisions"] if e["fingerprint"] == missed["fingerprint"]]
    assert (
        entry["reason_code"] == "should_have_paged" and entry["reason"] == "marked actionable by selenium: paged late"
    )
    assert entry["feedback"]["actionable"] is True

    other = f'#suppressed tbody tr[data-fingerprint="{fine["fingerprint"]}"]'
    browser.find_element(By.CSS_SELECTOR, f"{other} button.correct").click()
    wait.until(ec.text_to_be_present_in_element((By.ID, "message"), "marked correct"))
    wait.until(ec.text_to_be_present_in_element((By.CSS_SELECTOR, f"{other} td.feedback"), "correct (selenium)"))
    assert [f["actionable"] for f in stored_feedback(fine["fingerprint"])] == [False]
    assert not delivered(receiver, fine["fingerprint"])
    assert feedback(serve_url, missed, True).json()["decision"] == "page", "paged late once, and remembered so"

    # the late page's "why" link opens that alert's decision (now a page) on this page
    why = late["annotations"]["alertsieve_why_url"]
    assert why.startswith("http://127.0.0.1:8000/ui/suppressed?fingerprint=")  # external_url's default
    browser.get(serve_url + why.removeprefix("http://127.0.0.1:8000"))
    wait.until(lambda d: d.find_element(By.TAG_NAME, "body").get_attribute("data-ready") == "true")
    wait.until(ec.presence_of_element_located((By.CSS_SELECTOR, row)))
    wait.until(ec.text_to_be_present_in_element((By.ID, "summary"), "page (marked actionable by selenium: paged late)"))
    assert len(browser.find_elements(By.CSS_SELECTOR, "#suppressed tbody tr")) == 1, "that alert only"


def test_a_late_page_that_fails_is_reported_and_retried(serve_url, receiver, small_history) -> None:
    [a] = suppressed_alerts(serve_url, small_history, "retry", 1)
    receiver.fail = True
    try:
        reply = feedback(serve_url, a, True)
    finally:
        receiver.fail = False
    assert reply.status_code == 202
    assert (reply.json()["stored"], reply.json()["late_page"]) == (True, "failed") and reply.json()["detail"]
    assert len(stored_feedback(a["fingerprint"])) == 1, "the feedback is stored all the same"
    receiver.bodies.clear()
    started = time.perf_counter()
    reply = feedback(serve_url, a, True)  # pressing the button again retries the page
    answered = time.perf_counter() - started
    assert reply.json() == {"stored": True, "decision": "suppress", "late_page": "sent", "detail": ""}
    assert delivered(receiver, a["fingerprint"]), "delivered before the answer"
    log.warning("should have paged over the API, POST to answer (delivered by then): %.0f ms", answered * 1000)
    again = feedback(serve_url, a, True).json()
    assert (again["decision"], again["late_page"]) == ("page", None)
    sent = [x for x in delivered_alerts(receiver) if x.get("fingerprint") == a["fingerprint"]]
    assert len(sent) == 1, "paged late once"


def test_a_webhook_alert_firing_longer_than_the_delay_is_paged(serve_url, receiver, small_history, ray_cluster) -> None:
    """The session app pages suppressed webhook alerts still firing 60 min after they started; the history's
    alerts started in January 2026, so a resend of one, still firing, is paged on arrival."""
    late_pages = m.prom(m.LATE_PAGES, counter=True)
    before = exported(ray_cluster, late_pages)
    old, ended = suppressed_alerts(serve_url, small_history, "delay", 2)
    still = {**old, "status": "firing", "endsAt": "0001-01-01T00:00:00Z"}  # as Alertmanager sends firing alerts
    over = {**ended, "status": "firing", "endsAt": ended["startsAt"][:10] + "T23:59:00Z"}  # it ended long ago
    alerts = [{k: v for k, v in a.items() if k != "service"} for a in (still, over)]
    reply = httpx.post(f"{serve_url}/v1/alertmanager", json={"version": "4", "alerts": alerts}, timeout=60)
    assert reply.status_code == 200, reply.text
    paged, kept = reply.json()["decisions"]
    assert (paged["decision"], paged["reason"], paged["reason_code"]) == (
        "page",
        "still firing after 60 min",
        "still_firing",
    )
    assert kept["decision"] == "suppress"
    assert delivered(receiver, old["fingerprint"]) and not delivered(receiver, ended["fingerprint"])
    logged = httpx.get(f"{serve_url}/v1/decisions", params={"decision": "page", "service": old["service"]}).json()
    assert old["fingerprint"] in {e["fingerprint"] for e in logged["decisions"] if e["reason_code"] == "still_firing"}
    deadline = time.monotonic() + 30
    while time.monotonic() < deadline and exported(ray_cluster, late_pages) <= before:
        time.sleep(0.5)
    assert exported(ray_cluster, late_pages) > before, "late pages are counted"
