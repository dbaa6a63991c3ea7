"""The model registry: MLflow runs, one registered version per bundle, and the aliases that serve.

Tracking defaults to a sqlite store under $ALERTSIEVE_HOME with local artifacts; MLFLOW_TRACKING_URI
and an artifact root (s3://bucket/prefix, honouring MLFLOW_S3_ENDPOINT_URL) switch to production
counterparts without code changes. A bundle is logged in a run as an MLflow pyfunc model named ``bundle``
(``mlflow_model``: the bundle directory is its artifacts) and registered as a version of
``Settings.model_name``; ``champion`` is set only when the version passed its gates, ``challenger`` marks
the candidate for shadow and A/B traffic. ``models:/NAME@alias`` and ``models:/NAME/3`` name the model;
another model than the configured one is read only if it is registered (else ``RegistryError``).
``Registry(settings)`` points MLflow's process-wide state at the store once and does all of that through
one client; the module functions are one-call shorthands for it.
"""

from __future__ import annotations

import os
import tempfile
from pathlib import Path

import mlflow
from mlflow import MlflowClient
from mlflow.exceptions import MlflowException

from alertsieve.bundle import ModelBundle, load_bundle
from alertsieve.mlflow_model import bundle_dir_of, log_bundle_model
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


class Registry:
    """The model registry of one configuration: MLflow is pointed at it once, when the object is made.

    ``configure`` sets MLflow's process-wide tracking URI and experiment; one ``Registry`` per command or
    job does it once, however many versions and aliases it then reads or writes."""

    def __init__(self, settings: Settings) -> None:
        self.settings = settings
        self.name = settings.model_name
        self.client = configure(settings)

    def register(
        self,
        bundle: ModelBundle,
        params: dict[str, str | float | int],
        metrics: dict[str, float],
        aliases: tuple[str, ...] = (),
    ) -> str:
        """Log the bundle in a new run, register it as a version, set ``aliases``; returns the version."""
        client = self.client
        try:
            client.get_registered_model(self.name)
        except MlflowException:
            client.create_registered_model(self.name, description="alertsieve page/suppress models")
        # the pyfunc answers with the bundle's own version: record the number this version will get (one
        # writer at a time: the retrain job runs alone); load_registered overrides it with the registry's anyway
        expected = str(_next_version(client, self.name))
        with mlflow.start_run() as run, tempfile.TemporaryDirectory() as tmp:
            mlflow.log_params(params)
            mlflow.log_metrics({k: v for k, v in metrics.items() if v == v})  # drop NaN
            meta = bundle.meta.model_copy(update={"version": expected})
            saved = ModelBundle(meta=meta, classifier=bundle.classifier, index=bundle.index)
            saved.save(Path(tmp) / ARTIFACT_PATH)
            info = log_bundle_model(Path(tmp) / ARTIFACT_PATH, name=ARTIFACT_PATH)
            # the source is where the model's files are (s3://... under the artifact root), not its models:/m-... id
            source = client.get_logged_model(info.model_id).artifact_location
            version = client.create_model_version(
                self.name, source=source, run_id=run.info.run_id, model_id=info.model_id
            )
            if str(version.version) != expected:
                client.set_model_version_tag(self.name, version.version, "bundle_version", expected)
        for alias in aliases:
            self.set_alias(alias, version.version)
        return str(version.version)

    def set_alias(self, alias: str, version: str) -> None:
        if alias == CHAMPION:
            current = self.alias_version(CHAMPION)
            if current and current != version:
                self.client.set_registered_model_alias(self.name, PREVIOUS, current)
        self.client.set_registered_model_alias(self.name, alias, version)

    def alias_version(self, alias: str) -> str | None:
        try:
            return str(self.client.get_model_version_by_alias(self.name, alias).version)
        except MlflowException:
            return None

    def resolve(self, model: str | None) -> tuple[str, str]:
        """A model reference to (version, artifact source): an alias, a version number or models:/ URI."""
        name, ref = parse_uri(model or CHAMPION, self.name)
        if name != self.name:
            try:
                self.client.get_registered_model(name)
            except MlflowException as exc:
                message = f"no registered model named {name!r} (this registry serves {self.name!r})"
                raise RegistryError(message) from exc
        try:
            if ref.isdigit():
                mv = self.client.get_model_version(name, ref)
            else:
                mv = self.client.get_model_version_by_alias(name, ref)
        except MlflowException as exc:
            raise RegistryError(f"no model version {ref!r} of {name!r}: {exc.message}") from exc
        return str(mv.version), str(mv.source)

    def load(self, model: str | None = None) -> ModelBundle:
        """Download and load a registered bundle (by alias, version or URI; champion by default)."""
        if model and Path(model).is_dir():
            return load_bundle(Path(model))
        version, source = self.resolve(model)
        local = mlflow.artifacts.download_artifacts(artifact_uri=source)
        return load_bundle(bundle_dir_of(Path(local)), version=version)


def register(
    bundle: ModelBundle,
    settings: Settings,
    params: dict[str, str | float | int],
    metrics: dict[str, float],
    aliases: tuple[str, ...] = (),
) -> str:
    """``Registry.register`` on the configured registry."""
    return Registry(settings).register(bundle, params, metrics, aliases)


def _next_version(client: MlflowClient, name: str) -> int:
    versions = client.search_model_versions(f"name='{name}'")
    return max((int(v.version) for v in versions), default=0) + 1


def parse_uri(uri: str, default_name: str) -> tuple[str, str]:
    """(model name, version or alias) of ``models:/NAME@alias``, ``models:/NAME/3`` or a bare reference."""
    if not uri.startswith("models:/"):
        return default_name, uri
    rest = uri[len("models:/") :].strip("/")
    if "@" in rest:
        name, _, ref = rest.rpartition("@")
    else:
        name, _, ref = rest.rpartition("/")
    if not name or not ref or "/" in name:
        raise RegistryError(f"not a model URI: {uri!r} (expected models:/NAME@ALIAS or models:/NAME/VERSION)")
    return name, ref


def set_alias(settings: Settings, alias: str, version: str) -> None:
    Registry(settings).set_alias(alias, version)


def alias_version(settings: Settings, alias: str) -> str | None:
    return Registry(settings).alias_version(alias)


def resolve(settings: Settings, model: str | None) -> tuple[str, str]:
    """``Registry.resolve`` on the configured registry."""
    return Registry(settings).resolve(model)


def load_registered(settings: Settings, model: str | None = None) -> ModelBundle:
    """Download and load a registered bundle (by alias, version or URI; champion by default)."""
    if model and Path(model).is_dir():
        return load_bundle(Path(model))
    return Registry(settings).load(model)
