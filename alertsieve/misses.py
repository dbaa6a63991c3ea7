"""Expected misses of a cut of validation alerts: the model's word checked against what validation shows.

The thresholds (``alertsieve.optimize``) read two kinds of evidence about the alerts below a cut: the model's
probabilities, and what validation shows (the actionable ones among them). Neither alone will do. The model's
small probabilities are far too small where a nearly separable history made it over-confident; validation's
count alone is chosen exactly where it happens to show few misses, and with a handful of incidents it
certifies nothing. So, per score range, the model is the prior and validation updates it
(``checked_misses``); the alerts of one burst count as one piece of evidence (``burst_weights``); and scores
that do not rank actionable alerts above noise beyond chance are not used at all (``ranks_above_chance``,
counting independent incidents: ``separate_incidents``).
"""

from __future__ import annotations

import math

import numpy as np
from scipy.stats import norm, rankdata

PRIOR_ALERTS = 10.0  # strength of the model's word in a score range, in pseudo-alerts
RANGE_WIDTH = 2.0  # score ranges: two units of log-odds wide


def score_ranges(sorted_scores: np.ndarray) -> np.ndarray:
    """The score range of each (ascending) score: bins ``RANGE_WIDTH`` units of log-odds wide."""
    q = np.clip(sorted_scores, 1e-12, 1 - 1e-12)
    return np.asarray(np.floor(np.log(q / (1 - q)) / RANGE_WIDTH), dtype=np.int64)


def checked_misses(
    sorted_scores: np.ndarray, sorted_labels: np.ndarray, sorted_weights: np.ndarray | None = None
) -> np.ndarray:
    """Expected misses of suppressing the k+1 lowest of ``sorted_scores``, for every k.

    The model's word is checked per score range (``RANGE_WIDTH`` log-odds wide): there the model's mean
    probability ``p`` is the prior, worth ``PRIOR_ALERTS`` alerts, and validation shows ``j`` actionable
    among ``n`` alerts, worth ``n_eff`` independent ones (``sorted_weights`` per alert, ``burst_weights``:
    the alerts of one burst count once; all 1 without weights). The range's actionable rate is the posterior
    mean ``(j n_eff / n + a p) / (n_eff + a)`` and the range costs ``n`` times that, and never less than the
    ``j`` it showed. Where validation has few alerts
    in a range the model's word stands; where it has thousands, validation's count does, whatever the model
    claimed: a range the model calls free but where validation shows misses costs those misses, and a range
    where the model is cautious but thousands of validation alerts held no actionable one costs little.
    The cost of a cut is the sum over the ranges below it."""
    s = np.asarray(sorted_scores, dtype=np.float64)
    y = np.asarray(sorted_labels, dtype=np.float64)
    if len(s) == 0:
        return np.zeros(0)
    ranges = score_ranges(s)
    starts = np.flatnonzero(np.append(True, ranges[1:] != ranges[:-1]))
    range_index = np.searchsorted(starts, np.arange(len(s)), side="right") - 1
    first = starts[range_index]  # the first position of each one's range
    m_all, j_all = np.cumsum(s), np.cumsum(y)
    m = m_all - np.where(first > 0, m_all[first - 1], 0.0)  # mass and misses in the range, up to the cut
    j = j_all - np.where(first > 0, j_all[first - 1], 0.0)
    n = np.arange(len(s)) - first + 1.0
    w_all = np.cumsum(np.ones(len(s)) if sorted_weights is None else np.asarray(sorted_weights, dtype=np.float64))
    n_eff = w_all - np.where(first > 0, w_all[first - 1], 0.0)  # independent evidence: bursts, not alerts
    rate = (j * n_eff / n + PRIOR_ALERTS * m / n) / (n_eff + PRIOR_ALERTS)
    cost = np.maximum(j, n * rate)
    ends = np.append(starts[1:] - 1, len(s) - 1)  # the last position of each range
    done = np.concatenate([[0.0], np.cumsum(cost[ends])])  # the completed ranges below each range
    return np.asarray(done[range_index] + cost, dtype=np.float64)


def posterior_misses(
    sorted_scores: np.ndarray, sorted_labels: np.ndarray, sorted_weights: np.ndarray | None = None
) -> tuple[np.ndarray, np.ndarray]:
    """``checked_misses`` for every cut, and their (Poisson) variance."""
    misses = checked_misses(sorted_scores, sorted_labels, sorted_weights)
    return misses, misses.copy()


def separate_incidents(times: np.ndarray | None, actionable: np.ndarray, window_s: float) -> int:
    """Independent incidents among the ``actionable`` alerts: runs in time whose gaps are under ``window_s``
    (whatever their service: overlapping incidents count once, which errs towards less evidence)."""
    if times is None or window_s <= 0:
        return int(actionable.sum())
    t = np.sort(times[actionable])
    return int(len(t) > 0) + int((np.diff(t) >= window_s).sum())


def ranks_above_chance(scores: np.ndarray, labels: np.ndarray, incidents: int, confidence: float) -> bool:
    """Whether validation shows the scores rank actionable alerts above noise beyond chance: the AUC's
    lower bound at ``confidence`` (Hanley-McNeil, counting incidents, not alerts, as the actionable
    sample) above 0.5. Without two actionable alerts and one noise alert there is nothing to test: True."""
    y = np.asarray(labels, dtype=bool)
    n_pos, n_neg = int(y.sum()), int((~y).sum())
    if n_pos < 2 or n_neg < 1:
        return True
    ranks = rankdata(scores)
    auc = (float(ranks[y].sum()) - n_pos * (n_pos + 1) / 2) / (n_pos * n_neg)
    n_eff = max(1, min(incidents, n_pos))
    q1, q2 = auc / (2 - auc), 2 * auc * auc / (1 + auc)
    variance = (auc * (1 - auc) + (n_eff - 1) * (q1 - auc * auc) + (n_neg - 1) * (q2 - auc * auc)) / (n_eff * n_neg)
    return auc - float(norm.ppf(confidence)) * math.sqrt(max(variance, 0.0)) > 0.5


def expected_misses(
    scores: np.ndarray, labels: np.ndarray, threshold: float, weights: np.ndarray | None = None
) -> tuple[float, float]:
    """``posterior_misses`` of suppressing the alerts scored below ``threshold``."""
    below = np.asarray(scores) < threshold
    if not below.any():
        return 0.0, 0.0
    order = np.argsort(np.asarray(scores)[below], kind="stable")
    picked = np.asarray(scores)[below][order], np.asarray(labels)[below][order]
    w = None if weights is None else np.asarray(weights, dtype=np.float64)[below][order]
    misses, variance = posterior_misses(*picked, w)
    return float(misses[-1]), float(variance[-1])


def burst_weights(times: np.ndarray | None, services: np.ndarray, window_s: float) -> np.ndarray:
    """Per alert, one over the number of alerts of its service in its window of ``window_s``: the alerts of
    one burst are one piece of evidence, not many (ones without times, or with a window of 0)."""
    if times is None or window_s <= 0:
        return np.ones(len(services))
    keys = [(svc, int(t // window_s)) for svc, t in zip(services.tolist(), times.tolist(), strict=True)]
    counts: dict[tuple[str, int], int] = {}
    for key in keys:
        counts[key] = counts.get(key, 0) + 1
    return np.array([1.0 / counts[key] for key in keys])
