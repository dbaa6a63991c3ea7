"""The router's decision memory (serve_app/decision_memory.py) on its own: latest decision per occurrence,
paged once means paged, suppressed webhook alerts waiting for delayed paging, the bound, and the parts a
snapshot carries over a restart."""

from __future__ import annotations

from alertsieve.schema import Alert, Decision, Verdict
from serve_app.decision_memory import DecisionMemory
from tests.factories import alert


def decided(a: Alert, verdict: Verdict) -> Decision:
    return Decision(
        fingerprint=a.fingerprint,
        service=a.service(),
        score=0.5,
        threshold=0.4,
        decision=verdict,
        model_version="1",
        reason="test",
        startsAt=a.startsAt,
    )


def occurrences(n: int) -> list[Alert]:
    return [alert(name="Disk", at=60.0 * i, pod=f"p{i}") for i in range(n)]


def test_the_latest_decision_is_remembered_and_a_page_stays_paged() -> None:
    memory = DecisionMemory()
    a, b, never = occurrences(3)
    memory.remember([decided(a, "suppress"), decided(b, "page")])
    assert memory.decision(a.occurrence.key).decision == "suppress"  # type: ignore[union-attr]
    assert [memory.outcome(x.occurrence.key) for x in (a, b, never)] == [False, True, None]
    memory.remember([decided(b, "suppress")])  # a resend suppressed later: the occurrence was paged
    assert memory.decision(b.occurrence.key).decision == "suppress"  # type: ignore[union-attr]
    assert memory.was_paged(b.occurrence.key) and b.occurrence.key in memory.paged
    assert a.occurrence.key not in memory.paged and memory.decision(never.occurrence.key) is None


def test_suppressed_alerts_wait_until_paged_or_stopped() -> None:
    memory = DecisionMemory()
    a, b, c = occurrences(3)
    memory.remember([decided(a, "suppress"), decided(b, "suppress"), decided(c, "page")])
    verdicts: list[tuple[Alert, Verdict]] = [(a, "suppress"), (b, "suppress"), (c, "page")]
    for x, verdict in verdicts:
        memory.watch(x, decided(x, verdict))
    assert list(memory.firing_suppressed()) == [a.occurrence.key, b.occurrence.key]  # a page never waits
    memory.remember([decided(a, "page")])  # paged (late, or a resend): it no longer waits
    memory.stop_waiting(b.occurrence.key)  # resolved
    assert memory.firing_suppressed() == {} and memory.waiting(b.occurrence.key) is None
    memory.watch(a, decided(a, "suppress"))  # ever paged: never waits again
    assert memory.firing_suppressed() == {}


def test_the_oldest_occurrences_are_forgotten_first() -> None:
    memory = DecisionMemory(capacity=3)
    alerts = occurrences(5)
    memory.remember([decided(x, "page" if i == 0 else "suppress") for i, x in enumerate(alerts)])
    memory.watch(alerts[4], decided(alerts[4], "suppress"))
    assert len(memory) == 3
    assert [memory.outcome(x.occurrence.key) for x in alerts] == [None, None, False, False, False]
    memory.remember([decided(alerts[4], "suppress")])  # a resend does not make it younger
    memory.remember([decided(x, "suppress") for x in occurrences(8)[5:]])
    assert memory.firing_suppressed() == {} and memory.outcome(alerts[4].occurrence.key) is None


def test_what_a_snapshot_takes_is_what_a_restart_restores() -> None:
    before = DecisionMemory()
    alerts = occurrences(4)
    before.remember([decided(x, "page" if i == 1 else "suppress") for i, x in enumerate(alerts)])
    before.watch(alerts[2], decided(alerts[2], "suppress"))
    before.watch(alerts[3], decided(alerts[3], "suppress"))
    assert [d.fingerprint for d in before.latest_decisions(2)] == [a.fingerprint for a in alerts[2:]]
    assert [w[0] for w in before.latest_waiting(1)] == [alerts[3]]

    after = DecisionMemory()
    after.restore(before.latest_decisions(10), before.paged_keys(), before.latest_waiting(10))
    assert after.paged_keys() == [alerts[1].occurrence.key]
    assert after.firing_suppressed() == before.firing_suppressed()
    assert [after.outcome(x.occurrence.key) for x in alerts] == [False, True, False, False]
    # an old snapshot may know an occurrence was paged without its decision: still paged, still forwarded
    older = DecisionMemory()
    older.restore([], [alerts[0].occurrence.key], [])
    assert older.outcome(alerts[0].occurrence.key) is True and older.decision(alerts[0].occurrence.key) is None
