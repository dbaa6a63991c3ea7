"""The fitted state of one model version, saved and loaded as one directory (one MLflow version).

A bundle holds everything scoring needs: the featurisation config, the scaler, the classifier weights,
the FAISS index with its prototypes' outcomes, the thresholds, and a snapshot of the recent stream to
warm up context features. ``load_bundle`` is the one loader that the CLI and serving both use.
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from functools import cached_property
from pathlib import Path

import faiss
import numpy as np
import torch
from pydantic import BaseModel, Field, model_validator

from alertsieve.calibrate import Calibration
from alertsieve.context import StreamSnapshot
from alertsieve.featurize import FeatureConfig, Scaler
from alertsieve.model import AlertClassifier, TrainParams, make_classifier, predict
from alertsieve.neighbours import Prototype, PrototypeIndex
from alertsieve.policy import ThresholdPolicy

BUNDLE_FORMAT = 2  # 2: logistic model over the embedding, identities for novelty
META_FILE, WEIGHTS_FILE, INDEX_FILE, VECTORS_FILE = (
    "bundle.json",
    "classifier.pt",
    "index.faiss",
    "vectors.npy",
)


class BundleMeta(BaseModel):
    format: int = BUNDLE_FORMAT
    features: FeatureConfig
    params: TrainParams
    scaler: Scaler
    n_dense: int
    n_embedding: int
    prior: float
    prototypes: list[Prototype]
    policy: ThresholdPolicy
    stream: StreamSnapshot
    metrics: dict[str, float] = Field(default_factory=dict)
    validation: list[tuple[str, float, bool]] = Field(
        default_factory=list, description="(service, score, actionable) of the validation slice: threshold previews"
    )
    calibration: Calibration = Field(
        default_factory=Calibration, description="the classifier's probabilities, recalibrated"
    )
    known_identities: list[str] = Field(
        default_factory=list, description="identities (canonical text without environment labels) seen in training"
    )
    version: str = "local"

    @model_validator(mode="before")
    @classmethod
    def _no_lexical_before_it_existed(cls, data: object) -> object:
        """A bundle saved before the lexical view has no ``lexical_dims``: it had none."""
        if isinstance(data, dict) and isinstance(data.get("features"), dict):
            data["features"].setdefault("lexical_dims", 0)
        return data


@dataclass
class ModelBundle:
    meta: BundleMeta
    classifier: AlertClassifier
    index: PrototypeIndex

    @property
    def version(self) -> str:
        return self.meta.version

    @cached_property
    def known_identities(self) -> frozenset[str]:
        return frozenset(self.meta.known_identities)

    def predict(self, dense: np.ndarray, embedding: np.ndarray) -> np.ndarray:
        """Calibrated P(actionable) for model inputs (``featurize.model_inputs``)."""
        return self.meta.calibration.apply(predict(self.classifier, dense, embedding))

    def is_novel(self, identity: str) -> bool:
        """An alert whose identity the model never saw: the policy pages it."""
        return identity not in self.known_identities

    def save(self, directory: Path) -> Path:
        directory.mkdir(parents=True, exist_ok=True)
        (directory / META_FILE).write_text(self.meta.model_dump_json(), encoding="utf-8")
        torch.save(self.classifier.state_dict(), directory / WEIGHTS_FILE)
        np.save(directory / VECTORS_FILE, self.index.vectors)
        faiss.write_index(self.index.index, str(directory / INDEX_FILE))
        return directory


class BundleError(RuntimeError):
    """A bundle directory that is missing files or does not parse."""


def load_bundle(directory: Path, version: str | None = None) -> ModelBundle:
    """Load a saved bundle; ``version`` (the registry's) overrides the one recorded at save time."""
    try:
        meta = BundleMeta.model_validate(json.loads((directory / META_FILE).read_text(encoding="utf-8")))
        state = torch.load(directory / WEIGHTS_FILE, map_location="cpu", weights_only=True)
        vectors = np.load(directory / VECTORS_FILE)
        raw_index = faiss.read_index(str(directory / INDEX_FILE))
    except Exception as exc:  # noqa: BLE001 - a corrupt file makes torch.load raise nearly anything
        raise BundleError(f"cannot load model bundle from {directory}: {exc}") from exc
    if meta.format != BUNDLE_FORMAT:
        raise BundleError(f"bundle format {meta.format} is not {BUNDLE_FORMAT}")
    if version:
        meta.version = version
    classifier = make_classifier(meta.n_dense, meta.n_embedding, meta.params)
    try:
        classifier.load_state_dict(state)
    except Exception as exc:  # noqa: BLE001 - weights of another shape, or not a state dict at all
        raise BundleError(f"classifier weights in {directory} do not fit the recorded model: {exc}") from exc
    classifier.eval()
    index = PrototypeIndex(vectors, meta.prototypes, meta.prior, meta.features.neighbours_k, index=raw_index)
    return ModelBundle(meta=meta, classifier=classifier, index=index)
