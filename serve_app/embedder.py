"""The Embedder deployment: canonical texts to sentence embeddings, batched across requests with
@serve.batch and cached by canonical text. Scorers ask it only for texts their model never saw, the
first time they meet them (see ``alertsieve/text_features.py``)."""

from __future__ import annotations

import asyncio

import numpy as np
from ray import serve

from alertsieve.embedding import EmbeddingCache, load_encoder
from serve_app.telemetry import telemetry

EmbedRequest = tuple[str, list[str]]  # encoder name, texts


@serve.deployment(
    name="Embedder",
    ray_actor_options={"num_cpus": 0.5},
    max_ongoing_requests=64,
    autoscaling_config={"min_replicas": 1, "max_replicas": 2, "target_ongoing_requests": 16},
)
class Embedder:
    def __init__(self, preload: tuple[str, ...] = (), cache_capacity: int = 50_000) -> None:
        self.capacity = cache_capacity
        self.caches: dict[str, EmbeddingCache] = {}
        for name in preload:
            self._cache(name)

    def _cache(self, name: str) -> EmbeddingCache:
        if name not in self.caches:
            self.caches[name] = EmbeddingCache(load_encoder(name), self.capacity)
        return self.caches[name]

    def _embed_grouped(self, requests: list[EmbedRequest]) -> list[np.ndarray]:
        out: list[np.ndarray] = [np.zeros((0, 0), dtype=np.float32)] * len(requests)
        for name in sorted({name for name, _ in requests}):
            members = [i for i, (n, _) in enumerate(requests) if n == name]
            texts = [t for i in members for t in requests[i][1]]
            cache = self._cache(name)
            hits_before = cache.hits
            vectors = cache.embed(texts)
            if cache.hits > hits_before:  # lookups are counted by the scorers, who ask
                telemetry().cache_hits.inc(cache.hits - hits_before)
            start = 0
            for i in members:
                size = len(requests[i][1])
                out[i] = vectors[start : start + size]
                start += size
        return out

    @serve.batch(max_batch_size=32, batch_wait_timeout_s=0.002)
    async def embed(self, requests: list[EmbedRequest]) -> list[np.ndarray]:
        return await asyncio.to_thread(self._embed_grouped, requests)
