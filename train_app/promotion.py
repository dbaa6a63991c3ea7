"""Promotion decisions, pure: confidence intervals, the gates, and the rollout state machine.

Evidence is counts (``alertsieve.evaluation.Counts``) of the challenger and the champion, either offline
(both scored the same held-out days) or online (their decisions in shadow or A/B traffic joined with
feedback). Bounds are one-sided at ``confidence``: Clopper-Pearson (exact) on the FNR, Wilson on the noise
reduction, and Newcombe's hybrid score interval on the difference of noise reductions.

A challenger advances when its FNR is shown within budget (upper bound <= budget), its noise reduction is
shown not worse than the champion's by more than ``nr_margin`` (lower bound of the difference >= -margin)
and its current stage has seen ``min_stage_feedback`` of its decisions with feedback. It is rolled back
when its FNR is shown above budget (lower bound > budget), when its noise reduction is shown worse by more
than the margin, or when a stage stays inconclusive longer than ``max_stage_hours``. Otherwise it holds.
Stages: shadow -> canary-10 -> canary-50 -> promoted (100%, alias champion), or rolled-back.
"""

from __future__ import annotations

import math
import uuid
from datetime import datetime
from enum import StrEnum
from typing import Any, Literal

from pydantic import BaseModel, Field
from scipy.stats import beta, norm

from alertsieve.contracts import RouterConfig, RouterMode, ServeArgs
from alertsieve.evaluation import Counts

GateVerdict = Literal["advance", "hold", "rollback"]


class Stage(StrEnum):
    SHADOW = "shadow"
    CANARY_10 = "canary-10"
    CANARY_50 = "canary-50"
    PROMOTED = "promoted"
    ROLLED_BACK = "rolled-back"


ORDER = (Stage.SHADOW, Stage.CANARY_10, Stage.CANARY_50, Stage.PROMOTED)
WEIGHTS = {Stage.CANARY_10: 0.1, Stage.CANARY_50: 0.5}


# ---- confidence intervals -------------------------------------------------------------------------
class Interval(BaseModel):
    estimate: float
    low: float
    high: float
    successes: int
    trials: int

    def __str__(self) -> str:
        return f"{self.estimate:.2%} [{self.low:.2%}, {self.high:.2%}]"


def clopper_pearson(successes: int, trials: int, confidence: float) -> Interval:
    """Exact binomial bounds, each one-sided at ``confidence``; (0, 1) without trials."""
    if trials <= 0:
        return Interval(estimate=0.0, low=0.0, high=1.0, successes=0, trials=0)
    k, n = successes, trials
    low = float(beta.ppf(1 - confidence, k, n - k + 1)) if k > 0 else 0.0
    high = float(beta.ppf(confidence, k + 1, n - k)) if k < n else 1.0
    return Interval(estimate=k / n, low=low, high=high, successes=k, trials=n)


def wilson(successes: int, trials: int, confidence: float) -> Interval:
    """Wilson score bounds, each one-sided at ``confidence``; (0, 1) without trials."""
    if trials <= 0:
        return Interval(estimate=0.0, low=0.0, high=1.0, successes=0, trials=0)
    z = float(norm.ppf(confidence))
    p, n = successes / trials, trials
    centre = (p + z * z / (2 * n)) / (1 + z * z / n)
    half = z * math.sqrt(p * (1 - p) / n + z * z / (4 * n * n)) / (1 + z * z / n)
    return Interval(
        estimate=p, low=max(0.0, centre - half), high=min(1.0, centre + half), successes=successes, trials=trials
    )


def newcombe_difference(a: Interval, b: Interval) -> Interval:
    """Bounds on a - b from the two Wilson intervals (Newcombe's method 10)."""
    d = a.estimate - b.estimate
    low = d - math.sqrt((a.estimate - a.low) ** 2 + (b.high - b.estimate) ** 2)
    high = d + math.sqrt((a.high - a.estimate) ** 2 + (b.estimate - b.low) ** 2)
    return Interval(estimate=d, low=max(-1.0, low), high=min(1.0, high), successes=0, trials=a.trials + b.trials)


# ---- gates ----------------------------------------------------------------------------------------
class GateConfig(BaseModel):
    budget: float = Field(default=0.015, gt=0, lt=1, description="the FNR budget")
    confidence: float = Field(default=0.9, gt=0.5, lt=1, description="one-sided confidence of every bound")
    nr_margin: float = Field(default=0.02, ge=0, lt=1, description="noise reduction may be this much lower")
    min_stage_feedback: int = Field(default=50, ge=0, description="challenger decisions with feedback per stage")
    max_stage_hours: float = Field(default=168.0, gt=0, description="inconclusive longer than this: roll back")


class Assessment(BaseModel):
    challenger_fnr: Interval
    challenger_nr: Interval
    champion_fnr: Interval | None = None
    champion_nr: Interval | None = None
    nr_difference: Interval | None = Field(default=None, description="challenger minus champion")
    exposure: int | None = Field(default=None, description="challenger decisions with feedback in this stage")
    verdict: GateVerdict
    reasons: list[str]


def assess(
    challenger: Counts,
    champion: Counts | None,
    config: GateConfig,
    exposure: int | None = None,
    first_model: bool = False,
) -> Assessment:
    """The verdict of the gates on one body of evidence (``exposure`` None: offline, no stage minimum).

    ``first_model``: the evidence is a new model's own validation slice and there is no champion to roll
    out against (a fresh home, or `alertsieve train` replacing it by hand): its validation FNR itself
    within budget advances it straight to champion, anything above rolls it back."""
    c = config.confidence
    fnr = clopper_pearson(challenger.suppressed_actionable, challenger.actionable, c)
    nr = wilson(challenger.suppressed_noise, challenger.noise, c)
    out = Assessment(challenger_fnr=fnr, challenger_nr=nr, exposure=exposure, verdict="hold", reasons=[])
    if first_model:
        within = fnr.estimate <= config.budget
        out.verdict = "advance" if within else "rollback"
        where = "within" if within else "above"
        out.reasons = [f"first model: validation FNR {fnr.estimate:.2%} {where} the {config.budget:.2%} budget"]
        return out
    if champion is not None:
        out.champion_fnr = clopper_pearson(champion.suppressed_actionable, champion.actionable, c)
        out.champion_nr = wilson(champion.suppressed_noise, champion.noise, c)
        out.nr_difference = newcombe_difference(nr, out.champion_nr)
    budget, margin = config.budget, config.nr_margin
    if fnr.low > budget:
        out.verdict, out.reasons = "rollback", [f"challenger FNR {fnr} is above the {budget:.2%} budget"]
        return out
    diff = out.nr_difference
    if diff is not None and diff.high < -margin:
        out.verdict, out.reasons = "rollback", [f"noise reduction is worse than the champion's: difference {diff}"]
        return out
    if fnr.high > budget:
        out.reasons.append(
            f"FNR {fnr} not yet shown within the {budget:.2%} budget ({challenger.actionable} actionable alerts)"
        )
    if diff is not None and diff.low < -margin:
        out.reasons.append(f"noise reduction not yet shown within {margin:.0%} of the champion's: difference {diff}")
    if exposure is not None and exposure < config.min_stage_feedback:
        out.reasons.append(f"{exposure} of {config.min_stage_feedback} decisions with feedback in this stage")
    if not out.reasons:
        out.verdict = "advance"
        out.reasons = [f"FNR {fnr} within budget" + (f", noise reduction difference {diff}" if diff else "")]
    return out


# ---- what Serve runs at each stage ----------------------------------------------------------------
class ServeTarget(BaseModel):
    """The models and split of the Serve app: the part of its args a rollout changes."""

    champion: str
    challenger: str | None = None
    mode: RouterMode = "off"
    challenger_weight: float = Field(default=0.0, ge=0, le=1)

    def serve_args(self) -> ServeArgs:
        """The stage as the shared args contract (``serve_app.config.AppArgs`` extends ``ServeArgs``)."""
        router = RouterConfig(mode=self.mode, challenger_weight=self.challenger_weight)
        return ServeArgs(champion=self.champion, challenger=self.challenger, router=router)

    def app_args(self) -> dict[str, Any]:
        """The update to merge into the app's args (serve_config.yaml, a RayService, ``serve.run``)."""
        return self.serve_args().model_dump(mode="json")


def target_for(stage: Stage, champion: str, challenger: str) -> ServeTarget:
    if stage is Stage.SHADOW:
        return ServeTarget(champion=champion, challenger=challenger, mode="shadow")
    if stage in WEIGHTS:
        return ServeTarget(champion=champion, challenger=challenger, mode="ab", challenger_weight=WEIGHTS[stage])
    if stage is Stage.PROMOTED:
        return ServeTarget(champion=challenger)
    return ServeTarget(champion=champion)


# ---- the rollout state machine --------------------------------------------------------------------
class Transition(BaseModel):
    at: datetime
    stage: Stage
    verdict: GateVerdict | Literal["start", "abort"]
    reasons: list[str] = Field(default_factory=list)


class RolloutState(BaseModel):
    id: str = Field(default_factory=lambda: uuid.uuid4().hex[:12])
    champion: str
    challenger: str
    stage: Stage
    started_at: datetime
    stage_started_at: datetime
    updated_at: datetime
    history: list[Transition] = Field(default_factory=list)

    @property
    def active(self) -> bool:
        return self.stage not in (Stage.PROMOTED, Stage.ROLLED_BACK)

    @property
    def target(self) -> ServeTarget:
        return target_for(self.stage, self.champion, self.challenger)


def start(champion: str, challenger: str, offline: Assessment, now: datetime) -> RolloutState | None:
    """A rollout in shadow when the offline comparison passes the gates; None when it does not."""
    if offline.verdict != "advance":
        return None
    first = Transition(at=now, stage=Stage.SHADOW, verdict="start", reasons=offline.reasons)
    return RolloutState(
        champion=champion,
        challenger=challenger,
        stage=Stage.SHADOW,
        started_at=now,
        stage_started_at=now,
        updated_at=now,
        history=[first],
    )


def step(state: RolloutState, online: Assessment, config: GateConfig, now: datetime) -> RolloutState:
    """The next state after looking at the online evidence of the current stage."""
    if not state.active:
        return state
    verdict, reasons = online.verdict, list(online.reasons)
    hours = (now - state.stage_started_at).total_seconds() / 3600
    if verdict == "hold" and hours > config.max_stage_hours:
        verdict = "rollback"
        reasons.append(f"inconclusive after {hours:.0f} hours in {state.stage} (limit {config.max_stage_hours:.0f})")
    if verdict == "hold":
        return state.model_copy(update={"updated_at": now})
    stage = ORDER[ORDER.index(state.stage) + 1] if verdict == "advance" else Stage.ROLLED_BACK
    history = [*state.history, Transition(at=now, stage=stage, verdict=verdict, reasons=reasons)]
    return state.model_copy(update={"stage": stage, "stage_started_at": now, "updated_at": now, "history": history})


def abort(state: RolloutState, reason: str, now: datetime) -> RolloutState:
    """A manual rollback of an active rollout."""
    history = [*state.history, Transition(at=now, stage=Stage.ROLLED_BACK, verdict="abort", reasons=[reason])]
    return state.model_copy(
        update={"stage": Stage.ROLLED_BACK, "stage_started_at": now, "updated_at": now, "history": history}
    )
