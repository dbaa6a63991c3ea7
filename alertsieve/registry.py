"""The model registry: MLflow runs, one registered version per bundle, and the aliases that serve.

Tracking defaults to a sqlite store under $ALERTSIEVE_HOME with local artifacts; MLFLOW_TRACKING_URI
and an artifact root (s3://bucket/prefix, honouring MLFLOW_S3_ENDPOINT_URL) switch to production
counterparts without code changes. A bundle is logged as the run's ``bundle`` artifact directory and
registered as a version of ``Settings.model_name``; ``champion`` is set only when the version passed
its gates, ``challenger`` marks the candidate for shadow and A/B traffic.
"""

from __future__ import annotations

import os
import tempfile
from pathlib import Path

import mlflow
from mlflow import MlflowClient
from mlflow.exceptions import MlflowException

from alertsieve.bundle import ModelBundle, load_bundle
from alertsieve.settings import Settings

CHAMPION, CHALLENGER, PREVIOUS = "champion", "challenger", "previous-champion"
ARTIFACT_PATH = "bundle"


class RegistryError(RuntimeError):
    """The registry has no such model, version or alias, or cannot be reached."""


def configure(settings: Settings) -> MlflowClient:
    """Point MLflow at the configured store (creating the local home) and return a client."""
    settings.home_dir.mkdir(parents=True, exist_ok=True)
    before = os.environ.get("MLFLOW_TRACKING_URI")
    mlflow.set_tracking_uri(settings.tracking_uri)
    # MLflow also exports the URI into the environment, where Settings would read it back later
    if before is None:
        os.environ.pop("MLFLOW_TRACKING_URI", None)
    else:
        os.environ["MLFLOW_TRACKING_URI"] = before
    experiment = mlflow.get_experiment_by_name(settings.model_name)
    if experiment is None:
        mlflow.create_experiment(settings.model_name, artifact_location=settings.artifact_location)
    mlflow.set_experiment(settings.model_name)
    return MlflowClient(tracking_uri=settings.tracking_uri)


def register(
    bundle: ModelBundle,
    settings: Settings,
    params: dict[str, str | float | int],
    metrics: dict[str, float],
    aliases: tuple[str, ...] = (),
) -> str:
    """Log the bundle in a new run, register it as a version, set ``aliases``; returns the version."""
    client = configure(settings)
    try:
        client.get_registered_model(settings.model_name)
    except MlflowException:
        client.create_registered_model(settings.model_name, description="alertsieve page/suppress models")
    with mlflow.start_run() as run, tempfile.TemporaryDirectory() as tmp:
        mlflow.log_params(params)
        mlflow.log_metrics({k: v for k, v in metrics.items() if v == v})  # drop NaN
        bundle.save(Path(tmp) / ARTIFACT_PATH)
        mlflow.log_artifacts(str(Path(tmp) / ARTIFACT_PATH), artifact_path=ARTIFACT_PATH)
        source = f"{run.info.artifact_uri}/{ARTIFACT_PATH}"
        version = client.create_model_version(settings.model_name, source=source, run_id=run.info.run_id)
    for alias in aliases:
        set_alias(settings, alias, version.version)
    return str(version.version)


def set_alias(settings: Settings, alias: str, version: str) -> None:
    client = configure(settings)
    if alias == CHAMPION:
        current = alias_version(settings, CHAMPION)
        if current and current != version:
            client.set_registered_model_alias(settings.model_name, PREVIOUS, current)
    client.set_registered_model_alias(settings.model_name, alias, version)


def alias_version(settings: Settings, alias: str) -> str | None:
    client = configure(settings)
    try:
        return str(client.get_model_version_by_alias(settings.model_name, alias).version)
    except MlflowException:
        return None


def resolve(settings: Settings, model: str | None) -> tuple[str, str]:
    """A model reference to (version, artifact source): an alias, a version number or models:/ URI."""
    client = configure(settings)
    ref = model or CHAMPION
    if ref.startswith("models:/"):
        ref = ref.split("/", 3)[-1].split("@")[-1] if "@" in ref else ref.rsplit("/", 1)[-1]
    try:
        mv = client.get_model_version(settings.model_name, ref) if ref.isdigit() else \
            client.get_model_version_by_alias(settings.model_name, ref)  # fmt: skip
    except MlflowException as exc:
        raise RegistryError(f"no model version {ref!r} of {settings.model_name!r}: {exc.message}") from exc
    return str(mv.version), str(mv.source)


def load_registered(settings: Settings, model: str | None = None) -> ModelBundle:
    """Download and load a registered bundle (by alias, version or URI; champion by default)."""
    if model and Path(model).is_dir():
        return load_bundle(Path(model))
    version, source = resolve(settings, model)
    configure(settings)
    local = mlflow.artifacts.download_artifacts(artifact_uri=source)
    return load_bundle(Path(local), version=version)
