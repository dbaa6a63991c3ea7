"""The weekly retraining job: a ``TrainRequest`` for the data window, run by ``train_app.pipeline``.

``run_retrain`` turns a ``RetrainConfig`` into one request of the training pipeline: the window of
labelled history, feedback and the decision log (``train_app.data``, Ray Data; the last N weeks, the
last days held out), the champion's featurisation unless told otherwise, Ray Train workers (``gpu=True``
runs the same code on GPU workers), and the promotion target ``challenger`` (never champion: promotion
decides that). The pipeline trains, scores the held-out days with the new model and the current
champion, and registers the challenger with both evaluations (counts too, so promotion can put
confidence intervals on them), per service, the training time and the data size. What is this job's
own: choosing the features from the champion, and appending a ``PipelineStatus`` for the dashboards to
the state store after every run, failed or not.
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
from alertsieve.settings import Settings
from alertsieve.store import open_store
from alertsieve.training import TrainReport
from train_app.data import SourceCounts
from train_app.offline import Caches
from train_app.pipeline import BackendOptions, TrainRequest, TrainResult, run
from train_app.window import WindowSpec

Progress = Callable[[str], None]


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


def load_champion(models: registry.Registry) -> ModelBundle | None:
    if models.alias_version(registry.CHAMPION) is None:
        return None
    return models.load(registry.CHAMPION)


def train_request(config: RetrainConfig, features: FeatureConfig) -> TrainRequest:
    """The pipeline's request for this job: the window, strict unless told, registered as the challenger."""
    return TrainRequest(
        history=config.history,
        window=config.window,
        state=config.state,
        features=features,
        params=config.params,
        backend=BackendOptions(backend=config.backend, workers=config.workers, gpu=config.gpu),
        validation_fraction=config.validation_fraction,
        skip_bad_lines=config.skip_bad_lines,
        register_version=config.register_version,
        first_model=False,
        job="retrain",
    )


def retrain_result(trained: TrainResult) -> RetrainResult:
    window, sources = trained.window, trained.sources
    assert window is not None and sources is not None  # a window request always has both
    return RetrainResult(
        version=trained.version,
        champion_version=trained.holdout.champion_version,
        window_start=window.start,
        window_split=window.split,
        window_end=window.end,
        rows=window.rows,
        sources=sources,
        train=trained.report,
        challenger=trained.holdout.challenger,
        champion=trained.holdout.champion,
        duration_s=trained.duration_s,
    )


def _retrain(config: RetrainConfig, settings: Settings, progress: Progress) -> RetrainResult:
    models = registry.Registry(settings)  # one per job: MLflow is pointed at the store once
    champion = load_champion(models)
    request = train_request(config, choose_features(config, champion, settings))
    caches = Caches(device=embedding_device(config.gpu))
    return retrain_result(run(request, settings, progress, caches, champion, models))


def run_retrain(config: RetrainConfig, settings: Settings, progress: Progress = lambda step: None) -> RetrainResult:
    """Run the job once; its status (success or failure) is recorded either way."""
    store = open_store(config.state or settings.state_location)
    started_at, started = now(), time.perf_counter()
    try:
        result = _retrain(config, settings, progress)
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
