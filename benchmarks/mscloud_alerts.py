"""Alert rules run over the Microsoft Cloud Monitoring Dataset: a real metric set becomes a labelled alert stream.

Source: repository microsoft/cloud-monitoring-dataset (MIT licence), 60 production metric series in 9
domain folders, CSV ``TimeStamp,Value,Label`` with expert anomaly labels and a ``-metadata.json`` whose
notes say what is worth an alarm. This module owns the rules, their evaluation and the labelling; it
reads the folder it is given and writes nothing.

Rules, as a team would run them (Prometheus style, evaluated once per data point), configured per domain
from its notes (``PROFILES``; a domain not in the table gets the direction and ``for:`` its notes suggest):

* the domain team's own rules, only in the direction its notes say matters (crash-rate, latency and
  API-rate increases, ingress dips, purchase increases and decreases, MongoDB rates both ways):
  ``<Prefix>AboveBaseline``/``BelowBaseline`` (value beyond the trailing rolling median by k robust
  sigmas, 1.4826 x MAD; k=4 warning, k=8 critical) and ``<Prefix>High``/``Low`` (beyond a static
  quantile of the series' first 30%: 0.99 warning, 0.999 critical). ``for:`` is per domain: 15 minutes
  for MongoDB application rates ("intermittent spikes are normal"), 10 for Service Unavailable
  ("isolated events are not sufficient"), 5 for other per-minute series, 1-2 points for hourly ones;
* a generic anomaly rule every series gets, in both directions (``MetricAboveBaseline``/
  ``MetricBelowBaseline``, k=3, severity info, ``for:`` one point, three on per-minute series): the
  realistic noise of a catch-all dashboard rule.

An alert fires when its condition has held ``for:`` consecutive points (startsAt = that point) and
resolves at the first point where it no longer holds (endsAt; still firing at the end of the series
leaves endsAt empty). Alertmanager re-sends a firing alert every ``repeat_interval`` (4 h) with the same
fingerprint and startsAt: with ``resends=True`` (the default) each re-send is its own row, as a webhook
receiver sees it; alertsieve counts one occurrence per (fingerprint, startsAt). Every row carries the
occurrence's endsAt (the history record); alertsieve's stream state applies it only once stream time
has passed it.

An occurrence is actionable when its active interval (from the first point of the condition to the
last) overlaps an expert-labelled stretch: runs of Label=1, merged when at most ``MERGE_GAP`` points
apart. The stretch id (``<series>#<n>``) is the incident id, returned beside the alert, never in its
labels. Series without labels give only non-actionable alerts. An alert whose rule looks in a direction
the domain's notes do not care about (``StreamAlert.wrong_direction``) is never actionable: noise by
construction, which the benchmark reports apart.

    python benchmarks/mscloud_alerts.py /path/to/cloud-monitoring-dataset --summary
"""

from __future__ import annotations

import argparse
import csv
import json
from collections import defaultdict
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Literal

import numpy as np

from alertsieve.schema import LabelledAlert

Direction = Literal["up", "down"]
MERGE_GAP = 3  # labelled points at most this many steps apart form one incident
REPEAT_INTERVAL = timedelta(hours=4)  # Alertmanager's default repeat_interval
STATIC_FIT_SHARE = 0.3  # static thresholds are set on the first 30% of a series
STEP_SIGMAS = 6.0  # a point-to-point change this many robust sigmas of recent changes is "sudden"


@dataclass(frozen=True)
class DomainProfile:
    prefix: str
    metric: str
    directions: tuple[Direction, ...]
    for_minutes_or_points: int  # `for:` in points (per-minute series: minutes)


PROFILES: dict[str, DomainProfile] = {
    "application-crash-rate-1": DomainProfile("AppCrashRate", "crash rate", ("up",), 1),
    "application-crash-rate-2": DomainProfile("AppCrashRate", "crash rate", ("up",), 1),
    "consumer-purchase-rate": DomainProfile("PurchaseCount", "in-app purchase count", ("up", "down"), 1),
    "data-ingress-rate": DomainProfile("IngressRate", "data ingress rate", ("down",), 5),
    "ecommerce-api-incoming-rps": DomainProfile("ApiRequestRate", "incoming request rate", ("up",), 2),
    "middle-tier-api-dependency-latency": DomainProfile("DependencyLatency", "dependency latency", ("up",), 1),
    "mongodb-application-rps": DomainProfile("MongoAppQueryRate", "MongoDB query rate", ("up", "down"), 15),
    "mongodb-machine-rps": DomainProfile("MongoServerQueryRate", "MongoDB server query rate", ("up", "down"), 5),
    "service-unavailable": DomainProfile("ServiceUnavailable", "Service Unavailable responses", ("up",), 10),
}


@dataclass(frozen=True)
class Rule:
    alertname: str
    kind: Literal["baseline", "static", "step", "present"]
    direction: Direction
    severity: str
    level: float  # robust sigmas (baseline) or quantile (static)
    for_points: int


@dataclass(frozen=True)
class Series:
    domain: str
    name: str
    times: list[datetime]
    values: np.ndarray
    labels: np.ndarray  # bool
    notes: str

    @property
    def per_minute(self) -> bool:
        return len(self.times) > 1 and (self.times[1] - self.times[0]) < timedelta(minutes=30)


@dataclass(frozen=True)
class StreamAlert:
    """One alert row with what the benchmark needs beside it."""

    alert: LabelledAlert
    incident: str | None  # expert-labelled stretch id when actionable
    domain: str
    series: str
    span_position: float  # where startsAt lies in its series' time span, 0..1
    series_start: datetime  # the series' first point
    series_span_s: float  # seconds from the series' first to its last point
    wrong_direction: bool = (
        False  # the rule's direction is not one the domain's notes care about: noise by construction
    )


def profile_for(series: Series) -> DomainProfile:
    """The domain's profile; for a domain not in the table, the direction and ``for:`` its notes suggest."""
    if series.domain in PROFILES:
        return PROFILES[series.domain]
    notes = series.notes.lower()
    cues: tuple[tuple[Direction, tuple[str, ...]], ...] = (
        ("up", ("increase", "elevated", "spike")),
        ("down", ("decrease", "dip", "drop")),
    )
    directions = tuple(d for d, words in cues if any(w in notes for w in words)) or ("up", "down")
    patient = "isolated events" in notes or "spikes are normal" in notes
    return DomainProfile("Metric", "metric", directions, (10 if patient else 5) if series.per_minute else 1)


def _parse_time(text: str) -> datetime:
    value = datetime.fromisoformat(text.strip().strip('"').replace("Z", "+00:00"))
    return value if value.tzinfo else value.replace(tzinfo=UTC)


def read_series(csv_path: Path) -> Series:
    times, values, labels = [], [], []
    with csv_path.open(newline="") as handle:
        for row in csv.DictReader(handle):
            if not row.get("Value") or row["Value"].strip().lower() in ("", "nan"):
                continue  # missing points: the rule has nothing to evaluate there
            times.append(_parse_time(row["TimeStamp"]))
            values.append(float(row["Value"]))
            labels.append(str(row.get("Label", "0")).strip() in ("1", "1.0"))
    meta_path = csv_path.with_name(csv_path.name + "-metadata.json")
    notes = " ".join(json.loads(meta_path.read_text()).get("notes", [])) if meta_path.exists() else ""
    return Series(csv_path.parent.name, csv_path.stem, times, np.array(values), np.array(labels, bool), notes)


def rules_for(series: Series) -> list[Rule]:
    profile = profile_for(series)
    rules = []
    for direction in profile.directions:
        above = direction == "up"
        for severity, sigmas, quantile in (("warning", 4.0, 0.99), ("critical", 8.0, 0.999)):
            rules.append(
                Rule(
                    f"{profile.prefix}{'Above' if above else 'Below'}Baseline",
                    "baseline",
                    direction,
                    severity,
                    sigmas,
                    profile.for_minutes_or_points,
                )
            )
            rules.append(
                Rule(
                    f"{profile.prefix}{'High' if above else 'Low'}",
                    "static",
                    direction,
                    severity,
                    quantile if above else 1 - quantile,
                    profile.for_minutes_or_points,
                )
            )
    if series.domain == "service-unavailable":  # a ticket rule for any error at all
        rules.append(Rule("ServiceUnavailableResponses", "present", "up", "info", 0.0, 1))
    generic_for = 3 if series.per_minute else 1
    rules.append(Rule("MetricAboveBaseline", "baseline", "up", "info", 3.0, generic_for))
    rules.append(Rule("MetricBelowBaseline", "baseline", "down", "info", 3.0, generic_for))
    rules.append(Rule("MetricSuddenIncrease", "step", "up", "info", STEP_SIGMAS, 1))
    rules.append(Rule("MetricSuddenDecrease", "step", "down", "info", STEP_SIGMAS, 1))
    return rules


def rolling_baseline(values: np.ndarray, window: int) -> tuple[np.ndarray, np.ndarray]:
    """Trailing median and robust sigma (1.4826 x MAD) over the ``window`` points before each point."""
    n = len(values)
    median = np.full(n, np.nan)
    sigma = np.full(n, np.nan)
    if n > window:
        windows = np.lib.stride_tricks.sliding_window_view(values, window)[:-1]
        med = np.median(windows, axis=1)
        mad = np.median(np.abs(windows - med[:, None]), axis=1)
        median[window:] = med
        sigma[window:] = 1.4826 * mad
    # a flat window (counts stuck at 0) has no spread: floor the sigma so a single 1 is not 8 sigmas
    head = values[: max(window, int(n * STATIC_FIT_SHARE))]
    floor = max(0.05 * float(np.std(head)), 1e-9)
    return median, np.maximum(np.nan_to_num(sigma, nan=np.inf), np.maximum(0.05 * np.abs(median), floor))


def episodes(condition: np.ndarray, for_points: int) -> list[tuple[int, int, int]]:
    """(active, fire, resolve) indices of each firing; resolve == len when still firing at the end."""
    out, start = [], None
    for i, holds in enumerate(np.append(condition, False)):
        if holds and start is None:
            start = i
        elif not holds and start is not None:
            if i - start >= for_points:
                out.append((start, start + for_points - 1, i))
            start = None
    return out


def incident_stretches(labels: np.ndarray) -> list[tuple[int, int]]:
    """Runs of labelled points, merged when at most MERGE_GAP steps apart: [first, last] indices."""
    stretches: list[tuple[int, int]] = []
    for i in np.flatnonzero(labels):
        if stretches and i - stretches[-1][1] <= MERGE_GAP:
            stretches[-1] = (stretches[-1][0], int(i))
        else:
            stretches.append((int(i), int(i)))
    return stretches


def _summary(series: Series, rule: Rule, value: float, reference: float) -> str:
    profile = profile_for(series)
    side = "above" if rule.direction == "up" else "below"
    if rule.kind == "static":
        return f"{profile.metric} of {series.name} is {value:.4g}, {side} its static threshold {reference:.4g}"
    if rule.kind == "present":
        return f"{value:.4g} {profile.metric} from {series.name} in the last minute"
    if rule.kind == "step":
        word = "jumped" if rule.direction == "up" else "dropped"
        return f"{profile.metric} of {series.name} {word} from {reference:.4g} to {value:.4g} in one step"
    return (
        f"{profile.metric} of {series.name} is {value:.4g}, {side} its rolling median {reference:.4g} "
        f"by more than {rule.level:g} sigma"
    )


def series_alerts(series: Series, resends: bool = True) -> list[StreamAlert]:
    values, n = series.values, len(series.values)
    if n < 10:
        return []
    window = 60 if series.per_minute else 48
    median, sigma = rolling_baseline(values, window)
    previous = np.concatenate([values[:1], values[:-1]])
    step = values - previous
    _, step_sigma = rolling_baseline(step, window)
    head = values[: max(window, int(n * STATIC_FIT_SHARE))]
    stretches = incident_stretches(series.labels)
    profile = profile_for(series)
    t0, t1 = series.times[0], series.times[-1]
    span = max((t1 - t0).total_seconds(), 1.0)
    out: list[StreamAlert] = []
    for rule in rules_for(series):
        if rule.kind in ("baseline", "step"):
            reference = median if rule.kind == "baseline" else previous
            deviation = (values - median) / sigma if rule.kind == "baseline" else step / step_sigma
            holds = np.nan_to_num(deviation if rule.direction == "up" else -deviation, nan=0.0) > rule.level
        elif rule.kind == "present":
            reference = np.zeros(n)
            holds = values > 0
        else:
            threshold = float(np.quantile(head, rule.level))
            reference = np.full(n, threshold)
            holds = values > threshold if rule.direction == "up" else values < threshold
        labels = {
            "alertname": rule.alertname,
            "service": series.domain,
            "series": series.name,
            "severity": rule.severity,
        }
        for active, fire, resolve in episodes(holds, rule.for_points):
            hit = [k for k, (a, b) in enumerate(stretches) if active <= b and a <= resolve - 1]
            # the notes say which direction experts care about: a dip during a labelled crash-rate rise is not it
            incident = f"{series.name}#{hit[0]}" if hit and rule.direction in profile.directions else None
            starts = series.times[fire]
            ends = series.times[resolve] if resolve < n else None
            summary = _summary(series, rule, float(values[fire]), float(reference[fire]))
            sends = [starts]
            while resends and sends[-1] + REPEAT_INTERVAL < (ends or t1):
                sends.append(sends[-1] + REPEAT_INTERVAL)
            for _ in sends:
                alert = LabelledAlert(
                    status="resolved" if ends else "firing",
                    labels=labels,
                    annotations={"summary": summary},
                    startsAt=starts,
                    endsAt=ends,
                    actionable=incident is not None,
                )
                position = (starts - t0).total_seconds() / span
                wrong = rule.direction not in profile.directions
                out.append(StreamAlert(alert, incident, series.domain, series.name, position, t0, span, wrong))
    return out


def convert(root: Path, resends: bool = True) -> tuple[list[StreamAlert], dict[str, int]]:
    """Every alert of every series under ``root`` (sorted paths, so deterministic), and the number of
    labelled incidents per domain (whether or not any rule caught them)."""
    data = root / "data" if (root / "data").is_dir() else root
    alerts: list[StreamAlert] = []
    incidents: dict[str, int] = defaultdict(int)
    for path in sorted(data.glob("*/*.csv")):
        series = read_series(path)
        incidents[series.domain] += len(incident_stretches(series.labels))
        alerts.extend(series_alerts(series, resends))
    alerts.sort(key=lambda s: (s.alert.startsAt, s.domain, s.series, s.alert.alertname, s.alert.labels["severity"]))
    return alerts, dict(incidents)


def _summary_line(label: str, rows: list[StreamAlert], incidents: int) -> str:
    actionable = sum(r.alert.actionable for r in rows)
    names = {r.alert.alertname for r in rows}
    acted = {r.alert.alertname for r in rows if r.alert.actionable}
    return (
        f"{label:<36} {len(rows):>7} {len({r.alert.occurrence for r in rows}):>7} {actionable:>8} "
        f"{actionable / max(len(rows), 1):>7.1%} {len({r.incident for r in rows if r.incident}):>5}/{incidents:<5} "
        f"{len(names):>6} {len(acted):>9}"
    )


def print_summary(alerts: list[StreamAlert], incidents: dict[str, int]) -> None:
    print(
        f"{'domain':<36} {'alerts':>7} {'occur.':>7} {'action.':>8} {'share':>7} {'incid. hit':>11} "
        f"{'names':>6} {'ever act.':>9}"
    )
    for domain in sorted({r.domain for r in alerts} | set(incidents)):
        print(_summary_line(domain, [r for r in alerts if r.domain == domain], incidents.get(domain, 0)))
    print(_summary_line("total", alerts, sum(incidents.values())))
    names, fps = ({r.alert.alertname for r in alerts}, {r.alert.fingerprint for r in alerts})
    acted_names = {r.alert.alertname for r in alerts if r.alert.actionable}
    acted_fps = {r.alert.fingerprint for r in alerts if r.alert.actionable}
    print(
        f"never actionable: {len(names - acted_names)}/{len(names)} alert names, "
        f"{len(fps - acted_fps)}/{len(fps)} fingerprints"
    )


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("root", type=Path, help="the cloud-monitoring-dataset folder")
    parser.add_argument("--summary", action="store_true", help="print alerts, actionable share, incidents per domain")
    parser.add_argument("--no-resends", action="store_true", help="one row per occurrence, no repeat_interval rows")
    args = parser.parse_args()
    alerts, incidents = convert(args.root, resends=not args.no_resends)
    if args.summary:
        print_summary(alerts, incidents)
    else:
        for row in alerts:
            print(row.alert.model_dump_json())


if __name__ == "__main__":
    main()
