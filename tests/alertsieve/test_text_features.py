from __future__ import annotations

from collections.abc import Sequence

import numpy as np
import pytest

from alertsieve.embedding import EmbeddingCache, HashingEncoder
from alertsieve.scoring import Scorer
from alertsieve.text_features import Pending, TextFeatures
from tests.factories import alert

END = 8 * 24 * 60  # the small history spans eight days from T0


class CountingEncoder(HashingEncoder):
    """The hashing encoder, recording every text it is asked to embed."""

    def __init__(self) -> None:
        super().__init__()
        self.asked: list[str] = []

    def encode(self, texts: Sequence[str]) -> np.ndarray:
        self.asked.extend(texts)
        return super().encode(texts)


def fill(features: TextFeatures, pending: Pending, encoder: HashingEncoder) -> None:
    """What a caller does with pending work: embed the new texts, look everything up, remember it."""
    vectors = features.vectors(pending, encoder.encode(pending.embed) if pending.embed else None)
    features.remember(pending.lookup, vectors, *features.index.features(vectors))


def test_known_texts_take_their_training_vector_and_never_reach_the_encoder(small_bundle):
    features = TextFeatures(small_bundle.index)
    known = [p.text for p in small_bundle.index.prototypes[:3]]
    pending = features.pending([known[0], known[1], known[0], known[2]])
    assert pending.lookup == known  # distinct, first-seen order
    assert pending.embed == []
    fill(features, pending, HashingEncoder())
    rows = features.rows([known[2], known[0]])
    position = {p.text: i for i, p in enumerate(small_bundle.index.prototypes)}
    np.testing.assert_array_equal(rows.embeddings[0], small_bundle.index.vectors[position[known[2]]])
    expected, sims, ids = small_bundle.index.features(
        small_bundle.index.vectors[[position[known[2]], position[known[0]]]]
    )
    np.testing.assert_allclose(rows.neighbour_rows, expected)
    np.testing.assert_array_equal(rows.ids, ids)
    assert ids[0][0] == position[known[2]]  # a known text's nearest prototype is itself


def test_new_texts_are_embedded_once_and_repeats_are_hits(small_bundle):
    features = TextFeatures(small_bundle.index)
    encoder = CountingEncoder()
    known = small_bundle.index.prototypes[0].text
    texts = ["alert: Brand new | service: auth", known, "alert: Brand new | service: auth"]
    pending = features.pending(texts)
    assert pending.embed == ["alert: Brand new | service: auth"]
    fill(features, pending, encoder)
    assert (features.lookups, features.hits) == (3, 0)
    assert features.pending(texts) == Pending(lookup=[], embed=[])
    assert (features.lookups, features.hits) == (6, 3)
    assert encoder.asked == ["alert: Brand new | service: auth"]
    assert not features.known("alert: Brand new | service: auth") and features.known(known)
    assert features.pending(texts).hits == 3  # the batch's own count, for the scorer's telemetry


def test_features_equal_a_fresh_embedding_and_search(small_bundle):
    """The remembered path gives what embedding every text and searching the index would give."""
    scorer = Scorer(small_bundle, EmbeddingCache(HashingEncoder()))
    alerts = [alert(name="HighLatency", service="auth", at=END + i, pod=f"auth-7d9f8b6c4-{i:05d}") for i in range(3)]
    alerts.append(alert(name="NeverSeenBefore", service="auth", at=END + 5))
    texts = scorer.texts(alerts)
    rows = scorer.text_rows(texts)
    vectors = HashingEncoder().encode(texts)
    neighbour_rows, sims, ids = small_bundle.index.features(vectors)
    np.testing.assert_allclose(rows.embeddings, vectors, atol=1e-6)
    np.testing.assert_allclose(rows.neighbour_rows, neighbour_rows, atol=1e-5)
    np.testing.assert_array_equal(rows.ids, ids)


def test_least_recently_used_texts_are_forgotten(small_bundle):
    features = TextFeatures(small_bundle.index, capacity=2)
    a, b, c = (p.text for p in small_bundle.index.prototypes[:3])
    fill(features, features.pending([a, b]), HashingEncoder())
    features.rows([a])  # a is now the most recently used
    fill(features, features.pending([c]), HashingEncoder())
    assert features.pending([a, b, c]).lookup == [b]
    with pytest.raises(KeyError):
        features.rows([b])


def test_prefill_chunks_and_misuse(small_bundle):
    features = TextFeatures(small_bundle.index)
    everything = features.prefill()
    assert everything.lookup == [p.text for p in small_bundle.index.prototypes] and everything.embed == []
    mixed = Pending(lookup=["x", "known", "y"], embed=["x", "y"])
    assert list(mixed.chunks(2)) == [Pending(["x", "known"], ["x"]), Pending(["y"], ["y"])]
    with pytest.raises(ValueError, match="1 embeddings for 2 texts"):
        features.vectors(mixed, np.zeros((1, features.index.dim), dtype=np.float32))
    empty = features.rows([])
    assert empty.embeddings.shape == (0, features.index.dim)
    assert empty.neighbour_rows.shape[0] == 0
