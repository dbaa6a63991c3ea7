"""Per-service suppression thresholds under the false-negative budget, from both sides of the evidence.

Thresholds are chosen on validation scores of a model that did not train on them, and that model is
kept as it is (a refit would move the scores under the thresholds). The scores are logistic
probabilities P(actionable).

**The estimate.** Suppressing the validation alerts of a group scored below ``t`` is expected to miss the
actionable alerts that a stream like them holds: per score range, the model's mean probability is a prior
worth ``PRIOR_ALERTS`` alerts, validation's count there (bursts counted once) updates it, and a range never
costs less than the misses it showed (``alertsieve.misses``). A group whose scores do not rank beyond
chance on validation suppresses nothing. The variance reported is Poisson.

**The budget.** The expected FNR is the sum of the groups' misses over the actionable alerts expected in
validation: the observed ones, or the history's actionable share times the validation size if that is
larger (a slice with one incident, or none, must not make each miss look huge or stop all suppression).
It must stay under ``budget * (1 - margin)``, and the same thresholds must keep the budget itself on each
of ``time_slices`` consecutive slices of validation (not one lucky slice): where a slice breaks, a smaller
share of the budget is allocated until every slice holds. The upper bound at ``confidence`` is reported,
not enforced: with a handful of incidents no bound certifies 1.5%; the margin and the slices are the
safety instead, and the real-stream benchmark measures the margin (expected against actual FNR). A
service with its own threshold keeps its own expected FNR under ``service_cap``.

**Assumptions.** The actionability of an alert of a given identity in a given context is stable from
validation to the weeks after it (where it is not, ``alertsieve.incidents`` and live safety are the
nets); the model's probabilities are checked, not trusted (a logistic model whose penalty and calibration
were chosen on held-out log-loss). Novel alerts
(an identity never seen in training) are paged by the policy, and enter validation with score 1.0.

Groups are the services with at least ``min_support`` actionable validation alerts (their own threshold)
plus one pooled threshold for every other known service. One candidate per group, maximising suppressed
noise within the budget, is a multiple-choice knapsack solved by dynamic programming in budget units.
A threshold sits at the logit midpoint of the gap it is placed in.
"""

from __future__ import annotations

import math
from collections.abc import Sequence

import numpy as np
from scipy.stats import norm

from alertsieve.explain import incidents, service_notes
from alertsieve.misses import (
    burst_weights,
    expected_misses,
    posterior_misses,
    ranks_above_chance,
    separate_incidents,
)
from alertsieve.policy import POOLED, GroupChoice, ThresholdParams, ThresholdPolicy

UNITS = 200  # DP resolution: the allowed misses are split into this many units


def _logit_midpoint(low: float, high: float) -> float:
    eps = 1e-12
    lo, hi = min(max(low, eps), 1 - eps), min(max(high, eps), 1 - eps)
    mid = (math.log(lo / (1 - lo)) + math.log(hi / (1 - hi))) / 2
    return 1.0 / (1.0 + math.exp(-mid))


def candidates(
    scores: np.ndarray,
    labels: np.ndarray,
    max_misses: float,
    unit: float,
    n_incidents: int | None = None,
    ranks: bool = True,
    weights: np.ndarray | None = None,
) -> list[GroupChoice]:
    """Suppress nothing, or the k lowest-scored alerts for every k at a gap between distinct scores.

    Only cuts whose expected misses are within ``max_misses``; of the cuts that cost the same number of
    ``unit`` (misses per DP unit), the one suppressing the most noise."""
    y = labels.astype(bool)
    n_pos, n_neg = int(y.sum()), int((~y).sum())
    n_inc = n_pos if n_incidents is None else min(n_incidents, n_pos)
    lowest = float(scores[y].min()) if n_pos else None
    nothing = GroupChoice(
        threshold=0.0,
        actionable=n_pos,
        noise=n_neg,
        suppressed_actionable=0,
        suppressed_noise=0,
        incidents=n_inc,
        lowest_actionable=lowest,
    )
    if len(scores) == 0 or not ranks:  # scores that do not rank: nothing to suppress on
        return [nothing]
    order = np.argsort(scores, kind="stable")
    s, yy = scores[order], y[order]
    ww = None if weights is None else np.asarray(weights, dtype=np.float64)[order]
    observed = np.cumsum(yy)
    misses, variance = posterior_misses(s, yy, ww)
    noise = np.cumsum(~yy)
    positives = observed
    gap = np.append(s[1:] > s[:-1], True)  # a cut after position k-1 must fall between distinct scores
    ok = gap & (misses <= max_misses)
    best: dict[int, int] = {}
    for cut in np.flatnonzero(ok).tolist():
        bucket = math.ceil(misses[cut] / unit - 1e-9)
        if bucket not in best or noise[cut] > noise[best[bucket]]:
            best[bucket] = cut
    out = [nothing]
    for i in sorted(best.values()):
        high = float(s[i + 1]) if i + 1 < len(s) else min(1.0, float(s[i]) * 2 + 1e-9)
        out.append(
            GroupChoice(
                threshold=_logit_midpoint(float(s[i]), high),
                actionable=n_pos,
                noise=n_neg,
                suppressed_actionable=int(positives[i]),
                suppressed_noise=int(noise[i]),
                expected_misses=float(misses[i]),
                expected_fnr=float(misses[i]) / max(n_pos, 1),
                variance=float(variance[i]),
                incidents=n_inc,
                lowest_actionable=lowest,
            )
        )
    return out


def _allocate(options: list[list[GroupChoice]], unit: float, budget_units: int) -> list[GroupChoice]:
    """Multiple-choice knapsack: one option per group, total expected misses within the budget."""
    best: dict[int, tuple[int, list[GroupChoice]]] = {0: (0, [])}
    for group in options:
        nxt: dict[int, tuple[int, list[GroupChoice]]] = {}
        for used, (gain, picks) in best.items():
            for option in group:
                total = used + math.ceil(option.expected_misses / unit - 1e-9)
                if total > budget_units:
                    continue
                value = gain + option.suppressed_noise
                if total not in nxt or value > nxt[total][0]:
                    nxt[total] = (value, [*picks, option])
        best = nxt
    # Most suppressed noise; of equal gains, the one using the least budget.
    return max(best.items(), key=lambda item: (item[1][0], -item[0]))[1][1]


SCALES = (1.0, 0.7, 0.5, 0.35, 0.25, 0.15, 0.1, 0.05, 0.0)


def time_slices(times: np.ndarray | None, count: int) -> list[np.ndarray]:
    """Masks of ``count`` consecutive time slices of equal size (none without times, or for one slice)."""
    if times is None or count < 2 or len(times) < 2 * count:
        return []
    order = np.argsort(times, kind="stable")
    out = []
    for part in np.array_split(order, count):
        mask = np.zeros(len(times), dtype=bool)
        mask[part] = True
        out.append(mask)
    return out


def holds_on(
    scores: np.ndarray,
    labels: np.ndarray,
    part: np.ndarray,
    thresholds: Sequence[tuple[np.ndarray, float]],
    budget: float,
    prior_rate: float,
    weights: np.ndarray,
) -> bool:
    """Whether the groups' thresholds (group mask, threshold) keep the expected FNR on the alerts of
    ``part`` (one time slice) within the budget itself."""
    expected_pos = max(float(labels[part].sum()), prior_rate * int(part.sum()))
    if expected_pos <= 0:
        return True
    misses = sum(
        expected_misses(scores[mask & part], labels[mask & part], threshold, weights[mask & part])[0]
        for mask, threshold in thresholds
    )
    return bool(misses <= budget * expected_pos + 1e-12)


def choose_thresholds(
    scores: Sequence[float] | np.ndarray,
    labels: Sequence[bool] | np.ndarray,
    services: Sequence[str],
    params: ThresholdParams,
    known_services: Sequence[str] = (),
    times: Sequence[float] | np.ndarray | None = None,
    prior_rate: float = 0.0,
) -> ThresholdPolicy:
    """Per-service thresholds maximising suppressed noise with the expected FNR within budget.

    ``known_services`` adds services the model saw in training but validation did not: they get the
    pooled threshold. Any other service is unknown and paged. ``times`` (alert start, epoch seconds)
    group actionable alerts into incidents; ``prior_rate`` is the actionable share of the whole history.
    """
    s, y = np.asarray(scores, dtype=np.float64), np.asarray(labels, dtype=bool)
    svc = np.asarray(services, dtype=object)
    expected_pos = max(float(y.sum()), prior_rate * len(y))
    names = sorted(set(svc.tolist()))
    support = max(params.min_support, math.ceil(1 / params.service_cap - 1))
    own = [n for n in names if int(y[svc == n].sum()) >= support]
    pooled_mask = ~np.isin(svc, own)
    groups = [(n, svc == n) for n in own] + [(POOLED, pooled_mask)]
    window_s = params.incident_window_minutes * 60
    t = None if times is None else np.asarray(times, dtype=np.float64)
    slices = time_slices(t, params.time_slices)
    weights = burst_weights(t, svc, window_s)
    bursts_of = [None if t is None else incidents(t[mask & y], svc[mask & y], window_s) for _, mask in groups]
    signal = [
        ranks_above_chance(s[mask], y[mask], separate_incidents(t, mask & y, window_s), params.confidence)
        for _, mask in groups
    ]
    full = params.budget * (1 - params.margin) * expected_pos
    picks: list[GroupChoice] = []
    for scale in SCALES:  # the largest share of the budget whose thresholds hold on every time slice
        allowed = full * scale
        unit = max(allowed, 1e-9) / UNITS
        options = []
        for (name, mask), bursts, ranked in zip(groups, bursts_of, signal, strict=True):
            cap = allowed if name == POOLED else min(allowed, params.service_cap * int(y[mask].sum()))
            options.append(candidates(s[mask], y[mask], cap, unit, bursts, ranked, weights[mask]))
        picks = _allocate(options, unit, UNITS if allowed > 0 else 0)
        thresholds = [(mask, p.threshold) for (_, mask), p in zip(groups, picks, strict=True)]
        if all(holds_on(s, y, part, thresholds, params.budget, prior_rate, weights) for part in slices):
            break
    z = float(norm.ppf(params.confidence))
    mean = sum(p.expected_misses for p in picks) / max(expected_pos, 1e-9)
    upper = mean + z * math.sqrt(sum(p.variance for p in picks)) / max(expected_pos, 1e-9)
    chosen = dict(zip([name for name, _ in groups], picks, strict=True))
    pooled = chosen.pop(POOLED)
    policy = ThresholdPolicy(
        params=params,
        expected_fnr=mean,
        fnr_upper_bound=upper,
        pooled=pooled,
        services={k: v for k, v in chosen.items()},
        known_services=sorted(set(names) | set(known_services)),
    )
    policy.notes = service_notes(policy, s, y, svc, None if t is None else t)
    return policy


def global_threshold(
    scores: Sequence[float] | np.ndarray,
    labels: Sequence[bool] | np.ndarray,
    params: ThresholdParams,
    times: Sequence[float] | np.ndarray | None = None,
    prior_rate: float = 0.0,
) -> GroupChoice:
    """The best single threshold for all services under the same rule (the baseline)."""
    single = params.model_copy(update={"min_support": 10**9})
    policy = choose_thresholds(scores, labels, ["all"] * len(scores), single, times=times, prior_rate=prior_rate)
    return policy.pooled
