"""The evidence promotion looks at: offline, what retraining recorded; online, served decisions joined
with feedback.

Offline evidence is the counts retraining logged with the challenger's MLflow run (``train_app.holdout``:
the new model and the champion scored on the same held-out days). Online evidence is the decision log joined with
feedback on (fingerprint, startsAt): the champion's decisions and the challenger's (its shadow decisions,
or its A/B arm), counted once per occurrence, logged since the rollout started; the decisions logged
since the current stage started measure the stage's exposure.
"""

from __future__ import annotations

from collections.abc import Iterable
from datetime import datetime

from pydantic import BaseModel

from alertsieve import registry
from alertsieve.contracts import Arm
from alertsieve.evaluation import Counts
from alertsieve.schema import Feedback, LoggedDecision, latest_feedback
from alertsieve.settings import Settings
from train_app.data import feedback_keys, read_decisions, read_feedback
from train_app.holdout import CHALLENGER_PREFIX, CHAMPION_PREFIX
from train_app.offline import counts_from_metrics
from train_app.window import Key

CHALLENGER_ARMS = (Arm.CHALLENGER, Arm.SHADOW)


class ArmEvidence(BaseModel):
    version: str
    counts: Counts
    exposure: int = 0


class OnlineEvidence(BaseModel):
    champion: ArmEvidence
    challenger: ArmEvidence


class OfflineEvidence(BaseModel):
    challenger: Counts | None
    champion: Counts | None
    compared_with: str | None


def arm_evidence(
    decisions: Iterable[LoggedDecision],
    feedback: dict[Key, Feedback],
    version: str,
    arms: tuple[Arm, ...],
    since: datetime,
    stage_since: datetime,
) -> ArmEvidence:
    """Counts of one version's decisions (on ``arms``) logged since ``since`` that have feedback."""
    counts, exposure = Counts(), 0
    seen: set[Key] = set()
    for record in sorted(decisions, key=lambda r: r.logged_at):
        d = record.decision
        if d.model_version != version or d.arm not in arms or record.logged_at < since:
            continue
        key = record.alert.occurrence
        word = feedback.get(key)
        if word is None or key in seen:
            continue
        seen.add(key)
        counts.add(word.actionable, d.decision == "suppress")
        exposure += record.logged_at >= stage_since
    return ArmEvidence(version=version, counts=counts, exposure=exposure)


def online_evidence(
    state_location: str, champion: str, challenger: str, since: datetime, stage_since: datetime
) -> OnlineEvidence:
    feedback, _ = read_feedback(state_location)
    words = latest_feedback(feedback)
    decisions, _ = read_decisions(state_location, keys=feedback_keys(feedback)) if feedback else ([], 0)
    return OnlineEvidence(
        champion=arm_evidence(decisions, words, champion, (Arm.CHAMPION,), since, stage_since),
        challenger=arm_evidence(decisions, words, challenger, CHALLENGER_ARMS, since, stage_since),
    )


def offline_evidence(settings: Settings, version: str) -> OfflineEvidence:
    """The held-out comparison recorded with a registered version's run (empty if it has none)."""
    client = registry.configure(settings)
    run_id = client.get_model_version(settings.model_name, version).run_id
    if not run_id:
        return OfflineEvidence(challenger=None, champion=None, compared_with=None)
    run = client.get_run(run_id)
    metrics = dict(run.data.metrics)
    return OfflineEvidence(
        challenger=counts_from_metrics(CHALLENGER_PREFIX, metrics),
        champion=counts_from_metrics(CHAMPION_PREFIX, metrics),
        compared_with=run.data.params.get("champion_version") or None,
    )
