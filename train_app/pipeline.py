"""The training pipeline behind `alertsieve train`: read -> fit -> thresholds -> gates -> registry.

``run(TrainRequest)`` reads labelled history strictly (the first malformed line stops it, naming the file,
the line and the field; ``skip_bad_lines`` skips such lines and counts them instead), trains a bundle
with one fit backend (``BackendOptions``), and registers it with the MLflow params of ``mlflow_params``,
which the retraining job (``train_app.retrain``) builds its params with too. Promotion goes through the
gates of ``train_app.promotion``: a ``first_model`` request is judged on its own validation slice
(``assess(..., first_model=True)``) and becomes champion when it passes; any other registers a challenger
for ``alertsieve promote``.
"""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path

from pydantic import BaseModel, ConfigDict, Field

from alertsieve import registry
from alertsieve.bundle import ModelBundle
from alertsieve.embedding import EmbeddingCache, load_encoder
from alertsieve.featurize import FeatureConfig
from alertsieve.model import TrainParams
from alertsieve.policy import ThresholdParams
from alertsieve.records import read_jsonl, read_jsonl_skipping
from alertsieve.schema import LabelledAlert
from alertsieve.settings import Settings
from alertsieve.training import FitBackend, TrainReport, load_fit_backend, train_bundle
from train_app.promotion import Assessment, GateConfig, assess

Progress = Callable[[str], None]


class BackendOptions(BaseModel):
    """Where the classifier is fitted: Ray Train workers (CPU or GPU) or this process."""

    backend: str = Field(default="ray", description="'ray' (Ray Train workers) or 'local' (this process)")
    workers: int = Field(default=1, ge=1)
    gpu: bool = False

    def load(self) -> FitBackend:
        options: dict[str, object] = (
            {} if self.backend == "local" else {"num_workers": self.workers, "use_gpu": self.gpu}
        )
        return load_fit_backend(self.backend, **options)


class TrainRequest(BaseModel):
    history: Path = Field(description="JSONL of labelled alerts")
    features: FeatureConfig = Field(default_factory=FeatureConfig)
    params: TrainParams = Field(default_factory=TrainParams)
    backend: BackendOptions = Field(default_factory=BackendOptions)
    validation_fraction: float = Field(default=0.25, gt=0, lt=1)
    skip_bad_lines: bool = Field(default=False, description="skip and count malformed lines instead of stopping")
    register_version: bool = True
    first_model: bool = Field(default=True, description="judge on validation alone; champion when it passes")


class TrainResult(BaseModel):
    model_config = ConfigDict(arbitrary_types_allowed=True)

    bundle: ModelBundle
    report: TrainReport
    skipped_lines: int = Field(description="malformed lines skipped (skip_bad_lines)")
    assessment: Assessment = Field(description="the gates' verdict on the validation slice")
    version: str | None = None
    champion: bool = Field(description="the version was made champion")


def mlflow_params(
    report: TrainReport, features: FeatureConfig, backend: BackendOptions, history: str, **extra: str | float | int
) -> dict[str, str | float | int]:
    """The params every training run logs, plus what its job adds (``extra``)."""
    return {
        "backend": report.backend,
        "encoder": features.encoder,
        "rows": report.rows,
        "history": history,
        "workers": backend.workers,
        "gpu": str(backend.gpu),
        "use_neighbours": str(features.use_neighbours),
        "use_embedding": str(features.use_embedding),
        **extra,
    }


def read_history(path: Path, skip_bad_lines: bool) -> tuple[list[LabelledAlert], int]:
    """Labelled alerts, and how many malformed lines were skipped (strict: a RecordError on the first)."""
    if not skip_bad_lines:
        return read_jsonl(path, LabelledAlert), 0
    alerts, errors = read_jsonl_skipping(path, LabelledAlert)
    return alerts, len(errors)


def run(
    request: TrainRequest,
    settings: Settings,
    progress: Progress = lambda step: None,
    cache: EmbeddingCache | None = None,
) -> TrainResult:
    """Train, gate and (``register_version``) register one model; raises ValueError (RecordError) on bad data."""
    alerts, skipped = read_history(request.history, request.skip_bad_lines)
    fit_backend = request.backend.load()
    progress(f"read {len(alerts)} alerts" + (f" ({skipped} malformed lines skipped)" if skipped else ""))
    if cache is None:
        cache = EmbeddingCache(load_encoder(request.features.encoder, device="cuda" if request.backend.gpu else "cpu"))
    bundle, report = train_bundle(
        alerts,
        cache,
        request.features,
        request.params,
        ThresholdParams(budget=settings.fnr_budget),
        fit_backend,
        request.validation_fraction,
        progress,
    )
    gates = GateConfig(budget=settings.fnr_budget)
    assessment = assess(report.validation.overall, None, gates, first_model=request.first_model)
    champion = request.first_model and assessment.verdict == "advance"
    result = TrainResult(bundle=bundle, report=report, skipped_lines=skipped, assessment=assessment, champion=champion)
    if request.register_version:
        params = mlflow_params(report, request.features, request.backend, str(request.history), job="train")
        metrics = {
            **bundle.meta.metrics,
            "train_seconds": report.train_seconds,
            "rows": float(report.rows),
            "invalid_lines": float(skipped),
        }
        aliases = (registry.CHAMPION,) if champion else () if request.first_model else (registry.CHALLENGER,)
        result.version = registry.Registry(settings).register(bundle, params, metrics, aliases)
    return result
