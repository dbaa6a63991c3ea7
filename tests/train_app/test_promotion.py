"""Promotion decisions: interval math, gates, and the rollout state machine (all pure)."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest

from alertsieve.evaluation import Counts
from train_app.promotion import (
    GateConfig,
    Stage,
    abort,
    assess,
    clopper_pearson,
    newcombe_difference,
    start,
    step,
    target_for,
    wilson,
)

NOW = datetime(2026, 3, 2, 3, 0, tzinfo=UTC)


def counts(actionable: int, missed: int, noise: int, suppressed: int) -> Counts:
    return Counts(
        alerts=actionable + noise,
        actionable=actionable,
        suppressed_actionable=missed,
        noise=noise,
        suppressed_noise=suppressed,
    )


# ---- intervals: published values ------------------------------------------------------------------
def test_clopper_pearson_matches_published_exact_bounds() -> None:
    # 95% two-sided = one-sided 97.5% each: 8/10 -> (0.4439, 0.9748) (Clopper & Pearson 1934; any table)
    ci = clopper_pearson(8, 10, 0.975)
    assert (round(ci.low, 4), round(ci.high, 4)) == (0.4439, 0.9748)
    # no misses in n: the upper bound is 1 - (1 - c)^(1/n) (the "rule of three" when c = 0.95)
    assert clopper_pearson(0, 152, 0.9).high == pytest.approx(1 - 0.1 ** (1 / 152))
    assert clopper_pearson(0, 152, 0.9).low == 0.0 and clopper_pearson(5, 5, 0.9).high == 1.0
    assert (clopper_pearson(0, 0, 0.9).low, clopper_pearson(0, 0, 0.9).high) == (0.0, 1.0)


def test_wilson_and_newcombe_match_newcombe_1998() -> None:
    # Newcombe (1998), Stat Med 17:873, example (a): 56/70 vs 48/80 -> difference 0.2, 95% CI 0.0524 to 0.3339
    a, b = wilson(56, 70, 0.975), wilson(48, 80, 0.975)
    assert (round(a.low, 4), round(a.high, 4), round(b.low, 4), round(b.high, 4)) == (0.6918, 0.877, 0.4905, 0.7004)
    diff = newcombe_difference(a, b)
    assert diff.estimate == pytest.approx(0.2)
    assert (round(diff.low, 4), round(diff.high, 4)) == (0.0524, 0.3339)


# ---- gates ----------------------------------------------------------------------------------------
GATES = GateConfig(budget=0.015, confidence=0.9, nr_margin=0.02, min_stage_feedback=50)


def test_a_challenger_shown_within_budget_and_not_worse_advances() -> None:
    a = assess(counts(400, 1, 3000, 1500), counts(400, 2, 3000, 1400), GATES, exposure=60)
    assert a.verdict == "advance", a.reasons
    assert a.challenger_fnr.high <= 0.015 and a.nr_difference is not None and a.nr_difference.low > 0


def test_too_little_evidence_holds_and_says_what_is_missing() -> None:
    a = assess(counts(40, 0, 300, 150), counts(40, 0, 300, 150), GATES, exposure=10)
    assert a.verdict == "hold"
    text = " ".join(a.reasons)
    assert "not yet shown within the 1.50% budget" in text and "10 of 50 decisions" in text
    assert "noise reduction not yet shown" in text


def test_no_actionable_feedback_cannot_show_the_fnr() -> None:
    assert assess(counts(0, 0, 5000, 4000), None, GATES).verdict == "hold"


def test_an_fnr_shown_above_budget_rolls_back() -> None:
    a = assess(counts(100, 6, 3000, 2000), counts(100, 0, 3000, 1000), GATES, exposure=500)
    assert a.verdict == "rollback" and "above the 1.50% budget" in a.reasons[0]
    assert a.challenger_fnr.low > 0.015


def test_one_miss_in_few_alerts_is_not_yet_a_rollback() -> None:
    assert assess(counts(30, 1, 300, 100), None, GATES).verdict == "hold"


def test_clearly_worse_noise_reduction_rolls_back() -> None:
    a = assess(counts(500, 0, 4000, 1000), counts(500, 0, 4000, 2000), GATES, exposure=500)
    assert a.verdict == "rollback" and "worse than the champion" in a.reasons[0]


def test_without_a_champion_only_the_fnr_counts() -> None:
    a = assess(counts(300, 0, 1000, 10), None, GATES)
    assert a.verdict == "advance" and a.nr_difference is None


# ---- the rollout state machine --------------------------------------------------------------------
ADVANCE = assess(counts(400, 0, 3000, 1500), counts(400, 0, 3000, 1500), GATES, exposure=100)
HOLD = assess(counts(10, 0, 100, 50), counts(10, 0, 100, 50), GATES, exposure=5)
BAD = assess(counts(100, 8, 1000, 500), counts(100, 0, 1000, 500), GATES, exposure=100)


def test_a_rollout_starts_in_shadow_only_when_the_offline_gates_pass() -> None:
    assert start("3", "4", HOLD, NOW) is None and start("3", "4", BAD, NOW) is None
    state = start("3", "4", ADVANCE, NOW)
    assert state is not None and state.stage is Stage.SHADOW and state.active
    assert state.target.app_args() == {
        "champion": "3",
        "challenger": "4",
        "router": {"mode": "shadow", "challenger_weight": 0.0},
    }


def test_the_rollout_moves_shadow_10_50_100_and_holds_in_between() -> None:
    state = start("3", "4", ADVANCE, NOW)
    assert state is not None
    seen = [state.stage]
    for hour in range(1, 7):
        evidence = ADVANCE if hour % 2 == 0 else HOLD
        state = step(state, evidence, GATES, NOW + timedelta(hours=hour))
        seen.append(state.stage)
    assert seen == [
        Stage.SHADOW,
        Stage.SHADOW,
        Stage.CANARY_10,
        Stage.CANARY_10,
        Stage.CANARY_50,
        Stage.CANARY_50,
        Stage.PROMOTED,
    ]
    assert not state.active and state.target.app_args()["champion"] == "4"
    assert state.target.challenger is None and state.target.mode == "off"
    assert [t.stage for t in state.history] == [Stage.SHADOW, Stage.CANARY_10, Stage.CANARY_50, Stage.PROMOTED]
    assert state.stage_started_at == NOW + timedelta(hours=6)
    assert step(state, BAD, GATES, NOW + timedelta(hours=7)) == state  # terminal


def test_canary_stages_split_traffic_by_weight() -> None:
    assert target_for(Stage.CANARY_10, "3", "4").app_args()["router"] == {"mode": "ab", "challenger_weight": 0.1}
    assert target_for(Stage.CANARY_50, "3", "4").challenger_weight == 0.5
    back = target_for(Stage.ROLLED_BACK, "3", "4").app_args()
    assert back == {"champion": "3", "challenger": None, "router": {"mode": "off", "challenger_weight": 0.0}}


def test_an_fnr_over_budget_on_feedback_rolls_back_from_any_stage() -> None:
    state = start("3", "4", ADVANCE, NOW)
    assert state is not None
    state = step(state, ADVANCE, GATES, NOW + timedelta(hours=1))
    state = step(state, BAD, GATES, NOW + timedelta(hours=2))
    assert state.stage is Stage.ROLLED_BACK and state.target.champion == "3" and state.target.challenger is None
    assert state.history[-1].verdict == "rollback"


def test_a_stage_inconclusive_for_too_long_rolls_back() -> None:
    state = start("3", "4", ADVANCE, NOW)
    assert state is not None
    assert step(state, HOLD, GATES, NOW + timedelta(hours=100)).stage is Stage.SHADOW
    late = step(state, HOLD, GATES, NOW + timedelta(hours=169))
    assert late.stage is Stage.ROLLED_BACK and "inconclusive after 169 hours" in late.history[-1].reasons[-1]


def test_abort_is_a_manual_rollback() -> None:
    state = start("3", "4", ADVANCE, NOW)
    assert state is not None
    aborted = abort(state, "pager storm", NOW)
    assert aborted.stage is Stage.ROLLED_BACK and aborted.history[-1].verdict == "abort"
    assert aborted.history[-1].reasons == ["pager storm"]
