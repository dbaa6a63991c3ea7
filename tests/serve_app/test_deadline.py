"""The Ingress's DeadlineScorer (serve_app/deadline.py) answers every scoring call by its deadline (issue 12, finding 6), at unit level: a router
that hangs, a model deployment whose queue is full (Serve's BackPressureError) and a deadline already
past all give fail-open pages at once, and a slow decision-log write does not hold the answer back (the
pages are remembered at once, so their resolutions are forwarded).

It runs without Serve; its router is a stand-in that hangs or fails on demand."""

from __future__ import annotations

import asyncio
import time

import pytest
from ray.serve.exceptions import BackPressureError

from alertsieve.schema import Alert, Decision, Reason
from serve_app.config import IngressConfig
from serve_app.deadline import RECORD_GRACE_S, DeadlineScorer
from tests.factories import alert

TIMEOUT_S = 0.3


class StandInRouter:
    """``score`` hangs or raises per ``mode``; ``record`` remembers at once, then its log write hangs."""

    def __init__(self, mode: str) -> None:
        self.mode = mode
        self.remembered: list[Decision] = []

    async def score(self, alerts: list[Alert]) -> list[Decision]:
        if self.mode == "overloaded":
            raise BackPressureError(num_queued_requests=256, max_queued_requests=256)
        await asyncio.sleep(3600)
        raise AssertionError("unreachable")

    async def record(self, alerts: list[Alert], decisions: list[Decision]) -> None:
        self.remembered.extend(decisions)
        await asyncio.sleep(3600)  # the decision log is stuck


def scorer_with(router: StandInRouter) -> DeadlineScorer:
    return DeadlineScorer(router, lambda: IngressConfig(score_timeout_s=TIMEOUT_S))


@pytest.mark.parametrize(
    ("mode", "deadline_in_s", "reason"),
    [("hang", TIMEOUT_S, "timeout"), ("overloaded", TIMEOUT_S, "overloaded"), ("hang", -1.0, "timeout")],
    ids=["router hangs", "queue full", "deadline already past"],
)
def test_every_call_is_answered_by_its_deadline(mode: str, deadline_in_s: float, reason: str) -> None:
    async def scenario() -> None:
        router = StandInRouter(mode)
        scorer = scorer_with(router)
        alerts = [alert(pod="a"), alert(pod="b")]
        started = time.monotonic()
        decisions, failed_open = await scorer.score(alerts, "/v1/score", started + deadline_in_s)
        took = time.monotonic() - started
        assert failed_open and took < max(deadline_in_s, 0.0) + RECORD_GRACE_S + 1.0  # generous
        assert [d.decision for d in decisions] == ["page", "page"]
        assert {d.reason_code for d in decisions} == {Reason.FAIL_OPEN} and decisions[
            0
        ].reason == f"fail-open: {reason}"
        assert router.remembered == decisions  # remembered before the answer, though the log write hangs
        assert len(scorer.background) == 1  # the log write goes on after the answer
        for task in scorer.background:
            task.cancel()

    asyncio.run(scenario())


def test_each_chunk_of_a_storm_gets_its_own_deadline() -> None:
    from starlette.requests import Request

    scorer = scorer_with(StandInRouter("hang"))
    request = Request({"type": "http", "state": {"arrived": 100.0}, "headers": []})
    deadline = scorer.deadlines(request)
    assert [deadline(), deadline(), deadline()] == pytest.approx([100.0 + TIMEOUT_S * k for k in (1, 2, 3)])
