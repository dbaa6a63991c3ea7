"""Live safety on hand-made streams whose answer is known (issue 19, part 4): a stream like validation
stays unpaused; a service whose share above threshold (or of novel alerts) jumps pauses, and its
suppressions page with reason live_safety; it resumes after a full fresh window within bound, or when a
person resumes it; one "should have paged" pauses it at once."""

from __future__ import annotations

import math
from datetime import UTC, datetime, timedelta

import pytest

from alertsieve.live_safety import BY_WATCH, Change, Expectations, LiveSafety, LiveSafetyParams, upper_tail
from alertsieve.policy import ThresholdPolicy
from alertsieve.schema import Decision, Reason
from tests.factories import threshold_policy

T0 = datetime(2026, 3, 2, 9, 0, tzinfo=UTC)
VERSION = "7"
WINDOW = 200
Row = tuple[str, float, bool]


def policy() -> ThresholdPolicy:
    """checkout at 0.3 of its own; search and tiny on the pooled 0.2."""
    return threshold_policy("checkout", ["checkout", "search", "tiny"], 60, 900, 700)


def rows(service: str, n: int, above_every: int, novel_every: int = 0, above: float = 0.5) -> list[Row]:
    """``n`` validation rows: every ``above_every``-th scores ``above``, every ``novel_every``-th is novel (1.0)."""
    out = []
    for i in range(n):
        score = 1.0 if novel_every and i % novel_every == 1 else above if i % above_every == 0 else 0.05
        out.append((service, score, score > 0.1))
    return out


def validation() -> list[Row]:
    # checkout: 12.5% above its threshold (2% of all novel among them); search: its own 150; tiny: 20 (pooled)
    return [*rows("checkout", 1000, 8, 50), *rows("search", 150, 5), *rows("tiny", 20, 4), ("ghost", 0.9, True)]


def watch(**params: int) -> LiveSafety:
    expected = Expectations.of(VERSION, validation(), policy())
    return LiveSafety(expected, LiveSafetyParams(**params), clock=lambda: T0)


class Stream:
    """Decisions of one service, each a new occurrence: paged when the share says so, else suppressed."""

    def __init__(self, service: str = "checkout", threshold: float = 0.3) -> None:
        self.service, self.threshold, self.i = service, threshold, 0

    def next(self, above: bool, novel: bool = False, version: str = VERSION) -> Decision:
        self.i += 1
        score = 0.6 if above else 0.05
        page = above or novel
        return Decision(
            fingerprint=f"{self.service}-{self.i:06d}",
            service=self.service,
            score=score,
            threshold=self.threshold,
            decision="page" if page else "suppress",
            model_version=version,
            reason=f"score {score} {'at or above' if page else 'below'} service threshold",
            reason_code=Reason.NOVEL if novel else Reason.AT_OR_ABOVE_THRESHOLD if page else Reason.BELOW_THRESHOLD,
            startsAt=T0 + timedelta(minutes=self.i),
        )

    def like_validation(self, n: int) -> list[Decision]:
        """One in eight above the threshold, as validation had it."""
        return [self.next(self.i % 8 == 0) for _ in range(n)]


def feed(safety: LiveSafety, decisions: list[Decision]) -> tuple[list[Decision], list[Change]]:
    applied: list[Decision] = []
    changes: list[Change] = []
    for d in decisions:  # one at a time, as a stream arrives
        out, changed = safety.watch([d])
        applied += out
        changes += changed
    return applied, changes


def test_the_tail_is_the_binomial_tail_when_validation_is_large() -> None:
    n, p = 200, 0.12
    for k in (20, 30, 40):
        exact = sum(math.comb(n, x) * p**x * (1 - p) ** (n - x) for x in range(k, n + 1))
        assert upper_tail(k, n, 120_000, 1_000_000) == pytest.approx(exact, rel=0.02)
    # a small validation slice widens it: the same live count is less surprising
    assert upper_tail(40, 200, 12, 100) > upper_tail(40, 200, 120, 1000) > upper_tail(40, 200, 1200, 10_000)


def test_expectations_per_service_and_pooled() -> None:
    expected = Expectations.of(VERSION, validation(), policy())
    checkout, threshold = expected.of_service("checkout")  # type: ignore[misc]
    assert (checkout.group, checkout.alerts, threshold) == ("checkout", 1000, 0.3)
    assert checkout.share("above_threshold") == pytest.approx(0.145)  # 125 above, and 20 novel (1.0) besides
    assert checkout.share("novel") == pytest.approx(0.02)
    assert expected.of_service("search")[0].group == "search"  # type: ignore[index]
    tiny, pooled_threshold = expected.of_service("tiny")  # type: ignore[misc]
    assert (tiny.group, tiny.alerts, pooled_threshold) == ("*", 20, 0.2)  # too few of its own: the pooled figures
    assert expected.of_service("ghost") is None  # never seen in training: paged anyway, not watched


def test_a_stream_like_validation_stays_unpaused() -> None:
    safety, stream = watch(), Stream()
    applied, changes = feed(safety, stream.like_validation(3000))
    assert changes == [] and safety.paused == {}
    assert sum(d.decision == "suppress" for d in applied) == 3000 * 7 // 8
    assert all(d.reason_code is not Reason.LIVE_SAFETY for d in applied)


def test_a_drop_below_threshold_pauses_pages_the_suppressions_and_resumes_after_a_fresh_window() -> None:
    safety, stream = watch(), Stream()
    feed(safety, stream.like_validation(400))
    # the scores moved down: none of the alerts above the threshold any more
    applied, changes = feed(safety, [stream.next(False) for _ in range(200)])
    [pause] = changes
    assert (pause.service, pause.paused, pause.by) == ("checkout", True, BY_WATCH)
    assert "share above threshold" in pause.reason and "vs 14% of 1000 in validation" in pause.reason
    assert safety.paused["checkout"].cause == "above_threshold"
    paused_at = next(i for i, d in enumerate(applied) if d.reason_code is Reason.LIVE_SAFETY)
    assert paused_at < 150, "it pauses within the drop's first window"
    after = applied[paused_at:]
    assert all(d.decision == "page" for d in after), "no suppression while paused"
    turned = [d for d in after if d.reason_code is Reason.LIVE_SAFETY]
    assert turned and all(d.score < d.threshold for d in turned)
    assert "share above threshold 3% of the last 200 alerts vs 14% of 1000" in turned[0].reason
    line = turned[0].reason
    assert line.startswith("live safety: checkout paused (share above threshold ")
    assert "suppression resumes when it comes back or a person resumes it; the model: score" in line
    assert feed(safety, [Stream("search", 0.2).next(False)])[0][0].decision == "suppress", "only its service"

    # it comes back: not before a full window decided after the pause is within bound (the burst's rest,
    # decided after the pause, must slide out of it first)
    fresh = safety.paused["checkout"].fresh
    applied, changes = feed(safety, stream.like_validation(WINDOW - fresh - 1))
    assert changes == [] and "checkout" in safety.paused
    assert all(d.decision == "page" for d in applied)
    applied, changes = feed(safety, stream.like_validation(2 * WINDOW))
    [resumed] = changes
    assert (resumed.service, resumed.paused, resumed.by) == ("checkout", False, BY_WATCH)
    assert "checkout" not in safety.paused and "within bound" in resumed.reason
    last = applied[-WINDOW:]
    assert sum(d.decision == "suppress" for d in last) == WINDOW * 7 // 8
    assert all(d.reason_code is not Reason.LIVE_SAFETY for d in last)


def test_novel_alerts_pause_and_a_person_resumes() -> None:
    safety, stream = watch(), Stream()
    feed(safety, stream.like_validation(300))
    applied, changes = feed(safety, [stream.next(False, novel=i % 5 == 0) for i in range(100)])
    [pause] = changes
    assert safety.paused["checkout"].cause == "novel" and "share of novel alerts" in pause.reason
    assert applied[-1].decision == "page"
    resumed = safety.resume("checkout", "alice", "a new release; checked")
    assert resumed is not None and (resumed.paused, resumed.by) == (False, "alice")
    assert safety.resume("checkout", "alice", "again") is None, "not paused any more"
    # its window starts afresh: the burst that paused it does not pause it again
    applied, changes = feed(safety, stream.like_validation(50))
    assert changes == [] and sum(d.decision == "suppress" for d in applied) > 40


def test_should_have_paged_pauses_at_once_and_resumes_after_a_fresh_window() -> None:
    safety, stream = watch(), Stream()
    feed(safety, stream.like_validation(100))
    missed = stream.next(False)
    key = (missed.fingerprint, missed.startsAt.timestamp())  # type: ignore[union-attr]
    change = safety.should_have_paged("checkout", key, "bob")
    assert change is not None and change.paused and "bob said a suppressed alert should have paged" in change.reason
    assert safety.should_have_paged("checkout", key, "bob") is None, "the same answer again counts once"
    assert safety.should_have_paged("ghost", ("x", 0.0), "bob") is None, "a service never seen pages anyway"
    applied, changes = feed(safety, stream.like_validation(WINDOW - 1))
    assert changes == [] and all(d.decision == "page" for d in applied)
    _, changes = feed(safety, stream.like_validation(1))
    assert [(c.paused, c.by) for c in changes] == [(False, BY_WATCH)]


def test_resends_other_models_and_guards_are_not_counted() -> None:
    safety, stream = watch(min_alerts=30), Stream()
    burst = stream.next(True)
    feed(safety, [burst] * 100)  # one occurrence, resent: counted once
    assert len(safety.windows["checkout"]) == 1
    feed(safety, [stream.next(True, version="8") for _ in range(100)])  # a challenger's: not this validation
    fail_open = stream.next(True).model_copy(update={"reason_code": Reason.FAIL_OPEN})
    feed(safety, [fail_open])
    assert len(safety.windows["checkout"]) == 1 and safety.paused == {}


def test_a_pooled_service_is_held_to_the_pooled_figures() -> None:
    safety, stream = watch(), Stream("tiny", 0.2)
    safety.params = safety.params.model_copy(update={"pause_p": 1e-3})  # 20 validation alerts: a wide tail
    _, changes = feed(safety, stream.like_validation(200))  # a quarter above in validation, an eighth now
    assert changes == []
    _, changes = feed(safety, [stream.next(False) for _ in range(300)])
    assert [c.service for c in changes] == ["tiny"]
    [status] = [s for s in safety.status() if s.service == "tiny"]
    assert status.group == "*" and status.validation_alerts == 20 and status.pause is not None


def test_the_state_survives_a_restart() -> None:
    safety, stream = watch(), Stream()
    feed(safety, [stream.next(False) for _ in range(150)])
    assert "checkout" in safety.paused
    again = watch()
    again.restore(safety.state().model_validate_json(safety.state().model_dump_json()))
    assert again.paused.keys() == {"checkout"} and len(again.windows["checkout"]) == 150
    assert feed(again, [stream.next(False)])[0][0].reason_code is Reason.LIVE_SAFETY


def test_more_alerts_above_threshold_page_more_and_do_not_pause() -> None:
    """An incident: half the alerts above the threshold. They page; the budget has nothing to fear."""
    safety, stream = watch(), Stream()
    feed(safety, stream.like_validation(200))
    applied, changes = feed(safety, [stream.next(i % 2 == 0) for i in range(200)])
    assert changes == [] and safety.paused == {}
    assert sum(d.decision == "page" for d in applied) == 100
