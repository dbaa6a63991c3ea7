"""Choosing the classifier's L2 penalty on held-out log-loss.

A logistic model fitted to convergence with almost no penalty on nearly separable history grows its
logits without bound: later actionable alerts then score 1e-7, and every estimate built on the model's
probabilities calls suppression free. The penalty is therefore chosen, not assumed: the rows the
classifier fits on (time order) are cut once more, the earlier ``1 - held_out`` part is fitted with each
penalty of ``GRID`` and the later part scores it; the penalty with the lowest held-out log-loss wins (the
larger on a tie within ``TOLERANCE``: of two models that predict the later weeks equally well, the
smoother one). These fits run in process, whatever the backend of the final fit.
"""

from __future__ import annotations

import numpy as np
from pydantic import BaseModel, Field

from alertsieve.calibrate import log_loss
from alertsieve.model import TrainParams, fit, make_classifier, numpy_batches, predict

GRID: tuple[float, ...] = (1e-5, 1e-4, 1e-3, 1e-2, 3e-2, 1e-1)
TOLERANCE = 0.002  # log-loss differences smaller than this are ties


class PenaltyChoice(BaseModel):
    weight_decay: float
    held_out_log_loss: dict[str, float] = Field(default_factory=dict, description="per penalty tried")
    held_out_rows: int = 0


def choose_weight_decay(
    dense: np.ndarray,
    embedding: np.ndarray,
    labels: np.ndarray,
    params: TrainParams,
    held_out: float = 0.25,
    grid: tuple[float, ...] = GRID,
) -> PenaltyChoice:
    """The penalty of ``grid`` with the lowest log-loss on the last ``held_out`` of the rows (time order);
    ``params.weight_decay`` when either part lacks a class (nothing to choose on)."""
    y = np.asarray(labels, dtype=np.float32)
    cut = int(round(len(y) * (1 - held_out)))
    if params.hidden or cut < 20 or len(y) - cut < 20 or len(set(y[:cut].tolist())) < 2 or y[cut:].sum() < 1:
        return PenaltyChoice(weight_decay=params.weight_decay)
    losses: dict[str, float] = {}
    for weight_decay in grid:
        trial = params.model_copy(update={"weight_decay": weight_decay})
        model = make_classifier(dense.shape[1], embedding.shape[1], trial)
        fit(model, numpy_batches(dense[:cut], embedding[:cut], y[:cut], trial.batch_size, trial.seed), trial)
        losses[f"{weight_decay:g}"] = round(log_loss(predict(model, dense[cut:], embedding[cut:]), y[cut:]), 6)
    best = min(losses.values())
    chosen = max(float(k) for k, v in losses.items() if v <= best + TOLERANCE)
    return PenaltyChoice(weight_decay=chosen, held_out_log_loss=losses, held_out_rows=len(y) - cut)
