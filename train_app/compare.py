"""Comparing models on the same labelled window: registered versions and featurisation variants.

A variant is a ``FeatureConfig`` change (encoder, neighbour features, embedding features) trained on the
window's earlier part exactly as retraining would; a registered version is taken as it is. All of them
are scored on the window's held-out days by ``train_app.offline`` and put in one table: noise reduction,
FNR, AUC, the P95 of per-alert scoring time in process, and training time. Before timing, each model's
embedding cache holds the texts of the training part (as a serving cache would after a while), so texts
first seen in the held-out days are cache misses, as they would be in service. A registered version
whose training data reaches into the held-out days is marked: its numbers there are not out of sample.
"""

from __future__ import annotations

import math
from collections.abc import Callable, Sequence

from pydantic import BaseModel
from rich.table import Table

from alertsieve import registry
from alertsieve.bundle import ModelBundle
from alertsieve.embedding import HASHING, MINILM
from alertsieve.evaluation import Evaluation
from alertsieve.featurize import FeatureConfig, texts_of
from alertsieve.model import TrainParams
from alertsieve.policy import ThresholdParams
from alertsieve.settings import Settings
from alertsieve.training import FitBackend, train_bundle
from train_app.offline import Caches, evaluate_bundle, p95_latency_ms
from train_app.window import TrainingWindow

ENCODERS = {"minilm": MINILM, MINILM.lower(): MINILM, "hashing": HASHING, HASHING: HASHING}
SWITCHES = {"on": True, "true": True, "yes": True, "off": False, "false": False, "no": False}
Progress = Callable[[str], None]


class Variant(BaseModel):
    name: str
    features: FeatureConfig


def parse_variant(spec: str, base: FeatureConfig | None = None) -> Variant:
    """``[name:]key=value,...`` with keys encoder (minilm|hashing), neighbours and embedding (on|off)."""
    name, _, body = spec.rpartition(":") if ":" in spec else ("", "", spec)
    features = base or FeatureConfig()
    updates: dict[str, object] = {}
    for part in filter(None, (p.strip() for p in body.split(","))):
        key, _, value = part.partition("=")
        key, value = key.strip().lower(), value.strip().lower()
        if key == "encoder" and value in ENCODERS:
            updates["encoder"] = ENCODERS[value]
        elif key in ("neighbours", "neighbors", "embedding") and value in SWITCHES:
            updates["use_neighbours" if key != "embedding" else "use_embedding"] = SWITCHES[value]
        else:
            raise ValueError(
                f"variant {spec!r}: cannot read {part!r} (encoder=minilm|hashing, neighbours=on|off, embedding=on|off)"
            )
    features = features.model_copy(update=updates)
    return Variant(name=name or variant_name(features), features=features)


def variant_name(features: FeatureConfig) -> str:
    """The encoder, plus the switches that differ from FeatureConfig's defaults."""
    default = FeatureConfig()
    encoder = "minilm" if features.encoder == MINILM else features.encoder
    flags = [
        f"{'' if on else 'no-'}{name}"
        for name, on, was in (
            ("neighbours", features.use_neighbours, default.use_neighbours),
            ("embedding", features.use_embedding, default.use_embedding),
        )
        if on != was
    ]
    return "+".join([encoder, *flags])


class ComparisonRow(BaseModel):
    name: str
    kind: str
    alerts: int
    actionable: int
    noise_reduction: float
    fnr: float
    auc: float | None
    p95_latency_ms: float
    train_seconds: float | None


def row_of(name: str, kind: str, evaluation: Evaluation, latency: float, train_seconds: float | None) -> ComparisonRow:
    o = evaluation.overall
    return ComparisonRow(
        name=name,
        kind=kind,
        alerts=o.alerts,
        actionable=o.actionable,
        noise_reduction=o.noise_reduction,
        fnr=o.fnr,
        auc=evaluation.auc,
        p95_latency_ms=latency,
        train_seconds=train_seconds,
    )


def compare_table(
    rows: Sequence[ComparisonRow], budget: float, title: str = "comparison on the held-out days"
) -> Table:
    """An aligned table; FNR above the budget is marked."""
    table = Table(title=title)
    for column in ("model", "kind", "alerts", "actionable", "noise reduction", "FNR", "AUC", "P95 ms", "train s"):
        table.add_column(column, justify="left" if column in ("model", "kind") else "right")
    for r in rows:
        fnr = f"{r.fnr:.2%}" + (" !" if r.fnr > budget else "")
        auc = f"{r.auc:.3f}" if r.auc is not None else "-"
        latency = f"{r.p95_latency_ms:.1f}" if not math.isnan(r.p95_latency_ms) else "-"
        train = f"{r.train_seconds:.1f}" if r.train_seconds is not None else "-"
        table.add_row(
            r.name, r.kind, str(r.alerts), str(r.actionable), f"{r.noise_reduction:.1%}", fnr, auc, latency, train
        )
    table.caption = f"FNR budget {budget:.2%} (! above it); P95: per-alert scoring in process"
    return table


def _measure(bundle: ModelBundle, caches: Caches, window: TrainingWindow, sample: int) -> tuple[Evaluation, float]:
    latency = p95_latency_ms(bundle, caches, window.train, window.holdout, sample)
    return evaluate_bundle(bundle, caches, window.train, window.holdout), latency


def compare_versions(
    refs: Sequence[str],
    window: TrainingWindow,
    settings: Settings,
    sample: int = 200,
    progress: Progress = lambda step: None,
) -> list[ComparisonRow]:
    caches = Caches()
    rows = []
    client = registry.configure(settings)
    for ref in refs:
        progress(f"version {ref}")
        bundle = registry.load_registered(settings, ref)
        cache = caches.get(bundle.meta.features.encoder)
        cache.embed(texts_of(window.train, bundle.meta.features))
        evaluation, latency = _measure(bundle, caches, window, sample)
        run_id = client.get_model_version(settings.model_name, bundle.version).run_id
        seconds = client.get_run(run_id).data.metrics.get("train_seconds") if run_id else None
        name = ref if ref == bundle.version else f"{ref} (v{bundle.version})"
        seen = max((t for t, *_ in bundle.meta.stream.recent), default=0.0)
        if seen > window.split.timestamp():
            name += " *trained on held-out days"
        rows.append(row_of(name, "version", evaluation, latency, seconds))
    return rows


def compare_variants(
    variants: Sequence[Variant],
    window: TrainingWindow,
    params: TrainParams,
    threshold_params: ThresholdParams,
    backend: FitBackend | None = None,
    sample: int = 200,
    progress: Progress = lambda step: None,
) -> list[ComparisonRow]:
    rows = []
    for variant in variants:
        progress(f"variant {variant.name}")
        caches = Caches()  # a cache of its own: the training time includes embedding the texts
        bundle, report = train_bundle(
            window.train, caches.get(variant.features.encoder), variant.features, params, threshold_params, backend
        )
        evaluation, latency = _measure(bundle, caches, window, sample)
        rows.append(row_of(variant.name, "variant", evaluation, latency, report.train_seconds))
    return rows
