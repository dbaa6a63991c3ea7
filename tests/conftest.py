"""Shared fixtures: a small trained model bundle on a synthetic history (hashing encoder, a few epochs)."""

from __future__ import annotations

import pytest
import torch

from alertsieve.bundle import ModelBundle
from alertsieve.embedding import HashingEncoder
from alertsieve.schema import LabelledAlert
from tests.factories import synthetic_history

# The test machine has two shared cores: torch's default thread pool makes tiny batches many times slower.
torch.set_num_threads(1)


@pytest.fixture(scope="session")
def small_history() -> list[LabelledAlert]:
    return synthetic_history(seed=0, days=8.0)


@pytest.fixture(scope="session")
def small_training(small_history: list[LabelledAlert]):  # -> tuple[ModelBundle, TrainReport]
    from alertsieve.embedding import EmbeddingCache
    from alertsieve.featurize import FeatureConfig
    from alertsieve.model import TrainParams
    from alertsieve.training import train_bundle

    return train_bundle(
        small_history,
        EmbeddingCache(HashingEncoder()),
        FeatureConfig(encoder="hashing-64", label_delay_hours=1.0),
        TrainParams(epochs=8, batch_size=64, seed=0),
    )


@pytest.fixture(scope="session")
def small_bundle(small_training) -> ModelBundle:
    return small_training[0]
