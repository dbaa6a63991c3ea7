"""Threshold trends per service and ISO week: volume, actionable share, noise reduction, FNR, threshold.

Two sources give the same rows. Offline: labelled alerts and the decisions made for them, line by line
(``offline_trends``). Production: the decision log joined with feedback on (fingerprint, startsAt)
(``production_trends``): only applied decisions count (shadow ones were never acted on), a re-sent
alert counts once, the latest feedback on an alert wins, and alerts nobody labelled count in the volume
but not in the rates, which are computed over the labelled ones. The threshold in force of a week is
the one of its latest decision.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from datetime import datetime

from pydantic import BaseModel, Field, computed_field

from alertsieve.contracts import Occurrence
from alertsieve.evaluation import rate
from alertsieve.records import paired
from alertsieve.schema import Decision, Feedback, LabelledAlert, LoggedDecision, latest_feedback
from alertsieve.store import RecordStore

ALL = "ALL"


class Observation(BaseModel):
    """One decided alert and, where known, whether it was actionable."""

    service: str
    at: datetime
    suppressed: bool
    threshold: float
    actionable: bool | None = None


class TrendRow(BaseModel):
    service: str
    week: str = Field(description="ISO week, e.g. 2026-W02")
    alerts: int = 0
    suppressed: int = 0
    labelled: int = 0
    actionable: int = 0
    suppressed_actionable: int = 0
    suppressed_noise: int = 0
    threshold: float | None = Field(default=None, description="in force at the week's latest decision")

    @computed_field  # type: ignore[prop-decorator]
    @property
    def noise(self) -> int:
        return self.labelled - self.actionable

    # the rates are over the labelled alerts, None where the week has none to measure them on
    @computed_field  # type: ignore[prop-decorator]
    @property
    def actionable_share(self) -> float | None:
        return rate(self.actionable, self.labelled)

    @computed_field  # type: ignore[prop-decorator]
    @property
    def noise_reduction(self) -> float | None:
        return rate(self.suppressed_noise, self.noise)

    @computed_field  # type: ignore[prop-decorator]
    @property
    def fnr(self) -> float | None:
        return rate(self.suppressed_actionable, self.actionable)


def iso_week(at: datetime) -> str:
    year, week, _ = at.isocalendar()
    return f"{year}-W{week:02d}"


def weekly(observations: Iterable[Observation], fleet: bool = False) -> list[TrendRow]:
    """Rows per (service, week), sorted; ``fleet`` adds one row per week over all services (service ALL)."""
    rows: dict[tuple[str, str], TrendRow] = {}
    latest: dict[tuple[str, str], datetime] = {}
    for obs in observations:
        keys = [(obs.service, iso_week(obs.at))] + ([(ALL, iso_week(obs.at))] if fleet else [])
        for key in keys:
            row = rows.setdefault(key, TrendRow(service=key[0], week=key[1]))
            row.alerts += 1
            row.suppressed += int(obs.suppressed)
            if obs.actionable is not None:
                row.labelled += 1
                row.actionable += int(obs.actionable)
                row.suppressed_actionable += int(obs.suppressed and obs.actionable)
                row.suppressed_noise += int(obs.suppressed and not obs.actionable)
            if key[0] != ALL and (key not in latest or obs.at >= latest[key]):
                latest[key] = obs.at
                row.threshold = obs.threshold
    return [rows[k] for k in sorted(rows, key=lambda k: (k[0] == ALL, k[0], k[1]))]


def _observation(decision: Decision, at: datetime, actionable: bool | None) -> Observation:
    return Observation(
        service=decision.service,
        at=decision.startsAt or at,
        suppressed=decision.decision == "suppress",
        threshold=decision.threshold,
        actionable=actionable,
    )


def offline_trends(
    alerts: Sequence[LabelledAlert], decisions: Sequence[Decision], fleet: bool = False
) -> list[TrendRow]:
    """Trends of labelled alerts and their decisions, matched line by line (``alertsieve.records.paired``)."""
    return weekly((_observation(d, a.startsAt, a.actionable) for a, d in paired(alerts, decisions)), fleet)


def join_feedback(decisions: Iterable[LoggedDecision], feedback: Iterable[Feedback]) -> list[Observation]:
    """Applied decisions, once per alert occurrence, with the latest feedback on each."""
    verdicts = latest_feedback(feedback)
    seen: set[Occurrence] = set()
    out = []
    for logged in decisions:
        key = logged.alert.occurrence
        if not logged.applied or key in seen:
            continue
        seen.add(key)
        label = verdicts.get(key)
        out.append(_observation(logged.decision, logged.alert.startsAt, label.actionable if label else None))
    return out


def production_trends(store: RecordStore, fleet: bool = False) -> list[TrendRow]:
    """Trends from the decision log joined with feedback in a record store (local directory or S3)."""
    decisions = (LoggedDecision.model_validate_json(line) for line in store.lines("decisions"))
    feedback = (Feedback.model_validate_json(line) for line in store.lines("feedback"))
    return weekly(join_feedback(decisions, feedback), fleet)
