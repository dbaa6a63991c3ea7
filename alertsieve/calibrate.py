"""Calibration of the classifier's probabilities on the validation slice: an affine map of its log-odds.

The thresholds (``alertsieve.optimize``) read the model's probabilities as evidence, checked against what
validation shows in each score range. The model is fitted on earlier history; by the validation weeks the
share of actionable alerts has moved, and a logistic model fitted on nearly separable history is
over-confident: its log-odds are too far apart. ``Calibration.choose`` picks, on held-out log-loss, between
three maps of the logit ``z``: none, a shift ``z + b`` (the intercept), and a shift and slope ``a z + b``
with ``a <= 1`` (Platt scaling that may only flatten, never sharpen). Each is fitted on one time half of
the validation slice and scored on the other, both ways; the one with the lowest held-out log-loss is
then fitted on the whole slice. Penalties (unit Gaussian on ``b``, on ``a - 1``) keep a slice with few
actionable alerts from moving the map far. The map is monotone: it changes no ranking, only what a score
says. It is saved with the model and applied wherever the model scores.
"""

from __future__ import annotations

from typing import Literal

import numpy as np
from pydantic import BaseModel, Field
from scipy.special import expit

EPS = 1e-9
PENALTY = 1.0  # unit Gaussian priors on the intercept and on slope - 1
MAX_STEP = 1.0
MIN_SLOPE = 0.05
Kind = Literal["none", "intercept", "platt"]
KINDS: tuple[Kind, ...] = ("none", "intercept", "platt")


def logit(p: np.ndarray) -> np.ndarray:
    q = np.clip(p, EPS, 1 - EPS)
    logits: np.ndarray = np.log(q / (1 - q))
    return logits


def log_loss(p: np.ndarray, y: np.ndarray) -> float:
    q = np.clip(np.asarray(p, dtype=np.float64), EPS, 1 - EPS)
    t = np.asarray(y, dtype=np.float64)
    return float(-(t * np.log(q) + (1 - t) * np.log(1 - q)).mean()) if len(t) else 0.0


class Calibration(BaseModel):
    intercept: float = 0.0
    slope: float = Field(default=1.0, gt=0, le=1)
    kind: Kind = "none"
    held_out_log_loss: dict[str, float] = Field(default_factory=dict, description="per kind, when chosen")

    def apply(self, scores: np.ndarray) -> np.ndarray:
        if self.intercept == 0.0 and self.slope == 1.0:
            return np.asarray(scores, dtype=np.float64)
        z = logit(np.asarray(scores, dtype=np.float64))
        return np.asarray(expit(self.slope * z + self.intercept), dtype=np.float64)

    @classmethod
    def fit(cls, scores: np.ndarray, labels: np.ndarray, kind: Kind = "intercept", steps: int = 100) -> Calibration:
        """The map of ``kind`` maximising the penalised likelihood (damped Newton steps); none without two
        alerts of each class."""
        y = np.asarray(labels, dtype=np.float64)
        if kind == "none" or y.sum() < 2 or (1 - y).sum() < 2:
            return cls(kind="none")
        x = logit(np.asarray(scores, dtype=np.float64))
        a, b = 1.0, 0.0
        for _ in range(steps):
            p = expit(a * x + b)
            r, w = p - y, p * (1 - p)
            grad_b = float(r.sum()) + PENALTY * b
            if kind == "intercept":
                step_b = max(-MAX_STEP, min(MAX_STEP, grad_b / (float(w.sum()) + PENALTY)))
                b -= step_b
                if abs(step_b) < 1e-9:
                    break
                continue
            grad = np.array([float((r * x).sum()) + PENALTY * (a - 1), grad_b])
            hess = np.array(
                [
                    [float((w * x * x).sum()) + PENALTY, float((w * x).sum())],
                    [float((w * x).sum()), float(w.sum()) + PENALTY],
                ]
            )
            step = np.clip(np.linalg.solve(hess, grad), -MAX_STEP, MAX_STEP)
            a, b = min(1.0, max(MIN_SLOPE, a - float(step[0]))), b - float(step[1])
            if float(np.abs(step).max()) < 1e-9:
                break
        if not (np.isfinite(a) and np.isfinite(b)):
            return cls(kind="none")
        return cls(intercept=b, slope=a if kind == "platt" else 1.0, kind=kind)

    @classmethod
    def choose(cls, scores: np.ndarray, labels: np.ndarray) -> Calibration:
        """The kind with the lowest held-out log-loss over the two time halves of the slice (given in time
        order), fitted on all of it."""
        s, y = np.asarray(scores, dtype=np.float64), np.asarray(labels, dtype=bool)
        half = len(s) // 2
        folds = [(slice(0, half), slice(half, None)), (slice(half, None), slice(0, half))]
        losses: dict[str, float] = {}
        for kind in KINDS:
            total = 0.0
            for fit_part, test_part in folds:
                total += log_loss(cls.fit(s[fit_part], y[fit_part], kind).apply(s[test_part]), y[test_part])
            losses[kind] = round(total / 2, 6)
        best: Kind = min(KINDS, key=lambda k: (losses[k], KINDS.index(k)))
        return cls.fit(s, y, best).model_copy(update={"held_out_log_loss": losses})
