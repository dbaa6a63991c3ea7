"""Training: labelled history in, a validated model bundle out.

History is put in time order and split once: the earlier part fits the model and the neighbour index,
the later part (which the model never sees) chooses the thresholds, and the validated model is kept
as it is (no refit that would move the scores under the thresholds). The classifier is fitted by a
``FitBackend``: in process here, or on Ray Train workers through the ``alertsieve.trainers`` entry
point that train_app registers, so the core never imports Ray.
"""

from __future__ import annotations

import time
from collections.abc import Callable, Sequence
from importlib.metadata import entry_points
from typing import Protocol

import numpy as np
from pydantic import BaseModel, Field

from alertsieve.bundle import BundleMeta, ModelBundle
from alertsieve.calibrate import Calibration
from alertsieve.context import time_order
from alertsieve.embedding import EmbeddingCache
from alertsieve.evaluation import Evaluation, evaluate
from alertsieve.featurize import FeatureConfig
from alertsieve.featurizer import Featurizer
from alertsieve.model import AlertClassifier, TrainParams, fit, make_classifier, numpy_batches, predict
from alertsieve.optimize import choose_thresholds
from alertsieve.policy import ThresholdParams, decide
from alertsieve.schema import LabelledAlert
from alertsieve.selection import PenaltyChoice, choose_weight_decay

Progress = Callable[[str], None]


class FitBackend(Protocol):
    name: str

    def fit(
        self, dense: np.ndarray, embedding: np.ndarray, labels: np.ndarray, params: TrainParams
    ) -> AlertClassifier: ...


class LocalFit:
    """The training loop in this process."""

    name = "local"

    def fit(self, dense: np.ndarray, embedding: np.ndarray, labels: np.ndarray, params: TrainParams) -> AlertClassifier:
        model = make_classifier(dense.shape[1], embedding.shape[1], params)
        batches = numpy_batches(dense, embedding, labels, params.batch_size, params.seed)
        fit(model, batches, params)
        return model


def load_fit_backend(name: str, **options: object) -> FitBackend:
    """``local``, or a backend registered under the ``alertsieve.trainers`` entry-point group."""
    if name == "local":
        return LocalFit()
    found = [ep for ep in entry_points(group="alertsieve.trainers") if ep.name == name]
    if not found:
        raise ValueError(f"unknown training backend {name!r}")
    backend: FitBackend = found[0].load()(**options)
    return backend


class TrainReport(BaseModel):
    rows: int
    fit_rows: int
    validation_rows: int
    backend: str
    train_seconds: float
    validation: Evaluation
    expected_fnr: float
    fnr_upper_bound: float
    services_with_own_threshold: int = Field(description="services with enough support for their own")
    environment_labels: tuple[str, ...] = Field(default=(), description="labels left out of alert identity")
    notes: dict[str, str] = Field(default_factory=dict, description="per service: why it suppresses what it does")
    penalty: PenaltyChoice | None = Field(default=None, description="the L2 penalty and its held-out log-loss")
    calibration: Calibration = Field(default_factory=Calibration, description="the calibration map chosen")


def train_bundle(
    history: Sequence[LabelledAlert],
    cache: EmbeddingCache,
    features: FeatureConfig | None = None,
    params: TrainParams | None = None,
    threshold_params: ThresholdParams | None = None,
    backend: FitBackend | None = None,
    validation_fraction: float = 0.25,
    progress: Progress = lambda step: None,
) -> tuple[ModelBundle, TrainReport]:
    """Fit on the earlier history, choose thresholds on the later part, return the bundle and report."""
    features = features or FeatureConfig()
    params = params or TrainParams()
    threshold_params = threshold_params or ThresholdParams()
    backend = backend or LocalFit()
    if cache.encoder.name != features.encoder:
        raise ValueError(f"cache encoder {cache.encoder.name} does not match config {features.encoder}")
    started = time.perf_counter()
    alerts = [history[i] for i in time_order(history)]
    labels = np.array([a.actionable for a in alerts], dtype=bool)
    split = int(round(len(alerts) * (1 - validation_fraction)))
    if split < 20 or len(alerts) - split < 20 or labels[:split].sum() < 2:
        raise ValueError("history too small: need at least 40 alerts and some actionable ones before validation")

    featurizer, fitted = Featurizer.fit(alerts, split, cache, features, progress)
    features, index, state = featurizer.config, featurizer.index, fitted.state
    identities, known_identities = fitted.identities, set(fitted.identities[:split])
    x_dense, x_emb = fitted.inputs
    fit_alerts, prior = alerts[:split], index.prior

    progress("L2 penalty on held-out log-loss")
    penalty = choose_weight_decay(x_dense[:split], x_emb[:split], labels[:split], params)
    params = params.model_copy(update={"weight_decay": penalty.weight_decay})
    progress(f"fit ({backend.name}, L2 {penalty.weight_decay:g})")
    classifier = backend.fit(x_dense[:split], x_emb[:split], labels[:split].astype(np.float32), params)
    classifier.eval()

    progress("thresholds")
    raw = predict(classifier, x_dense[split:], x_emb[split:])
    calibration = Calibration.choose(raw, labels[split:])
    val_scores = calibration.apply(raw)
    val_alerts = alerts[split:]
    val_services = [a.service(features.service_labels) for a in val_alerts]
    val_novel = [identity not in known_identities for identity in identities[split:]]
    known = sorted({a.service(features.service_labels) for a in fit_alerts})
    # novel alerts are paged whatever their score: they never count against a threshold
    guarded = np.where(val_novel, 1.0, val_scores)
    val_times = [a.startsAt.timestamp() for a in val_alerts]
    policy = choose_thresholds(
        guarded,
        labels[split:],
        val_services,
        threshold_params,
        known_services=known,
        times=val_times,
        prior_rate=float(labels.mean()),
    )
    meta = BundleMeta(
        features=features,
        params=params,
        scaler=featurizer.scaler,
        n_dense=x_dense.shape[1],
        n_embedding=x_emb.shape[1],
        prior=prior,
        prototypes=index.prototypes,
        policy=policy,
        stream=state.snapshot(),
        known_identities=sorted(known_identities),
        calibration=calibration,
        validation=[
            (svc, round(float(sc), 6), bool(y))
            for svc, sc, y in zip(val_services, guarded, labels[split:], strict=True)
        ],
    )
    bundle = ModelBundle(meta=meta, classifier=classifier, index=index)
    verdicts = [
        decide(float(s), svc, policy, novel=nov).decision
        for s, svc, nov in zip(val_scores, val_services, val_novel, strict=True)
    ]
    validation = evaluate(labels[split:].tolist(), verdicts, val_services, val_scores.tolist())
    meta.metrics = {
        "val_noise_reduction": validation.overall.noise_reduction,
        "val_fnr": validation.overall.fnr,
        "val_auc": validation.auc if validation.auc is not None else float("nan"),
    }
    report = TrainReport(
        rows=len(alerts),
        fit_rows=split,
        validation_rows=len(alerts) - split,
        backend=backend.name,
        train_seconds=round(time.perf_counter() - started, 2),
        validation=validation,
        expected_fnr=policy.expected_fnr,
        fnr_upper_bound=policy.fnr_upper_bound,
        services_with_own_threshold=len(policy.services),
        environment_labels=features.environment_labels,
        notes=policy.notes,
        penalty=penalty,
        calibration=calibration,
    )
    return bundle, report
