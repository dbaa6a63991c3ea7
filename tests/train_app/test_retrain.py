"""The retraining job on a local history: window -> training -> held-out comparison -> challenger + status."""

from __future__ import annotations

from pathlib import Path

import pytest

from alertsieve import registry
from alertsieve.model import TrainParams
from alertsieve.pipeline import latest_status
from alertsieve.records import write_jsonl
from alertsieve.schema import LabelledAlert
from alertsieve.settings import Settings
from alertsieve.simulate import simulate_history
from alertsieve.store import open_store
from train_app.evidence import offline_evidence
from train_app.retrain import RetrainConfig, run_retrain
from train_app.window import WindowSpec


@pytest.fixture(scope="module")
def stream() -> list[LabelledAlert]:
    return simulate_history(days=12, seed=3)


def config(history: Path, state: Path) -> RetrainConfig:
    return RetrainConfig(
        history=str(history),
        state=str(state),
        window=WindowSpec(weeks=2, holdout_days=3),
        encoder="hashing-64",
        params=TrainParams(epochs=2),
        backend="local",
    )


def test_retraining_registers_a_challenger_compared_with_the_champion(
    ray_cluster, isolated_model: Settings, stream: list[LabelledAlert], tmp_path: Path
) -> None:
    settings = isolated_model
    history, state = tmp_path / "history.jsonl", tmp_path / "state"
    write_jsonl(history, stream)
    first = run_retrain(config(history, state), settings)
    assert first.version is not None and first.champion is None and first.challenger is not None
    assert registry.alias_version(settings, registry.CHALLENGER) == first.version
    assert first.rows == len(stream)
    assert first.challenger.overall.alerts == sum(1 for a in stream if a.startsAt > first.window_split)

    registry.set_alias(settings, registry.CHAMPION, first.version)
    second = run_retrain(config(history, state), settings)
    assert second.version is not None and second.challenger is not None
    assert second.champion_version == first.version and second.champion is not None
    assert second.champion.overall.alerts == second.challenger.overall.alerts  # the same held-out days
    assert registry.alias_version(settings, registry.CHALLENGER) == second.version
    assert registry.alias_version(settings, registry.CHAMPION) == first.version  # promotion decides that

    client = registry.configure(settings)
    run_id = client.get_model_version(settings.model_name, second.version).run_id
    assert run_id is not None
    run = client.get_run(run_id)
    metrics, params = run.data.metrics, run.data.params
    for name in (
        "holdout_noise_reduction",
        "holdout_fnr",
        "holdout_auc",
        "champion_holdout_fnr",
        "train_seconds",
        "rows",
        "train_rows",
        "holdout_rows",
        "duration_seconds",
    ):
        assert name in metrics, name
    assert any(name.startswith("holdout_service.") and name.endswith(".fnr") for name in metrics)
    assert metrics["rows"] == len(stream) and params["champion_version"] == first.version
    assert params["encoder"] == "hashing-64" and params["backend"] == "local"
    evidence = offline_evidence(settings, second.version)
    assert evidence.compared_with == first.version and evidence.challenger is not None
    assert evidence.challenger == second.challenger.overall and evidence.champion == second.champion.overall

    status = latest_status(open_store(str(state)))
    assert status is not None and status.outcome == "success" and status.version == second.version
    assert status.rows == len(stream) and status.duration_s > 0


def test_a_failed_run_is_recorded_and_raised(ray_cluster, isolated_model: Settings, tmp_path: Path) -> None:
    state = tmp_path / "state"
    with pytest.raises(ValueError, match="no labelled alerts"):
        run_retrain(config(tmp_path / "missing.jsonl", state), isolated_model)
    status = latest_status(open_store(str(state)))
    assert status is not None and status.outcome == "failed" and "no labelled alerts" in status.message
    assert registry.alias_version(isolated_model, registry.CHALLENGER) is None
