"""The window's held-out comparison: the new model and the champion scored on the days neither trained on.

``compare_on_holdout`` evaluates both bundles on the window's last days with ``train_app.offline`` (the
same embedding caches, the stream state brought up to the held-out days' start); ``holdout_metrics`` is
what a window run logs with its MLflow run: the window's size and feedback counts, and both evaluations
under ``CHALLENGER_PREFIX`` / ``CHAMPION_PREFIX`` (the counts too, so ``train_app.evidence`` can put
confidence intervals on them at promotion). No Ray here.
"""

from __future__ import annotations

from collections.abc import Callable

from pydantic import BaseModel, Field

from alertsieve.bundle import ModelBundle
from alertsieve.evaluation import Evaluation
from train_app.offline import Caches, evaluate_bundle, evaluation_metrics
from train_app.window import TrainingWindow

CHALLENGER_PREFIX, CHAMPION_PREFIX = "holdout_", "champion_holdout_"
Progress = Callable[[str], None]


class HoldoutComparison(BaseModel):
    """Both models on the held-out days; None where there were no held-out days (or no champion)."""

    challenger: Evaluation | None = Field(default=None, description="the new model on the held-out days")
    champion: Evaluation | None = Field(default=None, description="the champion on the same days")
    champion_version: str | None = None


def compare_on_holdout(
    bundle: ModelBundle,
    champion: ModelBundle | None,
    caches: Caches,
    window: TrainingWindow,
    progress: Progress = lambda step: None,
) -> HoldoutComparison:
    comparison = HoldoutComparison(champion_version=champion.version if champion else None)
    if window.holdout:
        progress("scoring the held-out days with the new model and the champion")
        comparison.challenger = evaluate_bundle(bundle, caches, window.train, window.holdout)
        if champion is not None:
            comparison.champion = evaluate_bundle(champion, caches, window.train, window.holdout)
    return comparison


def holdout_metrics(window: TrainingWindow, comparison: HoldoutComparison) -> dict[str, float]:
    """The window's rows and feedback counts, and both evaluations on its held-out days."""
    stats = window.stats
    metrics = {
        "rows": float(window.rows),
        "train_rows": float(len(window.train)),
        "holdout_rows": float(len(window.holdout)),
        "window_days": (window.end - window.start).total_seconds() / 86400,
        "feedback": float(stats.feedback),
        "feedback_overrides": float(stats.feedback_overrides),
        "feedback_added": float(stats.feedback_added),
        "feedback_unmatched": float(stats.feedback_unmatched),
    }
    if comparison.challenger is not None:
        metrics.update(evaluation_metrics(CHALLENGER_PREFIX, comparison.challenger))
    if comparison.champion is not None:
        metrics.update(evaluation_metrics(CHAMPION_PREFIX, comparison.champion, per_service=False))
    return metrics
