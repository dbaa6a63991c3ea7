"""The webhook relay's split of a notification's alerts: what validates is scored, the rest is forwarded as
it came (``serve_app/relay.py``); an alert is never refused, whatever one of its fields holds."""

from __future__ import annotations

from serve_app.relay import split_alerts

GOOD = {"labels": {"alertname": "A"}, "startsAt": "2026-01-05T09:00:00Z", "endsAt": "0001-01-01T00:00:00Z"}


def test_an_alert_with_a_numeric_time_is_malformed_not_dropped() -> None:
    items = [GOOD, {**GOOD, "endsAt": 0}, {**GOOD, "startsAt": 1767603600}, {**GOOD, "startsAt": "0.5"}, GOOD]
    valid, malformed = split_alerts(items)
    assert [i for i, _ in valid] == [0, 4] and malformed == [1, 2, 3]
    assert all(a.endsAt is None for _, a in valid), 'Alertmanager\'s "0001-01-01T00:00:00Z" is not ended'
