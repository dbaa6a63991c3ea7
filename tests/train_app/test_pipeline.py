"""The training pipeline's plain parts: the first-model gate, the backend options and the requests of both commands."""

from __future__ import annotations

from alertsieve.evaluation import Counts
from alertsieve.featurize import FeatureConfig
from train_app.pipeline import BackendOptions, TrainRequest
from train_app.promotion import GateConfig, assess
from train_app.retrain import RetrainConfig, train_request
from train_app.window import WindowSpec


def test_first_model_gate_judges_the_validation_estimate():
    within = Counts(alerts=300, actionable=100, suppressed_actionable=1, noise=200, suppressed_noise=150)
    above = within.model_copy(update={"suppressed_actionable": 2})
    gates = GateConfig(budget=0.015)
    assert assess(within, None, gates, first_model=True).verdict == "advance"
    assert assess(above, None, gates, first_model=True).verdict == "rollback"
    assert assess(within, None, gates).verdict == "hold"  # 100 actionable alerts cannot bound 1% under 1.5%


def test_local_backend_options_load_in_process():
    assert BackendOptions(backend="local").load().name == "local"


def test_both_commands_read_strictly_and_only_train_may_make_a_champion() -> None:
    """`train` and `retrain` build the same ``TrainRequest``: strict by default; retrain's is a window
    request whose version is registered as the challenger."""
    train = TrainRequest(history="history.jsonl")
    assert not train.skip_bad_lines and train.first_model and train.window is None and train.job == "train"
    config = RetrainConfig(history="s3://bucket/history", window=WindowSpec(weeks=2, holdout_days=3))
    retrain = train_request(config, FeatureConfig(encoder="hashing-64"))
    assert not retrain.skip_bad_lines and not retrain.first_model and retrain.job == "retrain"
    assert retrain.window == config.window and retrain.history == "s3://bucket/history"
    assert retrain.features.encoder == "hashing-64" and retrain.backend == BackendOptions(backend="ray")
