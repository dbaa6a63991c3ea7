"""Offline evaluation of model bundles on a labelled slice, the same way for every model compared.

Each bundle scores the slice with ``alertsieve.scoring.Scorer`` (its own featurisation, thresholds and
stream state). The stream state starts from the bundle's snapshot and is brought up to the slice's
start with the alerts in between, so an older champion is not handicapped by the gap since its own
training; the new model's snapshot already ends where the slice begins. Exceptions propagate instead
of failing open, so a broken model cannot pass for one that pages everything.
"""

from __future__ import annotations

import time
from collections.abc import Sequence

import numpy as np

from alertsieve.bundle import ModelBundle
from alertsieve.context import StreamState, time_order
from alertsieve.embedding import EmbeddingCache, load_encoder
from alertsieve.evaluation import Counts, Evaluation, evaluate
from alertsieve.schema import Alert, Decision, LabelledAlert
from alertsieve.scoring import Scorer

CHUNK = 512


class Caches:
    """One embedding cache per encoder name, shared by the models compared."""

    def __init__(self, device: str = "cpu") -> None:
        self.device = device
        self.caches: dict[str, EmbeddingCache] = {}

    def get(self, encoder: str) -> EmbeddingCache:
        if encoder not in self.caches:
            self.caches[encoder] = EmbeddingCache(load_encoder(encoder, device=self.device))
        return self.caches[encoder]


def warm_scorer(bundle: ModelBundle, cache: EmbeddingCache, preceding: Sequence[Alert]) -> Scorer:
    """A scorer whose stream state has seen ``preceding`` alerts newer than the bundle's snapshot."""
    state = StreamState.from_snapshot(bundle.meta.stream)
    since = state.now
    for i in time_order(preceding):
        if preceding[i].startsAt.timestamp() > since:
            state.observe(preceding[i])
    return Scorer(bundle, cache, state)


def decide_all(scorer: Scorer, alerts: Sequence[Alert]) -> list[Decision]:
    """Decisions in input order, scored in startsAt order (as a live stream would be)."""
    return scorer.decide_stream(alerts, CHUNK)


def evaluate_bundle(
    bundle: ModelBundle, caches: Caches, preceding: Sequence[Alert], alerts: Sequence[LabelledAlert]
) -> Evaluation:
    """Noise reduction, FNR (overall and per service) and AUC of one bundle on a labelled slice."""
    scorer = warm_scorer(bundle, caches.get(bundle.meta.features.encoder), preceding)
    decisions = decide_all(scorer, alerts)
    return evaluate(
        [a.actionable for a in alerts],
        [d.decision for d in decisions],
        [d.service for d in decisions],
        [d.score for d in decisions],
    )


def p95_latency_ms(
    bundle: ModelBundle, caches: Caches, preceding: Sequence[Alert], alerts: Sequence[Alert], sample: int = 200
) -> float:
    """P95 of per-alert scoring time in process (one alert per call, embedding cache warm as in serving)."""
    if not alerts:
        return float("nan")
    scorer = warm_scorer(bundle, caches.get(bundle.meta.features.encoder), preceding)
    order = time_order(alerts)[:sample]
    timings = []
    for i in order:
        started = time.perf_counter()
        decide_all(scorer, [alerts[i]])
        timings.append((time.perf_counter() - started) * 1000)
    return float(np.percentile(timings, 95))


def evaluation_metrics(prefix: str, evaluation: Evaluation, per_service: bool = True) -> dict[str, float]:
    """Flat MLflow metrics: rates, the counts behind them (for confidence intervals later), per service."""
    o = evaluation.overall
    out = {
        f"{prefix}noise_reduction": o.noise_reduction,
        f"{prefix}fnr": o.fnr,
        f"{prefix}auc": evaluation.auc if evaluation.auc is not None else float("nan"),
        **{f"{prefix}{name}": float(getattr(o, name)) for name in COUNT_FIELDS},
    }
    if per_service:
        for service, counts in evaluation.services.items():
            name = metric_safe(service or "unknown")
            out[f"{prefix}service.{name}.noise_reduction"] = counts.noise_reduction
            out[f"{prefix}service.{name}.fnr"] = counts.fnr
            out[f"{prefix}service.{name}.alerts"] = float(counts.alerts)
    return out


COUNT_FIELDS = ("alerts", "actionable", "suppressed_actionable", "noise", "suppressed_noise")


def counts_from_metrics(prefix: str, metrics: dict[str, float]) -> Counts | None:
    """The counts ``evaluation_metrics`` logged under ``prefix``; None when they were not."""
    if not all(f"{prefix}{name}" in metrics for name in COUNT_FIELDS):
        return None
    return Counts(**{name: int(metrics[f"{prefix}{name}"]) for name in COUNT_FIELDS})


def metric_safe(name: str) -> str:
    """MLflow metric names allow letters, digits, ``_ - . / `` and spaces."""
    return "".join(c if c.isalnum() or c in "_-./ " else "_" for c in name)
