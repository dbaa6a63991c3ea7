"""A registered version is an MLflow Model: `alertsieve train` registers a pyfunc that any MLflow client loads
by ``models:/alertsieve@champion`` and that scores a DataFrame of alerts row for row; the registry honours
the model name in a URI and refuses one it does not have."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import mlflow
import pandas as pd
import pytest
import yaml
from typer.testing import CliRunner

from alertsieve import registry
from alertsieve.mlflow_model import OUTPUT_COLUMNS, alerts_of
from alertsieve.records import read_jsonl
from alertsieve.schema import Decision
from alertsieve.settings import get_settings
from cli.main import cli_app
from tests.factories import alert, quick_train_args, synthetic_history


@pytest.fixture(scope="module")
def trained(tmp_path_factory: pytest.TempPathFactory):  # -> Path (the home)
    """`alertsieve train` on a small synthetic history (hashing encoder, in process), as champion."""
    home = tmp_path_factory.mktemp("registry-home")
    patch = pytest.MonkeyPatch()
    patch.setenv("ALERTSIEVE_HOME", str(home))
    patch.setenv("ALERTSIEVE_FNR_BUDGET", "0.2")  # a week of history cannot certify 1.5%; the mechanics are the same
    for name in ("MLFLOW_TRACKING_URI", "ALERTSIEVE_ARTIFACT_ROOT", "ALERTSIEVE_STATE_URI"):
        patch.delenv(name, raising=False)
    get_settings.cache_clear()
    history = home / "history.jsonl"
    history.write_text("".join(a.model_dump_json() + "\n" for a in synthetic_history(seed=0, days=8.0)))
    result = CliRunner().invoke(cli_app(), quick_train_args(history, home / "bundle"))
    assert result.exit_code == 0, result.output
    assert "registered alertsieve version 1 as champion" in result.output
    mlflow.set_tracking_uri(get_settings().tracking_uri)
    yield home
    patch.undo()
    get_settings.cache_clear()


def payload(**kwargs: object) -> dict[str, Any]:
    return alert(**kwargs).model_dump(mode="json")  # type: ignore[arg-type]


def frame(alerts: list[dict[str, Any]]) -> pd.DataFrame:
    return pd.DataFrame(
        [
            {k: a[k] for k in ("labels", "annotations", "startsAt", "fingerprint", "status", "endsAt") if k in a}
            for a in alerts
        ]
    )


def test_the_champion_loads_as_an_mlflow_pyfunc_and_predicts_row_for_row(trained: Path) -> None:
    model = mlflow.pyfunc.load_model("models:/alertsieve@champion")
    signature = model.metadata.signature
    assert [c.name for c in signature.inputs.inputs] == [
        "labels",
        "annotations",
        "startsAt",
        "fingerprint",
        "status",
        "endsAt",
    ]
    assert [c.name for c in signature.inputs.inputs if c.required] == ["labels", "annotations", "startsAt"]
    assert [c.name for c in signature.outputs.inputs] == list(OUTPUT_COLUMNS)
    alerts = [
        payload(name="HighLatency", service="checkout", at=60.0 * 24 * 9),
        payload(name="ServiceDown", service="payments", at=60.0 * 24 * 9 + 1, severity="critical"),
        payload(name="Unheard", service="never-seen", at=60.0 * 24 * 9 + 2),
    ]
    df = frame(alerts)
    out = model.predict(df)
    assert list(out.columns) == list(OUTPUT_COLUMNS) and len(out) == len(df)
    assert set(out["model_version"]) == {"1"}
    assert set(out["decision"]) <= {"page", "suppress"}
    assert out.loc[2, "decision"] == "page" and "unknown service" in out.loc[2, "reason"]
    assert all(
        (s < t) == (d == "suppress") or d == "page"
        for s, t, d in zip(out["score"], out["threshold"], out["decision"], strict=True)
    )


def test_pyfunc_decisions_match_the_cli_scoring_the_same_alerts(trained: Path, tmp_path: Path) -> None:
    alerts = [
        payload(name=n, service=s, at=60.0 * 24 * 9 + i)
        for i, (n, s) in enumerate(
            [("HighLatency", "checkout"), ("DiskUsageHigh", "search"), ("PodRestarting", "auth")]
        )
    ]
    path = tmp_path / "alerts.jsonl"
    path.write_text("".join(json.dumps(a) + "\n" for a in alerts))
    result = CliRunner().invoke(cli_app(), ["score", "--alerts", str(path), "--out", str(tmp_path / "d.jsonl")])
    assert result.exit_code == 0, result.output
    cli = read_jsonl(tmp_path / "d.jsonl", Decision)
    out = mlflow.pyfunc.load_model("models:/alertsieve/1").predict(frame(alerts))
    assert list(out["decision"]) == [d.decision for d in cli]
    assert list(out["score"]) == pytest.approx([d.score for d in cli])


def test_the_version_holds_the_bundle_directory_and_pinned_requirements(trained: Path) -> None:
    local = Path(mlflow.artifacts.download_artifacts("models:/alertsieve@champion"))
    mlmodel = yaml.safe_load((local / "MLmodel").read_text())
    assert "python_function" in mlmodel["flavors"]
    assert (local / "artifacts" / "bundle" / "bundle.json").exists()
    requirements = (local / "requirements.txt").read_text().split()
    for name in ("torch", "faiss-cpu", "mlflow", "pandas"):
        assert any(r.startswith(f"{name}==") for r in requirements), (name, requirements)
    # the one loader: the registry reads the same bundle the pyfunc wraps
    bundle = registry.load_registered(get_settings(), "models:/alertsieve@champion")
    assert bundle.version == "1" and bundle.meta.features.encoder == "hashing-64"


def test_a_model_uri_names_its_model_and_an_unknown_name_is_an_error(trained: Path) -> None:
    settings = get_settings()
    assert registry.resolve(settings, "models:/alertsieve@champion")[0] == "1"
    assert registry.resolve(settings, "models:/alertsieve/1")[0] == "1"
    with pytest.raises(registry.RegistryError, match="no registered model named 'OTHER'"):
        registry.load_registered(settings, "models:/OTHER@x")
    with pytest.raises(registry.RegistryError, match="no model version 'nope'"):
        registry.resolve(settings, "models:/alertsieve@nope")
    with pytest.raises(registry.RegistryError, match="not a model URI"):
        registry.resolve(settings, "models:/@champion")


def test_rows_that_are_not_alerts_are_refused_naming_the_row() -> None:
    good = payload()
    with pytest.raises(ValueError, match="row 1 is not an alert"):
        alerts_of(frame([good, {**good, "labels": {}}]))
    with pytest.raises(ValueError, match="missing column"):
        alerts_of(pd.DataFrame([{"annotations": {}}]))
    [parsed] = alerts_of(
        pd.DataFrame(
            [
                {
                    "labels": json.dumps({"alertname": "A"}),
                    "startsAt": pd.Timestamp("2026-01-05T09:00:00Z"),
                    "endsAt": None,
                }
            ]
        )
    )
    assert parsed.labels == {"alertname": "A"} and parsed.endsAt is None


@pytest.mark.slow
def test_a_version_in_s3_loads_as_a_pyfunc(
    moto_s3: str, small_bundle, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    from tests.conftest import S3_BUCKET, s3_env

    for key, value in s3_env(moto_s3).items():
        monkeypatch.setenv(key, value)
    monkeypatch.setenv("ALERTSIEVE_HOME", str(tmp_path))
    monkeypatch.setenv("ALERTSIEVE_ARTIFACT_ROOT", f"s3://{S3_BUCKET}/registry-test")
    monkeypatch.delenv("MLFLOW_TRACKING_URI", raising=False)
    get_settings.cache_clear()
    try:
        settings = get_settings()
        version = registry.register(small_bundle, settings, {"test": "s3"}, {"rows": 1.0}, aliases=("champion",))
        assert registry.resolve(settings, "champion")[1].startswith(f"s3://{S3_BUCKET}/registry-test/")
        mlflow.set_tracking_uri(settings.tracking_uri)
        out = mlflow.pyfunc.load_model(f"models:/alertsieve/{version}").predict(frame([payload()]))
        assert list(out["model_version"]) == [version]
        assert registry.load_registered(settings, "champion").version == version
        import boto3

        s3 = boto3.client("s3", endpoint_url=moto_s3)
        keys = [o["Key"] for o in s3.list_objects_v2(Bucket=S3_BUCKET, Prefix="registry-test/")["Contents"]]
        assert any(k.endswith("/MLmodel") for k in keys) and any(k.endswith("/bundle/bundle.json") for k in keys)
    finally:
        get_settings.cache_clear()
