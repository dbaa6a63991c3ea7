"""What PagerDuty (Events API v2) is sent, built from the alerts of one notification that are forwarded.

- group mode (the receiver's default, ``PagerDutyReceiver.mode``): one event per Alertmanager group, as
  Alertmanager's own integration sends: ``dedup_key`` = the ``groupKey`` (its SHA-256 when over PagerDuty's
  255 characters), ``trigger`` while any forwarded alert fires, ``resolve`` when all forwarded are resolved;
  ``custom_details.alerts`` lists the forwarded alerts with their decisions. A group of more than
  ``GROUP_MAX_ALERTS`` alerts goes as several events with the same ``dedup_key`` (one incident), so each
  stays well under PagerDuty's 512 KB.
- alert mode: one event per alert: ``trigger`` for firing, ``resolve`` for resolved, ``dedup_key`` = the
  fingerprint (so a resend or a retry updates the same incident), a summary, source and severity
  (critical|error|warning|info) from the labels and annotations, and ``custom_details`` with the decision
  (score, threshold, decision, reason, reason_code, neighbours, model_version) or, for an alert without one
  (a resolution, a malformed or unscored alert), what is known: labels, annotations, why.

Every trigger carries ``links``: the alert's "why" link (``why_url``) to its decision in alertsieve, and its
source (``generatorURL``). Events are built without ``routing_key``: ``serve_app/delivery.py`` adds it when
it posts, so that an event kept in the retry outbox holds no secret. Pure functions, no I/O.
"""

from __future__ import annotations

import hashlib
from typing import Any

from serve_app.notifications import Forwarded, truncated_text, why_url

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


GROUP_MAX_ALERTS = 100  # alerts per group event: a bigger group is several events, one incident
MAX_LINKS = 10  # "why" links per group event (the rest are in custom_details.alerts)
WHY_TEXT = "why alertsieve paged this"


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


def pagerduty_event(alert: Forwarded, source_labels: list[str], base: str = "") -> dict[str, Any]:
    """A trigger event for a firing alert, a resolve event for a resolved one."""
    if alert.status == "resolved":
        return {"event_action": "resolve", "dedup_key": alert.fingerprint}
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
    event: dict[str, Any] = {"event_action": "trigger", "dedup_key": alert.fingerprint, "payload": payload}
    event["client"] = "alertsieve"
    url = _text(alert.item.get("generatorURL")) if isinstance(alert.item, dict) else ""
    if url:
        event["client_url"] = url
    links = [{"href": why_url(base, alert), "text": WHY_TEXT}] if base and alert.decision is not None else []
    event["links"] = links + ([{"href": url, "text": "source"}] if url else [])
    return event


def pagerduty_notice(reason: str, size: str, digest: str) -> dict[str, Any]:
    """A page saying a notification could not be read (it went as it came to no webhook receiver)."""
    summary = (
        f"alertsieve could not read an Alertmanager notification ({reason}, {size} bytes): "
        "its alerts are not listed here; check Alertmanager"
    )
    return {
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


def group_key(raw: dict[str, Any]) -> str:
    """The group's dedup_key: Alertmanager's groupKey, hashed when over PagerDuty's 255 characters."""
    key = _text(raw.get("groupKey")) or "alertsieve-no-group-key"
    return key if len(key) <= 255 else hashlib.sha256(key.encode()).hexdigest()


def _group_summary(raw: dict[str, Any], alerts: list[Forwarded], truncated: int) -> str:
    firing = [a for a in alerts if a.status == "firing"]
    names = sorted({a.alertname for a in firing})
    receiver = _text(raw.get("receiver"))
    more = f" (+{truncated} truncated by Alertmanager)" if truncated else ""
    text = f"[FIRING:{len(firing)}{more}] {', '.join(names[:10])}{' …' if len(names) > 10 else ''}"
    return (text + (f" ({receiver})" if receiver else ""))[:SUMMARY_CHARS]


def _rank(level: str) -> int:
    return ["info", "warning", "error", "critical"].index(level)


def group_events(
    raw: dict[str, Any],
    alerts: list[Forwarded],
    source_labels: list[str],
    base: str,
    truncated: int = 0,
    still_firing: bool = False,
) -> list[tuple[dict[str, Any], list[Forwarded]]]:
    """The events for one group's forwarded alerts, each with the alerts it carries: a resolve when none
    fires (nor, ``still_firing``, any the incident took before): the group's incident resolves; else
    trigger events of at most ``GROUP_MAX_ALERTS`` alerts each (resolved ones listed as such)."""
    key = group_key(raw)
    firing = [a for a in alerts if a.status == "firing"]
    if not firing and not truncated and not still_firing:
        return [({"event_action": "resolve", "dedup_key": key}, alerts)]
    labels = raw.get("commonLabels")
    shared: dict[str, Any] = labels if isinstance(labels, dict) else {}
    source = next((_text(shared.get(k)) for k in source_labels if _text(shared.get(k))), "alertsieve")
    chunks = [alerts[i : i + GROUP_MAX_ALERTS] for i in range(0, len(alerts), GROUP_MAX_ALERTS)] or [[]]
    events = []
    for n, chunk in enumerate(chunks):
        levels = [severity(a.labels) for a in chunk if a.status == "firing"] or ["critical" if truncated else "info"]
        details: dict[str, Any] = {
            "groupKey": _text(raw.get("groupKey")),
            "receiver": _text(raw.get("receiver")),
            "groupLabels": raw.get("groupLabels") if isinstance(raw.get("groupLabels"), dict) else {},
            "firing": sum(a.status == "firing" for a in chunk),
            "resolved": sum(a.status == "resolved" for a in chunk),
            "part": f"{n + 1} of {len(chunks)}",
            "alerts": [{"fingerprint": a.fingerprint, "startsAt": a.starts_at, **pagerduty_details(a)} for a in chunk],
        }
        for entry, a in zip(details["alerts"], chunk, strict=True):
            if base and a.decision is not None:
                entry["why_url"] = why_url(base, a)
        if truncated:
            details["truncatedAlerts"] = truncated
            details["truncated_notice"] = truncated_text(raw, truncated)
        payload = {
            "summary": _group_summary(raw, alerts, truncated),
            "source": source[:255],
            "severity": max(levels, key=_rank),
            "custom_details": details,
        }
        event: dict[str, Any] = {"event_action": "trigger", "dedup_key": key, "payload": payload}
        event["client"] = "alertsieve"
        decided = [a for a in chunk if a.decision is not None][:MAX_LINKS] if base else []
        event["links"] = [{"href": why_url(base, a), "text": f"{WHY_TEXT}: {a.alertname}"} for a in decided]
        events.append((event, chunk))
    return events


def truncated_notice(raw: dict[str, Any], truncated: int) -> dict[str, Any]:
    """Per-alert mode's page for the alerts Alertmanager left out of a notification (``truncatedAlerts``)."""
    return {
        "event_action": "trigger",
        "dedup_key": f"alertsieve-truncated-{group_key(raw)}"[:255],
        "client": "alertsieve",
        "payload": {
            "summary": truncated_text(raw, truncated)[:SUMMARY_CHARS],
            "source": "alertsieve",
            "severity": "critical",
            "custom_details": {"groupKey": _text(raw.get("groupKey")), "truncatedAlerts": truncated},
        },
    }
