"""The router on its own, in process and without Ray: the sticky champion/challenger split, shadow decisions
logged and never applied, resolutions answered from the decision memory, far-future alerts clamped for the
stream context, and the typed describe().

The model deployments cannot run here without Serve, so they are stand-ins for DeploymentHandles
(``score.remote`` and ``describe.remote`` return awaitables) that say which arm and version decided; the
router, its stream context, its decision memory and the decision log (a local store) are the real ones."""

from __future__ import annotations

import asyncio
import time
from collections.abc import Awaitable
from datetime import UTC, datetime
from pathlib import Path
from types import SimpleNamespace

import numpy as np
import pytest

from alertsieve.bundle import ModelBundle
from alertsieve.contracts import Arm, RouterConfig
from alertsieve.schema import Alert, Decision, LoggedDecision
from alertsieve.store import LocalStore
from serve_app.router import MAX_FUTURE_S, Router, arm_for
from serve_app.views import ModelsView, ModelView
from tests.factories import alert


class StandInDeployment:
    """Stands in for a ModelScorer DeploymentHandle: pages alerts labelled page=yes, suppresses the rest,
    and records which alerts it was asked about."""

    def __init__(self, version: str, arm: Arm) -> None:
        self.version, self.arm = version, arm
        self.asked: list[str] = []
        self.score = SimpleNamespace(remote=self._score)
        self.describe = SimpleNamespace(remote=self._describe)

    def _score(self, alerts: list[Alert], rows: np.ndarray) -> Awaitable[list[Decision]]:
        assert rows.shape[0] == len(alerts)
        self.asked += [a.fingerprint for a in alerts]

        async def answer() -> list[Decision]:
            return [
                Decision(
                    fingerprint=a.fingerprint,
                    service=a.service(),
                    score=0.5,
                    threshold=0.4,
                    decision="page" if a.labels.get("page") == "yes" else "suppress",
                    model_version=self.version,
                    reason="stand-in",
                    arm=self.arm,
                    startsAt=a.startsAt,
                )
                for a in alerts
            ]

        return answer()

    def _describe(self) -> Awaitable[ModelView]:
        async def answer() -> ModelView:
            return ModelView(
                model_version=self.version,
                arm=self.arm,
                ref=self.version,
                pooled_threshold=0.4,
                thresholds={"checkout": 0.3},
                known_services=["checkout"],
                overrides={},
            )

        return answer()


def router_with(
    tmp_path: Path, bundle: ModelBundle, config: RouterConfig, challenger: bool = True
) -> tuple[Router, StandInDeployment, StandInDeployment]:
    champion = StandInDeployment("1", Arm.CHAMPION)
    other = StandInDeployment("2", Arm.CHALLENGER)
    router = Router(champion, other if challenger else None, "champion", lambda ref: bundle, str(tmp_path))  # type: ignore[arg-type]
    router.reconfigure(config)
    return router, champion, other


def alerts(n: int, page_every: int = 0) -> list[Alert]:
    return [
        alert(
            name="Restart",
            at=9 * 24 * 60.0 + i,
            pod=f"p{i}",
            page="yes" if page_every and i % page_every == 0 else "no",
        )
        for i in range(n)
    ]


def logged(tmp_path: Path) -> list[LoggedDecision]:
    return [LoggedDecision.model_validate_json(line) for line in LocalStore(tmp_path).lines("decisions")]


def test_arm_for_is_sticky_and_follows_the_weight() -> None:
    fingerprints = [f"{i:016x}" for i in range(2000)]
    ab = RouterConfig(mode="ab", challenger_weight=0.5)
    arms = [arm_for(fp, ab) for fp in fingerprints]
    assert arms == [arm_for(fp, ab) for fp in fingerprints]  # the same fingerprint, the same arm
    assert 0.4 < arms.count(Arm.CHALLENGER) / len(arms) < 0.6
    tenth = {fp for fp in fingerprints if arm_for(fp, RouterConfig(mode="ab", challenger_weight=0.1)) is Arm.CHALLENGER}
    assert tenth and tenth <= {fp for fp, arm in zip(fingerprints, arms, strict=True) if arm is Arm.CHALLENGER}
    for config in (RouterConfig(), RouterConfig(mode="shadow", challenger_weight=0.5), RouterConfig(mode="ab")):
        assert {arm_for(fp, config) for fp in fingerprints} == {Arm.CHAMPION}


def test_ab_routes_each_fingerprint_to_its_arm(tmp_path: Path, small_bundle: ModelBundle) -> None:
    config = RouterConfig(mode="ab", challenger_weight=0.5)
    router, champion, challenger = router_with(tmp_path, small_bundle, config)
    batch = alerts(40)
    decisions = asyncio.run(router.score(batch))
    assert [d.fingerprint for d in decisions] == [a.fingerprint for a in batch]
    assert [d.arm for d in decisions] == [arm_for(a.fingerprint, config) for a in batch]
    assert {d.model_version for d in decisions if d.arm is Arm.CHALLENGER} == {"2"}
    assert set(champion.asked).isdisjoint(challenger.asked) and challenger.asked
    log = logged(tmp_path)
    assert len(log) == len(batch) and all(r.applied for r in log)
    again = asyncio.run(router.score(batch))  # resends: the same arms
    assert [d.arm for d in again] == [d.arm for d in decisions]


def test_shadow_logs_the_challengers_decisions_unapplied(tmp_path: Path, small_bundle: ModelBundle) -> None:
    router, _, challenger = router_with(tmp_path, small_bundle, RouterConfig(mode="shadow"))
    batch = alerts(6)

    async def scenario() -> list[Decision]:
        decisions = await router.score(batch)
        await asyncio.gather(*router.pending)
        return decisions

    decisions = asyncio.run(scenario())
    assert {(d.arm, d.model_version) for d in decisions} == {(Arm.CHAMPION, "1")}  # only the champion applies
    assert len(challenger.asked) == len(batch)
    shadow = [r for r in logged(tmp_path) if not r.applied]
    assert len(shadow) == len(batch)
    assert {(r.decision.arm, r.decision.model_version) for r in shadow} == {(Arm.SHADOW, "2")}
    assert sum('"arm":"shadow"' in line for line in LocalStore(tmp_path).lines("decisions")) == len(batch)  # its value
    assert all(router.decision_for(*a.occurrence.key).arm is Arm.CHAMPION for a in batch)  # type: ignore[union-attr]


def test_without_a_challenger_everything_is_the_champions(tmp_path: Path, small_bundle: ModelBundle) -> None:
    router, champion, _ = router_with(tmp_path, small_bundle, RouterConfig(), challenger=False)
    decisions = asyncio.run(router.score(alerts(5)))
    assert {d.arm for d in decisions} == {Arm.CHAMPION} and len(champion.asked) == 5


def test_resolve_answers_paged_suppressed_or_never_seen(tmp_path: Path, small_bundle: ModelBundle) -> None:
    router, _, _ = router_with(tmp_path, small_bundle, RouterConfig(), challenger=False)
    batch = alerts(4, page_every=2)  # 0 and 2 page, 1 and 3 are suppressed
    asyncio.run(router.score(batch))
    unseen = alert(name="Unseen", at=9 * 24 * 60.0)
    resolved = [a.model_copy(update={"status": "resolved"}) for a in (batch[0], batch[1], unseen)]
    assert router.resolve(resolved) == [True, False, None]


def test_models_view_names_the_challenger_only_when_served(tmp_path: Path, small_bundle: ModelBundle) -> None:
    alone, _, _ = router_with(tmp_path / "a", small_bundle, RouterConfig(), challenger=False)
    view = asyncio.run(alone.describe())
    assert isinstance(view, ModelsView) and view.champion.model_version == "1"
    assert "challenger" not in view.model_dump(mode="json", exclude_unset=True)
    both, _, _ = router_with(tmp_path / "b", small_bundle, RouterConfig(mode="shadow"))
    dumped = asyncio.run(both.describe()).model_dump(mode="json", exclude_unset=True)
    assert dumped["mode"] == "shadow" and dumped["challenger"]["arm"] == "challenger"


def test_for_stream_clamps_far_future_alerts_to_the_streams_time(tmp_path: Path, small_bundle: ModelBundle) -> None:
    router, _, _ = router_with(tmp_path, small_bundle, RouterConfig(), challenger=False)
    now = time.time()
    near = alert(at=datetime.fromtimestamp(now + MAX_FUTURE_S / 2, UTC))
    assert router.for_stream(near, now) is near
    ahead = datetime.fromtimestamp(now + 3 * MAX_FUTURE_S, UTC)
    far = alert(at=ahead, ends_after=5.0)
    seen = router.for_stream(far, now)
    assert seen.fingerprint == far.fingerprint and seen.startsAt.timestamp() <= now
    assert seen.endsAt is None  # a far-future end is dropped with it
    later = router.for_stream(far, now + 60)  # a resend: the same stream time
    assert later.startsAt == seen.startsAt


@pytest.mark.parametrize("weight", [0.0, 1.0])
def test_ab_extremes(tmp_path: Path, small_bundle: ModelBundle, weight: float) -> None:
    router, champion, challenger = router_with(
        tmp_path, small_bundle, RouterConfig(mode="ab", challenger_weight=weight)
    )
    asyncio.run(router.score(alerts(10)))
    assert (len(champion.asked), len(challenger.asked)) == ((10, 0) if weight == 0.0 else (0, 10))


def test_a_suppression_fired_into_a_confident_page_on_its_host_pages_and_is_logged_so(
    tmp_path: Path, small_bundle: ModelBundle
) -> None:
    router, _, _ = router_with(tmp_path, small_bundle, RouterConfig(), challenger=False)
    at = 9 * 24 * 60.0
    loud = alert(name="DiskFull", at=at, pod="db-1", page="yes")
    quiet = alert(name="SlowQueries", at=at + 3, pod="db-1", page="no")
    elsewhere = alert(name="SlowQueries", at=at + 3, pod="db-2", page="no")
    decisions = asyncio.run(router.score([quiet, loud, elsewhere]))
    assert [d.decision for d in decisions] == ["page", "page", "suppress"]
    assert decisions[0].reason_code == "incident" and "host=db-1" in decisions[0].reason
    [first] = [r for r in logged(tmp_path) if r.decision.fingerprint == quiet.fingerprint]
    assert first.decision.decision == "page" and first.decision.reason_code == "incident"
