"""What webhook, file and Slack receivers are sent, built from the alerts of one notification that are
forwarded (PagerDuty's events: ``serve_app/pagerduty_events.py``), and the alert's "why" link.

- webhook (and file): Alertmanager's payload with only the forwarded alerts, each alert's JSON as it came,
  plus, on an alert that has a decision, the annotations ``alertsieve_score``, ``alertsieve_threshold``,
  ``alertsieve_reason``, ``alertsieve_reason_code``, ``alertsieve_model`` and ``alertsieve_why_url``;
  ``commonLabels`` and ``commonAnnotations`` are recomputed for the alerts sent (what the whole group
  shared may not hold for the part forwarded).
- Slack: one message per forwarded group: status, count, alert names, then one line per alert, each with
  its "why" link.

The "why" link (``why_url``: on every alert that has a decision; an unscored one has none to show) opens
the alert's decision on the decisions page: ``/ui/suppressed`` with the
occurrence's ``fingerprint`` and ``startsAt``, under the configured ``external_url``.

Pure functions, no I/O: ``serve_app/delivery.py`` posts them.
"""

from __future__ import annotations

import hashlib
import json
from dataclasses import dataclass
from typing import Any
from urllib.parse import urlencode

from alertsieve.schema import Alert, Decision, fingerprint_of


@dataclass(frozen=True)
class Forwarded:
    """One alert a notification forwards: its JSON as it came, the validated alert and its decision when
    there are any, and why it is undecided when it is (``unscored``: e.g. "malformed")."""

    item: Any
    alert: Alert | None = None
    decision: Decision | None = None
    unscored: str | None = None

    @property
    def labels(self) -> dict[str, Any]:
        labels = self.item.get("labels") if isinstance(self.item, dict) else None
        return labels if isinstance(labels, dict) else {}

    @property
    def annotations(self) -> dict[str, Any]:
        annotations = self.item.get("annotations") if isinstance(self.item, dict) else None
        return annotations if isinstance(annotations, dict) else {}

    @property
    def status(self) -> str:
        status = self.item.get("status") if isinstance(self.item, dict) else None
        return "resolved" if status == "resolved" else "firing"

    @property
    def fingerprint(self) -> str:
        """Alertmanager's fingerprint; computed from string labels when absent; else a hash of the item."""
        if self.alert is not None and self.alert.fingerprint:
            return self.alert.fingerprint
        value = self.item.get("fingerprint") if isinstance(self.item, dict) else None
        if isinstance(value, str) and value:
            return value[:255]
        if self.labels and all(isinstance(k, str) and isinstance(v, str) for k, v in self.labels.items()):
            return fingerprint_of(self.labels)
        canonical = json.dumps(self.item, sort_keys=True, default=str, ensure_ascii=True)
        return "unscored-" + hashlib.sha256(canonical.encode()).hexdigest()[:32]

    @property
    def starts_at(self) -> str:
        if self.alert is not None:
            return self.alert.startsAt.isoformat()
        value = self.item.get("startsAt") if isinstance(self.item, dict) else None
        return value if isinstance(value, str) else ""

    @property
    def occurrence(self) -> tuple[str, str, str]:
        """What identifies this alert's delivery: fingerprint, startsAt and status (a resend of the same
        occurrence in the same state is the same delivery; its resolution is another)."""
        return self.fingerprint, self.starts_at, self.status

    @property
    def alertname(self) -> str:
        name = self.labels.get("alertname")
        return name if isinstance(name, str) and name else "(no alertname)"


def decision_annotations(decision: Decision) -> dict[str, str]:
    return {
        "alertsieve_score": f"{decision.score:.4f}",
        "alertsieve_threshold": f"{decision.threshold:.4f}",
        "alertsieve_decision": decision.decision,
        "alertsieve_reason": decision.reason,
        "alertsieve_reason_code": str(decision.reason_code),
        "alertsieve_model": decision.model_version,
    }


def why_url(base: str, alert: Forwarded) -> str:
    """The decisions page, opened at this alert's occurrence."""
    query = {"fingerprint": alert.fingerprint, "startsAt": alert.starts_at}
    if alert.decision is not None:
        query["service"] = alert.decision.service
    return f"{base.rstrip('/')}/ui/suppressed?{urlencode(query)}"


def common(items: list[Any], field: str) -> dict[str, Any]:
    """The ``field`` (labels or annotations) pairs every item shares: Alertmanager's commonLabels."""
    maps = [i.get(field) if isinstance(i, dict) else None for i in items]
    if not maps or not all(isinstance(m, dict) for m in maps):
        return {}
    first: dict[str, Any] = maps[0]  # type: ignore[assignment]
    return {k: v for k, v in first.items() if all(m.get(k) == v for m in maps[1:])}  # type: ignore[union-attr]


def webhook_payload(raw: dict[str, Any], alerts: list[Forwarded], base: str = "") -> dict[str, Any]:
    """The notification with only these alerts (JSON untouched but for the alertsieve annotations), its
    commonLabels and commonAnnotations recomputed for them."""
    items = []
    for a in alerts:
        if not isinstance(a.item, dict):
            items.append(a.item)
            continue
        extra = decision_annotations(a.decision) if a.decision is not None else {}
        if base and a.decision is not None:
            extra["alertsieve_why_url"] = why_url(base, a)
        items.append({**a.item, "annotations": {**a.annotations, **extra}} if extra else a.item)
    status = "firing" if any(a.status == "firing" for a in alerts) else "resolved"
    originals = [a.item for a in alerts]
    shared = {"commonLabels": common(originals, "labels"), "commonAnnotations": common(originals, "annotations")}
    return {**raw, "alerts": items, "status": status, **shared}


def _text(value: Any) -> str:
    return value if isinstance(value, str) else ""


def _slack_line(alert: Forwarded, base: str) -> str:
    where = alert.decision.service if alert.decision else _text(alert.labels.get("service"))
    head = f"{alert.alertname}{f' ({where})' if where else ''}"
    why = f" <{why_url(base, alert)}|why>" if base and alert.decision is not None else ""
    if alert.status == "resolved":
        return f"• {head}: resolved{why}"
    if alert.decision is not None:
        d = alert.decision
        return f"• {head}: score {d.score:.2f} (threshold {d.threshold:.2f}), {d.reason} [{d.model_version}]{why}"
    return f"• {head}: not scored ({alert.unscored or 'no decision'}){why}"


def slack_message(
    raw: dict[str, Any], alerts: list[Forwarded], blocks: bool, max_lines: int, base: str = ""
) -> dict[str, Any]:
    firing = sum(a.status == "firing" for a in alerts)
    status = f"FIRING:{firing}" if firing else f"RESOLVED:{len(alerts)}"
    names = sorted({a.alertname for a in alerts})
    receiver = _text(raw.get("receiver"))
    header = f"[{status}] {', '.join(names[:10])}{' …' if len(names) > 10 else ''}" + (
        f" ({receiver})" if receiver else ""
    )
    lines = [_slack_line(a, base) for a in alerts[:max_lines]]
    if len(alerts) > max_lines:
        lines.append(f"… and {len(alerts) - max_lines} more")
    message: dict[str, Any] = {"text": "\n".join([header, *lines])[:39_000]}
    if blocks:
        body = "\n".join(lines)[:2900]
        message["blocks"] = [
            {"type": "header", "text": {"type": "plain_text", "text": header[:150]}},
            {"type": "section", "text": {"type": "mrkdwn", "text": body or "(none)"}},
        ]
    return message


def truncated_text(raw: dict[str, Any], count: int) -> str:
    """The notice that Alertmanager left ``count`` alerts of a group out (its ``max_alerts``)."""
    group = _text(raw.get("groupKey")) or "(no groupKey)"
    return (
        f"Alertmanager left {count} alert(s) of group {group} out of its notification (truncatedAlerts): "
        "alertsieve could not score them and pages this group for them; see them in Alertmanager"
    )


def slack_notice(reason: str, size: str) -> dict[str, Any]:
    return {
        "text": f"alertsieve could not read an Alertmanager notification ({reason}, {size} bytes): "
        "its alerts are not listed here; check Alertmanager"
    }
