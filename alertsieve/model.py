"""The torch classifier of P(actionable) and its training loop.

The loop is plain torch so it runs in a unit test; ``train_app`` runs the same loop inside Ray Train
workers by passing its own batch source, model preparation and reporting hooks (``FitHooks``).
The model's output is a logistic probability, which keeps thresholds chosen on validation meaningful.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Iterator
from dataclasses import dataclass, field
from typing import Protocol

import numpy as np
import torch
from pydantic import BaseModel, Field
from torch import nn

Batch = tuple[torch.Tensor, torch.Tensor, torch.Tensor]  # dense, embedding, label


class TrainParams(BaseModel):
    epochs: int = Field(default=25, ge=1)
    batch_size: int = Field(default=256, ge=8)
    learning_rate: float = Field(default=1e-2, gt=0)
    weight_decay: float = Field(default=1e-6, ge=0, description="L2 penalty on the weights")
    hidden: int = Field(default=0, ge=0, description="0: logistic regression (the default); else an MLP's width")
    embedding_projection: int = Field(default=16, ge=1)
    dropout: float = Field(default=0.1, ge=0, lt=1)
    seed: int = 0


class AlertClassifier(nn.Module):
    """Logistic regression over the dense features and the text embedding (``hidden`` 0, the default),
    or a small MLP over the dense features and a low-rank projection of the embedding.

    Logistic outputs are calibrated probabilities, which the thresholds rely on (``alertsieve.optimize``):
    an MLP's scores shifted between fits and its thresholds did not carry over."""

    def __init__(self, n_dense: int, n_embedding: int, params: TrainParams) -> None:
        super().__init__()
        self.n_embedding = n_embedding
        self.logistic = params.hidden == 0
        self.project: nn.Module | None = None
        if self.logistic:
            self.body: nn.Module = nn.Linear(n_dense + n_embedding, 1)
            return
        projected = params.embedding_projection if n_embedding else 0
        self.project = nn.Linear(n_embedding, projected) if n_embedding else None
        self.body = nn.Sequential(
            nn.Linear(n_dense + projected, params.hidden),
            nn.ReLU(),
            nn.Dropout(params.dropout),
            nn.Linear(params.hidden, params.hidden),
            nn.ReLU(),
            nn.Linear(params.hidden, 1),
        )

    def forward(self, dense: torch.Tensor, embedding: torch.Tensor) -> torch.Tensor:
        parts = [dense]
        if self.project is not None:
            parts.append(self.project(embedding))
        elif self.logistic:
            parts.append(embedding)
        logits: torch.Tensor = self.body(torch.cat(parts, dim=1))
        return logits.squeeze(1)


def make_classifier(n_dense: int, n_embedding: int, params: TrainParams) -> AlertClassifier:
    torch.manual_seed(params.seed)
    return AlertClassifier(n_dense, n_embedding, params)


def numpy_batches(
    dense: np.ndarray, embedding: np.ndarray, labels: np.ndarray, batch_size: int, seed: int
) -> Callable[[int], Iterator[Batch]]:
    """A batch source over in-memory arrays, shuffled per epoch."""

    def epoch_batches(epoch: int) -> Iterator[Batch]:
        order = np.random.default_rng(seed + epoch).permutation(len(labels))
        for start in range(0, len(order), batch_size):
            rows = order[start : start + batch_size]
            yield (
                torch.from_numpy(dense[rows]),
                torch.from_numpy(embedding[rows]),
                torch.from_numpy(labels[rows].astype(np.float32)),
            )

    return epoch_batches


class Reporter(Protocol):
    def __call__(self, epoch: int, loss: float) -> None: ...


@dataclass
class FitHooks:
    prepare_model: Callable[[nn.Module], nn.Module] = lambda m: m
    device: torch.device = field(default_factory=lambda: torch.device("cpu"))
    report: Reporter = lambda epoch, loss: None


def fit(
    model: nn.Module,
    batches: Callable[[int], Iterable[Batch]],
    params: TrainParams,
    hooks: FitHooks | None = None,
) -> nn.Module:
    """Binary cross-entropy for ``params.epochs``; returns the trained (prepared) model.

    A logistic model is fitted to convergence by full-batch L-BFGS with an L2 penalty of ``weight_decay``
    on its weights (each "epoch" is up to LBFGS_STEPS iterations; it stops early once converged): its
    small probabilities are evidence for the thresholds, and minibatch steps stop short of them. An MLP
    takes minibatch AdamW steps."""
    hooks = hooks or FitHooks()
    torch.manual_seed(params.seed)
    model = hooks.prepare_model(model)
    loss_fn = nn.BCEWithLogitsLoss()
    if getattr(getattr(model, "module", model), "logistic", False):
        return _fit_logistic(model, batches, params, hooks, loss_fn)
    optimiser = torch.optim.AdamW(model.parameters(), lr=params.learning_rate, weight_decay=params.weight_decay)
    for epoch in range(params.epochs):
        model.train()
        total, count = 0.0, 0
        for dense, embedding, labels in batches(epoch):
            dense, embedding, labels = (t.to(hooks.device) for t in (dense, embedding, labels))
            optimiser.zero_grad()
            loss = loss_fn(model(dense, embedding), labels)
            loss.backward()
            optimiser.step()
            total += float(loss.detach()) * len(labels)
            count += len(labels)
        hooks.report(epoch, total / max(count, 1))
    return model


LBFGS_STEPS = 20


def _fit_logistic(
    model: nn.Module,
    batches: Callable[[int], Iterable[Batch]],
    params: TrainParams,
    hooks: FitHooks,
    loss_fn: nn.Module,
) -> nn.Module:
    parts = list(batches(0))
    if not parts:
        return model
    dense, embedding, labels = (torch.cat(column).to(hooks.device) for column in zip(*parts, strict=True))
    weights = [p for name, p in model.named_parameters() if name.endswith("weight")]
    optimiser = torch.optim.LBFGS(
        model.parameters(),
        lr=1.0,
        max_iter=LBFGS_STEPS,
        history_size=20,
        line_search_fn="strong_wolfe",
        tolerance_grad=1e-7,
        tolerance_change=1e-10,
    )
    model.train()

    def closure() -> torch.Tensor:
        optimiser.zero_grad()
        loss: torch.Tensor = loss_fn(model(dense, embedding), labels)
        loss = loss + params.weight_decay * sum((w**2).sum() for w in weights)
        torch.autograd.backward(loss)  # what loss.backward() does, through torch's annotated entry point
        return loss

    for epoch in range(params.epochs):
        loss = optimiser.step(closure)  # type: ignore[no-untyped-call]  # torch leaves LBFGS.step unannotated
        hooks.report(epoch, float(loss.detach()))
    return model


@torch.no_grad()
def predict(model: nn.Module, dense: np.ndarray, embedding: np.ndarray) -> np.ndarray:
    """P(actionable) per row, as float64 in [0, 1]."""
    model.eval()
    if len(dense) == 0:
        return np.zeros(0)
    logits = model(torch.from_numpy(dense), torch.from_numpy(embedding))
    return torch.sigmoid(logits).double().numpy()
