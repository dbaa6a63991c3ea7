"""The NeighbourLookup deployment: FAISS search of each served model version's prototype index,
returning neighbour features and the ids that explain a decision."""

from __future__ import annotations

from collections.abc import Callable

import numpy as np
from ray import serve

from alertsieve.bundle import ModelBundle
from alertsieve.neighbours import PrototypeIndex

Loader = Callable[[str], ModelBundle]


@serve.deployment(
    name="NeighbourLookup",
    ray_actor_options={"num_cpus": 0.1},
    autoscaling_config={"min_replicas": 1, "max_replicas": 2, "target_ongoing_requests": 16},
)
class NeighbourLookup:
    def __init__(self, loader: Loader) -> None:
        self.loader = loader
        self.indexes: dict[str, PrototypeIndex] = {}

    def _index(self, model: str) -> PrototypeIndex:
        if model not in self.indexes:
            self.indexes[model] = self.loader(model).index
        return self.indexes[model]

    async def lookup(self, model: str, embeddings: np.ndarray) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
        return self._index(model).features(embeddings)
