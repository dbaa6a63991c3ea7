"""Feedback's own lane in the Ingress, so that feedback and scoring cannot starve each other.

A feedback call stores the feedback (an append) and, when the decision memory does not have the alert,
reads the decision log for it. Run in the event loop's default thread pool, 15 of those a second filled
it: the decision log's appends and the webhook's spool writes, which scoring waits on, queued behind them,
and half the alerts failed open at their deadline. Here feedback has its own thread (one: the log reads
run one at a time, so they take at most one core's share) and its own bound: at most ``most_waiting``
feedback calls in the lane; the next is answered 503 with Retry-After before anything is stored, so a
client retries it and nothing is half-done.
"""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator, Callable
from concurrent.futures import ThreadPoolExecutor
from contextlib import asynccontextmanager
from functools import partial
from typing import ParamSpec, TypeVar

FEEDBACK_WAITING = 32  # feedback calls in the lane at once; more get 503
RETRY_AFTER_S = 2

P = ParamSpec("P")
T = TypeVar("T")


class LaneFull(Exception):
    """The lane holds ``most_waiting`` calls: answer 503 with Retry-After."""


class FeedbackLane:
    """A bounded lane with its own worker thread; one per Ingress replica."""

    def __init__(self, most_waiting: int = FEEDBACK_WAITING, workers: int = 1) -> None:
        self.most_waiting = most_waiting
        self.inside = 0
        self.pool = ThreadPoolExecutor(max_workers=workers, thread_name_prefix="feedback")

    @asynccontextmanager
    async def admitted(self) -> AsyncIterator[None]:
        """Hold a place in the lane for one feedback call; raises LaneFull when there is none."""
        if self.inside >= self.most_waiting:
            raise LaneFull(f"{self.inside} feedback calls are waiting")
        self.inside += 1
        try:
            yield
        finally:
            self.inside -= 1

    async def run(self, work: Callable[P, T], *args: P.args, **kwargs: P.kwargs) -> T:
        """``work`` on the lane's thread (what ``asyncio.to_thread`` does on the shared pool)."""
        return await asyncio.get_running_loop().run_in_executor(self.pool, partial(work, *args, **kwargs))

    def close(self) -> None:
        self.pool.shutdown(wait=False, cancel_futures=True)
