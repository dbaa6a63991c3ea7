"""Running rollouts against the registry and a recording deployer, with decisions and feedback in the store."""

from __future__ import annotations

from pathlib import Path

import pytest

from alertsieve import registry
from alertsieve.bundle import ModelBundle
from alertsieve.schema import Decision, Feedback, LoggedDecision
from alertsieve.settings import Settings
from alertsieve.store import open_store
from tests.factories import alert
from train_app.promotion import GateConfig, ServeTarget, Stage
from train_app.rollout import RolloutError, latest_rollout, promote_step, rollback

GATES = GateConfig(budget=0.015, confidence=0.9, nr_margin=0.05, min_stage_feedback=20)


class RecordingDeployer:
    def __init__(self) -> None:
        self.deployed: list[ServeTarget] = []

    def deploy(self, target: ServeTarget) -> None:
        self.deployed.append(target)


def holdout_metrics(missed: int, champion_version: str) -> tuple[dict[str, str | float | int], dict[str, float]]:
    counts = {
        "alerts": 2400.0,
        "actionable": 400.0,
        "suppressed_actionable": float(missed),
        "noise": 2000.0,
        "suppressed_noise": 1200.0,
    }
    metrics = {
        **{f"holdout_{k}": v for k, v in counts.items()},
        **{f"champion_holdout_{k}": v for k, v in counts.items()},
        "champion_holdout_suppressed_noise": 1100.0,
    }
    return {"champion_version": champion_version}, metrics


def two_versions(bundle: ModelBundle, settings: Settings, missed: int = 0) -> tuple[str, str]:
    champion = registry.register(bundle, settings, {"test": "champion"}, {}, aliases=(registry.CHAMPION,))
    params, metrics = holdout_metrics(missed, champion)
    challenger = registry.register(bundle, settings, params, metrics, aliases=(registry.CHALLENGER,))
    return champion, challenger


class Traffic:
    """Writes what Serve would: decisions of both arms to the decision log, then feedback on the alerts."""

    def __init__(self, state: Path) -> None:
        self.store = open_store(str(state))
        self.n = 0

    def send(self, count: int, arms: dict[str, str], challenger_misses: int = 0, actionable_share: float = 0.5) -> None:
        decisions, feedback = [], []
        for i in range(count):
            self.n += 1
            a = alert(name="ServiceDown", at=float(self.n), pod=f"pod-{self.n}")
            actionable = i < count * actionable_share
            for arm, version in arms.items():
                missed = arm != "champion" and actionable and i < challenger_misses
                quiets = i % 4 != 0 if arm != "champion" else i % 2 == 0  # the challenger: 75% of noise, not 50%
                suppress = missed or (not actionable and quiets)
                d = Decision(
                    fingerprint=a.fingerprint,
                    service="checkout",
                    score=0.1 if suppress else 0.9,
                    threshold=0.5,
                    decision="suppress" if suppress else "page",
                    model_version=version,
                    reason="test",
                    arm=arm,
                    startsAt=a.startsAt,
                )
                decisions.append(LoggedDecision(alert=a, decision=d, applied=arm != "shadow"))
            word = Feedback(fingerprint=a.fingerprint, startsAt=a.startsAt, actionable=actionable, by="oncall")
            feedback.append(word)
        self.store.append("decisions", decisions)
        self.store.append("feedback", feedback)


def test_a_good_challenger_goes_through_every_stage_to_champion(
    ray_cluster, isolated_model: Settings, small_bundle: ModelBundle, tmp_path: Path
) -> None:
    settings, state, deployer = isolated_model, tmp_path / "state", RecordingDeployer()
    champion, challenger = two_versions(small_bundle, settings)
    traffic = Traffic(state)

    started = promote_step(settings, deployer, GATES, str(state))
    assert started.state is not None and started.state.stage is Stage.SHADOW and started.offline is not None
    assert deployer.deployed == [ServeTarget(champion=champion, challenger=challenger, mode="shadow")]
    waiting = promote_step(settings, deployer, GATES, str(state))
    assert waiting.state is not None and waiting.state.stage is Stage.SHADOW and len(deployer.deployed) == 1
    assert "0 of 20 decisions with feedback in this stage" in " ".join(waiting.assessment.reasons)  # type: ignore[union-attr]

    traffic.send(400, {"champion": champion, "shadow": challenger})
    assert promote_step(settings, deployer, GATES, str(state)).state.stage is Stage.CANARY_10  # type: ignore[union-attr]
    traffic.send(40, {"challenger": challenger})
    traffic.send(360, {"champion": champion})
    assert promote_step(settings, deployer, GATES, str(state)).state.stage is Stage.CANARY_50  # type: ignore[union-attr]
    traffic.send(100, {"challenger": challenger})
    done = promote_step(settings, deployer, GATES, str(state))
    assert done.state is not None and done.state.stage is Stage.PROMOTED
    assert done.online is not None and done.online.challenger.counts.actionable == 270  # 200 + 20 + 50, once each
    assert [(t.mode, t.challenger_weight) for t in deployer.deployed] == [
        ("shadow", 0.0),
        ("ab", 0.1),
        ("ab", 0.5),
        ("off", 0.0),
    ]
    assert deployer.deployed[-1] == ServeTarget(champion=challenger)
    assert registry.alias_version(settings, registry.CHAMPION) == challenger
    assert registry.alias_version(settings, registry.PREVIOUS) == champion
    assert registry.alias_version(settings, registry.CHALLENGER) is None
    assert latest_rollout(open_store(str(state))) == done.state

    nothing = promote_step(settings, deployer, GATES, str(state))
    assert nothing.state is None and "nothing to promote" in nothing.message

    restored = rollback(settings, deployer, str(state))
    assert deployer.deployed[-1] == ServeTarget(champion=champion)
    assert registry.alias_version(settings, registry.CHAMPION) == champion and "restored" in restored.message


def test_misses_on_feedback_roll_the_challenger_back(
    ray_cluster, isolated_model: Settings, small_bundle: ModelBundle, tmp_path: Path
) -> None:
    settings, state, deployer = isolated_model, tmp_path / "state", RecordingDeployer()
    champion, challenger = two_versions(small_bundle, settings)
    promote_step(settings, deployer, GATES, str(state))
    Traffic(state).send(200, {"champion": champion, "shadow": challenger}, challenger_misses=8)
    outcome = promote_step(settings, deployer, GATES, str(state))
    assert outcome.state is not None and outcome.state.stage is Stage.ROLLED_BACK
    assert outcome.assessment is not None and outcome.assessment.challenger_fnr.estimate == pytest.approx(0.08)
    assert deployer.deployed[-1] == ServeTarget(champion=champion)
    assert registry.alias_version(settings, registry.CHALLENGER) is None
    assert registry.alias_version(settings, registry.CHAMPION) == champion
    with pytest.raises(RolloutError, match="no previous champion"):
        rollback(settings, deployer, str(state))


def test_offline_gates_keep_a_bad_challenger_out_of_traffic(
    ray_cluster, isolated_model: Settings, small_bundle: ModelBundle, tmp_path: Path
) -> None:
    settings, deployer = isolated_model, RecordingDeployer()
    two_versions(small_bundle, settings, missed=20)
    outcome = promote_step(settings, deployer, GATES, str(tmp_path))
    assert outcome.state is None and outcome.assessment is not None and outcome.assessment.verdict == "rollback"
    assert "not started" in outcome.message and deployer.deployed == []


def test_a_manual_rollback_aborts_a_running_rollout(
    ray_cluster, isolated_model: Settings, small_bundle: ModelBundle, tmp_path: Path
) -> None:
    settings, deployer = isolated_model, RecordingDeployer()
    champion, _ = two_versions(small_bundle, settings)
    promote_step(settings, deployer, GATES, str(tmp_path))
    outcome = rollback(settings, deployer, str(tmp_path), reason="pager storm")
    assert outcome.state is not None and outcome.state.stage is Stage.ROLLED_BACK
    assert outcome.state.history[-1].reasons == ["pager storm"]
    assert deployer.deployed[-1] == ServeTarget(champion=champion)
    assert registry.alias_version(settings, registry.CHALLENGER) is None


def test_without_a_challenger_there_is_nothing_to_promote(isolated_model: Settings, tmp_path: Path) -> None:
    outcome = promote_step(isolated_model, RecordingDeployer(), GATES, str(tmp_path))
    assert outcome.state is None and "nothing to promote" in outcome.message
