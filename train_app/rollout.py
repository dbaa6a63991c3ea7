"""Running a rollout: the thin layer between the pure state machine, the registry, the store and Serve.

``promote_step`` is one look at the evidence: without an active rollout it starts one for the
``challenger`` alias (if the offline comparison passes the gates) and deploys the shadow stage; with one,
it gathers the online evidence, moves the state machine, deploys the new stage when the stage changed,
and at 100% moves the ``champion`` alias (the registry keeps ``previous-champion``). A rollback, automatic
or by ``rollback``, serves the champion alone again and drops the ``challenger`` alias, so the same
model is not promoted again by accident. Every state is appended to the store (kind ``rollout``).
"""

from __future__ import annotations

from datetime import datetime

from mlflow.exceptions import MlflowException
from pydantic import BaseModel, Field

from alertsieve import registry
from alertsieve.pipeline import now as utc_now
from alertsieve.settings import Settings
from alertsieve.store import RecordStore, latest, open_store
from train_app.deploy import Deployer
from train_app.evidence import OfflineEvidence, OnlineEvidence, offline_evidence, online_evidence
from train_app.promotion import Assessment, GateConfig, RolloutState, ServeTarget, Stage, abort, assess, start, step


class RolloutError(RuntimeError):
    """Nothing to promote or roll back, or the registry does not have what the rollout needs."""


class StepOutcome(BaseModel):
    state: RolloutState | None
    assessment: Assessment | None = None
    offline: OfflineEvidence | None = None
    online: OnlineEvidence | None = None
    deployed: ServeTarget | None = None
    message: str
    notes: list[str] = Field(default_factory=list)


def _updated_at(state: RolloutState) -> datetime:
    return state.updated_at


def latest_rollout(store: RecordStore) -> RolloutState | None:
    return latest(store, "rollout", RolloutState, _updated_at)


def _drop_challenger_alias(settings: Settings) -> None:
    client = registry.configure(settings)
    try:
        client.delete_registered_model_alias(settings.model_name, registry.CHALLENGER)
    except MlflowException:
        pass


def _begin(settings: Settings, store: RecordStore, deployer: Deployer, gates: GateConfig, at: datetime) -> StepOutcome:
    challenger = registry.alias_version(settings, registry.CHALLENGER)
    champion = registry.alias_version(settings, registry.CHAMPION)
    if challenger is None:
        return StepOutcome(state=None, message="no challenger registered: nothing to promote")
    if champion is None:
        raise RolloutError("no champion to compare with: register one first (alertsieve train)")
    if challenger == champion:
        return StepOutcome(state=None, message=f"version {challenger} is already the champion")
    offline = offline_evidence(settings, challenger)
    if offline.challenger is None:
        message = f"version {challenger} has no held-out evaluation: run alertsieve retrain"
        return StepOutcome(state=None, offline=offline, message=message)
    notes = []
    if offline.compared_with and offline.compared_with != champion:
        notes.append(f"the offline comparison was against version {offline.compared_with}, not the champion {champion}")
    assessment = assess(offline.challenger, offline.champion, gates)
    state = start(champion, challenger, assessment, at)
    if state is None:
        message = f"offline gates: {assessment.verdict}; rollout of {challenger} not started"
        return StepOutcome(state=None, assessment=assessment, offline=offline, notes=notes, message=message)
    deployer.deploy(state.target)
    store.append("rollout", [state])
    message = f"rollout of version {challenger} started in shadow next to champion {champion}"
    return StepOutcome(
        state=state, assessment=assessment, offline=offline, deployed=state.target, notes=notes, message=message
    )


def promote_step(
    settings: Settings,
    deployer: Deployer,
    gates: GateConfig,
    state_location: str | None = None,
    at: datetime | None = None,
) -> StepOutcome:
    """Start a rollout, or look at the evidence of the running one and move it (see module doc)."""
    at = at or utc_now()
    store = open_store(state_location or settings.state_location)
    current = latest_rollout(store)
    if current is None or not current.active:
        return _begin(settings, store, deployer, gates, at)
    online = online_evidence(
        store.location, current.champion, current.challenger, current.started_at, current.stage_started_at
    )
    assessment = assess(online.challenger.counts, online.champion.counts, gates, online.challenger.exposure)
    new = step(current, assessment, gates, at)
    deployed = None
    if new.stage != current.stage:
        deployed = new.target
        deployer.deploy(deployed)
        if new.stage is Stage.PROMOTED:
            registry.set_alias(settings, registry.CHAMPION, new.challenger)
            _drop_challenger_alias(settings)
        elif new.stage is Stage.ROLLED_BACK:
            _drop_challenger_alias(settings)
    store.append("rollout", [new])
    message = (
        f"{current.stage} -> {new.stage}" if new.stage != current.stage else f"holding in {current.stage}"
    ) + f" (version {new.challenger} vs champion {new.champion})"
    return StepOutcome(state=new, assessment=assessment, online=online, deployed=deployed, message=message)


def rollback(
    settings: Settings,
    deployer: Deployer,
    state_location: str | None = None,
    reason: str = "manual rollback",
    at: datetime | None = None,
) -> StepOutcome:
    """Abort the running rollout (the champion alone again), or else restore the previous champion."""
    at = at or utc_now()
    store = open_store(state_location or settings.state_location)
    current = latest_rollout(store)
    if current is not None and current.active:
        new = abort(current, reason, at)
        deployer.deploy(new.target)
        _drop_challenger_alias(settings)
        store.append("rollout", [new])
        message = f"rollout of version {new.challenger} aborted; champion {new.champion} serves alone"
        return StepOutcome(state=new, deployed=new.target, message=message)
    previous = registry.alias_version(settings, registry.PREVIOUS)
    champion = registry.alias_version(settings, registry.CHAMPION)
    if previous is None or champion is None:
        raise RolloutError("no previous champion to restore")
    target = ServeTarget(champion=previous)
    deployer.deploy(target)
    registry.set_alias(settings, registry.CHAMPION, previous)
    return StepOutcome(state=None, deployed=target, message=f"champion restored to version {previous} (was {champion})")
