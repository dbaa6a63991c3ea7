"""Ray Tune for the hyperparameters around the exact threshold optimiser.

What is tuned: how many days of scored history choose the thresholds (``validation_days``), the safety
``margin``, the ``min_support`` a service needs for its own threshold, and the ``confidence`` of the
bound. How a configuration is judged (``evaluate_config``, pure): for each of ``folds`` evaluation
windows of ``eval_days`` at the end of the rows (the latest first, going back), thresholds are chosen
on the ``validation_days`` just before the window and applied to the window, which they never saw; a
fold whose validation window reaches before the rows is skipped, so every configuration is judged on
full windows. The
counts of all folds are pooled; the objective is the noise reduction on the later windows, minus
``penalty * (1 + excess / budget)`` when their FNR exceeds the budget, so with penalty >= 1 any
configuration that breaks the budget ranks below every one that holds it.

Ray is imported only inside ``run_tune`` and the trial function, so thresholds/ imports without Ray.
"""

from __future__ import annotations

import tempfile
from collections.abc import Sequence
from typing import Any

import numpy as np
from pydantic import BaseModel, Field

from alertsieve.evaluation import Counts
from alertsieve.optimize import choose_thresholds
from alertsieve.policy import ThresholdParams, ThresholdPolicy, decide
from thresholds.scored import DAY_S, ScoredRow, ScoredRows

SLACK_S = DAY_S / 2  # a validation window may start this much before the first row


class TrialConfig(BaseModel):
    """One point of the search space."""

    validation_days: float = Field(default=14.0, gt=0)
    margin: float = Field(default=0.2, ge=0, lt=1)
    min_support: int = Field(default=10, ge=1)
    confidence: float = Field(default=0.9, gt=0.5, lt=1)

    def params(self, base: ThresholdParams) -> ThresholdParams:
        return base.model_copy(
            update={"margin": self.margin, "min_support": self.min_support, "confidence": self.confidence}
        )


class TuneSpace(BaseModel):
    """The search space; Tune samples validation_days and min_support from the lists, the rest uniformly."""

    validation_days: list[float] = Field(default_factory=lambda: [7.0, 14.0, 21.0], min_length=1)
    margin: tuple[float, float] = (0.0, 0.5)
    min_support: list[int] = Field(default_factory=lambda: [5, 10, 20, 40], min_length=1)
    confidence: tuple[float, float] = (0.6, 0.98)


class TuneSettings(BaseModel):
    """What stays fixed across trials: the evaluation windows, the budget and the penalty."""

    eval_days: float = Field(default=7.0, gt=0, description="length of each later evaluation window")
    folds: int = Field(default=1, ge=1, description="evaluation windows, going back from the end")
    base: ThresholdParams = Field(default_factory=ThresholdParams, description="budget and per-service cap")
    penalty: float = Field(default=1.0, ge=0)


class TrialResult(BaseModel):
    objective: float
    noise_reduction: float
    fnr: float
    over_budget: bool
    alerts: int
    actionable: int
    suppressed_actionable: int
    worst_fold_fnr: float
    folds: int = Field(description="folds with both a validation and an evaluation window")


class TrialOutcome(BaseModel):
    config: TrialConfig
    result: TrialResult


class TuneOutcome(BaseModel):
    best: TrialOutcome
    default: TrialOutcome | None = None
    trials: list[TrialOutcome]


def objective(noise_reduction: float, fnr: float, budget: float, penalty: float) -> float:
    """Noise reduction, heavily penalised above the FNR budget."""
    if fnr <= budget:
        return noise_reduction
    return noise_reduction - penalty * (1.0 + (fnr - budget) / budget)


def policy_for_window(rows: ScoredRows, end: float, config: TrialConfig, base: ThresholdParams) -> ThresholdPolicy:
    """Thresholds chosen on the ``validation_days`` before ``end``; every service seen before is known."""
    validation = rows.between(end - config.validation_days * DAY_S, end)
    known = sorted(set(rows.services[rows.times < end].tolist()))
    return choose_thresholds(
        validation.scores,
        validation.labels,
        validation.services.tolist(),
        config.params(base),
        known_services=known,
        times=validation.times,
    )


def apply_policy(policy: ThresholdPolicy, rows: ScoredRows) -> Counts:
    """Counts of ``rows`` decided by ``policy`` (unknown services paged)."""
    counts = Counts()
    for service, score, label in zip(rows.services.tolist(), rows.scores.tolist(), rows.labels.tolist(), strict=True):
        counts.add(bool(label), decide(score, service, policy).decision == "suppress")
    return counts


def evaluate_config(rows: ScoredRows, config: TrialConfig, settings: TuneSettings) -> TrialResult:
    """The objective of one configuration on the later windows (pure: same rows, same result)."""
    if not len(rows):
        raise ValueError("no scored rows to tune on")
    end = float(rows.times[-1]) + 1.0
    pooled, worst, used = Counts(), 0.0, 0
    for fold in range(settings.folds):
        eval_end = end - fold * settings.eval_days * DAY_S
        eval_start = eval_end - settings.eval_days * DAY_S
        later = rows.between(eval_start, eval_end)
        if not len(later) or eval_start - config.validation_days * DAY_S < rows.times[0] - SLACK_S:
            continue  # judged only where the whole validation window has rows
        counts = apply_policy(policy_for_window(rows, eval_start, config, settings.base), later)
        used += 1
        worst = max(worst, counts.fnr)
        for field in ("alerts", "actionable", "suppressed_actionable", "noise", "suppressed_noise"):
            setattr(pooled, field, getattr(pooled, field) + getattr(counts, field))
    if not used:
        raise ValueError("the rows do not cover a validation window followed by an evaluation window")
    budget = settings.base.budget
    return TrialResult(
        objective=objective(pooled.noise_reduction, pooled.fnr, budget, settings.penalty),
        noise_reduction=pooled.noise_reduction,
        fnr=pooled.fnr,
        over_budget=pooled.fnr > budget,
        alerts=pooled.alerts,
        actionable=pooled.actionable,
        suppressed_actionable=pooled.suppressed_actionable,
        worst_fold_fnr=worst,
        folds=used,
    )


def _trial(config: dict[str, Any], rows: ScoredRows, settings: TuneSettings) -> None:
    """The Tune trainable: one configuration, one report."""
    from ray import tune

    result = evaluate_config(rows, TrialConfig.model_validate(config), settings)
    tune.report(result.model_dump())


def run_tune(
    rows: Sequence[ScoredRow] | ScoredRows,
    settings: TuneSettings | None = None,
    space: TuneSpace | None = None,
    num_samples: int = 16,
    seed: int = 0,
    max_concurrent: int = 2,
    cpus_per_trial: float = 0.5,
    storage_path: str | None = None,
) -> TuneOutcome:
    """Random search (plus the default configuration) on the connected Ray cluster; the best by objective."""
    from ray import tune
    from ray.tune.search import BasicVariantGenerator

    settings = settings or TuneSettings()
    space = space or TuneSpace()
    data = rows if isinstance(rows, ScoredRows) else ScoredRows.from_rows(rows)
    evaluate_config(data, TrialConfig(), settings)  # fail here, not in every trial, on unusable rows
    param_space = {
        "validation_days": tune.choice(space.validation_days),
        "margin": tune.uniform(*space.margin),
        "min_support": tune.choice(space.min_support),
        "confidence": tune.uniform(*space.confidence),
    }
    trainable = tune.with_resources(tune.with_parameters(_trial, rows=data, settings=settings), {"cpu": cpus_per_trial})
    search = BasicVariantGenerator(
        points_to_evaluate=[TrialConfig().model_dump()], random_state=np.random.default_rng(seed)
    )
    with tempfile.TemporaryDirectory(prefix="alertsieve-tune-") as tmp:
        tuner = tune.Tuner(
            trainable,
            param_space=param_space,
            tune_config=tune.TuneConfig(
                metric="objective",
                mode="max",
                search_alg=search,
                num_samples=num_samples,
                max_concurrent_trials=max_concurrent,
                reuse_actors=True,
            ),
            run_config=tune.RunConfig(name="thresholds", storage_path=storage_path or tmp, verbose=0),
        )
        grid = tuner.fit()
    trials = []
    for result in (grid[i] for i in range(len(grid))):
        if result.error is not None or not result.metrics or "objective" not in result.metrics or not result.config:
            continue
        config = TrialConfig.model_validate({k: result.config[k] for k in TrialConfig.model_fields})
        metrics = {k: result.metrics[k] for k in TrialResult.model_fields}
        trials.append(TrialOutcome(config=config, result=TrialResult.model_validate(metrics)))
    if not trials:
        raise RuntimeError("every Tune trial failed")
    trials.sort(key=lambda t: t.result.objective, reverse=True)
    default = next((t for t in trials if t.config == TrialConfig()), None)
    return TuneOutcome(best=trials[0], default=default, trials=trials)
