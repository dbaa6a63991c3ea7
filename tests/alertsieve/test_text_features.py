from __future__ import annotations

from collections.abc import Sequence

import numpy as np
import pytest

from alertsieve.embedding import EmbeddingCache, HashingEncoder
from alertsieve.featurizer import Featurizer
from alertsieve.text_features import LocalTextLookup, Pending, TextFeatures
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


def test_known_texts_take_their_training_vector_and_never_reach_the_encoder(small_bundle):
    encoder = CountingEncoder()
    lookup = LocalTextLookup(small_bundle.index, EmbeddingCache(encoder))
    known = [p.text for p in small_bundle.index.prototypes[:3]]
    pending = lookup.memory.pending([known[0], known[1], known[0], known[2]])
    assert pending.lookup == known  # distinct, first-seen order
    assert pending.embed == []
    lookup.lookup(known)
    rows = lookup.lookup([known[2], known[0]])
    assert encoder.asked == []
    position = {p.text: i for i, p in enumerate(small_bundle.index.prototypes)}
    np.testing.assert_array_equal(rows.embeddings[0], small_bundle.index.vectors[position[known[2]]])
    expected, sims, ids = small_bundle.index.features(
        small_bundle.index.vectors[[position[known[2]], position[known[0]]]]
    )
    np.testing.assert_allclose(rows.neighbour_rows, expected)
    np.testing.assert_array_equal(rows.ids, ids)
    assert ids[0][0] == position[known[2]]  # a known text's nearest prototype is itself


def test_new_texts_are_embedded_once_and_repeats_are_hits(small_bundle):
    encoder = CountingEncoder()
    lookup = LocalTextLookup(small_bundle.index, EmbeddingCache(encoder))
    features = lookup.memory
    known = small_bundle.index.prototypes[0].text
    texts = ["alert: Brand new | service: auth", known, "alert: Brand new | service: auth"]
    pending = features.pending(texts)
    assert pending.embed == ["alert: Brand new | service: auth"]
    assert pending.hits == 0
    lookup.lookup(texts)
    assert features.pending(texts) == Pending(lookup=[], embed=[])
    lookup.lookup(texts)
    assert encoder.asked == ["alert: Brand new | service: auth"]
    assert not features.known("alert: Brand new | service: auth") and features.known(known)
    assert features.pending(texts).hits == 3  # the batch's own count, for the scorer's telemetry


def test_features_equal_a_fresh_embedding_and_search(small_bundle):
    """The remembered path gives what embedding every text and searching the index would give."""
    lookup = LocalTextLookup(small_bundle.index, EmbeddingCache(HashingEncoder()))
    alerts = [alert(name="HighLatency", service="auth", at=END + i, pod=f"auth-7d9f8b6c4-{i:05d}") for i in range(3)]
    alerts.append(alert(name="NeverSeenBefore", service="auth", at=END + 5))
    texts = Featurizer.of(small_bundle).texts(alerts)
    rows = lookup.lookup(texts)
    vectors = HashingEncoder().encode(texts)
    neighbour_rows, sims, ids = small_bundle.index.features(vectors)
    np.testing.assert_allclose(rows.embeddings, vectors, atol=1e-6)
    np.testing.assert_allclose(rows.neighbour_rows, neighbour_rows, atol=1e-5)
    np.testing.assert_array_equal(rows.ids, ids)
    again = lookup.lookup(texts)  # from memory now: the same rows
    np.testing.assert_array_equal(again.neighbour_rows, rows.neighbour_rows)
    np.testing.assert_array_equal(again.embeddings, rows.embeddings)


def test_least_recently_used_texts_are_forgotten(small_bundle):
    lookup = LocalTextLookup(small_bundle.index, EmbeddingCache(HashingEncoder()), capacity=2)
    features = lookup.memory
    a, b, c = (p.text for p in small_bundle.index.prototypes[:3])
    lookup.lookup([a, b])
    features.rows([a])  # a is now the most recently used
    lookup.lookup([c])
    assert features.pending([a, b, c]).lookup == [b]
    with pytest.raises(KeyError):
        features.rows([b])


def test_a_new_text_needs_an_embedding_cache(small_bundle):
    lookup = LocalTextLookup(small_bundle.index, None)
    known = small_bundle.index.prototypes[0].text
    assert lookup.lookup([known]).embeddings.shape == (1, small_bundle.index.dim)  # known texts need no encoder
    with pytest.raises(RuntimeError, match="no embedding cache"):
        lookup.lookup(["alert: Brand new | service: auth"])


def test_the_one_search_takes_prototype_vectors_for_known_texts(small_bundle):
    features = TextFeatures(small_bundle.index, capacity=0)
    known = small_bundle.index.prototypes[1].text
    new = HashingEncoder().encode(["alert: Brand new | service: auth"])
    vectors, rows, sims, ids = features.features(
        Pending([known, "alert: Brand new | service: auth"], ["alert: Brand new | service: auth"]), new
    )
    np.testing.assert_array_equal(vectors, np.vstack([small_bundle.index.vectors[1:2], new]))
    expected, expected_sims, expected_ids = small_bundle.index.features(vectors)
    np.testing.assert_array_equal(rows, expected)
    np.testing.assert_array_equal(ids, expected_ids)


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
