"""PagerDuty's events (serve_app/pagerduty_events.py): group mode (one event per Alertmanager group,
dedup_key = groupKey, the alerts in custom_details), per-alert mode, the "why" links, and the notice for
alerts Alertmanager truncated; then through the relay to a stand-in PagerDuty (the vendor cannot run here)."""

from __future__ import annotations

import hashlib

from alertsieve.schema import Alert, Decision
from serve_app.delivery import Outbox
from serve_app.notifications import Forwarded
from serve_app.pagerduty_events import GROUP_MAX_ALERTS, group_events, group_key, pagerduty_event
from serve_app.receivers import AnyReceiver, PagerDutyReceiver, SlackReceiver
from serve_app.relay import Relay
from tests.serve_app.fake_receivers import FakePagerDuty, FakeSlack, alert, notification, page, run
from tests.serve_app.stand_ins import page_if_labelled

BASE = "https://alertsieve.example.com"


def test_a_group_is_one_event_keyed_by_its_group_key_with_every_alert_and_why_links() -> None:
    alerts = [page(alert("Disk", pod=f"p{i}", severity="warning")) for i in range(3)]
    alerts.append(page(alert("Cpu", severity="critical")))
    raw = {**notification("team", alerts), "groupKey": '{}:{alertname=~".*"}', "commonLabels": {"service": "checkout"}}
    ((event, carried),) = group_events(raw, alerts, ["service"], BASE)
    assert event["event_action"] == "trigger" and event["dedup_key"] == '{}:{alertname=~".*"}'
    assert carried == alerts and "routing_key" not in event, "the key is added when it is posted"
    payload = event["payload"]
    assert payload["severity"] == "critical" and payload["source"] == "checkout"
    assert payload["summary"].startswith("[FIRING:4] Cpu, Disk")
    listed = payload["custom_details"]["alerts"]
    assert [a["fingerprint"] for a in listed] == [a.fingerprint for a in alerts]
    assert listed[0]["why_url"].startswith(f"{BASE}/ui/suppressed?fingerprint={alerts[0].fingerprint}&startsAt=")
    assert [link["href"] for link in event["links"]] == [a["why_url"] for a in listed]


def test_a_resolved_group_resolves_and_a_big_one_is_several_events_of_one_incident() -> None:
    resolved = [Forwarded({**page(alert("A")).item, "status": "resolved"}, alert("A"))]
    raw = notification("team", resolved)
    assert group_events(raw, resolved, [], BASE) == [({"event_action": "resolve", "dedup_key": "{}:{}"}, resolved)]
    ((update, _),) = group_events(raw, resolved, [], BASE, still_firing=True)
    assert update["event_action"] == "trigger", "one alert resolved while the group's others fire: not resolved"
    many = [page(alert("Storm", pod=str(i))) for i in range(GROUP_MAX_ALERTS + 1)]
    events = group_events(notification("team", many), many, [], BASE)
    assert [len(chunk) for _, chunk in events] == [GROUP_MAX_ALERTS, 1]
    assert {e["dedup_key"] for e, _ in events} == {"{}:{}"}
    long_key = {"groupKey": "x" * 300}
    assert group_key(long_key) == hashlib.sha256(b"x" * 300).hexdigest()


def test_per_alert_events_link_to_their_decision_and_their_source() -> None:
    paged = page(alert("Disk"))
    event = pagerduty_event(paged, ["instance"], BASE)
    assert event["dedup_key"] == paged.fingerprint
    assert [link["text"] for link in event["links"]] == ["why alertsieve paged this", "source"]
    unscored = Forwarded(paged.item, paged.alert, unscored="malformed")
    assert [link["text"] for link in pagerduty_event(unscored, [], BASE)["links"]] == ["source"]


def _suppress_all(alerts: list[Alert]) -> tuple[list[Decision], bool]:
    return page_if_labelled(alerts, 0.1), False


async def _score(alerts: list[Alert]) -> tuple[list[Decision], bool]:
    return _suppress_all(alerts)


def test_truncated_alerts_page_the_group_even_when_every_alert_that_came_is_suppressed(servers, monkeypatch):
    pagerduty, per_alert, slack = servers(FakePagerDuty), servers(FakePagerDuty), servers(FakeSlack)
    monkeypatch.setenv("TEST_PD_KEY", "k")
    monkeypatch.setenv("TEST_SLACK_URL", slack.url)
    receivers: list[AnyReceiver] = [
        PagerDutyReceiver(name="group", url=pagerduty.url, routing_key_env="TEST_PD_KEY"),
        PagerDutyReceiver(name="alert", url=per_alert.url, routing_key_env="TEST_PD_KEY", mode="alert"),
        SlackReceiver(name="chat", url_env="TEST_SLACK_URL"),
    ]
    quiet = [Forwarded(alert("Noise", pod=str(i)).model_dump(mode="json")) for i in range(3)]
    raw = {**notification("team", quiet), "truncatedAlerts": 7, "commonLabels": {"service": "checkout"}}
    relay = Relay(None, None, 10, Outbox(receivers))
    reply = run(relay.relay(raw, _score, lambda alerts: []))
    assert reply.forwarded == 0 and reply.unscored == {"truncated": 7}
    (event,) = pagerduty.bodies
    assert event["event_action"] == "trigger" and event["payload"]["custom_details"]["truncatedAlerts"] == 7
    assert "(+7 truncated by Alertmanager)" in event["payload"]["summary"]
    (notice,) = per_alert.bodies
    assert notice["dedup_key"] == "alertsieve-truncated-{}:{}" and notice["payload"]["severity"] == "critical"
    assert "left 7 alert(s)" in slack.bodies[0]["text"]
    run(relay.relay(raw, _score, lambda alerts: []))  # Alertmanager's resend: the notice went already
    assert len(pagerduty.requests) == len(per_alert.requests) == len(slack.requests) == 1
