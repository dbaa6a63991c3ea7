"""Delivery (serve_app/delivery.py): never a silent 200, pager-safe pacing, 429 backoff into the durable
retry outbox, final 400s, and resends that send only what failed. The local HTTP servers stand in for
PagerDuty and webhooks, which cannot run here (tests/serve_app/fake_receivers.py); time is a FakeClock, so
minutes of rate limiting run in no wall time."""

from __future__ import annotations

import json
from collections import Counter
from pathlib import Path
from typing import Any

import pytest

from alertsieve.store import LocalStore
from serve_app.config import IngressConfig, readiness_problem
from serve_app.delivery import DeliveryOptions, ForwardError, NoReceiver, Outbox
from serve_app.notifications import Forwarded
from serve_app.receivers import FileReceiver, PagerDutyReceiver, RateLimit, WebhookReceiver
from serve_app.relay import Relay
from serve_app.retry_outbox import RetryOutbox
from tests.serve_app.fake_receivers import (
    FAST,
    FakeClock,
    FakePagerDuty,
    FakeWebhook,
    RateLimitedPagerDuty,
    alert,
    notification,
    page,
    run,
)

GROUPS, PER_GROUP = 50, 20


# ---- never a silent 200 ----------------------------------------------------------------------------------
def test_no_receiver_is_a_503_and_not_ready_naming_what_is_missing() -> None:
    problem = readiness_problem(IngressConfig(), None)
    assert problem is not None and "no receiver configured" in problem and "downstream_url" in problem
    with pytest.raises(NoReceiver, match="no receiver configured") as raised:
        run(Outbox([]).deliver(notification("team", []), [page(alert("A"))]))
    assert raised.value.status == 503
    suppressed_only = Relay(None, None, 10)  # nothing paged, but nobody to page either: still refused
    with pytest.raises(ForwardError) as also:
        run(suppressed_only.outbox.deliver(notification("team", []), []))
    assert also.value.status == 503
    assert readiness_problem(IngressConfig(downstream_url="http://127.0.0.1:9/hook"), None) is None


def test_an_unset_credential_is_a_503_and_not_ready_naming_the_variable(servers, monkeypatch) -> None:
    monkeypatch.delenv("TEST_UNSET_PD_KEY", raising=False)
    pagerduty = servers(FakePagerDuty)
    receiver = {"kind": "pagerduty", "name": "oncall", "url": pagerduty.url, "routing_key_env": "TEST_UNSET_PD_KEY"}
    config = IngressConfig.model_validate({"receivers": [receiver]})
    problem = readiness_problem(config, None)
    assert problem is not None and "'oncall'" in problem and "TEST_UNSET_PD_KEY" in problem
    with pytest.raises(ForwardError, match="TEST_UNSET_PD_KEY") as raised:
        run(Outbox(config.receivers).deliver(notification("team", []), [page(alert("A"))]))
    assert raised.value.status == 503 and pagerduty.requests == []
    monkeypatch.setenv("TEST_UNSET_PD_KEY", "key")
    assert readiness_problem(config, None) is None


def test_the_file_receiver_appends_pages_as_json_lines(tmp_path: Path) -> None:
    target = tmp_path / "pages.jsonl"
    outbox = Outbox([FileReceiver(name="demo", path=str(target))])
    first, second = page(alert("A")), page(alert("B"))
    run(outbox.deliver(notification("team", []), [first]))
    run(outbox.deliver(notification("team", []), [second]))
    lines = [json.loads(line) for line in target.read_text().splitlines()]
    assert [line["alerts"][0]["labels"]["alertname"] for line in lines] == ["A", "B"]
    assert lines[0]["alerts"][0]["annotations"]["alertsieve_why_url"].startswith("http://127.0.0.1:8000/ui/suppressed?")


def test_make_serve_configures_the_demo_file_receiver_and_serve_config_yaml_none(tmp_path: Path) -> None:
    import subprocess
    import sys

    import yaml

    root = Path(__file__).resolve().parents[2]
    target = tmp_path / "serve_config.demo.yaml"
    subprocess.run(
        ["make", "-s", f"ALERTSIEVE_HOME={tmp_path}", f"PY={sys.executable}", str(target)], cwd=root, check=True
    )
    demo = yaml.safe_load(target.read_text())["applications"][0]["args"]
    assert demo["receivers"] == [{"kind": "file", "name": "demo-pages"}]
    assert readiness_problem(IngressConfig.model_validate(demo), None) is None
    shipped = yaml.safe_load((root / "serve_config.yaml").read_text())["applications"][0]["args"]
    assert "no receiver" in (readiness_problem(IngressConfig.model_validate(shipped), None) or "")


# ---- final 400s, 429 into the outbox, partial resends ------------------------------------------------------
def test_a_400_is_final_counted_and_not_a_502(servers) -> None:
    hook = servers(FakeWebhook)
    hook.status = 400
    outbox = Outbox([WebhookReceiver(name="hook", url=hook.url, retry=FAST)])
    run(outbox.deliver(notification("team", []), [page(alert("Bad"))]))  # answered 200: Alertmanager stops
    assert len(hook.requests) == 1, "a 400 is not retried"
    run(outbox.deliver(notification("team", []), [page(alert("Bad"))]))
    assert len(hook.requests) == 1, "nor sent again on Alertmanager's resend"


def test_a_429_past_the_deadline_goes_to_the_durable_outbox_and_survives_a_restart(servers, tmp_path) -> None:
    clock = FakeClock()
    hook = servers(FakeWebhook, replies=[(429, {"Retry-After": "120"})])
    store = LocalStore(tmp_path)
    receiver = WebhookReceiver(name="hook", url=hook.url, retry=FAST)
    options = DeliveryOptions(deadline_s=10.0)
    first = Outbox([receiver], options=options, clock=clock.delivery(), retry=RetryOutbox(store, clock.time))
    paged = page(alert("Throttled"))
    run(first.deliver(notification("team", []), [paged]))  # Retry-After 120 s cannot fit 10 s: kept for later
    assert len(hook.requests) == 1
    restarted = RetryOutbox(store, clock.time)  # a new Ingress: the outbox is read back from the store
    second = Outbox([receiver], options=options, clock=clock.delivery(), retry=restarted)
    assert run(restarted.drain(second.send_deferred)) == 0, "not due before its Retry-After"
    clock.advance(121)
    assert run(restarted.drain(second.send_deferred)) == 1 and len(restarted) == 0
    assert [b["alerts"][0]["labels"]["alertname"] for b in hook.bodies] == ["Throttled", "Throttled"]
    assert json.loads(store.get_blob("delivery-outbox.json") or b"null") == []


def test_a_429_within_the_deadline_is_retried_after_retry_after(servers) -> None:
    clock = FakeClock()
    hook = servers(FakeWebhook, replies=[(429, {"Retry-After": "3"})])
    outbox = Outbox([WebhookReceiver(name="hook", url=hook.url, retry=FAST)], clock=clock.delivery())
    started = clock.time()
    run(outbox.deliver(notification("team", []), [page(alert("Once"))]))
    assert len(hook.requests) == 2 and clock.time() - started == pytest.approx(3.0)


def test_a_resend_after_a_partial_failure_sends_only_what_failed(servers) -> None:
    good, flaky = servers(FakeWebhook), servers(FakeWebhook, replies=[(500, {})] * FAST.attempts)
    receivers = [
        WebhookReceiver(name="good", url=good.url, retry=FAST, matchers=['team=~"a|b"']),
        WebhookReceiver(name="flaky", url=flaky.url, retry=FAST, matchers={"team": "c"}),
    ]
    outbox = Outbox(receivers)
    alerts = [page(alert("A", team="a")), page(alert("B", team="b")), page(alert("C", team="c"))]
    raw = notification("team", alerts)
    with pytest.raises(ForwardError, match="flaky"):
        run(outbox.deliver(raw, alerts))  # the webhook answers 502: Alertmanager resends the whole group
    run(outbox.deliver(raw, alerts))
    assert len(good.requests) == 1, "what was delivered is not delivered again"
    assert [a["labels"]["alertname"] for a in flaky.bodies[-1]["alerts"]] == ["C"]
    resolved = Forwarded({**alerts[0].item, "status": "resolved"}, alerts[0].alert)
    run(outbox.deliver(raw, [resolved]))
    assert len(good.requests) == 2, "its resolution is another delivery"


# ---- the storm ------------------------------------------------------------------------------------------
def _storm() -> list[tuple[dict[str, Any], list[Forwarded]]]:
    groups = []
    for g in range(GROUPS):
        alerts = [page(alert(f"Storm{g}", pod=f"pod-{g}-{i}", severity="critical")) for i in range(PER_GROUP)]
        raw = {**notification("oncall", alerts), "groupKey": f'{{}}:{{alertname="Storm{g}"}}'}
        groups.append((raw, alerts))
    return groups


def _delivered(events: list[dict[str, Any]]) -> Counter[str]:
    """Fingerprints the stand-in took, inside group events or as per-alert pages."""
    seen: Counter[str] = Counter()
    for event in events:
        details = event["payload"]["custom_details"]
        seen.update([a["fingerprint"] for a in details["alerts"]] if "alerts" in details else [event["dedup_key"]])
    return seen


@pytest.mark.parametrize("mode", ["group", "alert"])
def test_a_storm_of_1000_alerts_reaches_a_rate_limited_pagerduty_once_each(servers, monkeypatch, tmp_path, mode):
    """1,000 paged alerts in 50 groups against a stand-in PagerDuty that answers 429 past 120 events in any
    minute: group mode sends 50 events, none throttled; alert mode sends 1,000, paced, the overflow through
    the retry outbox. Either way every alert arrives exactly once and nothing accepted is sent again, even
    when Alertmanager resends every group."""
    clock = FakeClock()
    pagerduty = servers(RateLimitedPagerDuty, clock, 120)
    monkeypatch.setenv("TEST_STORM_PD_KEY", "storm-key")
    receiver = PagerDutyReceiver(name="pd", url=pagerduty.url, routing_key_env="TEST_STORM_PD_KEY", mode=mode)
    retry = RetryOutbox(LocalStore(tmp_path), clock.time, lambda: 0.5)
    outbox = Outbox([receiver], options=DeliveryOptions(deadline_s=10.0), clock=clock.delivery(), retry=retry)
    storm = _storm()

    async def deliver_all() -> None:
        for raw, alerts in storm:
            await outbox.deliver(raw, alerts)

    run(deliver_all())
    waited = len(retry)
    assert (waited > 0) == (mode == "alert"), "alert mode's overflow went to the outbox; group mode fits the limit"
    for _ in range(200):  # the outbox drains at the rate limit, in simulated time
        if not len(retry):
            break
        clock.advance(30)
        run(retry.drain(outbox.send_deferred))
    assert len(retry) == 0, "the outbox drained"
    accepted = [event for _, event in pagerduty.accepted]
    every = {a.fingerprint for _, alerts in storm for a in alerts}
    assert _delivered(accepted) == Counter(dict.fromkeys(every, 1)), "every alert exactly once"
    assert {e["routing_key"] for e in accepted} == {"storm-key"}
    if mode == "group":
        assert len(accepted) == GROUPS and pagerduty.throttled == 0
        assert {e["dedup_key"] for e in accepted} == {raw["groupKey"] for raw, _ in storm}
    times = sorted(t for t, _ in pagerduty.accepted)
    assert all(sum(1 for u in times if t <= u < t + 60) <= 120 for t in times), "within the stand-in's limit"
    run(deliver_all())  # Alertmanager resends every group (as after a 502)
    assert len(pagerduty.accepted) == len(accepted) and len(retry) == 0, "nothing accepted is resent"


def test_the_rate_limit_defaults_to_pagerdutys_120_a_minute() -> None:
    receiver = PagerDutyReceiver(name="pd", routing_key_env="K")
    assert receiver.rate == RateLimit(per_minute=120, burst=10) and receiver.mode == "group"
    assert WebhookReceiver(name="w", url="http://x").rate is None


def test_a_group_incident_resolves_only_when_none_of_its_pages_fires(servers, monkeypatch) -> None:
    pagerduty = servers(FakePagerDuty)
    monkeypatch.setenv("TEST_PD_KEY", "k")
    outbox = Outbox([PagerDutyReceiver(name="pd", url=pagerduty.url, routing_key_env="TEST_PD_KEY")])
    a, b = page(alert("A")), page(alert("B"))

    def resolved(f: Forwarded) -> Forwarded:
        return Forwarded({**f.item, "status": "resolved"}, f.alert, f.decision)

    for alerts in ([a, b], [resolved(a), b], [resolved(a), resolved(b)]):
        run(outbox.deliver(notification("team", alerts), alerts))
    actions = [
        (e["event_action"], len(e.get("payload", {}).get("custom_details", {}).get("alerts", [])))
        for e in pagerduty.bodies
    ]
    assert actions == [("trigger", 2), ("trigger", 1), ("resolve", 0)]
