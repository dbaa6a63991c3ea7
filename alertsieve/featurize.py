"""What a model's featurisation is made of, saved with the model: ``FeatureConfig`` and ``Scaler``.

An alert becomes three things: its context vector (``context.StreamState``), its canonical text's
embedding, and its neighbour-outcome features (``neighbours.PrototypeIndex``). ``FeatureConfig`` says
which of them a model uses and how they are computed; ``featurizer.Featurizer`` is the one path that
computes them, for training, `alertsieve score` and the Serve deployments.
"""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np
from pydantic import BaseModel, Field

from alertsieve import context, neighbours
from alertsieve.canonical import DEFAULT_INSTANCE_LABELS, DEFAULT_TEXT_ANNOTATIONS, canonical_text
from alertsieve.embedding import MINILM
from alertsieve.identity import DEFAULT_ENVIRONMENT_LABELS, identity_of
from alertsieve.schema import DEFAULT_SERVICE_LABELS, Alert


class FeatureConfig(BaseModel):
    encoder: str = MINILM
    # The embedding goes to the classifier as it is: on real streams the text (alert name and summary)
    # carries signal. The classifier is logistic (linear in the features), so a familiar text in an
    # unfamiliar context (an incident) is still pushed up by the context features rather than memorised.
    use_embedding: bool = True
    use_neighbours: bool = True
    lexical_dims: int = Field(
        default=256, ge=0, description="hashed word n-gram columns beside the embedding (0: none)"
    )
    neighbours_k: int = Field(default=8, ge=1)
    label_delay_hours: float = Field(default=24.0, ge=0.0)
    service_labels: tuple[str, ...] = DEFAULT_SERVICE_LABELS
    instance_labels: tuple[str, ...] = DEFAULT_INSTANCE_LABELS
    text_annotations: tuple[str, ...] = DEFAULT_TEXT_ANNOTATIONS
    environment_labels: tuple[str, ...] = Field(
        default=DEFAULT_ENVIRONMENT_LABELS, description="labels left out of an alert's identity (configured + found)"
    )

    @property
    def dense_names(self) -> tuple[str, ...]:
        return context.FEATURE_NAMES + (neighbours.FEATURE_NAMES if self.use_neighbours else ())


class Scaler(BaseModel):
    """Standardisation of the dense features, fitted on training rows."""

    mean: list[float]
    std: list[float]

    @classmethod
    def fit(cls, matrix: np.ndarray) -> Scaler:
        std = matrix.std(axis=0)
        return cls(mean=matrix.mean(axis=0).tolist(), std=np.where(std > 1e-6, std, 1.0).tolist())

    def apply(self, matrix: np.ndarray) -> np.ndarray:
        standardised: np.ndarray = (matrix - np.asarray(self.mean)) / np.asarray(self.std)
        return standardised.astype(np.float32)


def texts_of(alerts: Sequence[Alert], config: FeatureConfig) -> list[str]:
    return [canonical_text(a, config.instance_labels, config.text_annotations) for a in alerts]


def identities_of(alerts: Sequence[Alert], config: FeatureConfig) -> list[str]:
    """Each alert's identity (its canonical text without instance or environment labels): novelty's key."""
    return [identity_of(a, config.instance_labels, config.environment_labels, config.text_annotations) for a in alerts]
