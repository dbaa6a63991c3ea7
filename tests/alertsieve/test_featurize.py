from __future__ import annotations

import numpy as np
import pytest

from alertsieve import context, neighbours
from alertsieve.featurize import FeatureConfig, Scaler, texts_of
from alertsieve.featurizer import dense_rows, model_inputs
from tests.factories import alert


def test_scaler_standardises_and_keeps_constant_columns_finite():
    matrix = np.array([[1.0, 5.0], [3.0, 5.0], [5.0, 5.0]], dtype=np.float32)
    scaler = Scaler.fit(matrix)
    out = scaler.apply(matrix)
    assert out.dtype == np.float32
    assert out[:, 0].mean() == pytest.approx(0.0) and out[:, 0].std() == pytest.approx(1.0)
    assert scaler.std[1] == 1.0 and (out[:, 1] == 0).all()


def test_dense_names_and_rows_follow_the_config():
    ctx = np.ones((2, len(context.FEATURE_NAMES)), dtype=np.float32)
    nn = np.zeros((2, len(neighbours.FEATURE_NAMES)), dtype=np.float32)
    with_nn, without = FeatureConfig(), FeatureConfig(use_neighbours=False)
    assert with_nn.dense_names == context.FEATURE_NAMES + neighbours.FEATURE_NAMES
    assert dense_rows(with_nn, ctx, nn).shape == (2, len(with_nn.dense_names))
    assert dense_rows(without, ctx, nn).shape == (2, len(context.FEATURE_NAMES))


def test_model_inputs_drop_unused_embeddings():
    dense = np.ones((3, 2), dtype=np.float32)
    emb = np.ones((3, 5), dtype=np.float32)
    scaler = Scaler(mean=[0.0, 0.0], std=[1.0, 1.0])
    no_lexical = FeatureConfig(lexical_dims=0)
    assert model_inputs(no_lexical, scaler, dense, emb)[1].shape == (3, 5)
    assert model_inputs(no_lexical.model_copy(update={"use_embedding": False}), scaler, dense, emb)[1].shape == (3, 0)


def test_the_lexical_view_sits_beside_the_embedding_and_counts_exact_tokens():
    dense = np.ones((3, 2), dtype=np.float32)
    emb = np.zeros((3, 5), dtype=np.float32)
    scaler = Scaler(mean=[0.0, 0.0], std=[1.0, 1.0])
    texts = ["ET SCAN rule 2001219 fired", "ET SCAN rule 2001218 fired", "ET SCAN rule 2001219 fired"]
    inputs = model_inputs(FeatureConfig(lexical_dims=64), scaler, dense, emb, texts)
    assert inputs.embedding.shape == (3, 5 + 64)
    lexical = inputs.embedding[:, 5:]
    assert np.allclose(np.linalg.norm(lexical, axis=1), 1.0)
    assert np.array_equal(lexical[0], lexical[2])  # the same text, the same row (a stable hash)
    assert not np.array_equal(lexical[0], lexical[1])  # one rule id apart: apart here, though they embed alike


def test_texts_use_configured_labels():
    a = alert(cluster="prod")
    assert "cluster: prod" in texts_of([a], FeatureConfig())[0]
    assert "cluster" not in texts_of([a], FeatureConfig(instance_labels=("cluster",)))[0]
