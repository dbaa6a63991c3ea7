"""The weekly retraining job: data window -> Ray Train -> comparison with the champion -> challenger.

``run_retrain`` reads labelled history, feedback and the decision log (``train_app.data``, Ray Data),
keeps the last N weeks, trains a bundle on all but the window's last days with ``train_bundle`` on Ray
Train workers (``RayTorchFit``; ``gpu=True`` runs the same code on GPU workers), then scores the held-out
days with the new model and with the current champion, registers the new model with the alias
``challenger`` and logs both evaluations (counts too, so promotion can put confidence intervals on them),
per service, the training time and the data size. Every run, failed or not, appends a
``PipelineStatus`` to the state store for the dashboards.
"""

from __future__ import annotations

import time
from collections.abc import Callable
from datetime import datetime

from pydantic import BaseModel, Field

from alertsieve import registry
from alertsieve.bundle import ModelBundle
from alertsieve.evaluation import Evaluation
from alertsieve.featurize import FeatureConfig
from alertsieve.model import TrainParams
from alertsieve.pipeline import PipelineStatus, now, record_status
from alertsieve.policy import ThresholdParams
from alertsieve.settings import Settings
from alertsieve.store import open_store
from alertsieve.training import TrainReport, train_bundle
from train_app.data import SourceCounts, load_window
from train_app.offline import Caches, evaluate_bundle, evaluation_metrics
from train_app.pipeline import BackendOptions, mlflow_params
from train_app.window import TrainingWindow, WindowSpec

Progress = Callable[[str], None]
CHALLENGER_PREFIX, CHAMPION_PREFIX = "holdout_", "champion_holdout_"


class RetrainConfig(BaseModel):
    history: str = Field(description="labelled history: a .jsonl file, a folder of them, or s3://bucket/prefix")
    state: str | None = Field(default=None, description="decision log and feedback; Settings.state_location if None")
    window: WindowSpec = Field(default_factory=WindowSpec)
    encoder: str | None = Field(default=None, description="None: the champion's featurisation (MiniLM without one)")
    features: FeatureConfig | None = Field(default=None, description="overrides encoder when given")
    params: TrainParams = Field(default_factory=TrainParams)
    backend: str = "ray"
    workers: int = Field(default=1, ge=1)
    gpu: bool = False
    validation_fraction: float = Field(default=0.25, gt=0, lt=1)
    register_version: bool = True
    skip_bad_lines: bool = Field(default=False, description="skip malformed lines (counted) instead of failing")


class RetrainResult(BaseModel):
    version: str | None
    champion_version: str | None
    window_start: datetime
    window_split: datetime
    window_end: datetime
    rows: int = Field(description="labelled alerts in the window, held-out days included")
    sources: SourceCounts
    train: TrainReport
    challenger: Evaluation | None = Field(description="the new model on the held-out days")
    champion: Evaluation | None = Field(description="the champion on the same days")
    duration_s: float


def choose_features(config: RetrainConfig, champion: ModelBundle | None, settings: Settings) -> FeatureConfig:
    if config.features is not None:
        return config.features
    if config.encoder is None and champion is not None:
        return champion.meta.features
    base = champion.meta.features if champion is not None else FeatureConfig(service_labels=settings.service_labels)
    return base.model_copy(update={"encoder": config.encoder}) if config.encoder else base


def embedding_device(gpu: bool) -> str:
    """Where the driver embeds texts: on its GPU with --gpu when it has one (a KubeRay head often has none)."""
    import torch

    return "cuda" if gpu and torch.cuda.is_available() else "cpu"


def load_champion(settings: Settings) -> ModelBundle | None:
    if registry.alias_version(settings, registry.CHAMPION) is None:
        return None
    return registry.load_registered(settings, registry.CHAMPION)


def backend_options(config: RetrainConfig) -> BackendOptions:
    return BackendOptions(backend=config.backend, workers=config.workers, gpu=config.gpu)


def run_metrics(result: RetrainResult, bundle: ModelBundle, window: TrainingWindow) -> dict[str, float]:
    stats = window.stats
    metrics = {
        **bundle.meta.metrics,
        "train_seconds": result.train.train_seconds,
        "rows": float(window.rows),
        "train_rows": float(len(window.train)),
        "holdout_rows": float(len(window.holdout)),
        "window_days": (window.end - window.start).total_seconds() / 86400,
        "feedback": float(stats.feedback),
        "feedback_overrides": float(stats.feedback_overrides),
        "feedback_added": float(stats.feedback_added),
        "feedback_unmatched": float(stats.feedback_unmatched),
        "invalid_lines": float(result.sources.invalid_lines),
        "expected_fnr": result.train.expected_fnr,
        "fnr_upper_bound": result.train.fnr_upper_bound,
    }
    if result.challenger is not None:
        metrics.update(evaluation_metrics(CHALLENGER_PREFIX, result.challenger))
    if result.champion is not None:
        metrics.update(evaluation_metrics(CHAMPION_PREFIX, result.champion, per_service=False))
    return metrics


def _retrain(config: RetrainConfig, settings: Settings, progress: Progress, started: float) -> RetrainResult:
    state = config.state or settings.state_location
    progress("reading history, feedback and the decision log (Ray Data)")
    window, sources = load_window(config.history, state, config.window)
    if sources.invalid_lines and not config.skip_bad_lines:
        bad = f"{sources.invalid_lines} malformed lines in the history, feedback or decision log"
        raise ValueError(f"{bad}: fix them, or skip them (counted) with --skip-bad-lines")
    progress(
        f"window {window.start:%Y-%m-%d} .. {window.end:%Y-%m-%d}: {len(window.train)} training rows, "
        f"{len(window.holdout)} held out"
    )
    champion = load_champion(settings)
    features = choose_features(config, champion, settings)
    caches = Caches(device=embedding_device(config.gpu))
    bundle, report = train_bundle(
        window.train,
        caches.get(features.encoder),
        features,
        config.params,
        ThresholdParams(budget=settings.fnr_budget),
        backend_options(config).load(),
        config.validation_fraction,
        progress,
    )
    challenger_eval = champion_eval = None
    if window.holdout:
        progress("scoring the held-out days with the new model and the champion")
        challenger_eval = evaluate_bundle(bundle, caches, window.train, window.holdout)
        if champion is not None:
            champion_eval = evaluate_bundle(champion, caches, window.train, window.holdout)
    result = RetrainResult(
        version=None,
        champion_version=champion.version if champion else None,
        window_start=window.start,
        window_split=window.split,
        window_end=window.end,
        rows=window.rows,
        sources=sources,
        train=report,
        challenger=challenger_eval,
        champion=champion_eval,
        duration_s=0.0,
    )
    if config.register_version:
        progress("registering the challenger")
        times = {"window_start": window.start, "window_split": window.split, "window_end": window.end}
        extra = {name: at.isoformat() for name, at in times.items()}
        champion_version = result.champion_version or ""
        params = mlflow_params(
            report,
            features,
            backend_options(config),
            config.history,
            job="retrain",
            state=state,
            champion_version=champion_version,
            **extra,
        )
        result.duration_s = round(time.perf_counter() - started, 2)
        metrics = {**run_metrics(result, bundle, window), "duration_seconds": result.duration_s}
        result.version = registry.register(bundle, settings, params, metrics, aliases=(registry.CHALLENGER,))
    return result


def run_retrain(config: RetrainConfig, settings: Settings, progress: Progress = lambda step: None) -> RetrainResult:
    """Run the job once; its status (success or failure) is recorded either way."""
    store = open_store(config.state or settings.state_location)
    started_at, started = now(), time.perf_counter()
    try:
        result = _retrain(config, settings, progress, started)
    except Exception as exc:
        record_status(
            store,
            PipelineStatus(
                started_at=started_at,
                finished_at=now(),
                outcome="failed",
                duration_s=round(time.perf_counter() - started, 2),
                message=f"{type(exc).__name__}: {exc}"[:2000],
            ),
        )
        raise
    result.duration_s = round(time.perf_counter() - started, 2)
    record_status(
        store,
        PipelineStatus(
            started_at=started_at,
            finished_at=now(),
            duration_s=result.duration_s,
            outcome="success",
            rows=result.rows,
            version=result.version,
        ),
    )
    return result
