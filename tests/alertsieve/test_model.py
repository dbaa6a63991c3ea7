from __future__ import annotations

import numpy as np
import pytest
import torch
from pydantic import ValidationError

from alertsieve.model import FitHooks, TrainParams, fit, make_classifier, numpy_batches, predict


def toy(n: int = 400, seed: int = 0):
    """Two dense features and a 6-d embedding; the label is dense[0] + embedding[1] > 0."""
    rng = np.random.default_rng(seed)
    dense = rng.normal(size=(n, 2)).astype(np.float32)
    emb = rng.normal(size=(n, 6)).astype(np.float32)
    labels = (dense[:, 0] + emb[:, 1] > 0).astype(np.float32)
    return dense, emb, labels


PARAMS = TrainParams(epochs=30, batch_size=32, learning_rate=1e-2, hidden=16, embedding_projection=4, seed=3)


def test_fit_separable_toy_problem():
    dense, emb, labels = toy()
    losses: list[float] = []
    model = make_classifier(2, 6, PARAMS)
    fit(
        model,
        numpy_batches(dense, emb, labels, PARAMS.batch_size, PARAMS.seed),
        PARAMS,
        FitHooks(report=lambda epoch, loss: losses.append(loss)),
    )
    assert len(losses) == PARAMS.epochs
    assert losses[-1] < losses[0] / 2
    test_dense, test_emb, test_labels = toy(300, seed=1)
    probs = predict(model, test_dense, test_emb)
    assert probs.shape == (300,) and probs.dtype == np.float64
    assert ((probs >= 0) & (probs <= 1)).all()
    assert ((probs >= 0.5) == test_labels.astype(bool)).mean() > 0.93


def test_without_embedding():
    dense, _, labels = toy()
    labels = (dense[:, 0] > 0).astype(np.float32)
    emb = np.zeros((len(dense), 0), dtype=np.float32)
    model = make_classifier(2, 0, PARAMS)
    assert model.project is None
    fit(model, numpy_batches(dense, emb, labels, 32, 0), PARAMS.model_copy(update={"epochs": 15}))
    probs = predict(model, dense, emb)
    assert ((probs >= 0.5) == labels.astype(bool)).mean() > 0.95


def test_predict_empty_and_eval_mode():
    model = make_classifier(2, 6, PARAMS)
    model.train()
    out = predict(model, np.zeros((0, 2), dtype=np.float32), np.zeros((0, 6), dtype=np.float32))
    assert out.shape == (0,)
    dense, emb, _ = toy(10)
    # eval mode: dropout off, so repeated predictions agree.
    assert np.array_equal(predict(model, dense, emb), predict(model, dense, emb))
    assert not model.training


def test_same_seed_same_model():
    a, b = make_classifier(2, 6, PARAMS), make_classifier(2, 6, PARAMS)
    for pa, pb in zip(a.parameters(), b.parameters(), strict=True):
        assert torch.equal(pa, pb)


def test_numpy_batches_cover_every_row_once_per_epoch():
    dense, emb, labels = toy(50)
    batches = numpy_batches(dense, emb, labels, 16, seed=0)
    epoch0 = list(batches(0))
    assert [len(b[2]) for b in epoch0] == [16, 16, 16, 2]
    seen = torch.cat([b[0] for b in epoch0]).numpy()
    assert sorted(map(tuple, seen)) == sorted(map(tuple, dense))
    assert epoch0[0][2].dtype == torch.float32
    assert not torch.equal(epoch0[0][0], next(iter(batches(1)))[0])  # reshuffled


@pytest.mark.parametrize(
    "bad",
    [
        {"epochs": 0},
        {"batch_size": 4},
        {"learning_rate": 0},
        {"weight_decay": -1},
        {"hidden": -1},
        {"embedding_projection": 0},
        {"dropout": 1.0},
        {"dropout": -0.1},
    ],
)
def test_train_params_validation(bad):
    with pytest.raises(ValidationError):
        TrainParams(**bad)
