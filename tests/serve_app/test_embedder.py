"""The Embedder deployment's one call for texts a scorer has not remembered: embedding and neighbour lookup
together, batched across requests, the same features as the in-process path. Its class runs here without
Ray (Serve's batching and transport are exercised by test_app.py)."""

from __future__ import annotations

import numpy as np
import pytest

from alertsieve.embedding import HASHING, EmbeddingCache, HashingEncoder
from alertsieve.text_features import LocalTextLookup
from serve_app.embedder import Embedder


class CountingHashing(HashingEncoder):
    def __init__(self) -> None:
        super().__init__()
        self.calls: list[list[str]] = []

    def encode(self, texts):
        self.calls.append(list(texts))
        return super().encode(texts)


@pytest.fixture
def embedder(small_bundle):
    def loader(ref: str):
        if ref == "broken":
            raise FileNotFoundError("no such model")
        return small_bundle

    replica = Embedder.func_or_class(loader)  # type: ignore[attr-defined]
    encoder = CountingHashing()
    replica.caches[HASHING] = EmbeddingCache(encoder)
    return replica, encoder


def test_features_are_those_of_the_in_process_path(embedder, small_bundle) -> None:
    replica, encoder = embedder
    known = [p.text for p in small_bundle.index.prototypes[:3]]
    new = ["alert: NeverSeen | service: nowhere", "alert: AlsoNew | service: elsewhere"]
    first, second = [known[0], new[0]], [new[1], known[1], known[2]]
    results = replica._features_grouped([(HASHING, "v1", first), (HASHING, "v1", second)])
    assert [sorted(call) for call in encoder.calls] == [sorted(new)]  # both requests' new texts, one encoder call
    local = LocalTextLookup(small_bundle.index, EmbeddingCache(HashingEncoder()))
    for texts, (vectors, rows, sims, ids) in zip((first, second), results, strict=True):
        expected = local.lookup(texts)
        assert np.allclose(vectors, expected.embeddings, atol=1e-6)
        assert np.allclose(rows, expected.neighbour_rows, atol=1e-6)
        assert np.allclose(sims, expected.sims, atol=1e-6) and np.array_equal(ids, expected.ids)
    # a known text keeps the vector training gave it
    position = [p.text for p in small_bundle.index.prototypes].index(known[0])
    assert np.array_equal(results[0][0][0], small_bundle.index.vectors[position])


def test_a_model_that_fails_fails_only_its_own_requests(embedder, small_bundle) -> None:
    replica, _ = embedder
    text = small_bundle.index.prototypes[0].text
    good, bad, other = replica._features_grouped(
        [(HASHING, "v1", [text]), (HASHING, "broken", [text, "new text"]), (HASHING, "v2", ["another new text"])]
    )
    assert isinstance(bad, FileNotFoundError)
    assert not isinstance(good, Exception) and good[1].shape[0] == 1
    assert not isinstance(other, Exception) and other[0].shape == (1, small_bundle.index.dim)


def test_models_are_kept_for_the_last_few_references(embedder) -> None:
    replica, _ = embedder
    for ref in ("v1", "v2", "v3", "v4", "v5"):
        replica.indexes.model(ref)
    assert list(replica.indexes._models) == ["v2", "v3", "v4", "v5"]
