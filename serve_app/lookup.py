"""The neighbour side of the Embedder deployment: each served model version's prototype index (FAISS),
loaded on first use and kept for the last few versions, turning a batch of texts and the embeddings of
those the model never saw into neighbour features and the ids that explain a decision, through the core's
one search of the index (``TextFeatures.features``)."""

from __future__ import annotations

from collections import OrderedDict
from collections.abc import Callable, Sequence

import numpy as np

from alertsieve.bundle import ModelBundle
from alertsieve.text_features import Pending, TextFeatures

Loader = Callable[[str], ModelBundle]
FeatureRows = tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray]  # vectors, neighbour rows, sims, ids


class ModelIndexes:
    """Prototype indexes by model reference, least recently used out past ``keep`` (champion, challenger
    and the versions a rollout passes through)."""

    def __init__(self, loader: Loader, keep: int = 4) -> None:
        self.loader, self.keep = loader, keep
        self._models: OrderedDict[str, TextFeatures] = OrderedDict()

    def model(self, ref: str) -> TextFeatures:
        if ref not in self._models:
            self._models[ref] = TextFeatures(self.loader(ref).index, capacity=0)
            while len(self._models) > self.keep:
                self._models.popitem(last=False)
        self._models.move_to_end(ref)
        return self._models[ref]

    def pending(self, ref: str, texts: Sequence[str]) -> Pending:
        """``texts`` (distinct) as work: all to look up, those the model never saw to embed."""
        model = self.model(ref)
        return Pending(lookup=list(texts), embed=[t for t in texts if not model.known(t)])

    def features(self, ref: str, parts: Sequence[tuple[Pending, np.ndarray | None]]) -> list[FeatureRows]:
        """Vectors (prototype or embedded) and neighbour features for several batches of one model, in one
        FAISS search; one result per batch, rows in ``lookup`` order."""
        model = self.model(ref)
        if not any(pending.lookup for pending, _ in parts):
            empty = model.rows([])
            return [(model.vectors(pending), empty.neighbour_rows, empty.sims, empty.ids) for pending, _ in parts]
        together = Pending(
            lookup=[t for pending, _ in parts for t in pending.lookup],
            embed=[t for pending, _ in parts for t in pending.embed],
        )
        embedded = [block for pending, block in parts if pending.embed and block is not None]
        vectors, rows, sims, ids = model.features(together, np.concatenate(embedded) if embedded else None)
        out, start = [], 0
        for pending, _ in parts:
            end = start + len(pending.lookup)
            out.append((vectors[start:end], rows[start:end], sims[start:end], ids[start:end]))
            start = end
        return out
