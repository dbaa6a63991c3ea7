"""What a candidate threshold would do, before it is saved: from the validation slice of the model.

The validation slice (``BundleMeta.validation``: service, score, actionable of alerts the model did not
train on) is replayed under the thresholds in force and under the same thresholds with the candidate
for one service, giving noise reduction and FNR for that service and for the fleet. For the service it
also gives the expected FNR on future alerts the way the optimiser budgets it
(``alertsieve.optimize.expected_misses``: the validation misses below the threshold weighed against the
model's own probabilities of the alerts below it), with its upper bound at ``confidence``. A threshold
of 0 suppresses nothing. Alerts the model never saw are recorded with score 1.0, as training chose
thresholds: serving pages them.
"""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np
from pydantic import BaseModel, Field, computed_field
from scipy.stats import norm

from alertsieve.evaluation import Counts
from alertsieve.misses import expected_misses
from alertsieve.policy import ThresholdParams, ThresholdPolicy, in_force

ValidationRow = tuple[str, float, bool]


class LiveThresholds(BaseModel):
    """The thresholds a model serves with: optimised (own or pooled) and the overrides on top."""

    model_version: str = ""
    pooled: float = 0.0
    services: dict[str, float] = Field(default_factory=dict, description="services with their own threshold")
    known_services: list[str] = Field(default_factory=list)
    overrides: dict[str, float] = Field(default_factory=dict)

    @classmethod
    def from_policy(
        cls, policy: ThresholdPolicy, overrides: dict[str, float] | None = None, model_version: str = ""
    ) -> LiveThresholds:
        return cls(
            model_version=model_version,
            pooled=policy.pooled.threshold,
            services={s: c.threshold for s, c in policy.services.items()},
            known_services=policy.known_services,
            overrides=dict(overrides or {}),
        )

    def optimised(self, service: str) -> tuple[float, str] | None:
        """(threshold, "service" | "pooled") as optimised; None for a service the model never saw (paged)."""
        found = in_force(service, self.services, self.pooled, self.known_services)
        return found.pair if found else None

    def in_force(self, service: str) -> tuple[float, str] | None:
        """What decides now: ``alertsieve.policy.in_force``, the one rule (an override wins)."""
        found = in_force(service, self.services, self.pooled, self.known_services, self.overrides)
        return found.pair if found else None

    def all_services(self) -> list[str]:
        return sorted(set(self.known_services) | set(self.services) | set(self.overrides))


class Expected(BaseModel):
    fnr: float | None = Field(description="expected share of future actionable alerts missed; None: no evidence")
    upper: float | None = Field(description="its upper bound at the confidence level")


class CurvePoint(BaseModel):
    threshold: float
    noise_reduction: float
    fnr: float


class Preview(BaseModel):
    service: str
    threshold: float
    current: float | None
    current_source: str | None
    budget: float
    service_now: Counts
    service_candidate: Counts
    fleet_now: Counts
    fleet_candidate: Counts
    expected_now: Expected
    expected_candidate: Expected
    curve: list[CurvePoint]

    @computed_field  # type: ignore[prop-decorator]
    @property
    def within_budget(self) -> bool:
        return self.fleet_candidate.fnr <= self.budget


def outcome(rows: Sequence[ValidationRow], threshold_of: dict[str, float | None]) -> Counts:
    """Counts of ``rows`` where a service with threshold t suppresses scores below t (None: page all)."""
    out = Counts()
    for service, score, actionable in rows:
        threshold = threshold_of.get(service)
        out.add(actionable, threshold is not None and score < threshold)
    return out


def expected_miss(
    rows: Sequence[ValidationRow], threshold: float | None, params: ThresholdParams, expected_actionable: float
) -> Expected:
    """The optimiser's estimate (``alertsieve.optimize.expected_misses``) of the share of this service's
    future actionable alerts that ``threshold`` misses, and its upper bound at the confidence level."""
    if threshold is None or threshold <= 0:
        return Expected(fnr=0.0, upper=0.0)
    if expected_actionable <= 0:
        return Expected(fnr=None, upper=None)
    scores = np.array([score for _, score, _ in rows], dtype=np.float64)
    labels = np.array([actionable for _, _, actionable in rows], dtype=bool)
    misses, variance = expected_misses(scores, labels, threshold)
    z = float(norm.ppf(params.confidence))
    return Expected(fnr=misses / expected_actionable, upper=(misses + z * variance**0.5) / expected_actionable)


def curve(rows: Sequence[ValidationRow], steps: int = 40) -> list[CurvePoint]:
    """Noise reduction and FNR of one service's rows at evenly spaced thresholds in [0, 1]."""
    points = []
    for i in range(steps + 1):
        t = i / steps
        o = outcome(rows, {service: t for service, _, _ in rows})
        points.append(CurvePoint(threshold=t, noise_reduction=o.noise_reduction, fnr=o.fnr))
    return points


def preview(
    validation: Sequence[ValidationRow],
    live: LiveThresholds,
    service: str,
    threshold: float,
    params: ThresholdParams | None = None,
) -> Preview:
    """Noise reduction and FNR on the validation slice now and with ``threshold`` for ``service``."""
    if not 0.0 <= threshold <= 1.0:
        raise ValueError(f"threshold {threshold} is not in [0, 1]")
    services = {s for s, _, _ in validation} | set(live.all_services()) | {service}
    now: dict[str, float | None] = {}
    for name in services:
        found = live.in_force(name)
        now[name] = found[0] if found else None
    candidate = {**now, service: threshold}
    own = [row for row in validation if row[0] == service]
    params = params or ThresholdParams()
    expected = max(float(sum(actionable for _, _, actionable in own)), 1.0) if own else 0.0
    current = live.in_force(service)
    return Preview(
        service=service,
        threshold=threshold,
        current=current[0] if current else None,
        current_source=current[1] if current else None,
        budget=params.budget,
        service_now=outcome(own, now),
        service_candidate=outcome(own, candidate),
        fleet_now=outcome(validation, now),
        fleet_candidate=outcome(validation, candidate),
        expected_now=expected_miss(own, now[service], params, expected),
        expected_candidate=expected_miss(own, threshold, params, expected),
        curve=curve(own),
    )
