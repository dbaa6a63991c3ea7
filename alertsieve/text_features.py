"""What an alert's canonical text contributes to its decision, per model: its embedding, its neighbour-outcome
row and the neighbours that explain it, remembered per text.

Alert streams repeat a few hundred texts. A text the model was trained on takes the vector training gave
it (its prototype in the FAISS index), so it is featurised exactly as in training and never needs the
encoder; only texts the model never saw are embedded. Once looked up, a text's features are remembered
(least recently used out), so a repeat costs a dictionary lookup.

``TextFeatures`` is that memory and the one place that searches the index (``features``: training's
validation rows, the in-process lookup and the Embedder deployment all go through it). A ``TextLookup``
answers ``lookup(texts)``: ``LocalTextLookup`` here embeds and searches in process (`alertsieve score`,
training's evaluation); serve_app's adapter fills the memory through the Embedder deployment. Callers never
see ``Pending``, the work a memory still needs.
"""

from __future__ import annotations

from collections import OrderedDict
from collections.abc import Iterator, Sequence
from dataclasses import dataclass, field
from typing import Protocol

import numpy as np

from alertsieve.embedding import EmbeddingCache
from alertsieve.neighbours import FEATURE_NAMES, PrototypeIndex

Entry = tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray]  # embedding, neighbour row, sims, ids


@dataclass(frozen=True)
class TextRows:
    """Per-text features for a batch, one row per alert (input order), and the texts they are for."""

    embeddings: np.ndarray
    neighbour_rows: np.ndarray
    sims: np.ndarray
    ids: np.ndarray
    texts: tuple[str, ...] = ()


@dataclass(frozen=True)
class Pending:
    """What a batch still needs: ``lookup`` = distinct texts without features (in this order), of which
    ``embed`` = the texts the model never saw (they need the encoder); ``hits`` = the batch's texts
    already remembered."""

    lookup: list[str]
    embed: list[str]
    hits: int = field(default=0, compare=False)  # a count, not work to do

    def chunks(self, size: int) -> Iterator[Pending]:
        """The same work in parts of at most ``size`` texts to look up."""
        novel = set(self.embed)
        for start in range(0, len(self.lookup), size):
            part = self.lookup[start : start + size]
            yield Pending(lookup=part, embed=[t for t in part if t in novel])


class TextFeatures:
    """Remembered per-text features of one model bundle's index."""

    def __init__(self, index: PrototypeIndex, capacity: int = 50_000) -> None:
        self.index = index
        self.capacity = capacity
        self.position = {p.text: i for i, p in enumerate(index.prototypes)}
        self._memo: OrderedDict[str, Entry] = OrderedDict()

    def known(self, text: str) -> bool:
        return text in self.position

    def remembered(self, text: str) -> bool:
        """Whether this text's features are at hand (``rows`` needs no lookup for it)."""
        return text in self._memo

    def pending(self, texts: Sequence[str]) -> Pending:
        """The work ``texts`` still need; ``hits`` counts those already remembered (for telemetry)."""
        hits = sum(1 for t in texts if t in self._memo)
        missing = list(dict.fromkeys(t for t in texts if t not in self._memo))
        return Pending(lookup=missing, embed=[t for t in missing if t not in self.position], hits=hits)

    def vectors(self, pending: Pending, embedded: np.ndarray | None = None) -> np.ndarray:
        """Vectors for ``pending.lookup``: prototype vectors for known texts, ``embedded`` rows (in
        ``pending.embed`` order) for the others (None when there are none)."""
        count = 0 if embedded is None else len(embedded)
        if count != len(pending.embed):
            raise ValueError(f"{count} embeddings for {len(pending.embed)} texts")
        fresh = dict(zip(pending.embed, embedded if embedded is not None else [], strict=True))
        out = np.zeros((len(pending.lookup), self.index.dim), dtype=np.float32)
        for row, text in enumerate(pending.lookup):
            out[row] = fresh[text] if text in fresh else self.index.vectors[self.position[text]]
        return out

    def features(self, pending: Pending, embedded: np.ndarray | None = None) -> Entry:
        """Vectors (see ``vectors``) of ``pending.lookup`` and their neighbour rows, similarities and ids: the
        one search of the index."""
        vectors = self.vectors(pending, embedded)
        return (vectors, *self.index.features(vectors))

    def remember(
        self, texts: Sequence[str], vectors: np.ndarray, neighbour_rows: np.ndarray, sims: np.ndarray, ids: np.ndarray
    ) -> None:
        for i, text in enumerate(texts):
            self._memo[text] = (vectors[i], neighbour_rows[i], sims[i], ids[i])
            self._memo.move_to_end(text)
        while len(self._memo) > self.capacity:
            self._memo.popitem(last=False)

    def prefill(self) -> Pending:
        """Every text the model knows, as pending (remember their features once, at load)."""
        return Pending(lookup=[p.text for p in self.index.prototypes[: self.capacity]], embed=[])

    def rows(self, texts: Sequence[str]) -> TextRows:
        """Features of a batch whose texts are all remembered (KeyError otherwise)."""
        entries = [self._memo[t] for t in texts]
        for text in texts:
            self._memo.move_to_end(text)
        if not entries:
            return TextRows(
                np.zeros((0, self.index.dim), dtype=np.float32),
                np.zeros((0, len(FEATURE_NAMES)), dtype=np.float32),
                np.zeros((0, 1), dtype=np.float32),
                np.zeros((0, 1), dtype=np.int64),
            )
        embeddings, neighbour_rows, sims, ids = (np.stack(column) for column in zip(*entries, strict=True))
        return TextRows(embeddings, neighbour_rows, sims, ids, tuple(texts))


class TextLookup(Protocol):
    """Per-text features of a batch (``TextRows``, input order) for one model."""

    def lookup(self, texts: Sequence[str]) -> TextRows: ...


class LocalTextLookup:
    """``TextLookup`` in process: remembered per text; what is missing is embedded through ``cache`` (only
    texts the model never saw) and searched in the index, then remembered."""

    def __init__(self, index: PrototypeIndex, cache: EmbeddingCache | None, capacity: int = 50_000) -> None:
        self.memory = TextFeatures(index, capacity)
        self.cache = cache

    def lookup(self, texts: Sequence[str]) -> TextRows:
        pending = self.memory.pending(texts)
        if pending.lookup:
            embedded = None
            if pending.embed:
                if self.cache is None:
                    raise RuntimeError("this scorer has no embedding cache")
                embedded = self.cache.embed(pending.embed)
            self.memory.remember(pending.lookup, *self.memory.features(pending, embedded))
        return self.memory.rows(texts)
