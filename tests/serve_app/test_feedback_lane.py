"""Feedback's own lane (issue 23, finding 1): feedback work runs on the lane's thread, never on the default
pool scoring's log appends and spool writes wait on, and a full lane refuses the next call at once (the
Ingress answers it 503 with Retry-After before storing anything)."""

from __future__ import annotations

import asyncio
import threading
from types import SimpleNamespace
from typing import Any

import pytest

from alertsieve.schema import Feedback
from alertsieve.store import LocalStore
from serve_app.feedback_lane import FeedbackLane, LaneFull
from serve_app.late_paging import LatePager, Occurrence


def test_a_full_lane_refuses_the_next_call_and_frees_its_places() -> None:
    async def scenario() -> None:
        lane = FeedbackLane(most_waiting=2)
        release = threading.Event()
        inside = [asyncio.create_task(hold(lane, release)) for _ in range(2)]
        await asyncio.sleep(0.05)
        with pytest.raises(LaneFull):
            async with lane.admitted():
                pass
        release.set()
        assert await asyncio.gather(*inside) == ["feedback", "feedback"]  # on the lane's own thread
        async with lane.admitted():  # the places are given back
            assert lane.inside == 1
        assert lane.inside == 0
        lane.close()

    asyncio.run(scenario())


async def hold(lane: FeedbackLane, release: threading.Event) -> str:
    async with lane.admitted():
        return await lane.run(waited_on, release)


def waited_on(release: threading.Event) -> str:
    """The name of the thread that waited for ``release``, without its number."""
    release.wait(5)
    return threading.current_thread().name.split("_")[0]


def test_feedback_reads_the_decision_log_on_the_lane_not_the_default_pool(tmp_path) -> None:
    """ "Should have paged" on an occurrence the memory does not know reads the decision log: on the lane's
    thread, so scoring's appends on the default pool never queue behind it."""
    readers: list[str] = []

    class WatchedStore(LocalStore):
        def lines(self, kind: Any, since: Any = None) -> Any:
            readers.append(threading.current_thread().name.split("_")[0])
            return iter(())

    async def unknown(key: Any) -> Occurrence:
        return Occurrence()

    async def scenario() -> list[Any]:
        router = SimpleNamespace(occurrence=unknown)
        pager = LatePager(router, lambda: None, WatchedStore(tmp_path), lane=FeedbackLane())  # type: ignore[arg-type,return-value]
        said = [
            Feedback(fingerprint=f"f{i}", startsAt="2026-12-01T00:00:00Z", actionable=True, by="ana") for i in range(3)
        ]
        return [answer.decision for _, answer in await asyncio.gather(*(pager.on_feedback(f) for f in said))]

    assert asyncio.run(scenario()) == [None, None, None]
    assert readers == ["feedback"] * 3
