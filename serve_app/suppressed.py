"""The decision log, read for people: GET /v1/decisions, and the Suppressed page at /ui/suppressed.

GET /v1/decisions (served by the Ingress, which holds the record store; ``read_decisions`` here) lists
the alert occurrences decided since a time (default: the last 24 hours), newest first: each once, with its
latest applied decision (shadow decisions were never acted on, and a late page supersedes the suppression
it undid), the alert's name, summary and labels, and the latest feedback on it. It reads only the days of
the decision log since then (the store files records by day), in a thread, never the whole history.

The page lists the suppressions, filterable by service and time window, each with "should have paged"
(POST /v1/feedback with actionable: true, which pages the alert at once: ``serve_app/late_paging.py``) and
"correct" (actionable: false); the write token is typed into the page, as on the threshold page.
``logged_occurrence`` finds an occurrence's latest logged decision, with its alert, when the router no
longer remembers it (after a restart, or decided long ago).
"""

from __future__ import annotations

import json
import re
from collections.abc import Iterable
from datetime import UTC, datetime, timedelta

from fastapi import APIRouter
from pydantic import BaseModel, Field, ValidationError

from alertsieve.contracts import Occurrence
from alertsieve.schema import Feedback, LoggedDecision, Neighbour, Reason, Verdict, latest_feedback
from alertsieve.store import RecordStore
from serve_app.static_files import add_page

router = APIRouter()
STATIC_TYPES = {"suppressed.js": "text/javascript; charset=utf-8"}
DEFAULT_WINDOW = timedelta(hours=24)
MAX_LIMIT = 1000
_PLAIN = re.compile(r"[A-Za-z0-9_.:/@+-]*")  # text that the log's JSON holds exactly as json.dumps writes it


class FeedbackView(BaseModel):
    actionable: bool
    by: str
    comment: str
    received_at: datetime


class DecisionEntry(BaseModel):
    """One alert occurrence and its latest applied decision."""

    fingerprint: str
    startsAt: datetime
    decided_at: datetime = Field(description="when its latest decision was logged")
    service: str
    alertname: str
    summary: str = Field(description="the alert's summary (or description) annotation")
    labels: dict[str, str]
    decision: Verdict
    score: float
    threshold: float
    reason: str
    reason_code: Reason
    model_version: str
    arm: str
    neighbours: list[Neighbour]
    decided: int = Field(description="times it was decided in the window (Alertmanager resends firing alerts)")
    feedback: FeedbackView | None = Field(description="the latest feedback on it, if any")


class DecisionsView(BaseModel):
    since: datetime
    decisions: list[DecisionEntry] = Field(description="newest first")


def _needle(field: str, value: str) -> str | None:
    """``"field":value`` as the log's JSON holds it, to skip lines before parsing; None when unsure."""
    return f'"{field}":{json.dumps(value)}' if _PLAIN.fullmatch(value) else None


def _records(lines: Iterable[str], needles: Iterable[str | None]) -> Iterable[LoggedDecision]:
    """Applied decisions of the log's lines that hold every needle (a line cut short by a crash is skipped)."""
    wanted = ['"applied":true', *(n for n in needles if n)]
    for line in lines:
        if all(n in line for n in wanted):
            try:
                yield LoggedDecision.model_validate_json(line)
            except ValidationError:
                continue


def _entry(logged: LoggedDecision, decided: int, feedback: Feedback | None) -> DecisionEntry:
    a, d = logged.alert, logged.decision
    view = FeedbackView.model_validate(feedback.model_dump()) if feedback else None
    return DecisionEntry(
        fingerprint=a.fingerprint,
        startsAt=a.startsAt,
        decided_at=logged.logged_at,
        service=d.service,
        alertname=a.alertname,
        summary=a.annotations.get("summary") or a.annotations.get("description", ""),
        labels=a.labels,
        decision=d.decision,
        score=d.score,
        threshold=d.threshold,
        reason=d.reason,
        reason_code=d.reason_code,
        model_version=d.model_version,
        arm=d.arm,
        neighbours=d.neighbours,
        decided=decided,
        feedback=view,
    )


def read_decisions(
    store: RecordStore,
    decision: Verdict | None = None,
    service: str | None = None,
    since: datetime | None = None,
    limit: int = 100,
    now: datetime | None = None,
    fingerprint: str | None = None,
) -> DecisionsView:
    """The occurrences decided since ``since`` (default: a day before ``now``), newest first; with
    ``fingerprint``, that alert's only (a page's "why" link opens its decision so)."""
    start = since if since is not None else (now or datetime.now(UTC)) - DEFAULT_WINDOW
    start = start if start.tzinfo else start.replace(tzinfo=UTC)
    latest: dict[Occurrence, tuple[LoggedDecision, int]] = {}
    service_needle = _needle("service", service) if service is not None else None
    print_needle = _needle("fingerprint", fingerprint) if fingerprint is not None else None
    for logged in _records(store.lines("decisions", since=start), [service_needle, print_needle]):
        if logged.logged_at < start or (service is not None and logged.decision.service != service):
            continue
        if fingerprint is not None and logged.alert.fingerprint != fingerprint:
            continue
        key = logged.alert.occurrence
        latest[key] = (logged, latest[key][1] + 1 if key in latest else 1)
    chosen = [(k, v) for k, v in latest.items() if decision is None or v[0].decision.decision == decision]
    chosen.sort(key=lambda kv: kv[1][0].logged_at, reverse=True)
    chosen = chosen[: min(limit, MAX_LIMIT)]
    feedback: dict[Occurrence, Feedback] = {}
    if chosen:  # feedback on an occurrence comes after it started: read from the earliest start on
        first = min(start, *(logged.alert.startsAt for _, (logged, _) in chosen))
        feedback = latest_feedback(_feedback(store.lines("feedback", since=first)))
    return DecisionsView(since=start, decisions=[_entry(v[0], v[1], feedback.get(k)) for k, v in chosen])


def _feedback(lines: Iterable[str]) -> Iterable[Feedback]:
    for line in lines:
        try:
            yield Feedback.model_validate_json(line)
        except ValidationError:
            continue


def logged_occurrence(store: RecordStore, fingerprint: str, starts_at: datetime, now: float) -> LoggedDecision | None:
    """The latest applied decision logged for an occurrence, with its alert; None if none is logged. Reads
    the log from the day before the alert started (or before now, for one dated ahead) on."""
    earliest = min(starts_at, datetime.fromtimestamp(now, UTC))
    since = earliest - timedelta(days=1) if earliest > datetime.min.replace(tzinfo=UTC) + timedelta(days=1) else None
    found = None
    for logged in _records(store.lines("decisions", since=since), [_needle("fingerprint", fingerprint)]):
        if logged.alert.occurrence.key == (fingerprint, starts_at.timestamp()):
            found = logged
    return found


add_page(router, ["/ui/suppressed"], "suppressed.html", "/ui/suppressed/static", STATIC_TYPES)
