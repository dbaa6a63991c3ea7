"""The durable retry outbox (serve_app/retry_outbox.py): kept in the state store, read back after a
restart, retried with backoff (Retry-After first), dropped only once taken or refused for good."""

from __future__ import annotations

import asyncio

import pytest

from alertsieve.store import LocalStore
from serve_app.retry_outbox import FIRST_WAIT_S, Deferred, OutboxFull, RetryOutbox, Verdict


def test_events_survive_a_restart_and_wait_for_their_retry(tmp_path) -> None:
    now = [1000.0]
    store = LocalStore(tmp_path)
    outbox = RetryOutbox(store, lambda: now[0], lambda: 0.5)
    asyncio.run(outbox.add([Deferred(receiver="pd", body={"n": 1}, due=1000.0)]))
    replies: list[tuple[Verdict, float | None]] = [("throttled", 90.0), ("failed", None), ("ok", None)]
    sent: list[dict[str, object]] = []

    async def send(entry: Deferred) -> tuple[Verdict, float | None]:
        sent.append(entry.body)
        return replies.pop(0)

    again = RetryOutbox(store, lambda: now[0], lambda: 0.5)  # a new Ingress reads it back
    assert asyncio.run(again.drain(send)) == 0 and len(again) == 1
    now[0] += 89
    assert asyncio.run(again.drain(send)) == 0 and len(sent) == 1, "Retry-After is honoured"
    now[0] += 1
    assert asyncio.run(again.drain(send)) == 0 and len(sent) == 2
    now[0] += FIRST_WAIT_S * 2  # the second try's backoff (30 s doubled), jitter at its middle
    assert asyncio.run(again.drain(send)) == 1 and len(again) == 0 and len(sent) == 3
    assert len(RetryOutbox(store)) == 0 and asyncio.run(RetryOutbox(store).drain(send)) == 0


def test_a_full_outbox_refuses_rather_than_drops(tmp_path) -> None:
    outbox = RetryOutbox(LocalStore(tmp_path), capacity=1)
    asyncio.run(outbox.add([Deferred(receiver="pd", body={}, due=0.0)]))
    with pytest.raises(OutboxFull):
        asyncio.run(outbox.add([Deferred(receiver="pd", body={}, due=0.0)]))


def test_handing_events_over_never_waits_behind_a_drains_sends(tmp_path) -> None:
    """A webhook adds to the outbox before it answers: a drain stuck on a slow receiver must not hold it up,
    and what was added meanwhile is kept when the drain saves."""
    store = LocalStore(tmp_path)
    outbox = RetryOutbox(store, lambda: 1000.0, lambda: 0.5)

    async def scenario() -> None:
        await outbox.add([Deferred(receiver="pd", body={"n": 1}, due=0.0)])
        stuck = asyncio.Event()

        async def slow(entry: Deferred) -> tuple[Verdict, float | None]:
            await stuck.wait()
            return "ok", None

        drain = asyncio.create_task(outbox.drain(slow))
        await asyncio.sleep(0)  # the drain is inside its send now
        await asyncio.wait_for(outbox.add([Deferred(receiver="pd", body={"n": 2}, due=2000.0)]), 5)
        stuck.set()
        assert await drain == 1

    asyncio.run(scenario())
    assert len(outbox) == 1
    reread = RetryOutbox(store)
    asyncio.run(reread.drain(lambda entry: asyncio.sleep(0, ("failed", None))))
    assert [d.body for d in (reread.waiting or {}).values()] == [{"n": 2}]
