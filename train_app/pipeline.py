"""The one training pipeline, behind `alertsieve train` and `alertsieve retrain`: read -> fit -> gates -> registry.

``run(TrainRequest)`` reads labelled history strictly (the first malformed line stops it, naming the file,
the line and the field; ``skip_bad_lines`` skips such lines and counts them instead), from one of two
sources: a JSONL file as it is, or (``window``) the last weeks of history, feedback and the decision log
(``train_app.data``, Ray Data; ``train_app.window``), whose last days are held out. It trains a bundle with
one fit backend (``BackendOptions``), judges its validation slice with the gates of ``train_app.promotion``,
scores a window's held-out days with the new model and the champion it is given (``train_app.holdout``),
and registers the version once, with the params of ``mlflow_params`` and the metrics of ``run_metrics``.
``first_model``: a model judged on its own validation slice (``assess(..., first_model=True)``) that
becomes champion when it passes (a fresh home, or `alertsieve train` replacing it by hand); otherwise it is
registered as the ``challenger`` for `alertsieve promote`.
"""

from __future__ import annotations

import time
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Literal

from pydantic import BaseModel, ConfigDict, Field

from alertsieve import registry
from alertsieve.bundle import ModelBundle
from alertsieve.featurize import FeatureConfig
from alertsieve.model import TrainParams
from alertsieve.policy import ThresholdParams
from alertsieve.records import read_jsonl, read_jsonl_skipping
from alertsieve.schema import LabelledAlert
from alertsieve.settings import Settings
from alertsieve.training import FitBackend, TrainReport, load_fit_backend, train_bundle
from train_app.data import SourceCounts, load_window
from train_app.holdout import HoldoutComparison, compare_on_holdout, holdout_metrics
from train_app.offline import Caches
from train_app.promotion import Assessment, GateConfig, assess
from train_app.window import TrainingWindow, WindowSpec

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
    """One training run: its data, its featurisation and fit, and what the new version may become."""

    history: str = Field(description="labelled history: a .jsonl file; with a window also a folder or s3://...")
    window: WindowSpec | None = Field(
        default=None, description="None: all of the file; else the window of history + feedback + decision log"
    )
    state: str | None = Field(default=None, description="with a window: decision log and feedback (state_location)")
    features: FeatureConfig = Field(default_factory=FeatureConfig)
    params: TrainParams = Field(default_factory=TrainParams)
    backend: BackendOptions = Field(default_factory=BackendOptions)
    validation_fraction: float = Field(default=0.25, gt=0, lt=1)
    skip_bad_lines: bool = Field(default=False, description="skip and count malformed lines instead of stopping")
    register_version: bool = True
    first_model: bool = Field(
        default=True, description="judge on validation alone; champion when it passes (else: a challenger)"
    )
    job: Literal["train", "retrain"] = Field(default="train", description="the MLflow param 'job'")


@dataclass
class TrainingData:
    """What a run trains on, and where it came from (``window`` and ``sources``: a window request)."""

    alerts: list[LabelledAlert]
    skipped_lines: int
    window: TrainingWindow | None = None
    sources: SourceCounts | None = None


class TrainResult(BaseModel):
    model_config = ConfigDict(arbitrary_types_allowed=True)

    bundle: ModelBundle
    report: TrainReport
    skipped_lines: int = Field(description="malformed lines skipped (skip_bad_lines)")
    assessment: Assessment = Field(description="the gates' verdict on the validation slice")
    version: str | None = None
    champion: bool = Field(description="the version was made champion")
    window: TrainingWindow | None = Field(default=None, description="the window trained on (a window request)")
    sources: SourceCounts | None = Field(default=None, description="lines read per source (a window request)")
    holdout: HoldoutComparison = Field(default_factory=HoldoutComparison)
    duration_s: float = 0.0


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


def run_params(
    request: TrainRequest, settings: Settings, report: TrainReport, data: TrainingData, holdout: HoldoutComparison
) -> dict[str, str | float | int]:
    """``mlflow_params`` of the request; a window run adds the window, the state and the champion compared."""
    extra: dict[str, str | float | int] = {"job": request.job}
    if data.window is not None:
        times = {"window_start": data.window.start, "window_split": data.window.split, "window_end": data.window.end}
        extra |= {name: at.isoformat() for name, at in times.items()}
        extra |= {"state": request.state or settings.state_location, "champion_version": holdout.champion_version or ""}
    return mlflow_params(report, request.features, request.backend, request.history, **extra)


def run_metrics(
    bundle: ModelBundle, report: TrainReport, data: TrainingData, holdout: HoldoutComparison, duration_s: float
) -> dict[str, float]:
    """The bundle's metrics, the run's size and times; a window run adds its window and held-out comparison."""
    metrics = {
        **bundle.meta.metrics,
        "train_seconds": report.train_seconds,
        "rows": float(report.rows),
        "invalid_lines": float(data.skipped_lines),
        "expected_fnr": report.expected_fnr,
        "fnr_upper_bound": report.fnr_upper_bound,
        "duration_seconds": duration_s,
    }
    if data.window is not None:
        metrics.update(holdout_metrics(data.window, holdout))
    return metrics


def read_history(path: Path, skip_bad_lines: bool) -> tuple[list[LabelledAlert], int]:
    """Labelled alerts, and how many malformed lines were skipped (strict: a RecordError on the first)."""
    if not skip_bad_lines:
        return read_jsonl(path, LabelledAlert), 0
    alerts, errors = read_jsonl_skipping(path, LabelledAlert)
    return alerts, len(errors)


def read_training_data(request: TrainRequest, settings: Settings, progress: Progress) -> TrainingData:
    """The file as it is, or the window (strict: malformed lines in any source raise unless skipped)."""
    if request.window is None:
        alerts, skipped = read_history(Path(request.history), request.skip_bad_lines)
        progress(f"read {len(alerts)} alerts" + (f" ({skipped} malformed lines skipped)" if skipped else ""))
        return TrainingData(alerts, skipped)
    progress("reading history, feedback and the decision log (Ray Data)")
    window, sources = load_window(request.history, request.state or settings.state_location, request.window)
    if sources.invalid_lines and not request.skip_bad_lines:
        bad = f"{sources.invalid_lines} malformed lines in the history, feedback or decision log"
        raise ValueError(f"{bad}: fix them, or skip them (counted) with --skip-bad-lines")
    progress(
        f"window {window.start:%Y-%m-%d} .. {window.end:%Y-%m-%d}: {len(window.train)} training rows, "
        f"{len(window.holdout)} held out"
    )
    return TrainingData(window.train, sources.invalid_lines, window, sources)


def run(
    request: TrainRequest,
    settings: Settings,
    progress: Progress = lambda step: None,
    caches: Caches | None = None,
    champion: ModelBundle | None = None,
    models: registry.Registry | None = None,
) -> TrainResult:
    """Train, gate, compare (a window's held-out days, with ``champion``) and register one model.

    ``caches``: the embedding caches (this process's CPU, or CUDA with ``--gpu``, by default); ``models``:
    the job's registry (one for the configured store by default). Raises ValueError (RecordError) on bad data."""
    started = time.perf_counter()
    data = read_training_data(request, settings, progress)
    fit_backend = request.backend.load()
    if caches is None:
        caches = Caches(device="cuda" if request.backend.gpu else "cpu")
    bundle, report = train_bundle(
        data.alerts,
        caches.get(request.features.encoder),
        request.features,
        request.params,
        ThresholdParams(budget=settings.fnr_budget),
        fit_backend,
        request.validation_fraction,
        progress,
    )
    gates = GateConfig(budget=settings.fnr_budget)
    assessment = assess(report.validation.overall, None, gates, first_model=request.first_model)
    made_champion = request.first_model and assessment.verdict == "advance"
    holdout = HoldoutComparison()
    if data.window is not None:
        holdout = compare_on_holdout(bundle, champion, caches, data.window, progress)
    result = TrainResult(
        bundle=bundle,
        report=report,
        skipped_lines=data.skipped_lines,
        assessment=assessment,
        champion=made_champion,
        window=data.window,
        sources=data.sources,
        holdout=holdout,
    )
    if request.register_version:
        aliases = (registry.CHAMPION,) if made_champion else () if request.first_model else (registry.CHALLENGER,)
        if not request.first_model:
            progress("registering the challenger")
        result.duration_s = round(time.perf_counter() - started, 2)
        params = run_params(request, settings, report, data, holdout)
        metrics = run_metrics(bundle, report, data, holdout, result.duration_s)
        result.version = (models or registry.Registry(settings)).register(bundle, params, metrics, aliases)
    result.duration_s = round(time.perf_counter() - started, 2)
    return result
