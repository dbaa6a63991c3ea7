from __future__ import annotations

import numpy as np
import pytest

from alertsieve.neighbours import (
    FEATURE_NAMES,
    PRIOR_WEIGHT,
    PrototypeIndex,
    build_prototypes,
    outcome_features,
    past_only_features,
)
from alertsieve.schema import Neighbour

DIM = 8


def unit(i: int, mix: float = 0.0, j: int | None = None) -> np.ndarray:
    """The i-th basis vector, optionally tilted toward the j-th (normalised)."""
    v = np.zeros(DIM, dtype=np.float32)
    v[i] = 1.0
    if j is not None:
        v[j] = mix
    return v / np.linalg.norm(v)


def smoothed(actionable: float, count: float, prior: float) -> float:
    return (actionable + PRIOR_WEIGHT * prior) / (count + PRIOR_WEIGHT)


def make_index(texts, labels, prior=0.1, k=4):
    distinct, row_ids, prototypes = build_prototypes(
        texts, [f"fp{i}" for i in range(len(texts))], [t.upper() for t in texts], labels
    )
    vectors = np.stack([unit(i) for i in range(len(distinct))])
    return PrototypeIndex(vectors, prototypes, prior, k=k), distinct, row_ids


def feat(row: np.ndarray, name: str) -> float:
    return float(row[FEATURE_NAMES.index(name)])


def test_build_prototypes_counts():
    texts = ["b", "a", "b", "c", "b"]
    labels = [True, False, False, True, True]
    distinct, row_ids, prototypes = build_prototypes(
        texts, ["f0", "f1", "f2", "f3", "f4"], ["B0", "A1", "B2", "C3", "B4"], labels
    )
    assert distinct == ["a", "b", "c"]
    assert row_ids.tolist() == [1, 0, 1, 2, 1]
    by_text = {p.text: p for p in prototypes}
    assert (by_text["b"].count, by_text["b"].actionable) == (3, 2)
    assert (by_text["a"].count, by_text["a"].actionable) == (1, 0)
    # The latest row of each text is its example.
    assert (by_text["b"].example_fingerprint, by_text["b"].example_alertname) == ("f4", "B4")
    assert by_text["b"].example_actionable is True
    assert by_text["c"].example_fingerprint == "f3"


def test_rare_prototype_leans_on_prior_and_frequent_actionable_is_high():
    prior = 0.1
    texts = ["rare"] + ["loud"] * 50 + ["noise"] * 200
    labels = [True] + [True] * 50 + [False] * 200
    index, distinct, _ = make_index(texts, labels, prior)
    rows, sims, ids = index.features(index.vectors)
    rare, loud, noise = (rows[distinct.index(t)] for t in ("rare", "loud", "noise"))
    # Exact match dominates the weights (orthogonal others have weight e^-20).
    assert feat(rare, "nn_top_rate") == pytest.approx(smoothed(1, 1, prior))  # 0.4, not 1.0
    assert feat(rare, "nn_rate") == pytest.approx(smoothed(1, 1, prior), abs=1e-4)
    assert feat(loud, "nn_rate") == pytest.approx(smoothed(50, 50, prior), abs=1e-4)
    assert feat(loud, "nn_rate") > 0.95
    assert feat(noise, "nn_rate") < 0.01
    assert feat(rare, "nn_top_similarity") == pytest.approx(1.0, abs=1e-5)
    assert feat(loud, "nn_support") == pytest.approx(np.log1p(50), abs=1e-3)
    assert feat(loud, "nn_support") > feat(rare, "nn_support")


def test_outcome_features_by_hand():
    prior = 0.2
    counts = np.array([4.0, 0.0, 10.0])
    actionable = np.array([4.0, 0.0, 0.0])
    sims = np.array([[1.0, 0.95, 0.9], [0.5, 0.4, 0.0]], dtype=np.float32)
    ids = np.array([[0, 2, 1], [1, -1, -1]])
    out = outcome_features(sims, ids, counts, actionable, prior)
    w0, w1 = 1.0, np.exp((0.95 - 1.0) / 0.05)
    r0, r2 = smoothed(4, 4, prior), smoothed(0, 10, prior)
    assert out[0, 0] == pytest.approx((w0 * r0 + w1 * r2) / (w0 + w1), abs=1e-6)  # id 1 has no support
    assert out[0, 1] == pytest.approx(r0)
    assert out[0, 2] == pytest.approx(1.0)
    assert out[0, 3] == pytest.approx(np.log1p(w0 * 4 + w1 * 10), abs=1e-5)
    # Only an unsupported neighbour and missing ones: the prior, no support.
    logit = np.log(prior / (1 - prior))
    assert out[1].tolist() == pytest.approx([prior, prior, 0.5, 0.0, logit, logit], abs=1e-6)
    assert out[0, 4] == pytest.approx(np.log(out[0, 0] / (1 - out[0, 0])), abs=1e-4)  # the rates' log-odds
    assert out[0, 5] == pytest.approx(np.log(r0 / (1 - r0)), abs=1e-4)


def test_past_only_counts_outcomes_older_than_the_delay():
    prior = 0.1
    texts = ["x", "x", "x", "x"]
    labels = np.array([True, True, True, False])
    index, _, row_ids = make_index(texts, labels.tolist(), prior)
    times = np.array([0.0, 10.0, 100.0, 60.0])  # not in time order
    out = past_only_features(index, row_ids, times, labels, label_delay_s=50.0)
    # t=0 and t=10 see nothing; t=60 sees the t=0 and t=10 outcomes (t=10 exactly at the delay),
    # t=100 sees t=0, t=10 (not t=60: 40 s old, nor itself).
    assert feat(out[0], "nn_rate") == pytest.approx(prior)
    assert feat(out[1], "nn_rate") == pytest.approx(prior)
    assert feat(out[3], "nn_rate") == pytest.approx(smoothed(2, 2, prior))
    assert feat(out[2], "nn_rate") == pytest.approx(smoothed(2, 2, prior))
    assert feat(out[0], "nn_support") == 0.0
    assert feat(out[2], "nn_support") == pytest.approx(np.log1p(2))


def test_past_only_never_sees_its_own_or_simultaneous_labels_even_without_delay():
    prior = 0.1
    labels = np.array([True, True, False])
    index, _, row_ids = make_index(["x", "x", "x"], labels.tolist(), prior)
    out = past_only_features(index, row_ids, np.array([5.0, 5.0, 6.0]), labels, label_delay_s=0.0)
    assert feat(out[0], "nn_rate") == pytest.approx(prior)
    assert feat(out[1], "nn_rate") == pytest.approx(prior)
    assert feat(out[2], "nn_rate") == pytest.approx(smoothed(2, 2, prior))


def test_past_only_after_the_delay_equals_frozen_counts():
    labels = np.array([True, False, True, False, False])
    index, _, row_ids = make_index(["x", "y", "x", "y", "x"], labels.tolist(), 0.3)
    times = np.arange(5.0)
    out = past_only_features(index, row_ids, np.append(times[:4], 10.0), labels, label_delay_s=1.0)
    frozen_counts = np.array([2.0, 2.0])  # rows 0-3: x twice (both actionable), y twice (none)
    sims, ids = index.search(index.vectors[:1])
    expected = outcome_features(sims, ids, frozen_counts, np.array([2.0, 0.0]), 0.3)[0]
    assert out[4] == pytest.approx(expected)


def test_search_and_explain():
    index, distinct, _ = make_index(["a", "b", "c"], [True, False, False], k=2)
    query = unit(0, 0.3, 1)[None, :]
    rows, sims, ids = index.features(query)
    assert ids.shape == (1, 2)
    assert ids[0].tolist() == [distinct.index("a"), distinct.index("b")]
    explained = index.explain(sims[0], ids[0], limit=3)
    assert all(isinstance(n, Neighbour) for n in explained)
    assert [n.alertname for n in explained] == ["A", "B"]
    assert explained[0].fingerprint == "fp0" and explained[0].actionable is True
    assert explained[0].similarity == pytest.approx(float(query[0] @ unit(0)), abs=1e-4)
    assert len(index.explain(sims[0], ids[0], limit=1)) == 1
    assert index.explain(np.array([0.0]), np.array([-1])) == []


def test_empty_index():
    index = PrototypeIndex(np.zeros((0, DIM), dtype=np.float32), [], prior=0.25)
    rows, sims, ids = index.features(np.stack([unit(0), unit(1)]))
    assert rows.shape == (2, len(FEATURE_NAMES))
    assert rows[0].tolist() == pytest.approx([0.25, 0.25, 0.0, 0.0, np.log(1 / 3), np.log(1 / 3)], abs=1e-6)
    assert (ids == -1).all()
    assert index.explain(sims[0], ids[0]) == []
