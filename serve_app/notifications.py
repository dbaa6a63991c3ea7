"""What each kind of receiver is sent, built from the alerts of one notification that are forwarded.

- webhook: Alertmanager's payload with only the forwarded alerts, each alert's JSON as it came, plus, on an
  alert that has a decision, the annotations ``alertsieve_score``, ``alertsieve_threshold``,
  ``alertsieve_reason``, ``alertsieve_reason_code`` and ``alertsieve_model``.
- PagerDuty Events API v2: one event per alert: ``trigger`` for firing, ``resolve`` for resolved,
  ``dedup_key`` = the fingerprint (so a resend or a retry updates the same incident), a summary, source and
  severity (critical|error|warning|info) from the labels and annotations, and ``custom_details`` with the
  decision (score, threshold, decision, reason, reason_code, neighbours, model_version) or, for an alert
  without one (a resolution, a malformed or unscored alert), what is known: labels, annotations, why.
- Slack: one message per forwarded group: status, count, alert names, then one line per alert.

Pure functions, no I/O: ``serve_app/delivery.py`` posts them.
"""

from __future__ import annotations

import hashlib
import json
from dataclasses import dataclass
from typing import Any

from alertsieve.schema import Alert, Decision, fingerprint_of

SEVERITIES = {
    "critical": "critical",
    "crit": "critical",
    "page": "critical",
    "fatal": "critical",
    "emergency": "critical",
    "alert": "critical",
    "p1": "critical",
    "sev1": "critical",
    "error": "error",
    "err": "error",
    "high": "error",
    "major": "error",
    "p2": "error",
    "sev2": "error",
    "warning": "warning",
    "warn": "warning",
    "medium": "warning",
    "minor": "warning",
    "p3": "warning",
    "sev3": "warning",
    "info": "info",
    "informational": "info",
    "notice": "info",
    "low": "info",
    "none": "info",
    "debug": "info",
    "p4": "info",
    "p5": "info",
    "sev4": "info",
}
DEFAULT_SEVERITY = "error"  # Alertmanager's own default for PagerDuty
SUMMARY_CHARS = 1024  # PagerDuty's limit on payload.summary


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


def webhook_payload(raw: dict[str, Any], alerts: list[Forwarded]) -> dict[str, Any]:
    """The notification with only these alerts (JSON untouched but for the decision annotations)."""
    items = []
    for a in alerts:
        if a.decision is not None and isinstance(a.item, dict):
            items.append({**a.item, "annotations": {**a.annotations, **decision_annotations(a.decision)}})
        else:
            items.append(a.item)
    status = "firing" if any(a.status == "firing" for a in alerts) else "resolved"
    return {**raw, "alerts": items, "status": status}


def _text(value: Any) -> str:
    return value if isinstance(value, str) else ""


def severity(labels: dict[str, Any]) -> str:
    return SEVERITIES.get(_text(labels.get("severity")).strip().lower(), DEFAULT_SEVERITY)


def pagerduty_details(alert: Forwarded) -> dict[str, Any]:
    details: dict[str, Any] = {"labels": alert.labels, "annotations": alert.annotations, "status": alert.status}
    decision = alert.decision
    if decision is not None:
        details |= {
            "score": decision.score,
            "threshold": decision.threshold,
            "decision": decision.decision,
            "reason": decision.reason,
            "reason_code": str(decision.reason_code),
            "model_version": decision.model_version,
            "arm": decision.arm,
            "service": decision.service,
            "neighbours": [n.model_dump(mode="json") for n in decision.neighbours],
        }
    elif alert.unscored:
        details |= {"decision": "page", "reason": f"not scored: {alert.unscored}, forwarded as it came"}
    else:
        details |= {"reason": "not scored" if alert.status == "firing" else "resolved"}
    return details


def pagerduty_event(routing_key: str, alert: Forwarded, source_labels: list[str]) -> dict[str, Any]:
    """A trigger event for a firing alert, a resolve event for a resolved one."""
    if alert.status == "resolved":
        return {"routing_key": routing_key, "event_action": "resolve", "dedup_key": alert.fingerprint}
    labels, annotations = alert.labels, alert.annotations
    summary = _text(annotations.get("summary")) or _text(annotations.get("description"))
    named = ", ".join(f"{k}={v}" for k, v in sorted(labels.items()) if k != "alertname" and isinstance(v, str))
    summary = f"{alert.alertname}: {summary}" if summary else f"{alert.alertname} {named}".strip()
    source = next((_text(labels.get(k)) for k in source_labels if _text(labels.get(k))), "alertsieve")
    payload: dict[str, Any] = {
        "summary": summary[:SUMMARY_CHARS],
        "source": source[:255],
        "severity": severity(labels),
        "custom_details": pagerduty_details(alert),
    }
    if alert.alert is not None:
        payload["timestamp"] = alert.alert.startsAt.isoformat()
    if alert.decision is not None:
        payload["component"] = alert.decision.service
    if _text(labels.get("alertname")):
        payload["class"] = labels["alertname"]
    event: dict[str, Any] = {
        "routing_key": routing_key,
        "event_action": "trigger",
        "dedup_key": alert.fingerprint,
        "payload": payload,
        "client": "alertsieve",
    }
    url = _text(alert.item.get("generatorURL")) if isinstance(alert.item, dict) else ""
    if url:
        event["client_url"] = url
        event["links"] = [{"href": url, "text": "source"}]
    return event


def pagerduty_notice(routing_key: str, reason: str, size: str, digest: str) -> dict[str, Any]:
    """A page saying a notification could not be read (it went as it came to no webhook receiver)."""
    summary = (
        f"alertsieve could not read an Alertmanager notification ({reason}, {size} bytes): "
        "its alerts are not listed here; check Alertmanager"
    )
    return {
        "routing_key": routing_key,
        "event_action": "trigger",
        "dedup_key": f"alertsieve-unreadable-{digest}",
        "client": "alertsieve",
        "payload": {
            "summary": summary,
            "source": "alertsieve",
            "severity": "critical",
            "custom_details": {"reason": reason, "bytes": size},
        },
    }


def _slack_line(alert: Forwarded) -> str:
    where = alert.decision.service if alert.decision else _text(alert.labels.get("service"))
    head = f"{alert.alertname}{f' ({where})' if where else ''}"
    if alert.status == "resolved":
        return f"• {head}: resolved"
    if alert.decision is not None:
        d = alert.decision
        return f"• {head}: score {d.score:.2f} (threshold {d.threshold:.2f}), {d.reason} [{d.model_version}]"
    return f"• {head}: not scored ({alert.unscored or 'no decision'})"


def slack_message(raw: dict[str, Any], alerts: list[Forwarded], blocks: bool, max_lines: int) -> dict[str, Any]:
    firing = sum(a.status == "firing" for a in alerts)
    status = f"FIRING:{firing}" if firing else f"RESOLVED:{len(alerts)}"
    names = sorted({a.alertname for a in alerts})
    receiver = _text(raw.get("receiver"))
    header = f"[{status}] {', '.join(names[:10])}{' …' if len(names) > 10 else ''}" + (
        f" ({receiver})" if receiver else ""
    )
    lines = [_slack_line(a) for a in alerts[:max_lines]]
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


def slack_notice(reason: str, size: str) -> dict[str, Any]:
    return {
        "text": f"alertsieve could not read an Alertmanager notification ({reason}, {size} bytes): "
        "its alerts are not listed here; check Alertmanager"
    }
