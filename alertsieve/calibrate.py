"""Calibration of the classifier's probabilities on the validation slice: a shift of its log-odds.

The thresholds (``alertsieve.optimize``) read the model's probabilities as evidence: the sum of P(actionable)
of the alerts below a threshold is how many actionable alerts they are expected to hide. The model is
fitted on earlier history; by the validation weeks the share of actionable alerts has moved (more or
fewer incidents, noisier rules). ``Calibration.fit`` refits the intercept of the logit on the validation
slice the model never trained on (maximum likelihood, with a unit Gaussian penalty so that a slice with
few actionable alerts cannot move it far). The slope stays 1: on the simulator and the real-stream
benchmark, fitting it too sharpened or flattened the small probabilities on a few dozen actionable alerts,
and cost either the budget or the noise reduction. The map is monotone: it changes no ranking, only what
a score says. It is saved with the model and applied wherever the model scores.
"""

from __future__ import annotations

import numpy as np
from pydantic import BaseModel
from scipy.special import expit

EPS = 1e-9
PENALTY = 1.0  # a unit Gaussian prior on the intercept
MAX_STEP = 1.0


def logit(p: np.ndarray) -> np.ndarray:
    q = np.clip(p, EPS, 1 - EPS)
    logits: np.ndarray = np.log(q / (1 - q))
    return logits


class Calibration(BaseModel):
    intercept: float = 0.0

    def apply(self, scores: np.ndarray) -> np.ndarray:
        if self.intercept == 0.0:
            return np.asarray(scores, dtype=np.float64)
        return np.asarray(expit(logit(np.asarray(scores, dtype=np.float64)) + self.intercept), dtype=np.float64)

    @classmethod
    def fit(cls, scores: np.ndarray, labels: np.ndarray, steps: int = 100) -> Calibration:
        """The intercept maximising the penalised validation likelihood (damped Newton steps); none
        without two alerts of each class."""
        y = np.asarray(labels, dtype=np.float64)
        if y.sum() < 2 or (1 - y).sum() < 2:
            return cls()
        x = logit(np.asarray(scores, dtype=np.float64))
        b = 0.0
        for _ in range(steps):
            p = expit(x + b)
            step = (float((p - y).sum()) + PENALTY * b) / (float((p * (1 - p)).sum()) + PENALTY)
            step = max(-MAX_STEP, min(MAX_STEP, step))
            b -= step
            if abs(step) < 1e-9:
                break
        return cls(intercept=b) if np.isfinite(b) else cls()
