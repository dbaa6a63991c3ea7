"""The one fitted featurisation (alertsieve/featurizer.py): ``fit`` gives training's classifier inputs, and
``transform`` gives the same inputs for the same alerts at scoring time."""

from __future__ import annotations

import numpy as np
import pytest

from alertsieve import context
from alertsieve.context import time_order
from alertsieve.embedding import EmbeddingCache, HashingEncoder
from alertsieve.featurize import FeatureConfig
from alertsieve.featurizer import Featurizer, FittedHistory
from alertsieve.schema import LabelledAlert
from alertsieve.text_features import LocalTextLookup

CONFIG = FeatureConfig(encoder="hashing-64", label_delay_hours=1.0)  # the small bundle's (tests/conftest.py)


@pytest.fixture(scope="module")
def fitted(small_history: list[LabelledAlert]) -> tuple[list[LabelledAlert], Featurizer, FittedHistory]:
    alerts = [small_history[i] for i in time_order(small_history)]
    split = int(round(len(alerts) * 0.75))  # train_bundle's default validation fraction
    featurizer, history = Featurizer.fit(alerts, split, EmbeddingCache(HashingEncoder()), CONFIG)
    return alerts, featurizer, history


def test_fit_is_what_training_saved_with_the_bundle(fitted, small_bundle) -> None:
    _, featurizer, history = fitted
    assert featurizer.config == small_bundle.meta.features
    assert featurizer.scaler == small_bundle.meta.scaler
    assert featurizer.index.prototypes == small_bundle.index.prototypes
    np.testing.assert_array_equal(featurizer.index.vectors, small_bundle.index.vectors)
    assert history.state.snapshot() == small_bundle.meta.stream
    assert history.inputs.dense.shape == (len(history.texts), small_bundle.meta.n_dense)


def test_transform_of_the_later_rows_is_what_training_fed_the_classifier(fitted, small_bundle) -> None:
    alerts, featurizer, history = fitted
    split = history.fit_rows
    lookup = LocalTextLookup(featurizer.index, EmbeddingCache(HashingEncoder()))
    inputs = featurizer.transform(alerts[split:], history.context_rows[split:], lookup)
    np.testing.assert_array_equal(inputs.dense, history.inputs.dense[split:])
    np.testing.assert_array_equal(inputs.embedding, history.inputs.embedding[split:])
    # and the bundle's validation scores (novel alerts are recorded as 1.0) are the model's on these inputs
    scores = small_bundle.predict(*inputs)
    recorded = np.array([score for _, score, _ in small_bundle.meta.validation])
    familiar = recorded < 1.0
    assert familiar.any()
    np.testing.assert_allclose(scores[familiar], recorded[familiar], atol=1e-6)


def test_fit_rows_see_only_past_outcomes_but_the_same_context_and_text(fitted) -> None:
    alerts, featurizer, history = fitted
    split, n_context = history.fit_rows, len(context.FEATURE_NAMES)
    rows = LocalTextLookup(featurizer.index, EmbeddingCache(HashingEncoder())).lookup(history.texts[:split])
    inputs = featurizer.transform(alerts[:split], history.context_rows[:split], rows)
    np.testing.assert_array_equal(inputs.dense[:, :n_context], history.inputs.dense[:split, :n_context])
    np.testing.assert_array_equal(inputs.embedding, history.inputs.embedding[:split])
    # the neighbour columns differ: in training a row counts only outcomes known before it
    assert not np.array_equal(inputs.dense[:, n_context:], history.inputs.dense[:split, n_context:])


def test_unused_parts_give_no_columns(fitted) -> None:
    alerts, featurizer, history = fitted
    unused = {"use_embedding": False, "lexical_dims": 0}
    plain = Featurizer(CONFIG.model_copy(update=unused), featurizer.scaler, featurizer.index)
    rows = LocalTextLookup(featurizer.index, EmbeddingCache(HashingEncoder())).lookup(history.texts[:5])
    assert plain.transform(alerts[:5], history.context_rows[:5], rows).embedding.shape == (5, 0)
