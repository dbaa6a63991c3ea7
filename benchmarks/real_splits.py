"""The splits of the real-stream benchmark (``real_streams.py``): which alerts train, which are scored.

Every split is chronological, as a user's would be: training lies before the scored part. The series of
the Cloud Monitoring Dataset come from different months, so a split moves them in time (labels and
fingerprints unchanged). Kinds:

* ``time`` (``time:50%``, ``time:65%``, ``time:80%``): rolling origin. Each series is moved so that its cut
  point (that share of its own time span) falls on one common instant; training is everything before it,
  the scored part everything after, as when a team trains on its history up to today.
* ``series`` (``series:<name>``): leave one series out, within the services (label ``service``, the
  dataset's domain) that have several. Training is every other series; the left-out one is moved to start
  an hour after the last training alert. At most ``folds`` series, chosen deterministically: round robin
  over the services (most incidents first), each service's series by most incidents, then most
  actionable alerts, then name.
* ``no-signal`` (``no-signal:65%``): the alerts of the 65% time split with labels from a process
  independent of them. Per service, incident windows (durations drawn from the service's real incidents)
  are placed at seeded random times until the service's actionable alerts number what they did; an alert
  is actionable when its startsAt falls in a window of its service. There is nothing to learn.
* ``shift`` (``shift:65%``): the 65% time split with every other training incident of each service (in
  time order) dropped with its alerts, so the scored part carries about twice training's incident share.
* ``domain`` (``lodo:<domain>``): train on all other domains, the left-out one moved to start an hour after
  the last training alert: a new service coming online.

Scored parts are in startsAt order (ties in the converter's order), so an occurrence's first row comes first.
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Callable
from dataclasses import dataclass, replace
from datetime import UTC, datetime, timedelta

import numpy as np
from mscloud_alerts import StreamAlert

TIME_CUTS = (0.5, 0.65, 0.8)
CONTROL_CUT = 0.65  # the time split the no-signal and shift controls start from
SERIES_FOLDS = 3  # each fold trains alertsieve once: the run stays within ~15 minutes on 2 cores
COMMON = datetime(2019, 1, 7, tzinfo=UTC)  # where every series' cut point lands
GAP = timedelta(hours=1)  # a left-out series or domain starts this long after training ends
MIN_WINDOW = timedelta(hours=1)  # the shortest random incident window of the no-signal control


@dataclass(frozen=True)
class Split:
    name: str
    kind: str  # time, series, no-signal, shift or domain
    train: list[StreamAlert]
    test: list[StreamAlert]


def chronological(alerts: list[StreamAlert]) -> list[StreamAlert]:
    return sorted(alerts, key=lambda s: s.alert.startsAt)


def shifted(
    alerts: list[StreamAlert], by: dict[str, timedelta], key: Callable[[StreamAlert], str]
) -> list[StreamAlert]:
    """The alerts moved in time by ``by[key(alert)]`` (labels and fingerprints unchanged)."""
    out = []
    for s in alerts:
        delta, a = by[key(s)], s.alert
        moved = a.model_copy(update={"startsAt": a.startsAt + delta, "endsAt": a.endsAt + delta if a.endsAt else None})
        out.append(replace(s, alert=moved, series_start=s.series_start + delta))
    return out


def time_split(alerts: list[StreamAlert], cut: float, name: str | None = None, kind: str = "time") -> Split:
    """Each series moved so that its ``cut`` point falls on ``COMMON``; before trains, after is scored."""
    by_series = {s.series: COMMON - (s.series_start + timedelta(seconds=cut * s.series_span_s)) for s in alerts}
    aligned = shifted(alerts, by_series, lambda s: s.series)
    return Split(
        name or f"{kind}:{cut:.0%}",
        kind,
        chronological([s for s in aligned if s.span_position < cut]),
        chronological([s for s in aligned if s.span_position >= cut]),
    )


def held_out(name: str, kind: str, train: list[StreamAlert], test: list[StreamAlert]) -> Split:
    """``test`` moved as one block to start ``GAP`` after the last training alert."""
    delta = max(s.alert.startsAt for s in train) + GAP - min(s.alert.startsAt for s in test)
    return Split(name, kind, chronological(train), chronological(shifted(test, {"": delta}, lambda s: "")))


def series_folds(alerts: list[StreamAlert], folds: int = SERIES_FOLDS) -> list[str]:
    """The series left out, at most ``folds``: round robin over the services with several series (the
    services with most incidents first), each service's series by most incidents, most actionable
    alerts, then name."""
    incidents: dict[str, set[str]] = defaultdict(set)
    actionable: dict[str, int] = defaultdict(int)
    by_service: dict[str, set[str]] = defaultdict(set)
    for s in alerts:
        by_service[s.domain].add(s.series)
        actionable[s.series] += s.alert.actionable
        if s.incident:
            incidents[s.series].add(s.incident)

    def rank(name: str) -> tuple[int, int, str]:
        return -len(incidents[name]), -actionable[name], name

    services = sorted(by_service, key=lambda svc: (sum(rank(n)[0] for n in by_service[svc]), svc))
    queues = [sorted(by_service[svc], key=rank) for svc in services if len(by_service[svc]) > 1]
    chosen: list[str] = []
    for depth in range(max((len(q) for q in queues), default=0)):
        chosen.extend(q[depth] for q in queues if depth < len(q))
    return chosen[:folds]


def series_splits(alerts: list[StreamAlert], folds: int = SERIES_FOLDS) -> list[Split]:
    return [
        held_out(
            f"series:{name}",
            "series",
            [s for s in alerts if s.series != name],
            [s for s in alerts if s.series == name],
        )
        for name in series_folds(alerts, folds)
    ]


def domain_splits(alerts: list[StreamAlert]) -> list[Split]:
    out = []
    for domain in sorted({s.domain for s in alerts}):
        test = [s for s in alerts if s.domain == domain]
        train = [s for s in alerts if s.domain != domain]
        if test and train:
            out.append(held_out(f"lodo:{domain}", "domain", train, test))
    return out


def incident_spans(alerts: list[StreamAlert]) -> dict[str, list[timedelta]]:
    """Per service, how long each of its incidents lasted (first startsAt to last endsAt of its alerts)."""
    bounds: dict[str, tuple[str, datetime, datetime]] = {}
    for s in alerts:
        if s.incident:
            end = s.alert.endsAt or s.alert.startsAt
            service, first, last = bounds.get(s.incident, (s.domain, s.alert.startsAt, end))
            bounds[s.incident] = (service, min(first, s.alert.startsAt), max(last, end))
    spans: dict[str, list[timedelta]] = defaultdict(list)
    for service, first, last in bounds.values():
        spans[service].append(max(last - first, MIN_WINDOW))
    return spans


def random_labels(alerts: list[StreamAlert], seed: int, tries: int = 20_000) -> list[StreamAlert]:
    """The same alerts, labelled by random incident windows per service (see the module docstring).

    A window is kept only when it brings the service's actionable count closer to the real one; placing
    stops when the count reaches it (or after ``tries`` windows)."""
    rng = np.random.default_rng(seed)
    spans = incident_spans(alerts)
    labels = np.zeros(len(alerts), dtype=bool)
    incident: list[str | None] = [None] * len(alerts)
    for service in sorted({s.domain for s in alerts}):
        rows = [i for i, s in enumerate(alerts) if s.domain == service]
        target = sum(alerts[i].alert.actionable for i in rows)
        if not target or not spans[service]:
            continue
        times = np.array([alerts[i].alert.startsAt.timestamp() for i in rows])
        lo, hi, count = float(times.min()), float(times.max()), 0
        for k in range(tries):
            if count >= target:
                break
            length = spans[service][int(rng.integers(len(spans[service])))].total_seconds()
            start = rng.uniform(lo - length, hi)
            inside = (times >= start) & (times <= start + length) & ~labels[rows]
            new = count + int(inside.sum())
            if not inside.any() or abs(target - new) >= abs(target - count):
                continue
            for j in np.flatnonzero(inside):
                labels[rows[j]], incident[rows[j]] = True, f"{service}~random#{k}"
            count = new
    return [
        replace(s, alert=s.alert.model_copy(update={"actionable": bool(y)}), incident=inc)
        for s, y, inc in zip(alerts, labels, incident, strict=True)
    ]


def no_signal_split(alerts: list[StreamAlert], seed: int) -> Split:
    base = time_split(alerts, CONTROL_CUT)
    relabelled = random_labels(base.train + base.test, seed)
    n = len(base.train)
    return Split(f"no-signal:{CONTROL_CUT:.0%}", "no-signal", relabelled[:n], relabelled[n:])


def shift_split(alerts: list[StreamAlert]) -> Split:
    """The control time split with every other training incident per service (time order) dropped."""
    base = time_split(alerts, CONTROL_CUT)
    first: dict[str, tuple[datetime, str]] = {}
    for s in base.train:  # chronological: the first row of an incident is its start
        if s.incident and s.incident not in first:
            first[s.incident] = (s.alert.startsAt, s.domain)
    by_service: dict[str, list[str]] = defaultdict(list)
    for name, (_, service) in sorted(first.items(), key=lambda item: (item[1][0], item[0])):
        by_service[service].append(name)
    dropped = {name for names in by_service.values() for name in names[1::2]}
    train = [s for s in base.train if s.incident not in dropped]
    return Split(f"shift:{CONTROL_CUT:.0%}", "shift", train, base.test)


def all_splits(alerts: list[StreamAlert], folds: int = SERIES_FOLDS, seed: int = 19) -> list[Split]:
    """Every split of the benchmark, in the order the table prints them."""
    return [
        *(time_split(alerts, cut) for cut in TIME_CUTS),
        *series_splits(alerts, folds),
        no_signal_split(alerts, seed),
        shift_split(alerts),
        *domain_splits(alerts),
    ]
