from __future__ import annotations

import sys
from datetime import UTC, datetime, timedelta

import numpy as np
import pytest

from alertsieve.policy import ThresholdParams
from thresholds.scored import DAY_S, ScoredRow, ScoredRows
from thresholds.tune import (
    TrialConfig,
    TuneSettings,
    TuneSpace,
    apply_policy,
    evaluate_config,
    objective,
    policy_for_window,
    run_tune,
)

START = datetime(2026, 1, 5, tzinfo=UTC)


def scored_rows(days: int = 28, per_day: int = 450, seed: int = 0, overlap: bool = False) -> list[ScoredRow]:
    """Three services; actionable 10%; noise at P(actionable) 1e-6..1e-3, actionable above 0.5 (with
    ``overlap``: log-uniform from 1e-5, down among the noise)."""
    rng = np.random.default_rng(seed)
    rows = []
    for i in range(days * per_day):
        actionable = bool(rng.random() < 0.1)
        if actionable:
            score = 10 ** rng.uniform(-5, 0) if overlap else rng.uniform(0.5, 1.0)
        else:
            score = 10 ** rng.uniform(-6, -3)
        rows.append(
            ScoredRow(
                time=START + timedelta(seconds=float(rng.uniform(0, days * DAY_S))),
                service=("api", "db", "web")[i % 3],
                score=score,
                actionable=actionable,
            )
        )
    return rows


@pytest.fixture(scope="module")
def rows() -> ScoredRows:
    return ScoredRows.from_rows(scored_rows())


def test_objective_ranks_every_breach_below_every_hold():
    assert objective(0.4, 0.01, 0.015, 1.0) == 0.4
    breach = objective(0.99, 0.016, 0.015, 1.0)
    assert breach < 0.0 <= objective(0.0, 0.015, 0.015, 1.0)
    assert objective(0.99, 0.03, 0.015, 1.0) < breach  # the further over, the worse
    assert objective(0.5, 0.03, 0.015, 0.0) == 0.5  # no penalty: plain noise reduction


def test_scored_rows_sort_and_slice(rows: ScoredRows):
    assert np.all(np.diff(rows.times) >= 0)
    assert 27.9 < rows.span_days <= 28
    week = rows.between(rows.times[0], rows.times[0] + 7 * DAY_S)
    assert 0 < len(week) < len(rows) and week.times.max() < rows.times[0] + 7 * DAY_S


def test_evaluate_config_on_separable_rows_holds_the_budget_and_is_pure(rows: ScoredRows):
    settings = TuneSettings(eval_days=7)
    result = evaluate_config(rows, TrialConfig(validation_days=14), settings)
    assert result == evaluate_config(rows, TrialConfig(validation_days=14), settings)
    assert result.folds == 1 and result.fnr <= 0.015 and not result.over_budget
    assert result.noise_reduction > 0.9 and result.objective == result.noise_reduction
    later = rows.between(rows.times[-1] + 1 - 7 * DAY_S, rows.times[-1] + 1)
    assert result.alerts == len(later)  # judged on the last 7 days only


def test_thresholds_come_from_the_window_before_the_evaluation_window():
    # the first two weeks: actionable scores down among the noise; the three weeks after: separable.
    early = scored_rows(days=14, seed=1, overlap=True)
    late = [r.model_copy(update={"time": r.time + timedelta(days=14)}) for r in scored_rows(days=21, seed=2)]
    data = ScoredRows.from_rows(early + late)
    eval_start = float(data.times[-1]) + 1 - 7 * DAY_S
    base = ThresholdParams()
    recent = policy_for_window(data, eval_start, TrialConfig(validation_days=14), base)
    longer = policy_for_window(data, eval_start, TrialConfig(validation_days=21), base)
    assert sorted(recent.services) == sorted(longer.services) == ["api", "db", "web"]
    assert min(c.threshold for c in recent.services.values()) > 1e-3  # above all noise: in the gap
    assert max(c.threshold for c in longer.services.values()) < 1e-3  # held down by the early misses
    later = data.between(eval_start, eval_start + 7 * DAY_S)
    assert apply_policy(recent, later).noise_reduction > apply_policy(longer, later).noise_reduction


def test_folds_pool_several_later_windows(rows: ScoredRows):
    one = evaluate_config(rows, TrialConfig(validation_days=7), TuneSettings(eval_days=7, folds=1))
    three = evaluate_config(rows, TrialConfig(validation_days=7), TuneSettings(eval_days=7, folds=3))
    assert three.folds == 3 and three.alerts > 2.5 * one.alerts
    too_many = evaluate_config(rows, TrialConfig(validation_days=21), TuneSettings(eval_days=7, folds=4))
    assert too_many.folds == 1  # only the last window has 21 days before it


def test_unusable_rows_are_refused(rows: ScoredRows):
    with pytest.raises(ValueError, match="no scored rows"):
        evaluate_config(ScoredRows.from_rows([]), TrialConfig(), TuneSettings())
    with pytest.raises(ValueError, match="do not cover"):
        evaluate_config(rows, TrialConfig(), TuneSettings(eval_days=40))


def test_thresholds_import_without_ray():
    code = (
        "import sys, thresholds.tune, thresholds.cli, thresholds.trends, thresholds.preview; "
        "sys.exit(1 if 'ray' in sys.modules else 0)"
    )
    import subprocess

    assert subprocess.run([sys.executable, "-c", code], check=False).returncode == 0


@pytest.mark.slow
def test_run_tune_on_the_session_cluster(ray_cluster, rows: ScoredRows, tmp_path):
    space = TuneSpace(validation_days=[7.0, 14.0], min_support=[5, 10])
    outcome = run_tune(rows, TuneSettings(eval_days=7), space, num_samples=3, seed=1, storage_path=str(tmp_path))
    assert len(outcome.trials) >= 3
    assert outcome.default is not None and outcome.default.config == TrialConfig()
    assert outcome.best.result.objective == max(t.result.objective for t in outcome.trials)
    for trial in outcome.trials:  # the default configuration lies inside this space too
        config = trial.config
        assert config.validation_days in (7.0, 14.0) and config.min_support in (5, 10)
        assert 0.0 <= config.margin <= 0.5 and 0.6 <= config.confidence <= 0.98
        # what each trial reported from its Ray worker is what the pure function gives here
        assert trial.result == evaluate_config(rows, trial.config, TuneSettings(eval_days=7))
