"""The stream context's counting structures, each answering in (amortised) constant or logarithmic time.

``Times`` holds the firing times of one key (a fingerprint, an alert name ...) in order and counts those
since a moment by bisection. ``Windows`` keeps the last 5, 15 and 30 minutes of alerts as running
counts of distinct fingerprints, names and services (overall, per service, per host, per alert name),
and the last hour of first sightings per environment, so that an alert's company is read off counters
rather than by rescanning the window: at 50 new alerts a second a 30-minute scan is 90,000 entries.
Both count exactly what a scan of the stream in time order would (of what the stream state remembers: on a
stream busier than its memory, nothing older than its floor, so the windows are bounded by it too). An alert older than the stream's latest
time (out of order: a late notification) is counted as of its own time, as training's replay in time order
would have: by a scan of the alerts kept for that (the last hour and ``LATE_S`` more), skipping later ones.
"""

from __future__ import annotations

import math
from bisect import bisect_left, bisect_right, insort
from collections import defaultdict, deque
from typing import NamedTuple

MINUTE, HOUR = 60.0, 3600.0
LATE_S = 10 * MINUTE  # how late an alert may arrive and still be counted exactly as of its time


class Times:
    """Sorted times of one key: append (in order, or inserted when late), count since, trim the old."""

    __slots__ = ("_head", "_times")

    def __init__(self) -> None:
        self._times: list[float] = []
        self._head = 0  # entries before it are trimmed (removed lazily, in bulk)

    def append(self, t: float) -> None:
        if not self._times or t >= self._times[-1]:
            self._times.append(t)
        else:
            insort(self._times, t, lo=self._head)

    def count_since(self, since: float, until: float | None = None) -> int:
        """How many times are at or after ``since`` (and at or before ``until``, if given)."""
        end = len(self._times) if until is None else bisect_right(self._times, until, lo=self._head)
        return max(0, end - bisect_left(self._times, since, lo=self._head))

    def any_between(self, low: float, high: float, low_open: bool, high_open: bool) -> bool:
        """Whether a time lies between ``low`` and ``high`` (each bound open or closed)."""
        i = bisect_left(self._times, low, lo=self._head)
        if low_open:
            while i < len(self._times) and self._times[i] == low:
                i += 1
        if i >= len(self._times):
            return False
        t = self._times[i]
        return t < high if high_open else t <= high

    def last(self) -> float | None:
        return self._times[-1] if len(self._times) > self._head else None

    def trim(self, horizon: float) -> None:
        """Forget the times before ``horizon``."""
        self._head = bisect_left(self._times, horizon, lo=self._head)
        if self._head > 64 and self._head * 2 > len(self._times):
            del self._times[: self._head]
            self._head = 0

    def __len__(self) -> int:
        return len(self._times) - self._head


class Event(NamedTuple):
    t: float
    fingerprint: str
    name: str
    service: str
    novel: bool
    instance: str


class Distinct:
    """A multiset that knows how many distinct members it holds."""

    __slots__ = ("counts",)

    def __init__(self) -> None:
        self.counts: dict[str, int] = {}

    def add(self, member: str) -> None:
        self.counts[member] = self.counts.get(member, 0) + 1

    def remove(self, member: str) -> None:
        left = self.counts[member] - 1
        if left:
            self.counts[member] = left
        else:
            del self.counts[member]

    def __len__(self) -> int:
        return len(self.counts)

    def __contains__(self, member: object) -> bool:
        return member in self.counts


class Company(NamedTuple):
    """How many other alerts keep this one company (distinct counts; the alert itself not yet included)."""

    svc_5m: int
    svc_30m: int
    svc_names_30m: int
    svc_novel_30m: int
    all_5m: int
    all_30m: int
    services_15m: int
    novel_30m: int
    peers_5m: int
    inst_5m: int
    novel_5m: int
    env_novel_5m: int
    env_novel_60m: int


_EMPTY = Distinct()


class Windows:
    """Running distinct counts over the last 5, 15 and 30 minutes of alerts, and the last hour of novelty."""

    def __init__(self) -> None:
        self.clock = 0.0
        self.w5: deque[Event] = deque()
        self.w15: deque[Event] = deque()
        self.w30: deque[Event] = deque()
        self.all5, self.novel5, self.all30, self.novel30, self.services15 = (Distinct() for _ in range(5))
        self.svc5: defaultdict[str, Distinct] = defaultdict(Distinct)
        self.inst5: defaultdict[str, Distinct] = defaultdict(Distinct)
        self.peers5: defaultdict[str, Distinct] = defaultdict(Distinct)
        self.svc30: defaultdict[str, Distinct] = defaultdict(Distinct)
        self.svc_names30: defaultdict[str, Distinct] = defaultdict(Distinct)
        self.svc_novel30: defaultdict[str, Distinct] = defaultdict(Distinct)
        self.log: deque[tuple[Event, str]] = deque()  # the last hour and LATE_S, for alerts out of order
        self.env_novel: dict[float, deque[tuple[float, str]]] = {5 * MINUTE: deque(), HOUR: deque()}
        self.env_novel_counts: dict[float, dict[str, int]] = {5 * MINUTE: {}, HOUR: {}}

    # ---- updating -------------------------------------------------------------------------------
    def add(self, event: Event, environment: str) -> None:
        if event.t >= self.clock - HOUR - LATE_S:
            self.log.append((event, environment))
        if event.t >= self.clock - 5 * MINUTE:
            self.w5.append(event)
            self._count5(event, +1)
        if event.t >= self.clock - 15 * MINUTE:
            self.w15.append(event)
            self.services15.add(event.service)
        if event.t >= self.clock - 30 * MINUTE:
            self.w30.append(event)
            self._count30(event, +1)
        if event.novel:
            for span, queue in self.env_novel.items():
                if event.t >= self.clock - span:
                    queue.append((event.t, environment))
                    counts = self.env_novel_counts[span]
                    counts[environment] = counts.get(environment, 0) + 1

    def advance(self, now: float, floor: float = -math.inf) -> None:
        """Move the windows' clock to ``now`` (never back) and let go of what fell out of them, and of what
        is older than ``floor`` (the stream state's, on a stream busier than its memory: the windows then
        hold no more alerts than it does, however many an hour brings)."""
        self.clock = max(self.clock, now)
        while self.log and self.log[0][0].t < max(self.clock - HOUR - LATE_S, floor):
            self.log.popleft()
        while self.w5 and self.w5[0].t < max(self.clock - 5 * MINUTE, floor):
            self._count5(self.w5.popleft(), -1)
        while self.w15 and self.w15[0].t < max(self.clock - 15 * MINUTE, floor):
            self.services15.remove(self.w15.popleft().service)
        while self.w30 and self.w30[0].t < max(self.clock - 30 * MINUTE, floor):
            self._count30(self.w30.popleft(), -1)
        for span, queue in self.env_novel.items():
            counts = self.env_novel_counts[span]
            while queue and queue[0][0] < max(self.clock - span, floor):
                environment = queue.popleft()[1]
                counts[environment] -= 1
                if not counts[environment]:
                    del counts[environment]

    def _count5(self, e: Event, step: int) -> None:
        tables = [
            (self.all5, e.fingerprint),
            (self.svc5[e.service], e.fingerprint),
            (self.peers5[f"{e.name}\x1f{e.service}"], e.fingerprint),
        ]
        if e.novel:
            tables.append((self.novel5, e.fingerprint))
        if e.instance:
            tables.append((self.inst5[e.instance], e.fingerprint))
        self._apply(tables, step)
        if step < 0:
            for table, key in (
                (self.svc5, e.service),
                (self.inst5, e.instance),
                (self.peers5, f"{e.name}\x1f{e.service}"),
            ):
                if key in table and not table[key]:
                    del table[key]

    def _count30(self, e: Event, step: int) -> None:
        tables = [
            (self.all30, e.fingerprint),
            (self.svc30[e.service], e.fingerprint),
            (self.svc_names30[e.service], e.name),
        ]
        if e.novel:
            tables += [(self.novel30, e.fingerprint), (self.svc_novel30[e.service], e.fingerprint)]
        self._apply(tables, step)
        if step < 0:
            for table in (self.svc30, self.svc_names30, self.svc_novel30):
                if e.service in table and not table[e.service]:
                    del table[e.service]

    @staticmethod
    def _apply(tables: list[tuple[Distinct, str]], step: int) -> None:
        for table, member in tables:
            if step > 0:
                table.add(member)
            else:
                table.remove(member)

    # ---- reading --------------------------------------------------------------------------------
    def company(
        self, fingerprint: str, name: str, service: str, instance: str, environment: str, at: float | None = None
    ) -> Company:
        """The company of an alert at time ``at`` (default: the windows' clock)."""
        if at is not None and at < self.clock:
            return self._company_at(at, fingerprint, name, service, instance, environment)
        peers = self.peers5.get(f"{name}\x1f{service}", _EMPTY)
        return Company(
            svc_5m=len(self.svc5.get(service, _EMPTY)),
            svc_30m=len(self.svc30.get(service, _EMPTY)),
            svc_names_30m=len(self.svc_names30.get(service, _EMPTY)),
            svc_novel_30m=len(self.svc_novel30.get(service, _EMPTY)),
            all_5m=len(self.all5),
            all_30m=len(self.all30),
            services_15m=len(self.services15),
            novel_30m=len(self.novel30),
            peers_5m=len(peers) - (fingerprint in peers),
            inst_5m=len(self.inst5.get(instance, _EMPTY)) if instance else 0,
            novel_5m=len(self.novel5),
            env_novel_5m=self.env_novel_counts[5 * MINUTE].get(environment, 0),
            env_novel_60m=self.env_novel_counts[HOUR].get(environment, 0),
        )

    def _company_at(
        self, at: float, fingerprint: str, name: str, service: str, instance: str, environment: str
    ) -> Company:
        """Company as of ``at``, before the windows' clock: a scan of the log (alerts after ``at`` skipped)."""
        svc_5m, svc_30m, svc_names, svc_novel = set(), set(), set(), set()
        all_5m, all_30m, services_15m, novel_30m, peers = set(), set(), set(), set(), set()
        inst_5m, novel_5m = set(), set()
        env_5m = env_60m = 0
        for e, env in reversed(self.log):
            age = at - e.t
            if age < 0:
                continue
            if age > HOUR:
                break
            if e.novel and env == environment:
                env_60m += 1
                env_5m += age <= 5 * MINUTE
            if age > 30 * MINUTE:
                continue
            all_30m.add(e.fingerprint)
            if e.novel:
                novel_30m.add(e.fingerprint)
            if age <= 15 * MINUTE:
                services_15m.add(e.service)
            if age <= 5 * MINUTE:
                all_5m.add(e.fingerprint)
                if e.novel:
                    novel_5m.add(e.fingerprint)
                if instance and e.instance == instance:
                    inst_5m.add(e.fingerprint)
                if e.name == name and e.service == service and e.fingerprint != fingerprint:
                    peers.add(e.fingerprint)
            if e.service == service:
                svc_30m.add(e.fingerprint)
                svc_names.add(e.name)
                if e.novel:
                    svc_novel.add(e.fingerprint)
                if age <= 5 * MINUTE:
                    svc_5m.add(e.fingerprint)
        return Company(
            len(svc_5m),
            len(svc_30m),
            len(svc_names),
            len(svc_novel),
            len(all_5m),
            len(all_30m),
            len(services_15m),
            len(novel_30m),
            len(peers),
            len(inst_5m),
            len(novel_5m),
            env_5m,
            env_60m,
        )
