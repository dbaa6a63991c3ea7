"""Per-service suppression thresholds under the false-negative budget, solved exactly.

An alert is suppressed when its score is below its service's threshold. Thresholds are chosen on
validation scores the model did not train on. A threshold placed just below the (j+1)-th lowest of n
actionable validation scores misses, on future alerts of the same kind, a share that follows
Beta(j+1, n-j): mean (j+1)/(n+1). That is what the optimiser budgets, not the j misses it sees, so a
service with few actionable alerts pays for its own threshold and a bold threshold on thin evidence
is not allowed. The overall expected FNR is the actionable-weighted sum over groups; it must stay
under budget*(1-margin), and its normal upper bound at ``confidence`` under the budget itself.

Actionable alerts come in bursts (one incident, many alerts), and misses cluster with them: when
``times`` are given, a group's actionable alerts of one service in one ``incident_window_minutes`` window
count as one incident, and the variance of its miss share is inflated by the design effect (actionable
alerts per incident), so the upper bound counts incidents rather than alerts. Fixed windows, not chains
of gaps: in a busy stream, chaining would merge a whole day into one "incident".

Groups are the services with at least ``min_support`` actionable validation alerts, each with its own
threshold, plus one pooled threshold (chosen on all validation alerts) for every other known service.
Choosing one candidate per group to maximise suppressed noise under the budget is a multiple-choice
knapsack, solved by dynamic programming over the budget in small units. Where the data cannot
separate noise from actionable alerts, this suppresses little, as it should.
"""

from __future__ import annotations

import math
from collections.abc import Sequence

import numpy as np
from pydantic import BaseModel, Field
from scipy.stats import norm

POOLED = "*"
UNITS_PER_FNR = 10_000  # DP resolution: 0.01 percentage points


class ThresholdParams(BaseModel):
    budget: float = Field(default=0.015, gt=0, lt=1)
    confidence: float = Field(default=0.9, gt=0.5, lt=1)
    margin: float = Field(default=0.2, ge=0, lt=1, description="the expected FNR stays under budget*(1-margin)")
    min_support: int = Field(default=10, ge=1, description="actionable alerts a service needs of its own")
    service_cap: float = Field(default=0.03, gt=0, le=1, description="max expected FNR within one service")
    incident_window_minutes: float = Field(default=30.0, ge=0, description="actionable alerts of one service in "
                                           "one window are one incident for the bound (0: every alert its own)")  # fmt: skip


class GroupChoice(BaseModel):
    threshold: float
    actionable: int
    noise: int
    suppressed_actionable: int
    suppressed_noise: int
    expected_fnr: float = Field(description="expected share of this group's future actionable alerts missed")
    variance: float = 0.0
    incidents: int = Field(default=0, description="bursts of actionable validation alerts (the bound's sample)")

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

    def group_for(self, service: str) -> GroupChoice:
        """The choice that sets this service's threshold: its own, else the pooled one."""
        return self.services.get(service, self.pooled)

    def threshold_for(self, service: str) -> tuple[float, str] | None:
        """(threshold, source) for a known service; None for a service the model never saw."""
        if service in self.services:
            return self.services[service].threshold, "service"
        if service in self.known_services:
            return self.pooled.threshold, "pooled"
        return None


def _miss_share(j: int, n: int) -> tuple[float, float]:
    """Mean and variance of Beta(j+1, n-j): the future share below the (j+1)-th lowest of n."""
    a, b = j + 1.0, n - j
    return a / (a + b), a * b / ((a + b) ** 2 * (a + b + 1))


def incidents(times: np.ndarray, services: np.ndarray, window_s: float) -> int:
    """Bursts among actionable alerts: distinct (service, window of ``window_s``) pairs (0: each alert)."""
    if window_s <= 0:
        return len(times)
    return len({(svc, int(t // window_s)) for t, svc in zip(times.tolist(), services.tolist(), strict=True)})


def candidates(
    scores: np.ndarray,
    labels: np.ndarray,
    max_share: float,
    n_incidents: int | None = None,
) -> list[GroupChoice]:
    """Suppress nothing, or suppress below the (j+1)-th lowest actionable score, j = 0, 1, ...

    Only choices whose expected miss share is at most ``max_share``. With ``n_incidents`` (bursts among the
    actionable alerts), the variance is inflated by the design effect actionable / incidents.
    """
    y = labels.astype(bool)
    n_pos, n_neg = int(y.sum()), int((~y).sum())
    nothing = GroupChoice(threshold=0.0, actionable=n_pos, noise=n_neg, suppressed_actionable=0, suppressed_noise=0,
                          expected_fnr=0.0, incidents=n_pos if n_incidents is None else min(n_incidents, n_pos))  # fmt: skip
    ref = np.sort(scores[y])
    everything = np.sort(scores)
    out = [nothing]
    for j in range(len(ref)):
        mean, var = _miss_share(j, len(ref))
        if mean > max_share:
            break
        upper = ref[j]
        below = everything[everything < upper]
        threshold = float((upper + below.max()) / 2) if len(below) else 0.0
        suppressed = scores < threshold
        out.append(GroupChoice(
            threshold=threshold, actionable=n_pos, noise=n_neg, suppressed_actionable=int((suppressed & y).sum()),
            suppressed_noise=int((suppressed & ~y).sum()), expected_fnr=mean, variance=var * nothing.design_effect,
            incidents=nothing.incidents,
        ))  # fmt: skip
    return out


def _allocate(options: list[list[GroupChoice]], weights: list[float], budget_units: int) -> list[GroupChoice]:
    """Multiple-choice knapsack: one option per group, sum of weighted miss shares within budget."""
    best: dict[int, tuple[int, list[GroupChoice]]] = {0: (0, [])}
    for group, weight in zip(options, weights, strict=True):
        nxt: dict[int, tuple[int, list[GroupChoice]]] = {}
        for used, (gain, picks) in best.items():
            for option in group:
                total = used + math.ceil(weight * option.expected_fnr * UNITS_PER_FNR)
                if total > budget_units:
                    continue
                value = gain + option.suppressed_noise
                if total not in nxt or value > nxt[total][0]:
                    nxt[total] = (value, [*picks, option])
        best = nxt
    # Most suppressed noise; of equal gains, the one using the least budget (the lowest expected FNR).
    return max(best.items(), key=lambda item: (item[1][0], -item[0]))[1][1]


def choose_thresholds(
    scores: Sequence[float] | np.ndarray,
    labels: Sequence[bool] | np.ndarray,
    services: Sequence[str],
    params: ThresholdParams,
    known_services: Sequence[str] = (),
    times: Sequence[float] | np.ndarray | None = None,
) -> ThresholdPolicy:
    """Per-service thresholds maximising suppressed noise with the expected FNR within budget.

    ``known_services`` adds services the model saw in training but validation did not: they get the
    pooled threshold. Any other service is unknown and paged. ``times`` (alert start, epoch seconds)
    group actionable alerts into incidents for the bound; without them every alert counts alone.
    """
    s, y = np.asarray(scores, dtype=np.float64), np.asarray(labels, dtype=bool)
    svc = np.asarray(services, dtype=object)
    total_pos = max(int(y.sum()), 1)
    names = sorted(set(svc.tolist()))
    # a service of its own needs the support to afford at least its lowest threshold under the cap
    support = max(params.min_support, math.ceil(1 / params.service_cap - 1))
    own = [n for n in names if int(y[svc == n].sum()) >= support]
    pooled_mask = ~np.isin(svc, own)
    groups = [(n, svc == n) for n in own] + [(POOLED, pooled_mask)]
    weights = [max(int(y[mask].sum()), 1 if name == POOLED else 0) / total_pos for name, mask in groups]
    cap = params.service_cap if y.any() else 0.0
    window_s = params.incident_window_minutes * 60
    t = None if times is None else np.asarray(times, dtype=np.float64)
    options = [candidates(s[mask], y[mask], cap, None if t is None else incidents(t[mask & y], svc[mask & y], window_s))
               for _, mask in groups]  # fmt: skip
    z = float(norm.ppf(params.confidence))
    units = int(params.budget * (1 - params.margin) * UNITS_PER_FNR)
    while True:
        picks = _allocate(options, weights, units)
        mean = sum(w * p.expected_fnr for w, p in zip(weights, picks, strict=True))
        upper = mean + z * math.sqrt(sum(w * w * p.variance for w, p in zip(weights, picks, strict=True)))
        if upper <= params.budget or units == 0:
            break
        units -= 1
    chosen = dict(zip([name for name, _ in groups], picks, strict=True))
    return ThresholdPolicy(
        params=params,
        expected_fnr=mean,
        fnr_upper_bound=upper,
        pooled=chosen.pop(POOLED),
        services={k: v for k, v in chosen.items() if v.threshold > 0 or k in own},
        known_services=sorted(set(names) | set(known_services)),
    )


def global_threshold(
    scores: Sequence[float] | np.ndarray,
    labels: Sequence[bool] | np.ndarray,
    params: ThresholdParams,
    times: Sequence[float] | np.ndarray | None = None,
) -> GroupChoice:
    """The best single threshold for all services under the same rule (the baseline)."""
    policy = choose_thresholds(scores, labels, ["all"] * len(scores), params.model_copy(update={"min_support": 10**9}),
                               times=times)  # fmt: skip
    return policy.pooled
