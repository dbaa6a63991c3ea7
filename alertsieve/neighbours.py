"""Outcome history of similar past alerts: a FAISS HNSW index over canonical texts of labelled history.

Real streams repeat a few hundred texts, so the index holds one entry ("prototype") per distinct
canonical text with its counts (occurrences, actionable ones) and its latest example. A query returns
the k nearest prototypes; the features are their similarity-weighted, smoothed actionable rate (a rare
text leans on the prior), the similarity of the nearest (text novelty) and the weighted support.

In training, each row may only see outcomes known before it: ``past_only_features`` replays history in
time order and counts an outcome once ``label_delay_s`` has passed, as feedback would arrive.
"""

from __future__ import annotations

from collections.abc import Sequence

import faiss
import numpy as np
from pydantic import BaseModel

from alertsieve.schema import Neighbour

FEATURE_NAMES: tuple[str, ...] = (
    "nn_rate",
    "nn_top_rate",
    "nn_top_similarity",
    "nn_support",
    "nn_rate_logit",
    "nn_top_rate_logit",
)
PRIOR_WEIGHT = 2.0
SIMILARITY_TEMPERATURE = 0.05


class Prototype(BaseModel):
    text: str
    count: int
    actionable: int
    example_fingerprint: str
    example_alertname: str
    example_actionable: bool


class PrototypeIndex:
    """HNSW inner-product index over L2-normalised prototype vectors, with their outcome counts."""

    def __init__(
        self,
        vectors: np.ndarray,
        prototypes: Sequence[Prototype],
        prior: float,
        k: int = 8,
        index: faiss.Index | None = None,
    ) -> None:
        self.prototypes = list(prototypes)
        self.known_texts = frozenset(p.text for p in self.prototypes)
        self.prior = prior
        self.k = k
        self.dim = int(vectors.shape[1])
        if index is None:
            index = faiss.IndexHNSWFlat(self.dim, 32, faiss.METRIC_INNER_PRODUCT)
            if len(self.prototypes):
                index.add(np.ascontiguousarray(vectors, dtype=np.float32))
        self.index = index
        faiss.ParameterSpace().set_index_parameter(self.index, "efSearch", 64)
        self.vectors = np.ascontiguousarray(vectors, dtype=np.float32)
        self.counts = np.array([p.count for p in self.prototypes], dtype=np.float64)
        self.actionable = np.array([p.actionable for p in self.prototypes], dtype=np.float64)

    def search(self, vectors: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        """Similarities and prototype ids of the k nearest (ids -1 where fewer exist)."""
        k = min(self.k, len(self.prototypes))
        if k == 0:
            empty = np.full((len(vectors), 1), -1, dtype=np.int64)
            return np.zeros((len(vectors), 1), dtype=np.float32), empty
        sims, ids = self.index.search(np.ascontiguousarray(vectors, dtype=np.float32), k)
        return sims, ids

    def features(self, vectors: np.ndarray) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
        """Neighbour features (FEATURE_NAMES order) from the frozen counts, plus the raw search result."""
        sims, ids = self.search(vectors)
        return outcome_features(sims, ids, self.counts, self.actionable, self.prior), sims, ids

    def explain(self, sims: np.ndarray, ids: np.ndarray, limit: int = 3) -> list[Neighbour]:
        out = []
        for sim, pid in zip(sims[:limit], ids[:limit], strict=True):
            if pid < 0:
                continue
            proto = self.prototypes[int(pid)]
            out.append(
                Neighbour(
                    fingerprint=proto.example_fingerprint,
                    alertname=proto.example_alertname,
                    similarity=round(float(sim), 4),
                    actionable=proto.example_actionable,
                )
            )
        return out


def outcome_features(
    sims: np.ndarray, ids: np.ndarray, counts: np.ndarray, actionable: np.ndarray, prior: float
) -> np.ndarray:
    """Per row: weighted smoothed rate, top prototype's rate, top similarity, log weighted support, and the
    two rates' log-odds (a linear model reads "0 of 5000" and "0 of 50" apart only on that scale)."""
    if len(counts) == 0:  # an empty index: every id is -1, but indexing needs one slot
        counts, actionable = np.zeros(1), np.zeros(1)
    valid = ids >= 0
    safe = np.where(valid, ids, 0)
    n = np.where(valid, counts[safe], 0.0)
    a = np.where(valid, actionable[safe], 0.0)
    rate = (a + PRIOR_WEIGHT * prior) / (n + PRIOR_WEIGHT)
    weight = np.exp((np.clip(sims, -1.0, 1.0) - 1.0) / SIMILARITY_TEMPERATURE) * (n > 0)
    total = weight.sum(axis=1)
    nn_rate = np.where(total > 0, (weight * rate).sum(axis=1) / np.maximum(total, 1e-12), prior)
    top_rate = np.where(n[:, 0] > 0, rate[:, 0], prior)
    support = np.log1p((weight * n).sum(axis=1))
    top_sim = np.where(valid[:, 0], sims[:, 0], 0.0)
    logits = [np.log(np.clip(r, 1e-9, 1.0) / np.clip(1.0 - r, 1e-9, 1.0)) for r in (nn_rate, top_rate)]
    return np.stack([nn_rate, top_rate, top_sim, support, *logits], axis=1).astype(np.float32)


def build_prototypes(
    texts: Sequence[str], fingerprints: Sequence[str], alertnames: Sequence[str], labels: Sequence[bool]
) -> tuple[list[str], np.ndarray, list[Prototype]]:
    """Distinct texts (sorted), each row's prototype id, and the prototypes with their counts."""
    distinct = sorted(set(texts))
    position = {t: i for i, t in enumerate(distinct)}
    row_ids = np.array([position[t] for t in texts], dtype=np.int64)
    counts = np.bincount(row_ids, minlength=len(distinct))
    positives = np.bincount(row_ids, weights=np.asarray(labels, dtype=np.float64), minlength=len(distinct))
    latest: dict[int, int] = {}
    for row, pid in enumerate(row_ids):
        latest[int(pid)] = row
    prototypes = [
        Prototype(
            text=text,
            count=int(counts[i]),
            actionable=int(positives[i]),
            example_fingerprint=fingerprints[latest[i]],
            example_alertname=alertnames[latest[i]],
            example_actionable=bool(labels[latest[i]]),
        )
        for i, text in enumerate(distinct)
    ]
    return distinct, row_ids, prototypes


def past_only_features(
    index: PrototypeIndex,
    row_ids: np.ndarray,
    times: np.ndarray,
    labels: np.ndarray,
    label_delay_s: float,
) -> np.ndarray:
    """Neighbour features for history rows in time order, each counting only outcomes known by then."""
    sims, ids = index.search(index.vectors)  # neighbours of every prototype, once
    counts = np.zeros(len(index.prototypes))
    positives = np.zeros(len(index.prototypes))
    pending = np.argsort(times, kind="stable")
    out = np.zeros((len(row_ids), len(FEATURE_NAMES)), dtype=np.float32)
    released = 0
    for row in pending:
        # Released once the delay has passed, and never at the row's own time (delay 0: no own label).
        while (
            released < len(pending)
            and times[pending[released]] + label_delay_s <= times[row]
            and times[pending[released]] < times[row]
        ):
            done = pending[released]
            counts[row_ids[done]] += 1
            positives[row_ids[done]] += labels[done]
            released += 1
        pid = row_ids[row]
        out[row] = outcome_features(sims[pid : pid + 1], ids[pid : pid + 1], counts, positives, index.prior)[0]
    return out
