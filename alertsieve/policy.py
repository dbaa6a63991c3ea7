"""The decision policy: which threshold is in force for a service, and page or suppress for one score.

This is the one rule, used by `alertsieve score`, the Serve scorers, the gauges, the threshold UI, tuning
and the benchmarks:

0. while the "page everything" switch is on for the alert's scope, it is paged (``Reason.PAGE_EVERYTHING``);
   the switch can only page, never suppress;
1. an alert whose identity the model never saw (``novel``) is paged: there is no evidence about it;
2. else an override whose scope (service, label matchers, expiry: ``alertsieve.override_scope``) takes the
   alert decides, the most specific then the latest; the decision's reason names it;
3. else the service's own optimised threshold, else the pooled one for a service the model saw;
4. else (a service the model never saw) it is paged;
5. a score below the threshold in force suppresses, anything else pages.

``ThresholdPolicy`` is what the optimiser (``alertsieve.optimize``) chooses and what a bundle carries.
"""

from __future__ import annotations

from collections.abc import Collection, Mapping
from dataclasses import dataclass
from datetime import UTC, datetime
from enum import StrEnum

from pydantic import BaseModel, Field

from alertsieve.override_scope import Overrides, ThresholdOverride
from alertsieve.schema import Reason, Verdict

POOLED = "*"
OverridesLike = Overrides | Mapping[str, float] | None  # a plain {service: threshold} is unscoped, never expiring


class Source(StrEnum):
    """Where the threshold in force comes from."""

    OVERRIDE = "override"
    SERVICE = "service"
    POOLED = "pooled"


class ThresholdParams(BaseModel):
    budget: float = Field(default=0.015, gt=0, lt=1)
    confidence: float = Field(default=0.9, gt=0.5, lt=1, description="level of the reported upper bound")
    margin: float = Field(default=0.35, ge=0, lt=1, description="the expected FNR stays under budget*(1-margin)")
    min_support: int = Field(default=10, ge=1, description="actionable alerts a service needs of its own")
    service_cap: float = Field(
        default=0.02, gt=0, le=1, description="max expected FNR within one own-threshold service"
    )
    time_slices: int = Field(
        default=3, ge=1, description="the thresholds must hold the budget on each of these slices of validation"
    )
    incident_guard_minutes: float = Field(
        default=10.0, ge=0, description="an alert this soon after a confident page on its host or service pages"
    )
    incident_score: float = Field(default=0.3, gt=0, le=1, description="a page scored at least this is confident")
    incident_window_minutes: float = Field(
        default=30.0,
        ge=0,
        description="actionable alerts of one service in one window are one incident (0: every alert its own)",
    )


class GroupChoice(BaseModel):
    """One threshold for a group (a service, or the pooled rest) and what it does on validation."""

    threshold: float
    actionable: int
    noise: int
    suppressed_actionable: int
    suppressed_noise: int
    expected_misses: float = Field(
        default=0.0,
        description="max(actionable validation alerts below the threshold, sum of P(actionable) below it)",
    )
    expected_fnr: float = Field(default=0.0, description="expected_misses over the group's actionable alerts")
    variance: float = Field(default=0.0, description="variance of expected_misses, in alerts squared")
    incidents: int = Field(default=0, description="bursts of actionable validation alerts")
    lowest_actionable: float | None = Field(default=None, description="lowest actionable validation score")

    @property
    def design_effect(self) -> float:
        """Actionable alerts per incident: how much bursts inflate the variance (1 without incidents)."""
        return self.actionable / self.incidents if self.incidents else 1.0


class ThresholdPolicy(BaseModel):
    """Thresholds in force: per service, else the pooled one. Services never seen are paged."""

    params: ThresholdParams
    expected_fnr: float
    fnr_upper_bound: float
    pooled: GroupChoice
    services: dict[str, GroupChoice] = Field(default_factory=dict)
    known_services: list[str] = Field(default_factory=list)
    notes: dict[str, str] = Field(default_factory=dict, description="per service: why it suppresses what it does")

    def group_for(self, service: str) -> GroupChoice:
        """The choice that sets this service's threshold: its own, else the pooled one."""
        return self.services.get(service, self.pooled)

    def threshold_for(
        self,
        service: str,
        overrides: OverridesLike = None,
        labels: Mapping[str, str] | None = None,
        now: datetime | None = None,
    ) -> tuple[float, Source] | None:
        """(threshold, source) in force for ``service`` (an alert with ``labels``; None: the service as a
        whole); None for a service the model never saw."""
        found = self.in_force(service, overrides, labels, now)
        return (found.threshold, found.source) if found else None

    def in_force(
        self,
        service: str,
        overrides: OverridesLike = None,
        labels: Mapping[str, str] | None = None,
        now: datetime | None = None,
    ) -> InForce | None:
        own = {name: choice.threshold for name, choice in self.services.items()}
        return in_force(service, own, self.pooled.threshold, self.known_services, overrides, labels, now)


@dataclass(frozen=True)
class InForce:
    """The threshold in force for one alert, where it comes from, and the override if one decides."""

    threshold: float
    source: Source
    override: ThresholdOverride | None = None

    @property
    def pair(self) -> tuple[float, Source]:
        return self.threshold, self.source


def in_force(
    service: str,
    own: Mapping[str, float],
    pooled: float,
    known: Collection[str],
    overrides: OverridesLike = None,
    labels: Mapping[str, str] | None = None,
    now: datetime | None = None,
) -> InForce | None:
    """Override in scope, else the service's own threshold, else pooled for a known service, else None (paged)."""
    found = Overrides.of(overrides).threshold_for(service, labels, now) if overrides else None
    if found is not None:
        return InForce(found.threshold, Source.OVERRIDE, found)
    if service in own:
        return InForce(own[service], Source.SERVICE)
    if service in known:
        return InForce(pooled, Source.POOLED)
    return None


@dataclass(frozen=True)
class Ruling:
    """The policy's answer for one score."""

    decision: Verdict
    threshold: float
    reason: Reason
    text: str


NOVEL_TEXT = (
    "alert never seen in training (by its identity without environment labels): paged until a model has learnt it"
)
UNKNOWN_SERVICE = "unknown service: paged until the model has seen it"


def decide(
    score: float,
    service: str,
    policy: ThresholdPolicy,
    overrides: OverridesLike = None,
    novel: bool = False,
    labels: Mapping[str, str] | None = None,
    now: datetime | None = None,
) -> Ruling:
    """Page or suppress one alert's score under the policy (see the module docstring for the rule).

    ``labels`` are the alert's (scoped overrides and the switch match them; None: only unscoped ones
    apply); ``now`` is the clock that expires overrides (default: the wall clock)."""
    rules = Overrides.of(overrides)
    when = now or datetime.now(UTC)
    found = policy.in_force(service, rules, labels, when)
    switch = rules.paging_everything(service, labels, when)
    if switch is not None:
        said = switch.describe()
        text = (
            "page everything is on" + (f" ({said})" if said else "") + (f": {switch.reason}" if switch.reason else "")
        )
        return Ruling("page", found.threshold if found else 0.0, Reason.PAGE_EVERYTHING, text)
    if found is None:
        return Ruling("page", 0.0, Reason.UNKNOWN_SERVICE, UNKNOWN_SERVICE)
    threshold, source = found.threshold, found.source
    if novel:
        return Ruling("page", threshold, Reason.NOVEL, NOVEL_TEXT)
    which = f" ({found.override.describe()})" if found.override is not None and found.override.describe() else ""
    if score < threshold:
        text = f"score {score:.4f} below {source} threshold {threshold:.4f}{which}"
        return Ruling("suppress", threshold, Reason.BELOW_THRESHOLD, text)
    text = f"score {score:.4f} at or above {source} threshold {threshold:.4f}{which}"
    return Ruling("page", threshold, Reason.AT_OR_ABOVE_THRESHOLD, text)
