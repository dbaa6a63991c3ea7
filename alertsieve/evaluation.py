"""Quality metrics, defined once for the whole project.

Noise reduction = suppressed non-actionable alerts / all non-actionable alerts.
FNR (false-negative rate) = suppressed actionable alerts / all actionable alerts.
"""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np
from pydantic import BaseModel, computed_field


def rate(part: int, whole: int) -> float | None:
    """``part / whole``; None when there is no whole to measure against."""
    return part / whole if whole else None


class Counts(BaseModel):
    """Decided alerts by outcome: the one type that computes noise reduction and FNR from counts.

    Both rates are 0.0 where there is nothing to measure them on (``rate`` says None there), and both are
    part of the serialised form."""

    alerts: int = 0
    actionable: int = 0
    suppressed_actionable: int = 0
    noise: int = 0
    suppressed_noise: int = 0

    @computed_field  # type: ignore[prop-decorator]
    @property
    def noise_reduction(self) -> float:
        return rate(self.suppressed_noise, self.noise) or 0.0

    @computed_field  # type: ignore[prop-decorator]
    @property
    def fnr(self) -> float:
        return rate(self.suppressed_actionable, self.actionable) or 0.0

    def add(self, actionable: bool, suppressed: bool) -> None:
        self.alerts += 1
        if actionable:
            self.actionable += 1
            self.suppressed_actionable += int(suppressed)
        else:
            self.noise += 1
            self.suppressed_noise += int(suppressed)


class Evaluation(BaseModel):
    overall: Counts
    services: dict[str, Counts]
    auc: float | None = None


def auc_score(labels: Sequence[bool], scores: Sequence[float]) -> float | None:
    """Area under the ROC curve by the rank-sum formula (ties averaged); None without both classes."""
    y = np.asarray(labels, dtype=bool)
    s = np.asarray(scores, dtype=np.float64)
    n_pos, n_neg = int(y.sum()), int((~y).sum())
    if n_pos == 0 or n_neg == 0:
        return None
    order = np.argsort(s, kind="stable")
    ranks = np.empty(len(s))
    sorted_s = s[order]
    i = 0
    while i < len(s):
        j = i
        while j + 1 < len(s) and sorted_s[j + 1] == sorted_s[i]:
            j += 1
        ranks[order[i : j + 1]] = (i + j) / 2 + 1
        i = j + 1
    return float((ranks[y].sum() - n_pos * (n_pos + 1) / 2) / (n_pos * n_neg))


def evaluate(
    labels: Sequence[bool],
    decisions: Sequence[str],
    services: Sequence[str],
    scores: Sequence[float] | None = None,
) -> Evaluation:
    """Counts overall and per service; ``decisions`` are "page" or "suppress"."""
    overall = Counts()
    per_service: dict[str, Counts] = {}
    for actionable, decision, service in zip(labels, decisions, services, strict=True):
        suppressed = decision == "suppress"
        overall.add(actionable, suppressed)
        per_service.setdefault(service, Counts()).add(actionable, suppressed)
    auc = auc_score(labels, scores) if scores is not None else None
    return Evaluation(overall=overall, services=dict(sorted(per_service.items())), auc=auc)
