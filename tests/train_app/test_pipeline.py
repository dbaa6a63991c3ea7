"""The training pipeline's plain parts: the first-model gate, the backend options and the MLflow params."""

from __future__ import annotations

from alertsieve.evaluation import Counts
from train_app.pipeline import BackendOptions
from train_app.promotion import GateConfig, assess


def test_first_model_gate_judges_the_validation_estimate():
    within = Counts(alerts=300, actionable=100, suppressed_actionable=1, noise=200, suppressed_noise=150)
    above = within.model_copy(update={"suppressed_actionable": 2})
    gates = GateConfig(budget=0.015)
    assert assess(within, None, gates, first_model=True).verdict == "advance"
    assert assess(above, None, gates, first_model=True).verdict == "rollback"
    assert assess(within, None, gates).verdict == "hold"  # 100 actionable alerts cannot bound 1% under 1.5%


def test_local_backend_options_load_in_process():
    assert BackendOptions(backend="local").load().name == "local"
