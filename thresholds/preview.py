"""What a candidate threshold would do, before it is saved: from the validation slice of the model.

The validation slice (``BundleMeta.validation``: service, score, actionable of alerts the model did not
train on) is replayed under the thresholds in force and under the same thresholds with the candidate
for one service, giving noise reduction and FNR for that service and for the fleet. For the service it
also gives the expected FNR on future alerts the way the optimiser budgets it: a threshold above j of n
actionable validation scores misses a Beta(j+1, n-j) share of future ones (mean (j+1)/(n+1)), with its
upper bound at ``confidence``; as in the optimiser, the bound counts incidents, not alerts (the Beta over
j and n divided by the group's design effect). A threshold of 0 suppresses nothing. Alerts whose text the
model never saw are recorded with score 1.0, as training chose thresholds: serving pages them.
"""

from __future__ import annotations

from collections.abc import Sequence

from pydantic import BaseModel, Field, computed_field
from scipy.stats import beta

from thresholds.optimize import ThresholdPolicy

ValidationRow = tuple[str, float, bool]


class LiveThresholds(BaseModel):
    """The thresholds a model serves with: optimised (own or pooled) and the overrides on top."""

    model_version: str = ""
    pooled: float = 0.0
    services: dict[str, float] = Field(default_factory=dict, description="services with their own threshold")
    known_services: list[str] = Field(default_factory=list)
    overrides: dict[str, float] = Field(default_factory=dict)

    @classmethod
    def from_policy(cls, policy: ThresholdPolicy, overrides: dict[str, float] | None = None,
                    model_version: str = "") -> LiveThresholds:  # fmt: skip
        return cls(model_version=model_version, pooled=policy.pooled.threshold,
                   services={s: c.threshold for s, c in policy.services.items()},
                   known_services=policy.known_services, overrides=dict(overrides or {}))  # fmt: skip

    def optimised(self, service: str) -> tuple[float, str] | None:
        """(threshold, "service" | "pooled") as optimised; None for a service the model never saw (paged)."""
        if service in self.services:
            return self.services[service], "service"
        if service in self.known_services:
            return self.pooled, "pooled"
        return None

    def in_force(self, service: str) -> tuple[float, str] | None:
        """What decides now, the same rule as ``alertsieve.scoring.verdict``: an override wins."""
        if service in self.overrides:
            return self.overrides[service], "override"
        return self.optimised(service)

    def all_services(self) -> list[str]:
        return sorted(set(self.known_services) | set(self.services) | set(self.overrides))


class Outcome(BaseModel):
    alerts: int = 0
    actionable: int = 0
    suppressed_actionable: int = 0
    suppressed_noise: int = 0

    @computed_field  # type: ignore[prop-decorator]
    @property
    def noise(self) -> int:
        return self.alerts - self.actionable

    @computed_field  # type: ignore[prop-decorator]
    @property
    def noise_reduction(self) -> float:
        return self.suppressed_noise / self.noise if self.noise else 0.0

    @computed_field  # type: ignore[prop-decorator]
    @property
    def fnr(self) -> float:
        return self.suppressed_actionable / self.actionable if self.actionable else 0.0


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
    service_now: Outcome
    service_candidate: Outcome
    fleet_now: Outcome
    fleet_candidate: Outcome
    expected_now: Expected
    expected_candidate: Expected
    curve: list[CurvePoint]

    @computed_field  # type: ignore[prop-decorator]
    @property
    def within_budget(self) -> bool:
        return self.fleet_candidate.fnr <= self.budget


def outcome(rows: Sequence[ValidationRow], threshold_of: dict[str, float | None]) -> Outcome:
    """Counts of ``rows`` where a service with threshold t suppresses scores below t (None: page all)."""
    out = Outcome()
    for service, score, actionable in rows:
        threshold = threshold_of.get(service)
        suppressed = threshold is not None and score < threshold
        out.alerts += 1
        out.actionable += int(actionable)
        out.suppressed_actionable += int(suppressed and actionable)
        out.suppressed_noise += int(suppressed and not actionable)
    return out


def expected_miss(
    scores_actionable: Sequence[float], threshold: float | None, confidence: float, design_effect: float = 1.0
) -> Expected:
    """Beta(j+1, n-j) mean, and its upper bound with j and n counted in incidents (divided by the design
    effect: actionable alerts per incident), for a threshold above j of the n actionable scores."""
    if threshold is None or threshold <= 0:
        return Expected(fnr=0.0, upper=0.0)
    n = len(scores_actionable)
    if n == 0:
        return Expected(fnr=None, upper=None)
    j = sum(1 for s in scores_actionable if s < threshold)
    a, b = j + 1, n - j
    if b <= 0:
        return Expected(fnr=1.0, upper=1.0)
    d = max(design_effect, 1.0)
    upper = float(beta.ppf(confidence, 1 + j / d, (n - j) / d))
    return Expected(fnr=a / (a + b), upper=max(upper, a / (a + b)))


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
    budget: float = 0.015,
    confidence: float = 0.9,
    design_effect: float = 1.0,
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
    positives = [score for _, score, actionable in own if actionable]
    current = live.in_force(service)
    return Preview(
        service=service, threshold=threshold, current=current[0] if current else None,
        current_source=current[1] if current else None, budget=budget,
        service_now=outcome(own, now), service_candidate=outcome(own, candidate),
        fleet_now=outcome(validation, now), fleet_candidate=outcome(validation, candidate),
        expected_now=expected_miss(positives, now[service], confidence, design_effect),
        expected_candidate=expected_miss(positives, threshold, confidence, design_effect),
        curve=curve(own),
    )  # fmt: skip
