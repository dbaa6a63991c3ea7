"""Late pages at unit level (issue 12, section 3): delayed paging's rule and sweep, "should have paged"
feedback, and the date-bounded read of the decision log behind GET /v1/decisions.

A real Router over a real local store, with two stand-ins: its model deployment (``score.remote``
suppresses every alert unless it is labelled page=yes) and the relay downstream, which records the late
pages it is given or fails like an unreachable receiver (a paging vendor cannot run here). The sweep's
clock is a fake one moved by the test."""

from __future__ import annotations

import asyncio
import json
import time
from datetime import UTC, datetime, timedelta, timezone
from types import SimpleNamespace
from typing import Any

import pytest

from alertsieve.bundle import ModelBundle
from alertsieve.schema import Alert, Decision, Feedback, LoggedDecision, Reason
from alertsieve.store import LocalStore, S3Store
from serve_app.config import IngressConfig
from serve_app.late_paging import FROM_WEBHOOK, LatePager, page_overdue
from serve_app.relay import ForwardError
from serve_app.router import Router
from serve_app.suppressed import logged_occurrence, read_decisions
from tests.conftest import S3_BUCKET, s3_env
from tests.factories import decision, from_labels
from tests.serve_app.stand_ins import page_if_labelled

MINUTE = 60.0


def suppressing(alerts: list[Alert], rows: Any) -> Any:
    async def answer() -> list[Decision]:
        return page_if_labelled(alerts, 0.1, reason_code=Reason.BELOW_THRESHOLD)

    return answer()


class FakeRelay:
    """Stands in for Relay.late_page: records each notification, or raises ForwardError while ``failing``."""

    def __init__(self) -> None:
        self.sent: list[tuple[list[Alert], list[Decision]]] = []
        self.failing = False

    async def late_page(self, alerts: list[Alert], decisions: list[Decision]) -> None:
        if self.failing:
            raise ForwardError("downstream receiver failed: 503")
        self.sent.append((alerts, decisions))


class Clock:
    def __init__(self, now: float) -> None:
        self.now = now

    def __call__(self) -> float:
        return self.now


def firing(name: str, minutes_ago: float, now: float, service: str = "checkout", **labels: str) -> Alert:
    start = datetime.fromtimestamp(now - minutes_ago * MINUTE, UTC)
    return from_labels({"alertname": name, "service": service, **labels}, at=start)


def setup(tmp_path, bundle: ModelBundle, **config: Any) -> tuple[Router, LatePager, FakeRelay, Clock]:
    router = Router(
        SimpleNamespace(score=SimpleNamespace(remote=suppressing)),  # type: ignore[arg-type]  # a stand-in handle
        None,
        "champion",
        lambda ref: bundle,
        state_location=str(tmp_path),
    )
    router.page_after = IngressConfig(**config).page_after_s
    relay, clock = FakeRelay(), Clock(time.time())
    return router, LatePager(router, lambda: relay, router.store, clock=clock, chunk=2), relay, clock


async def on_webhook(router: Router, alerts: list[Alert]) -> list[Decision]:
    mark = FROM_WEBHOOK.set(True)
    try:
        return await router.score(alerts)
    finally:
        FROM_WEBHOOK.reset(mark)


def test_a_resend_already_past_the_delay_pages_at_once() -> None:
    now = time.time()
    page_after = IngressConfig(page_after_minutes=60, page_after_by_service={"search": 0, "auth": 5}).page_after_s
    alerts = [
        firing("Old", 61, now),
        firing("Young", 59, now),
        firing("Ended", 90, now),
        firing("Off", 600, now, service="search"),
        firing("Short", 6, now, service="auth"),
        firing("Paged", 90, now),
    ]
    ended = alerts[2].model_copy(update={"endsAt": datetime.fromtimestamp(now - 60, UTC)})
    alerts[2] = ended
    decisions = [decision(a, "suppress", threshold=0.4, score=0.1) for a in alerts]
    paged = {(alerts[5].fingerprint, alerts[5].startsAt.timestamp())}  # paged once already: its resend stays
    out = page_overdue(alerts, decisions, page_after, paged, now)
    assert [d.decision for d in out] == ["page", "suppress", "suppress", "suppress", "page", "suppress"]
    assert (out[0].reason, out[0].reason_code) == ("still firing after 60 min", Reason.STILL_FIRING)
    assert out[4].reason == "still firing after 5 min" and out[0].score == decisions[0].score


def test_the_sweep_pages_what_still_fires_after_the_delay_once(tmp_path, small_bundle) -> None:
    async def scenario() -> None:
        router, pager, relay, clock = setup(tmp_path, small_bundle, page_after_minutes=30)
        now = clock.now
        watched = [firing("Noise", 10, now, pod=str(i)) for i in range(3)]
        decisions = await on_webhook(router, watched + [firing("Real", 10, now, page="yes")])
        assert [d.decision for d in decisions] == ["suppress"] * 3 + ["page"]
        await router.score([firing("ViaScore", 10, now)])  # /v1/score: its caller delivers, never resolves
        assert len(router.memory.firing_suppressed()) == 3

        assert await pager.sweep() == 0 and relay.sent == []  # 10 minutes in: not yet
        router.resolve([watched[2].model_copy(update={"status": "resolved"})])  # resolved: never late-paged
        clock.now = now + 21 * MINUTE  # 31 minutes after they started
        relay.failing = True
        assert await pager.sweep() == 0  # undelivered: they stay candidates
        relay.failing = False
        assert await pager.sweep() == 2
        [(alerts, late)] = relay.sent  # one notification (chunk=2)
        assert {a.fingerprint for a in alerts} == {a.fingerprint for a in watched[:2]}
        assert {(d.decision, d.reason, d.reason_code) for d in late} == {
            ("page", "still firing after 30 min", Reason.STILL_FIRING)
        }
        for a in watched[:2]:  # remembered as paged (its resolution is forwarded) and logged
            assert router.decision_for(a.fingerprint, a.startsAt.timestamp()).decision == "page"  # type: ignore[union-attr]
            assert router.resolve([a]) == [True]
        logged = [LoggedDecision.model_validate_json(line) for line in router.store.lines("decisions")]
        assert sum(entry.decision.reason_code == Reason.STILL_FIRING for entry in logged) == 2
        clock.now += 60 * MINUTE
        assert await pager.sweep() == 0 and len(relay.sent) == 1  # once
        # a resend of one now (already past the delay) is paged by the router itself, and not watched
        resent = await on_webhook(router, [firing("Late", 45, time.time())])  # the router uses the wall clock
        assert resent[0].decision == "page" and resent[0].reason_code == Reason.STILL_FIRING
        assert router.memory.firing_suppressed() == {}

    asyncio.run(scenario())


def test_should_have_paged_pages_a_suppression_once_and_retries_a_failed_page(tmp_path, small_bundle) -> None:
    async def scenario() -> None:
        router, pager, relay, clock = setup(tmp_path, small_bundle)
        a = firing("Quiet", 5, clock.now)
        await router.score([a])  # decided on /v1/score: only the decision log has the alert
        router.memory.clear()  # and the router forgot it (a restart)
        said = Feedback(fingerprint=a.fingerprint, startsAt=a.startsAt, actionable=True, by="ana")

        relay.failing = True
        decision, answer = await pager.on_feedback(said)
        assert decision is not None and decision.decision == "suppress"
        assert (answer.late_page, answer.decision) == ("failed", "suppress") and "503" in answer.detail
        relay.failing = False
        _, answer = await pager.on_feedback(said)  # pressing the button again retries
        assert answer.late_page == "sent"
        [(alerts, [late])] = relay.sent
        assert alerts == [a] and late.decision == "page" and late.reason_code == Reason.SHOULD_HAVE_PAGED
        assert late.reason == "marked actionable by ana: paged late"
        found = logged_occurrence(router.store, a.fingerprint, a.startsAt, clock.now)
        assert found is not None and found.decision.reason_code == Reason.SHOULD_HAVE_PAGED

        decision, answer = await pager.on_feedback(said)
        assert (
            decision is not None and decision.decision == "page" and answer.late_page is None and len(relay.sent) == 1
        )
        router.memory.clear()  # even forgotten entirely, the log says it was paged late
        _, answer = await pager.on_feedback(said)
        assert answer.decision == "page" and len(relay.sent) == 1
        _, answer = await pager.on_feedback(said.model_copy(update={"actionable": False}))
        assert answer.late_page is None
        unknown = Feedback(fingerprint="ffff", startsAt=a.startsAt, actionable=True, by="ana")
        decision, answer = await pager.on_feedback(unknown)
        assert decision is None and (answer.decision, answer.late_page) == (None, None)

    asyncio.run(scenario())


def test_should_have_paged_after_the_resolution_pages_nothing_even_across_a_restart(tmp_path, small_bundle) -> None:
    """Issue 23: a late page for an occurrence that had resolved went out as firing, and the incident stayed
    open downstream. The resolution is remembered, and carried by the snapshot."""

    async def scenario() -> None:
        router, pager, relay, clock = setup(tmp_path, small_bundle)
        a, b = firing("Over", 5, clock.now), firing("Still", 5, clock.now, pod="p-2")
        assert [d.decision for d in await on_webhook(router, [a, b])] == ["suppress", "suppress"]
        assert await router.resolutions([a.model_copy(update={"status": "resolved"})]) == [False]
        said = Feedback(fingerprint=a.fingerprint, startsAt=a.startsAt, actionable=True, by="ana")
        _, answer = await pager.on_feedback(said)
        assert (answer.decision, answer.late_page) == ("suppress", "resolved") and relay.sent == []

        await router.snapshots.flush()
        restarted, later, relay2, _ = setup(tmp_path, small_bundle)
        _, answer = await later.on_feedback(said)
        assert answer.late_page == "resolved" and relay2.sent == []
        _, answer = await later.on_feedback(said.model_copy(update={"fingerprint": b.fingerprint}))
        assert answer.late_page == "sent" and [x for x, _ in relay2.sent] == [[b]]  # still firing: paged

    asyncio.run(scenario())


def logged_line(fingerprint: str, service: str, verdict: str, at: datetime, applied: bool = True) -> str:
    a = from_labels(
        {"alertname": f"A{fingerprint}", "service": service},
        at=datetime(2026, 1, 5, tzinfo=UTC),
        annotations={"summary": "disk almost full"},
    )
    a = a.model_copy(update={"fingerprint": fingerprint})
    d = Decision(
        fingerprint=fingerprint,
        service=service,
        score=0.2,
        threshold=0.3,
        decision=verdict,
        model_version="1",
        reason=verdict,
        startsAt=a.startsAt,
    )
    return LoggedDecision(alert=a, decision=d, applied=applied, logged_at=at).model_dump_json() + "\n"


def test_decisions_are_read_from_the_days_asked_for_newest_first(tmp_path) -> None:
    now = datetime.now(UTC)
    store = LocalStore(tmp_path)
    (tmp_path / "decisions").mkdir()
    # an old day's file: never opened for a recent window (its record claims to be recent, to prove it)
    (tmp_path / "decisions" / "2020-01-01.jsonl").write_text(logged_line("old", "checkout", "suppress", now))
    today = "".join(
        [
            logged_line("a", "checkout", "suppress", now - timedelta(hours=30)),  # before the window
            logged_line("b", "checkout", "suppress", now - timedelta(hours=3)),
            logged_line("c", "checkout", "suppress", now - timedelta(hours=2)),
            logged_line("c", "checkout", "page", now - timedelta(hours=1)),  # c was paged late since
            logged_line("d", "search", "suppress", now - timedelta(minutes=30)),
            logged_line("b", "checkout", "suppress", now - timedelta(minutes=20)),  # b resent
            logged_line("e", "checkout", "suppress", now - timedelta(minutes=10), applied=False),  # shadow
            '{"alert": {"labels": ',  # a line cut short by a crash
        ]
    )
    (tmp_path / "decisions" / f"{now:%Y-%m-%d}.jsonl").write_text(today)
    store.append(
        "feedback",
        [
            Feedback(fingerprint="b", startsAt=datetime(2026, 1, 5, tzinfo=UTC), actionable=v, by=who)
            for v, who in ((True, "x"), (False, "y"))
        ],
    )

    view = read_decisions(store, now=now)
    assert [(e.fingerprint, e.decision, e.decided) for e in view.decisions] == [
        ("b", "suppress", 2),
        ("d", "suppress", 1),
        ("c", "page", 2),
    ]
    assert view.decisions[0].feedback is not None and (
        view.decisions[0].feedback.by,
        view.decisions[0].feedback.actionable,
    ) == ("y", False)
    assert view.decisions[0].summary == "disk almost full" and view.decisions[0].alertname == "Ab"
    assert [
        e.fingerprint for e in read_decisions(store, decision="suppress", service="checkout", now=now).decisions
    ] == ["b"]
    assert [e.fingerprint for e in read_decisions(store, decision="page", now=now).decisions] == ["c"]
    assert len(read_decisions(store, limit=1, now=now).decisions) == 1
    week = read_decisions(store, since=now - timedelta(days=2), now=now)
    assert [e.fingerprint for e in week.decisions] == ["b", "d", "c", "a"]
    assert "old" in {e.fingerprint for e in read_decisions(store, since=datetime(2019, 12, 31), now=now).decisions}
    # issue 23: the first year is a bound like any other ("1-01-01" sorted after every day and read nothing)
    for first in (datetime(1, 1, 1), datetime(1, 1, 1, tzinfo=timezone(timedelta(hours=5)))):
        assert "old" in {e.fingerprint for e in read_decisions(store, since=first, now=now).decisions}
    # a page's "why" link opens one alert's decision, whatever it was
    assert [(e.fingerprint, e.decision) for e in read_decisions(store, fingerprint="c", now=now).decisions] == [
        ("c", "page")
    ]
    assert read_decisions(store, fingerprint="nowhere", now=now).decisions == []


def test_s3_lines_since_list_from_that_day_on(moto_s3, monkeypatch) -> None:
    from alertsieve.settings import get_settings

    for name, value in s3_env(moto_s3).items():
        monkeypatch.setenv(name, value)
    get_settings.cache_clear()
    store = S3Store(f"s3://{S3_BUCKET}/since-{time.time_ns()}")
    for day, text in (("2026-01-04", "old"), ("2026-01-05", "first"), ("2026-01-06", "second")):
        key = store._key("feedback", day, "000000-x.jsonl")
        store.client.put_object(Bucket=S3_BUCKET, Key=key, Body=json.dumps({"v": text}).encode() + b"\n")
    since = datetime(2026, 1, 5, 23, 0, tzinfo=UTC)
    assert [json.loads(line)["v"] for line in store.lines("feedback", since=since)] == ["first", "second"]
    assert len(list(store.lines("feedback"))) == 3
    get_settings.cache_clear()


@pytest.mark.parametrize("minutes", [0.0, 30.0])
def test_page_after_config(minutes: float) -> None:
    config = IngressConfig(page_after_minutes=minutes, page_after_by_service={"search": 5})
    assert config.page_after_s("checkout") == (None if minutes == 0 else minutes * 60)
    assert config.page_after_s("search") == 300


def test_the_suppressed_page_and_its_script_are_self_contained() -> None:
    from fastapi import FastAPI
    from fastapi.testclient import TestClient

    from serve_app import suppressed

    app = FastAPI()
    app.include_router(suppressed.router)
    with TestClient(app) as client:
        page = client.get("/ui/suppressed")
        assert page.status_code == 200 and page.headers["content-type"].startswith("text/html")
        assert '<script src="suppressed/static/suppressed.js">' in page.text
        script = client.get("/ui/suppressed/static/suppressed.js")
        assert script.status_code == 200 and "javascript" in script.headers["content-type"]
        for text in (page.text, script.text):
            assert "http://" not in text and "https://" not in text
        assert client.get("/ui/suppressed/static/suppressed.html").status_code == 404
