"""Receivers downstream (serve_app/receivers.py, delivery.py, notifications.py, relay.py): PagerDuty Events
API v2, Alertmanager-compatible webhooks and Slack, routed by receiver name and labels, with retries, env
credentials and TLS, over real HTTP to local servers on 127.0.0.1. The servers are the one stand-in: the
paging vendors cannot run here. Scoring, routing, retries and the wire are real."""

from __future__ import annotations

import base64
import json
import time

import pytest
from pydantic import ValidationError

from alertsieve.decider import fail_open
from alertsieve.embedding import EmbeddingCache, HashingEncoder
from alertsieve.schema import Alert, Decision, Reason
from alertsieve.scoring import Scorer
from serve_app.delivery import ForwardError, Outbox, retry_after_s
from serve_app.notifications import Forwarded
from serve_app.receivers import AnyReceiver, PagerDutyReceiver, RetryPolicy, SlackReceiver, WebhookReceiver
from serve_app.relay import Relay
from tests.serve_app.fake_receivers import (
    FAST,
    FakePagerDuty,
    FakeSlack,
    FakeWebhook,
    alert,
    notification,
    page,
    run,
)


# ---- PagerDuty ----------------------------------------------------------------------------------------
def test_pagerduty_triggers_pages_with_their_decision_and_resolves_by_fingerprint(servers, monkeypatch, small_bundle):
    """Real scoring (the session's small model): the paged alerts become trigger events keyed by their
    fingerprint, carrying score, threshold, reason, neighbours and model version; their resolutions resolve."""
    pagerduty = servers(FakePagerDuty)
    monkeypatch.setenv("TEST_PD_KEY", "routing-key-1")
    receiver = PagerDutyReceiver(mode="alert", name="pd", url=pagerduty.url, routing_key_env="TEST_PD_KEY", retry=FAST)
    scorer = Scorer(small_bundle, EmbeddingCache(HashingEncoder()))

    async def score(alerts: list[Alert]) -> tuple[list[Decision], bool]:
        return scorer.score(alerts), False

    firing = [alert("NeverSeenBeforeDiskMelting", severity="crit", instance="db-1"), alert("Other", severity="info")]
    raw = notification("team", [Forwarded(a.model_dump(mode="json"), a) for a in firing])
    relay = Relay(None, None, 1, Outbox([receiver]))
    reply = run(relay.relay(raw, score, lambda alerts: [None] * len(alerts)))
    paged = {d.fingerprint: d for d in reply.decisions if d.decision == "page"}
    assert firing[0].fingerprint in paged, "a never-seen alert is novel: paged"
    events = pagerduty.bodies
    assert {e["dedup_key"] for e in events} == set(paged) and reply.forwarded == len(paged)
    event = next(e for e in events if e["dedup_key"] == firing[0].fingerprint)
    decision = paged[firing[0].fingerprint]
    assert event["routing_key"] == "routing-key-1" and event["event_action"] == "trigger"
    payload = event["payload"]
    assert payload["severity"] == "critical" and payload["source"] == "db-1"
    assert payload["summary"].startswith("NeverSeenBeforeDiskMelting") and event["client_url"]
    details = payload["custom_details"]
    assert details["score"] == decision.score and details["threshold"] == decision.threshold
    assert details["reason"] == decision.reason and details["reason_code"] == str(decision.reason_code)
    assert details["model_version"] == small_bundle.version and isinstance(details["neighbours"], list)

    resolved = [a.model_copy(update={"status": "resolved"}) for a in firing]
    pagerduty.requests.clear()
    raw = notification("team", [Forwarded(a.model_dump(mode="json"), a) for a in resolved])
    run(relay.relay(raw, score, lambda alerts: [a.fingerprint in paged for a in alerts]))
    assert sorted((e["event_action"], e["dedup_key"]) for e in pagerduty.bodies) == sorted(
        ("resolve", fp) for fp in paged
    )


def test_pagerduty_429_with_retry_after_then_202(servers, monkeypatch):
    pagerduty = servers(FakePagerDuty, replies=[(429, {"Retry-After": "1"})])
    monkeypatch.setenv("TEST_PD_KEY", "k")
    receiver = PagerDutyReceiver(mode="alert", name="pd", url=pagerduty.url, routing_key_env="TEST_PD_KEY", retry=FAST)
    started = time.monotonic()
    run(Outbox([receiver]).deliver(notification("x", [page(alert("A"))]), [page(alert("A"))]))
    assert len(pagerduty.requests) == 2, "retried once, after the 429"
    assert 0.9 <= time.monotonic() - started < 30, "Retry-After (1 s) honoured, not the 0.05 s backoff"


def test_retry_after_is_capped_and_parsed():
    assert RetryPolicy(max_backoff_s=0.2).backoff(0, retry_after=3600) == 0.2
    assert RetryPolicy(backoff_s=0.5).backoff(2) == 2.0
    assert retry_after_s("7") == 7.0 and retry_after_s("soon") is None and retry_after_s(None) is None
    assert retry_after_s("Wed, 21 Oct 2015 07:28:00 GMT") == 0.0


# ---- webhook -------------------------------------------------------------------------------------------
def test_webhook_gets_annotated_pages_with_a_bearer_token_from_the_environment(servers, monkeypatch):
    hook = servers(FakeWebhook)
    monkeypatch.setenv("TEST_HOOK_TOKEN", "s3cret")
    receiver = WebhookReceiver(name="hook", url=hook.url, token_env="TEST_HOOK_TOKEN", retry=FAST)
    malformed = Forwarded({"labels": {"alertname": "Broken"}, "startsAt": "yesterday"}, unscored="malformed")
    paged = page(alert("Paged"), reason="score 0.9 >= 0.3")
    raw = notification("team", [paged, malformed])
    run(Outbox([receiver]).deliver(raw, [paged, malformed]))
    (request,) = hook.requests
    assert request["headers"]["authorization"] == "Bearer s3cret"
    body = json.loads(request["data"])
    assert body["newerField"] == [1] and body["groupKey"] == "{}:{}" and body["receiver"] == "team"
    annotated, untouched = body["alerts"]
    assert annotated["annotations"] == {
        "summary": "Paged is up",
        "alertsieve_score": "0.9000",
        "alertsieve_threshold": "0.3000",
        "alertsieve_decision": "page",
        "alertsieve_reason": "score 0.9 >= 0.3",
        "alertsieve_reason_code": "fail_open",
        "alertsieve_model": "7",
        "alertsieve_why_url": f"http://127.0.0.1:8000/ui/suppressed?fingerprint={paged.fingerprint}"
        f"&startsAt=2026-01-05T09%3A00%3A00%2B00%3A00&service=checkout",
    }
    assert untouched == malformed.item, "an alert without a decision goes exactly as it came"


def test_webhook_basic_auth_from_the_environment(servers, monkeypatch):
    hook = servers(FakeWebhook)
    monkeypatch.setenv("TEST_USER", "am")
    monkeypatch.setenv("TEST_PASSWORD", "pw")
    receiver = WebhookReceiver(name="hook", url=hook.url, username_env="TEST_USER", password_env="TEST_PASSWORD")
    run(Outbox([receiver]).deliver(notification("x", [page(alert("A"))]), [page(alert("A"))]))
    assert hook.requests[0]["headers"]["authorization"] == "Basic " + base64.b64encode(b"am:pw").decode()


def test_500_twice_then_accepted(servers):
    hook = servers(FakeWebhook, replies=[(500, {}), (503, {})])
    receiver = WebhookReceiver(name="hook", url=hook.url, retry=FAST)
    run(Outbox([receiver]).deliver(notification("x", [page(alert("A"))]), [page(alert("A"))]))
    assert len(hook.requests) == 3 and hook.bodies[0] == hook.bodies[2]


def test_a_delivery_that_keeps_failing_raises_after_every_receiver_was_tried(servers, monkeypatch):
    """Never a silent drop: ForwardError (the webhook answers 502), and the healthy receiver still got it."""
    broken, healthy = servers(FakeWebhook), servers(FakeWebhook)
    broken.status = 500
    receivers: list[AnyReceiver] = [
        WebhookReceiver(name="broken", url=broken.url, retry=FAST),
        WebhookReceiver(name="ok", url=healthy.url),
    ]
    with pytest.raises(ForwardError, match="'broken' failed: HTTP 500"):
        run(Outbox(receivers).deliver(notification("x", [page(alert("A"))]), [page(alert("A"))]))
    assert len(broken.requests) == FAST.attempts and len(healthy.requests) == 1

    refused = servers(FakeWebhook)  # a 4xx other than 429 is not retried; 403 (credentials) may be fixed: 502
    refused.status = 403
    with pytest.raises(ForwardError, match="HTTP 403"):
        run(
            Outbox([WebhookReceiver(name="r", url=refused.url, retry=FAST)]).deliver(
                notification("x", []), [page(alert("A"))]
            )
        )
    assert len(refused.requests) == 1

    closed = servers(FakeWebhook)  # nothing listening: connection errors are retried, then raised
    closed.close()
    with pytest.raises(ForwardError, match="ConnectError"):
        run(
            Outbox([WebhookReceiver(name="c", url=closed.url, retry=FAST)]).deliver(
                notification("x", []), [page(alert("A"))]
            )
        )

    pd = PagerDutyReceiver(mode="alert", name="pd", url=healthy.url, routing_key_env="TEST_UNSET_KEY")
    monkeypatch.delenv("TEST_UNSET_KEY", raising=False)
    with pytest.raises(ForwardError, match="TEST_UNSET_KEY is not set"):
        run(Outbox([pd]).deliver(notification("x", []), [page(alert("A"))]))


# ---- Slack ----------------------------------------------------------------------------------------------
def test_slack_gets_one_message_per_group(servers, monkeypatch):
    slack = servers(FakeSlack)
    monkeypatch.setenv("TEST_SLACK_URL", slack.url)
    receiver = SlackReceiver(name="slack", url_env="TEST_SLACK_URL", blocks=True)
    alerts = [page(alert("DiskFull", pod="a"), "novel alert"), page(alert("DiskFull", pod="b")), page(alert("Cpu"))]
    run(Outbox([receiver]).deliver(notification("team", alerts), alerts))
    (message,) = slack.bodies
    lines = message["text"].splitlines()
    assert lines[0] == "[FIRING:3] Cpu, DiskFull (team)" and len(lines) == 4
    assert "score 0.90 (threshold 0.30), novel alert [7]" in lines[1]
    assert message["blocks"][0]["type"] == "header"
    with pytest.raises(ValidationError, match="secret"):
        SlackReceiver(name="s", url="https://hooks.slack.com/services/T/B/X")


# ---- routing ----------------------------------------------------------------------------------------------
def test_routing_by_receiver_name_and_labels_with_a_catch_all(servers, monkeypatch):
    pagerduty, slack, hook = servers(FakePagerDuty), servers(FakeSlack), servers(FakeWebhook)
    monkeypatch.setenv("TEST_PD_KEY", "k")
    monkeypatch.setenv("TEST_SLACK_URL", slack.url)
    receivers: list[AnyReceiver] = [
        PagerDutyReceiver(
            mode="alert", name="pd", url=pagerduty.url, routing_key_env="TEST_PD_KEY", matchers={"severity": "critical"}
        ),
        SlackReceiver(name="slack", url_env="TEST_SLACK_URL", receivers=["team-a"]),
        WebhookReceiver(name="default", url=hook.url),
    ]
    critical, warning = page(alert("Crit", severity="critical")), page(alert("Warn", severity="warning"))
    outbox = Outbox(receivers)
    run(outbox.deliver(notification("team-a", [critical, warning]), [critical, warning]))
    assert [e["payload"]["class"] for e in pagerduty.bodies] == ["Crit"]
    assert "Crit" in slack.bodies[0]["text"] and "Warn" in slack.bodies[0]["text"]
    assert hook.requests == [], "everything was routed: the catch-all gets nothing"
    run(outbox.deliver(notification("team-b", [critical, warning]), [critical, warning]))
    # pd took Crit already: that occurrence is not sent to it again (a resend sends only what failed)
    assert [e["payload"]["class"] for e in pagerduty.bodies] == ["Crit"] and len(slack.bodies) == 1
    assert [a["labels"]["alertname"] for a in hook.bodies[0]["alerts"]] == ["Warn"]


def test_an_alert_no_routing_matches_goes_to_every_receiver(servers):
    one, two = servers(FakeWebhook), servers(FakeWebhook)
    receivers: list[AnyReceiver] = [
        WebhookReceiver(name="a", url=one.url, receivers=["a"]),
        WebhookReceiver(name="b", url=two.url, matchers={"team": "b"}),
    ]
    run(Outbox(receivers).deliver(notification("c", [page(alert("Lost"))]), [page(alert("Lost"))]))
    assert len(one.requests) == len(two.requests) == 1


def test_late_pages_carry_their_reason(servers, monkeypatch):
    pagerduty, hook = servers(FakePagerDuty), servers(FakeWebhook)
    monkeypatch.setenv("TEST_PD_KEY", "k")
    receivers: list[AnyReceiver] = [
        PagerDutyReceiver(
            mode="alert", name="pd", url=pagerduty.url, routing_key_env="TEST_PD_KEY", matchers={"service": "checkout"}
        ),
        WebhookReceiver(name="hook", url=hook.url),
    ]
    late = alert("Slow")
    decision = page(late, "still firing after 60 min").decision
    assert decision is not None
    decision = decision.model_copy(update={"reason_code": Reason.STILL_FIRING})
    run(Relay(None, None, 10, Outbox(receivers)).late_page([late], [decision]))
    (event,) = pagerduty.bodies
    assert event["payload"]["custom_details"]["reason"] == "still firing after 60 min"
    assert event["payload"]["custom_details"]["reason_code"] == "still_firing" and hook.requests == []


def test_a_notification_with_some_alerts_failed_open_says_so(servers, small_bundle):
    """One alert of two failed open (a shard or the Embedder could not score it): the answer's fail_open says
    so, though the scoring call as a whole did not fail, and the failed-open alert is forwarded."""
    hook = servers(FakeWebhook)
    scorer = Scorer(small_bundle, EmbeddingCache(HashingEncoder()))

    async def score(alerts: list[Alert]) -> tuple[list[Decision], bool]:
        decided = scorer.score(alerts)
        return [decided[0], fail_open(alerts[1], "", decided[1].model_version, "shard unavailable")], False

    firing = [alert("Other", severity="info"), alert("AlsoOther", severity="info")]
    relay = Relay(None, None, 10, Outbox([WebhookReceiver(name="hook", url=hook.url, retry=FAST)]))
    reply = run(
        relay.relay(
            notification("team", [Forwarded(a.model_dump(mode="json"), a) for a in firing]), score, no_resolutions
        )
    )
    assert reply.fail_open and reply.decisions[1].reason_code == Reason.FAIL_OPEN
    forwarded = [a["fingerprint"] for body in hook.bodies for a in body["alerts"]]
    assert firing[1].fingerprint in forwarded

    whole = run(
        relay.relay(
            notification("team", [Forwarded(firing[0].model_dump(mode="json"), firing[0])]),
            lambda alerts: _scored(scorer, alerts),
            no_resolutions,
        )
    )
    assert not whole.fail_open  # nothing failed open: the flag stays down


async def _scored(scorer: Scorer, alerts: list[Alert]) -> tuple[list[Decision], bool]:
    return scorer.score(alerts), False


def no_resolutions(alerts: list[Alert]) -> list[bool | None]:
    return [None] * len(alerts)
