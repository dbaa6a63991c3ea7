"""What webhook and Slack receivers get (serve_app/notifications.py): commonLabels recomputed for the
alerts forwarded, and the "why" link to each decision."""

from __future__ import annotations

from urllib.parse import parse_qs, urlsplit

from serve_app.notifications import common, slack_message, webhook_payload, why_url
from tests.serve_app.fake_receivers import alert, notification, page


def test_common_labels_are_those_of_the_alerts_forwarded_not_of_the_whole_group() -> None:
    db, web = page(alert("Down", team="db", env="prod")), page(alert("Down", team="web", env="prod"))
    raw = {**notification("team", [db, web]), "commonAnnotations": {"summary": "Down is up"}}
    raw["commonLabels"] = common([db.item, web.item], "labels")  # what Alertmanager sent for the whole group
    assert raw["commonLabels"] == {"alertname": "Down", "service": "checkout", "env": "prod"}
    sent = webhook_payload(raw, [db])
    assert sent["commonLabels"] == db.labels, "only db's alert went: its labels are all common now"
    assert sent["commonAnnotations"] == {"summary": "Down is up"}
    mixed = webhook_payload({**raw, "commonLabels": {"team": "stale"}}, [db, web])
    assert mixed["commonLabels"] == {"alertname": "Down", "service": "checkout", "env": "prod"}


def test_the_why_link_opens_the_occurrence_on_the_decisions_page() -> None:
    paged = page(alert("Disk"))
    url = why_url("https://alertsieve.example.com/", paged)
    parts = urlsplit(url)
    assert parts.path == "/ui/suppressed"
    assert parse_qs(parts.query) == {
        "fingerprint": [paged.fingerprint],
        "startsAt": ["2026-01-05T09:00:00+00:00"],
        "service": ["checkout"],
    }
    message = slack_message(notification("team", [paged]), [paged], False, 10, "https://alertsieve.example.com")
    assert f"<{url}|why>" in message["text"]
