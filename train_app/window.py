"""The training window, built from plain records: labelled history, the decision log and feedback.

Feedback is someone's word on one occurrence of an alert, keyed like the occurrence itself by
(fingerprint, startsAt). It overrides the label of a history alert with the same key, and it extends
the history with alerts known only from the decision log (what Serve scored and logged): those become
labelled alerts with the feedback's label. The latest feedback (by ``received_at``) on an occurrence
wins; feedback that matches no known alert is counted and dropped, and so are decision-log alerts
nobody labelled. The window is the last ``weeks`` of the merged history up to ``until`` (by default
its newest alert), and its last ``holdout_days`` are held out: the new model never sees them, so both
the new model and the champion are compared on them. No Ray here; ``train_app.data`` does the reading.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass, field
from datetime import datetime, timedelta

from pydantic import BaseModel, Field

from alertsieve.contracts import Occurrence
from alertsieve.schema import Alert, Feedback, LabelledAlert, LoggedDecision, latest_feedback

Key = Occurrence


class WindowSpec(BaseModel):
    """Which part of the history trains the next model."""

    weeks: float = Field(default=6.0, gt=0, description="the window: the last N weeks of history")
    holdout_days: float = Field(default=7.0, ge=0, description="the window's last days, held out for comparison")
    until: datetime | None = Field(default=None, description="the window's end; the newest alert by default")


class MergeStats(BaseModel):
    history: int = 0
    decision_log_alerts: int = 0
    feedback: int = 0
    feedback_overrides: int = Field(default=0, description="history labels changed by feedback")
    feedback_confirms: int = Field(default=0, description="feedback that agreed with the history label")
    feedback_added: int = Field(default=0, description="decision-log alerts labelled by feedback")
    feedback_unmatched: int = Field(default=0, description="feedback on an occurrence nobody logged")
    unlabelled: int = Field(default=0, description="decision-log alerts without feedback (not used)")


@dataclass
class TrainingWindow:
    train: list[LabelledAlert]
    holdout: list[LabelledAlert]
    start: datetime
    split: datetime
    end: datetime
    stats: MergeStats = field(default_factory=MergeStats)

    @property
    def rows(self) -> int:
        return len(self.train) + len(self.holdout)


def key_of(alert: Alert) -> Key:
    return alert.occurrence


def merge_labels(
    history: Iterable[LabelledAlert],
    decisions: Iterable[LoggedDecision],
    feedback: Iterable[Feedback],
) -> tuple[list[LabelledAlert], MergeStats]:
    """History with feedback applied, plus the logged alerts that feedback labels; in startsAt order."""
    stats = MergeStats()
    merged: dict[Key, LabelledAlert] = {}
    for alert in history:
        merged.setdefault(key_of(alert), alert)
    stats.history = len(merged)
    logged: dict[Key, Alert] = {}
    for record in decisions:
        logged.setdefault(key_of(record.alert), record.alert)
    stats.decision_log_alerts = len(logged)
    words = latest_feedback(feedback)
    stats.feedback = len(words)
    for key, word in words.items():
        known = merged.get(key)
        if known is not None:
            if known.actionable == word.actionable:
                stats.feedback_confirms += 1
            else:
                merged[key] = known.model_copy(update={"actionable": word.actionable})
                stats.feedback_overrides += 1
        elif key in logged:
            merged[key] = LabelledAlert.model_validate({**logged[key].model_dump(), "actionable": word.actionable})
            stats.feedback_added += 1
        else:
            stats.feedback_unmatched += 1
    stats.unlabelled = sum(1 for key in logged if key not in words and key not in merged)
    alerts = sorted(merged.values(), key=lambda a: (a.startsAt, a.fingerprint))
    return alerts, stats


def cut_window(alerts: list[LabelledAlert], spec: WindowSpec, stats: MergeStats | None = None) -> TrainingWindow:
    """The last ``spec.weeks`` up to ``spec.until`` (inclusive), split before the last ``holdout_days``."""
    if not alerts:
        raise ValueError("no labelled alerts to train on")
    end = spec.until or max(a.startsAt for a in alerts)
    start = end - timedelta(weeks=spec.weeks)
    split = end - timedelta(days=spec.holdout_days)
    if split <= start:
        raise ValueError(f"the holdout ({spec.holdout_days} days) must be shorter than the window ({spec.weeks} weeks)")
    inside = sorted((a for a in alerts if start < a.startsAt <= end), key=lambda a: (a.startsAt, a.fingerprint))
    train = [a for a in inside if a.startsAt <= split]
    holdout = [a for a in inside if a.startsAt > split] if spec.holdout_days else []
    return TrainingWindow(
        train=train, holdout=holdout, start=start, split=split, end=end, stats=stats or MergeStats(history=len(alerts))
    )


def build_window(
    history: Iterable[LabelledAlert],
    decisions: Iterable[LoggedDecision],
    feedback: Iterable[Feedback],
    spec: WindowSpec,
) -> TrainingWindow:
    alerts, stats = merge_labels(history, decisions, feedback)
    return cut_window(alerts, spec, stats)
