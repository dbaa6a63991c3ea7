"""Live safety (issue 19, part 4): per service, whether the live stream still looks like the validation slice
its thresholds were chosen on; a service whose stream departs stops suppressing until it comes back.

It owns the expectations (from a bundle's ``meta.validation`` and ``meta.policy``), one sliding window per
service, the bounds, pausing and resuming, and the decision while paused: a suppression becomes a page
(``Reason.LIVE_SAFETY``, one reason line). No Ray, no I/O: ``serve_app/live_watch.py`` adds the gauge, the
audit entries and the snapshot. The bounds (``LiveSafetyParams``):

- Watched: each occurrence once, decided by this model version; fail-open, unknown-service,
  page-everything and late pages are not watched.
- Two shares, over the service's last ``window`` (200) occurrences and over its latest ``min_alerts`` (50,
  where a burst shows first): alerts at or above the service's own optimised threshold (novel ones
  included, as validation scores them 1.0), and novel identities. Live ``k`` of ``n`` is compared with
  validation's ``k0`` of ``n0``, X beta-binomial(n, k0 + 1/2, n0 - k0 + 1/2) (validation's own sampling
  error counted), in the direction that endangers the budget: p = P(X <= k) for the share above threshold
  (scores that moved down suppress more than validation chose: a new host, a changed rule), P(X >= k) for
  the novel share. More alerts above threshold than validation pages more, which the budget does not fear;
  a burst of them is an incident, which ``alertsieve.incidents`` handles per host (pausing a whole service
  for it cost every time split of the real-stream benchmark its noise reduction). Paused when any
  p < ``pause_p`` (1e-6: the test runs after every alert, thousands of times a week per service, and 0.001
  paused most of the simulator's services falsely within two weeks), once the window holds ``min_alerts``.
- One "should have paged" (a person marking a suppressed occurrence actionable) pauses it at once.
- Resumed when a full window decided after the pause has every p >= ``resume_p`` (0.01), or by a person
  (the window then starts afresh).
- Expectations: the service's own validation alerts when it has ``min_validation`` (30), else the pooled
  figures: every validation alert of the other known services, each against its service's threshold.
"""

from __future__ import annotations

from collections import OrderedDict, deque
from collections.abc import Callable, Sequence
from datetime import UTC, datetime
from functools import lru_cache
from math import exp, lgamma
from typing import Literal, NamedTuple

from pydantic import BaseModel, Field

from alertsieve.policy import POOLED, ThresholdPolicy
from alertsieve.schema import Decision, Reason

BY_WATCH = "live-safety"
# decided by no model, or paged after the model's decision: not watched
UNWATCHED = frozenset(
    {
        Reason.FAIL_OPEN,
        Reason.UNKNOWN_SERVICE,
        Reason.PAGE_EVERYTHING,
        Reason.STILL_FIRING,
        Reason.SHOULD_HAVE_PAGED,
        Reason.LIVE_SAFETY,
    }
)
SEEN_CAPACITY = 50_000  # occurrences remembered so that a resend is not counted twice
Cause = Literal["above_threshold", "novel", "should_have_paged"]
Clock = Callable[[], datetime]


class LiveSafetyParams(BaseModel):
    window: int = Field(default=200, ge=10, le=5000, description="occurrences per service in the window")
    min_alerts: int = Field(default=50, ge=5, description="occurrences in the window before a share can pause")
    pause_p: float = Field(default=1e-6, gt=0, lt=1, description="pause below this tail probability")
    resume_p: float = Field(default=0.01, gt=0, lt=1, description="resume at or above it, over a fresh window")
    min_validation: int = Field(default=30, ge=1, description="validation alerts for a service's own figures")


class Expectation(BaseModel):
    """What validation saw of a group (a service, or the pooled rest)."""

    group: str
    alerts: int
    above: int
    novel: int

    def count(self, what: Cause) -> int:
        return self.above if what == "above_threshold" else self.novel

    def share(self, what: Cause) -> float:
        return self.count(what) / self.alerts if self.alerts else 0.0


class Expectations(BaseModel):
    version: str
    policy: ThresholdPolicy
    own: dict[str, Expectation] = Field(default_factory=dict)
    pooled: Expectation

    @classmethod
    def of(
        cls,
        version: str,
        validation: Sequence[tuple[str, float, bool]],
        policy: ThresholdPolicy,
        min_validation: int | None = None,
    ) -> Expectations:
        """Per service (and pooled) from the bundle's validation rows; ``min_validation`` unset: the default
        bound's."""
        least = LiveSafetyParams().min_validation if min_validation is None else min_validation
        rows: dict[str, list[tuple[bool, bool]]] = {}
        for service, score, _ in validation:
            found = policy.threshold_for(service)
            if found is not None:  # a service the model never saw is paged anyway
                rows.setdefault(service, []).append((score >= found[0], score >= 1.0))

        def expect(group: str, part: list[tuple[bool, bool]]) -> Expectation:
            return Expectation(
                group=group, alerts=len(part), above=sum(a for a, _ in part), novel=sum(n for _, n in part)
            )

        own = {s: expect(s, r) for s, r in rows.items() if len(r) >= least}
        rest = [row for s, r in rows.items() if s not in own for row in r]
        return cls(version=version, policy=policy, own=own, pooled=expect(POOLED, rest))

    def of_service(self, service: str) -> tuple[Expectation, float] | None:
        """The figures a service is held to and its own optimised threshold; None: the model never saw it."""
        found = self.policy.threshold_for(service)
        return None if found is None else (self.own.get(service, self.pooled), found[0])


@lru_cache(maxsize=65_536)
def upper_tail(k: int, n: int, k0: int, n0: int) -> float:
    """P(X >= k), X beta-binomial(n, k0 + 1/2, n0 - k0 + 1/2): at least k of n, were the stream validation's."""
    if k <= 0:
        return 1.0
    a, b = k0 + 0.5, n0 - k0 + 0.5
    base = lgamma(n + 1) + lgamma(a + b) - lgamma(a) - lgamma(b) - lgamma(n + a + b)
    terms = (base - lgamma(x + 1) - lgamma(n - x + 1) + lgamma(x + a) + lgamma(n - x + b) for x in range(k, n + 1))
    return min(1.0, sum(exp(t) for t in terms))


class Tail(NamedTuple):
    cause: Cause
    k: int
    n: int
    p: float


class Pause(BaseModel):
    service: str
    cause: Cause
    detail: str = Field(description="what departed, and the bound")
    since: datetime
    fresh: int = Field(default=0, description="occurrences decided since the pause")

    def reason_line(self) -> str:
        return (
            f"live safety: {self.service or 'unknown'} paused ({self.detail}): suppression resumes when it comes "
            "back or a person resumes it"
        )


class Change(BaseModel):
    """A pause or a resume, as the audit log keeps it."""

    service: str
    paused: bool
    by: str
    reason: str
    at: datetime


class ServiceSafety(BaseModel):
    service: str
    group: str = Field(description="whose validation figures it is held to: itself, or '*' (pooled)")
    validation_alerts: int
    window: int = Field(description="occurrences in the live window")
    above: float | None = Field(description="live share at or above its threshold")
    expected_above: float | None
    novel: float | None
    expected_novel: float | None
    pause: Pause | None = None


class LiveSafetyState(BaseModel):
    """What a restart keeps: pauses, and each window as (fingerprint, startsAt, above, novel), oldest first."""

    paused: dict[str, Pause] = Field(default_factory=dict)
    windows: dict[str, list[tuple[str, float, bool, bool]]] = Field(default_factory=dict)


def _share(k: int, n: int) -> float | None:
    return k / n if n else None


class LiveSafety:
    """The watch over one model version's expectations (None: only "should have paged" can pause)."""

    def __init__(
        self,
        expected: Expectations | None,
        params: LiveSafetyParams | None = None,
        clock: Clock = lambda: datetime.now(UTC),
    ) -> None:
        self.expected, self.params, self.clock = expected, params or LiveSafetyParams(), clock
        self.paused: dict[str, Pause] = {}
        self.windows: dict[str, deque[tuple[str, float, bool, bool]]] = {}
        self.seen: OrderedDict[tuple[str, float], None] = OrderedDict()  # occurrences counted in a window
        self.marked: OrderedDict[tuple[str, float], None] = OrderedDict()  # "should have paged" counted
        self.capacity = SEEN_CAPACITY  # occurrences each of ``seen`` and ``marked`` holds, the oldest forgotten

    # ---- what a restart keeps -----------------------------------------------------------------------
    def state(self) -> LiveSafetyState:
        return LiveSafetyState(
            paused={s: p.model_copy() for s, p in self.paused.items()},
            windows={s: list(w) for s, w in self.windows.items()},
        )

    def restore(self, state: LiveSafetyState) -> None:
        self.paused = dict(state.paused)
        self.windows = {s: deque(w, maxlen=self.params.window) for s, w in state.windows.items()}
        for window in self.windows.values():
            for fp, t, _, _ in window:
                self._seen((fp, t))

    def expect(self, expected: Expectations | None, params: LiveSafetyParams | None = None) -> None:
        """New expectations (a new model version, or new bounds): the windows start afresh, pauses stand."""
        self.expected, self.windows, self.params = expected, {}, params or self.params

    # ---- the watch ------------------------------------------------------------------------------------
    def watch(self, decisions: Sequence[Decision]) -> tuple[list[Decision], list[Change]]:
        """Observe the model's decisions, then the decisions to apply: suppressions of paused services page."""
        changes = [c for d in decisions for c in self._observe(d)]
        return [self.apply(d) for d in decisions], changes

    def apply(self, d: Decision) -> Decision:
        pause = self.paused.get(d.service)
        if pause is None or d.decision != "suppress":
            return d
        reason = f"{pause.reason_line()}; the model: {d.reason}"
        return d.model_copy(update={"decision": "page", "reason": reason, "reason_code": Reason.LIVE_SAFETY})

    def _seen(self, key: tuple[str, float], seen: OrderedDict[tuple[str, float], None] | None = None) -> bool:
        """Whether ``key`` was counted before (in ``seen``, the windows' by default); now it is."""
        seen = self.seen if seen is None else seen
        if key in seen:
            return True
        seen[key] = None
        if len(seen) > self.capacity:
            seen.popitem(last=False)
        return False

    def _observe(self, d: Decision) -> list[Change]:
        expected = self.expected
        if expected is None or d.reason_code in UNWATCHED or d.model_version != expected.version:
            return []
        held = expected.of_service(d.service)
        key = (d.fingerprint, d.startsAt.timestamp() if d.startsAt else 0.0)
        if held is None or self._seen(key):
            return []
        novel = d.reason_code is Reason.NOVEL
        window = self.windows.setdefault(d.service, deque(maxlen=self.params.window))
        window.append((key[0], key[1], novel or d.score >= held[1], novel))
        pause = self.paused.get(d.service)
        if pause is not None:
            pause.fresh += 1
        return self._check(d.service, held[0])

    def _tails(self, window: deque[tuple[str, float, bool, bool]], expected: Expectation) -> list[Tail]:
        """Each share over the whole window and over its latest ``min_alerts`` (a burst shows there first)."""
        if not expected.alerts:
            return []
        latest = list(window)[-self.params.min_alerts :]
        out = []
        for part in (latest, window) if len(window) > len(latest) else (window,):
            n = len(part)
            above, novel = sum(w[2] for w in part), sum(w[3] for w in part)
            # far fewer above threshold than validation: the scores moved down and more is suppressed than
            # was chosen (the other way pages more, which the budget does not fear: the incident guard
            # takes a burst per host); far more novel alerts: something new is happening
            lower = 1.0 - upper_tail(above + 1, n, expected.count("above_threshold"), expected.alerts)
            out.append(Tail("above_threshold", above, n, max(0.0, lower)))
            out.append(Tail("novel", novel, n, upper_tail(novel, n, expected.count("novel"), expected.alerts)))
        return out

    def _check(self, service: str, expected: Expectation) -> list[Change]:
        window, p = self.windows[service], self.params
        tails, pause = self._tails(window, expected), self.paused.get(service)
        if pause is None and tails and len(window) >= p.min_alerts:
            worst = min(tails, key=lambda t: t.p)
            if worst.p < p.pause_p:
                what = "share above threshold" if worst.cause == "above_threshold" else "share of novel alerts"
                detail = (
                    f"{what} {worst.k / worst.n:.0%} of the last {worst.n} alerts vs {expected.share(worst.cause):.0%}"
                    f" of {expected.alerts} in validation; p {worst.p:.1g} < {p.pause_p:g}"
                )
                return [self._pause(service, worst.cause, detail)]
        if pause is not None and pause.fresh >= p.window and all(t.p >= p.resume_p for t in tails):
            reason = f"a fresh window of {len(window)} alerts is within bound (p >= {p.resume_p:g})"
            return [self._resume(service, BY_WATCH, reason)]
        return []

    def _pause(self, service: str, cause: Cause, detail: str) -> Change:
        pause = Pause(service=service, cause=cause, detail=detail, since=self.clock())
        self.paused[service] = pause
        return Change(service=service, paused=True, by=BY_WATCH, reason=pause.reason_line(), at=pause.since)

    def _resume(self, service: str, by: str, reason: str) -> Change:
        del self.paused[service]
        return Change(service=service, paused=False, by=by, reason=reason, at=self.clock())

    def should_have_paged(self, service: str, key: tuple[str, float], by: str) -> Change | None:
        """A person said a suppressed occurrence should have paged: its service pauses (once per occurrence;
        not a service the model never saw, which is paged anyway)."""
        if self.expected is not None and self.expected.of_service(service) is None:
            return None
        if self._seen(key, self.marked):
            return None
        if service in self.paused:  # a full window after this answer before it resumes by itself
            self.paused[service].fresh = 0
            return None
        detail = f"{by} said a suppressed alert should have paged; bound: one such answer"
        return self._pause(service, "should_have_paged", detail)

    def resume(self, service: str, by: str, reason: str) -> Change | None:
        """A person resumes a paused service (None: it was not paused); its window starts afresh."""
        if service not in self.paused:
            return None
        self.windows.pop(service, None)
        return self._resume(service, by, reason)

    def status(self) -> list[ServiceSafety]:
        """Every watched or paused service, sorted by name."""
        out = []
        for service in sorted(set(self.windows) | set(self.paused)):
            held = self.expected.of_service(service) if self.expected is not None else None
            exp_ = held[0] if held else None
            window = self.windows.get(service, deque())
            n = len(window)
            out.append(
                ServiceSafety(
                    service=service,
                    group=exp_.group if exp_ else POOLED,
                    validation_alerts=exp_.alerts if exp_ else 0,
                    window=n,
                    above=_share(sum(w[2] for w in window), n),
                    expected_above=exp_.share("above_threshold") if exp_ and exp_.alerts else None,
                    novel=_share(sum(w[3] for w in window), n),
                    expected_novel=exp_.share("novel") if exp_ and exp_.alerts else None,
                    pause=self.paused.get(service),
                )
            )
        return out
