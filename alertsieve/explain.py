"""Why each service suppresses what it does, in numbers a person can check.

``service_notes`` reads a chosen policy and the validation slice it was chosen on and says, per service,
how much evidence there was (actionable alerts, incidents), where its actionable and noise scores lie,
and what the threshold in force does; where it suppresses little it names the cause. `alertsieve train`
prints these notes and the threshold UI shows them.
"""

from __future__ import annotations

import numpy as np

from alertsieve.policy import ThresholdPolicy

LITTLE = 0.10  # a noise reduction below this gets a cause


def incidents(times: np.ndarray, services: np.ndarray, window_s: float) -> int:
    """Bursts among actionable alerts: distinct (service, window of ``window_s``) pairs (0: each alert)."""
    if window_s <= 0:
        return len(times)
    return len({(svc, int(t // window_s)) for t, svc in zip(times.tolist(), services.tolist(), strict=True)})


def note_for(
    policy: ThresholdPolicy, service: str, scores: np.ndarray, labels: np.ndarray, times: np.ndarray | None
) -> str:
    """One service's note from its validation rows (scores, labels and start times)."""
    found = policy.threshold_for(service)
    threshold, source = found if found is not None else (0.0, "none")
    pos, neg = scores[labels], scores[~labels]
    if len(scores) == 0:
        return f"no validation alerts; {source} threshold {threshold:.4f}"
    window_s = policy.params.incident_window_minutes * 60
    bursts = len(pos) if times is None else incidents(times, np.full(len(times), service, dtype=object), window_s)
    evidence = f"{len(pos)} actionable validation alerts from {bursts} incidents, {len(neg)} noise"
    suppressed = float((neg < threshold).mean()) if len(neg) else 0.0
    missed = int((pos < threshold).sum())
    effect = f"{source} threshold {threshold:.4f} suppresses {suppressed:.0%} of its noise, {missed} actionable"
    if len(neg) == 0 or suppressed >= LITTLE:
        return f"{evidence}; {effect}"
    noise_median = float(np.median(neg))
    if noise_median >= 1.0:
        cause = "most of its validation alerts were never seen in training (novel: paged, score 1)"
    elif len(pos) and noise_median >= 0.5 * float(np.median(pos)):
        cause = (
            f"the model cannot tell its noise from its actionable alerts (median P(actionable) "
            f"{noise_median:.3f} for noise, {float(np.median(pos)):.3f} for actionable)"
        )
    elif len(pos) and float(pos.min()) <= float(np.quantile(neg, 0.2)):
        below = float((neg > pos.min()).mean())
        cause = f"an actionable alert scored {float(pos.min()):.4f}, below {1 - below:.0%} of its noise"
    elif noise_median >= 0.01:
        cause = (
            f"its noise still scores P(actionable) {noise_median:.3f} at the median: each suppressed alert costs that"
        )
    else:
        cause = "the FNR budget went to services where suppressing costs less"
    return f"{evidence}; {effect}: suppresses little because {cause}"


def service_notes(
    policy: ThresholdPolicy,
    scores: np.ndarray,
    labels: np.ndarray,
    services: np.ndarray,
    times: np.ndarray | None,
) -> dict[str, str]:
    """A note for every known service (see ``note_for``)."""
    out = {}
    for name in policy.known_services:
        mask = services == name
        pos_times = None if times is None else times[mask & labels]
        out[name] = note_for(policy, name, scores[mask], labels[mask], pos_times)
    return out
