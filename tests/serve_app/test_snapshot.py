"""The router's memory survives a restart (issue 12, section 1): the stream context and the decision memory
are snapshotted to the state store (a blob, local or S3) and restored when a Router starts over the same
store, and a snapshot that cannot be used never stops it from starting.

A Router is restarted in process, at unit level: its model deployments are stand-ins for DeploymentHandles
(``score.remote`` returns an awaitable) that record the context rows they are given and page alerts
labelled ``page="yes"``, so the test sees exactly which features a restart keeps."""

from __future__ import annotations

import asyncio
import gzip
from datetime import timedelta
from types import SimpleNamespace
from typing import Any

import numpy as np
import pytest

from alertsieve.bundle import ModelBundle
from alertsieve.context import FEATURE_NAMES
from alertsieve.schema import Alert, Decision
from alertsieve.store import LocalStore, S3Store, open_store
from serve_app.config import RouterConfig
from serve_app.router import Router
from serve_app.snapshot import SNAPSHOT_BLOB, RouterSnapshot, decode, encode
from tests.conftest import S3_BUCKET, s3_env
from tests.factories import alert
from tests.serve_app.stand_ins import page_if_labelled

AFTER_TRAINING = 9 * 24 * 60.0  # minutes after T0: later than the small bundle's own stream
FP_SEEN = FEATURE_NAMES.index("fp_seen")


class StandInScorer:
    """Stands in for a ModelScorer DeploymentHandle: records the rows it gets; pages alerts labelled page=yes."""

    def __init__(self) -> None:
        self.rows: list[np.ndarray] = []
        self.score = SimpleNamespace(remote=self._score)

    def _score(self, alerts: list[Alert], rows: np.ndarray) -> Any:
        self.rows.append(rows.copy())

        async def answer() -> list[Decision]:
            return page_if_labelled(alerts, 0.5)

        return answer()


def router_over(location: str, bundle: ModelBundle, every_s: float = 60.0) -> tuple[Router, StandInScorer]:
    scorer = StandInScorer()
    router = Router(scorer, None, "champion", lambda ref: bundle, state_location=location)  # type: ignore[arg-type]
    router.reconfigure(RouterConfig(), snapshot_every_s=every_s)
    return router, scorer


def stream(n: int, at: float = AFTER_TRAINING) -> list[Alert]:
    return [
        alert(name="Restart", service="checkout", at=at + i, pod=f"p{i}", page="yes" if i % 3 == 0 else "no")
        for i in range(n)
    ]


def test_a_restarted_router_keeps_familiar_alerts_familiar(tmp_path, small_bundle: ModelBundle) -> None:
    async def scenario() -> None:
        before, before_scorer = router_over(str(tmp_path), small_bundle)
        first = stream(12)
        await before.score(first)
        paged = first[0]
        suppressed = first[1]  # as the webhook leaves it for delayed paging (serve_app/late_paging.py)
        key = (suppressed.fingerprint, suppressed.startsAt.timestamp())
        before.memory.watch(suppressed, before.memory.decision(key))  # type: ignore[arg-type]
        await before.close()  # graceful shutdown writes what changed
        assert (tmp_path / "blobs" / SNAPSHOT_BLOB).exists()

        after, after_scorer = router_over(str(tmp_path), small_bundle)
        assert after.memory.waiting(key) == before.memory.waiting(key) is not None  # still paged if it keeps firing
        fresh, fresh_scorer = router_over(str(tmp_path / "elsewhere"), small_bundle)
        # the next alerts get the very rows the router would have given them without a restart
        nxt = stream(5, at=AFTER_TRAINING + 30)
        for router in (before, after, fresh):
            await router.score(nxt)
        assert np.array_equal(after_scorer.rows[-1], before_scorer.rows[-1])
        assert after_scorer.rows[-1][:, FP_SEEN].tolist() == [1.0] * 5  # familiar ...
        assert fresh_scorer.rows[-1][:, FP_SEEN].tolist() == [0.0] * 5  # ... where a fresh start sees strangers
        # a resend of an occurrence seen before the restart gets the row it had then
        await after.score([first[4]])
        assert np.array_equal(after_scorer.rows[-1][0], before_scorer.rows[0][4])
        # decisions are remembered, and a paged occurrence's resolution is still forwarded
        remembered = after.decision_for(first[4].fingerprint, first[4].startsAt.timestamp())
        assert remembered is not None and remembered.decision == "suppress"
        resolved = paged.model_copy(update={"endsAt": paged.startsAt + timedelta(minutes=1)})
        assert after.resolve([resolved, first[1]]) == [True, False]

    asyncio.run(scenario())


def test_the_snapshot_is_written_while_the_router_changes(tmp_path, small_bundle: ModelBundle) -> None:
    async def scenario() -> None:
        router, _ = router_over(str(tmp_path), small_bundle, every_s=0.05)
        await router.score(stream(3))
        await asyncio.sleep(0.3)  # a write is due 0.05 s after the last one: this one comes by itself
        assert router.snapshots.writes >= 1
        saved = decode((tmp_path / "blobs" / SNAPSHOT_BLOB).read_bytes())
        assert len(saved.decisions) == 3 and len(saved.paged) == 1 and len(saved.rows) == 3
        await router.score(stream(2, at=AFTER_TRAINING + 60))
        await asyncio.sleep(0.3)
        assert len(decode((tmp_path / "blobs" / SNAPSHOT_BLOB).read_bytes()).decisions) == 5

    asyncio.run(scenario())


@pytest.mark.parametrize(
    "blob",
    [
        b"not gzip at all",
        gzip.compress(b'{"format": 99, "stream": {}}'),
        gzip.compress(b'{"format": 1, "stream": {"recent": [[1.0]]}}'),
    ],
    ids=["corrupt", "unknown format", "invalid"],
)
def test_a_snapshot_that_cannot_be_used_starts_fresh(tmp_path, small_bundle: ModelBundle, blob: bytes) -> None:
    LocalStore(tmp_path).put_blob(SNAPSHOT_BLOB, blob)

    async def scenario() -> None:
        router, scorer = router_over(str(tmp_path), small_bundle)
        decisions = await router.score(stream(2))
        assert len(decisions) == 2 and scorer.rows[0][:, FP_SEEN].tolist() == [0.0, 0.0]

    asyncio.run(scenario())


def test_another_models_labels_keep_the_decisions_but_not_the_stream(tmp_path, small_bundle: ModelBundle) -> None:
    async def scenario() -> None:
        before, _ = router_over(str(tmp_path), small_bundle)
        first = stream(3)
        await before.score(first)
        await before.close()
        saved = decode(LocalStore(tmp_path).get_blob(SNAPSHOT_BLOB) or b"")
        relabelled = saved.stream.model_copy(update={"environment_labels": ("cluster",)})
        LocalStore(tmp_path).put_blob(SNAPSHOT_BLOB, encode(saved.model_copy(update={"stream": relabelled})))
        after, scorer = router_over(str(tmp_path), small_bundle)
        await after.score(stream(1, at=AFTER_TRAINING + 30))
        assert scorer.rows[0][0, FP_SEEN] == 0.0  # the stream came from the model, not the snapshot
        assert after.resolve([first[0]]) == [True]  # the decision memory did carry over

    asyncio.run(scenario())


def test_blobs_are_replaced_whole_on_disk_and_on_s3(tmp_path, moto_s3: str, monkeypatch) -> None:
    for name, value in s3_env(moto_s3).items():
        monkeypatch.setenv(name, value)
    for store in (open_store(str(tmp_path)), open_store(f"s3://{S3_BUCKET}/blobs-test")):
        assert isinstance(store, LocalStore | S3Store)
        assert store.get_blob("snap.bin") is None
        store.put_blob("snap.bin", b"first")
        store.put_blob("snap.bin", b"second")
        assert store.get_blob("snap.bin") == b"second"
        with pytest.raises(ValueError, match="blob name"):
            store.put_blob("../escape", b"x")
    assert [p.name for p in (tmp_path / "blobs").iterdir()] == ["snap.bin"]  # no temporary file left behind


def test_the_snapshot_format_round_trips(small_bundle: ModelBundle) -> None:
    snapshot = RouterSnapshot(stream=small_bundle.meta.stream, rows=[("fp", 1.5, [0.25] * len(FEATURE_NAMES))])
    assert decode(encode(snapshot)) == snapshot
