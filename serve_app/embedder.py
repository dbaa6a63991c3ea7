"""The Embedder deployment: the per-text features of texts a scorer has not remembered yet, in one call.

For a model reference and a list of canonical texts it returns each text's vector (the prototype vector
for a text the model was trained on, the sentence embedding for one it never saw), its neighbour-outcome
row, and the similarities and ids of its neighbours (FAISS, ``serve_app/lookup.py``). Requests are batched
across scorers and their concurrent requests with @serve.batch: the new texts of a batch go to the encoder
together (cached by canonical text), and the texts of one model to FAISS in one search. A first sighting
thus costs the scorer one hop, not an Embedder call then a lookup call in sequence.
"""

from __future__ import annotations

import asyncio

import numpy as np
from ray import serve

from alertsieve.embedding import EmbeddingCache, load_encoder
from alertsieve.text_features import Pending
from serve_app.loading import load_model
from serve_app.lookup import FeatureRows, Loader, ModelIndexes
from serve_app.telemetry import telemetry

FeaturesRequest = tuple[str, str, list[str]]  # encoder name, model reference, distinct texts


@serve.deployment(
    name="Embedder",
    ray_actor_options={"num_cpus": 0.6},
    max_ongoing_requests=64,
    max_queued_requests=128,  # per calling scorer: beyond, its new texts fail open at once instead of queueing
    autoscaling_config={"min_replicas": 1, "max_replicas": 2, "target_ongoing_requests": 16},
)
class Embedder:
    def __init__(
        self, loader: Loader = load_model, preload: tuple[str, ...] = (), cache_capacity: int = 50_000
    ) -> None:
        self.capacity = cache_capacity
        self.caches: dict[str, EmbeddingCache] = {}
        self.indexes = ModelIndexes(loader)
        for name in preload:
            self._cache(name)

    def _cache(self, name: str) -> EmbeddingCache:
        if name not in self.caches:
            self.caches[name] = EmbeddingCache(load_encoder(name), self.capacity)
        return self.caches[name]

    def _embed(self, name: str, texts: list[str]) -> np.ndarray:
        cache = self._cache(name)
        hits_before = cache.hits
        vectors = cache.embed(texts)
        if cache.hits > hits_before:  # lookups are counted by the scorers, who ask
            telemetry().cache_hits.inc(cache.hits - hits_before)
        return vectors

    def _features_grouped(self, requests: list[FeaturesRequest]) -> list[FeatureRows | Exception]:
        """One result per request; a model or encoder that fails fails only the requests that need it."""
        out: dict[int, FeatureRows | Exception] = {}
        pendings: dict[int, Pending] = {}
        for i, (_, ref, texts) in enumerate(requests):
            try:
                pendings[i] = self.indexes.pending(ref, texts)
            except Exception as exc:  # noqa: BLE001 - handed to that request's caller
                out[i] = exc
        embedded: dict[int, np.ndarray] = {}
        for name in sorted({name for name, _, _ in requests}):  # one encoder call per encoder
            members = [i for i in pendings if requests[i][0] == name and pendings[i].embed]
            if not members:
                continue
            try:
                vectors = self._embed(name, [t for i in members for t in pendings[i].embed])
            except Exception as exc:  # noqa: BLE001
                out.update(dict.fromkeys(members, exc))
                continue
            start = 0
            for i in members:
                embedded[i] = vectors[start : start + len(pendings[i].embed)]
                start += len(pendings[i].embed)
        for ref in sorted({ref for _, ref, _ in requests}):  # one FAISS search per model
            members = [i for i in pendings if requests[i][1] == ref and i not in out]
            if not members:
                continue
            try:
                rows = self.indexes.features(ref, [(pendings[i], embedded.get(i)) for i in members])
            except Exception as exc:  # noqa: BLE001
                out.update(dict.fromkeys(members, exc))
                continue
            out.update(zip(members, rows, strict=True))
        return [out[i] for i in range(len(requests))]

    @serve.batch(max_batch_size=32, batch_wait_timeout_s=0.002)
    async def _batched(self, requests: list[FeaturesRequest]) -> list[FeatureRows | Exception]:
        return await asyncio.to_thread(self._features_grouped, requests)

    async def features(self, request: FeaturesRequest) -> FeatureRows:
        """Vectors, neighbour rows, similarities and ids for ``request``'s texts, in its order."""
        result = await self._batched(request)
        if isinstance(result, Exception):
            raise result
        return result
