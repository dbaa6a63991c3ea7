"""Context features computed online from the alert stream: severity, time, rhythm, novelty, company.

These are the signals that carry over between alert streams (see DOMAIN.md): how often the same
fingerprint and alert name fired recently and how long ago, flapping, whether this alert was ever seen
here before, and how many other (and how many unfamiliar) alerts fire at the same time in the same
service and across services. ``StreamState`` keeps just enough of the recent stream to compute them;
training replays history through it in time order and serving feeds it live, so both see the same
features. An alert's own endsAt is never used: a firing alert has none yet.
"""

from __future__ import annotations

import heapq
import math
from collections import defaultdict, deque
from collections.abc import Iterable, Sequence
from datetime import datetime

import numpy as np
from pydantic import BaseModel

from alertsieve.schema import DEFAULT_SERVICE_LABELS, Alert
from alertsieve.seen import DEFAULT_CAPACITY, SeenSet

MINUTE, HOUR, DAY = 60.0, 3600.0, 86400.0
HISTORY_S = 7 * DAY
SHORT_FIRE_S = 15 * MINUTE
MAX_GAP_H = 30 * 24.0

SEVERITY_LEVELS: dict[str, float] = {
    "critical": 1.0, "page": 1.0, "emergency": 1.0, "fatal": 1.0, "high": 1.0, "error": 1.0, "p1": 1.0,
    "p2": 0.75, "major": 0.75, "warning": 0.5, "warn": 0.5, "medium": 0.5, "p3": 0.5, "minor": 0.25,
    "low": 0.25, "p4": 0.25, "info": 0.0, "informational": 0.0, "none": 0.0, "notice": 0.0, "p5": 0.0,
}  # fmt: skip
SEVERITY_LABELS = ("severity", "priority", "level")

FEATURE_NAMES: tuple[str, ...] = (
    "severity", "severity_missing", "hour_sin", "hour_cos", "weekday_sin", "weekday_cos", "weekend",
    "fp_seen", "fp_fires_1h", "fp_fires_24h", "fp_fires_7d", "fp_gap", "fp_short_fires_24h", "fp_open",
    "name_seen", "name_service_seen", "name_fires_1h", "name_fires_24h", "name_fires_7d",
    "name_service_same_time_days", "svc_alerts_5m", "svc_alerts_30m", "svc_names_30m", "svc_novel_30m",
    "all_alerts_5m", "all_alerts_30m", "all_services_15m", "all_novel_30m", "same_name_peers_5m",
    "inst_name_seen", "inst_alerts_5m", "all_novel_5m", "env_novel_5m", "env_novel_60m",
)  # fmt: skip
INSTANCE_LABELS = ("instance", "host", "hostname", "node", "pod", "ip")


def severity_level(labels: dict[str, str]) -> float | None:
    for key in SEVERITY_LABELS:
        if key in labels:
            return SEVERITY_LEVELS.get(labels[key].strip().lower())
    return None


def _ts(value: datetime) -> float:
    return value.timestamp()


def _count_since(times: deque[float], since: float) -> int:
    count = 0
    for t in reversed(times):  # times are appended in order: stop at the first older one
        if t < since:
            break
        count += 1
    return count


def _count_since_oldest(times: deque[float], since: float) -> int:
    """Like _count_since, for windows that reach back to the oldest entries: skips the few stale ones."""
    stale = 0
    for t in times:
        if t >= since:
            break
        stale += 1
    return len(times) - stale


class StreamSnapshot(BaseModel):
    """What a trained model keeps of the stream it was trained on, to warm up a fresh StreamState."""

    service_labels: tuple[str, ...] = DEFAULT_SERVICE_LABELS
    environment_labels: tuple[str, ...] = ()
    recent: list[tuple[float, str, str, str, bool, float | None, str, str]] = []  # t fp name svc novel end inst env
    seen_fingerprints: list[str] = []
    seen_instance_names: list[str] = []
    seen_names: list[str] = []
    seen_name_services: list[str] = []


class StreamState:
    """The recent alert stream, one occurrence (fingerprint, startsAt) counted once."""

    def __init__(
        self,
        service_labels: Sequence[str] = DEFAULT_SERVICE_LABELS,
        environment_labels: Sequence[str] = (),
        capacity: int = DEFAULT_CAPACITY,
    ) -> None:
        """``capacity``: how many fingerprints, alert names per host and per service each "seen" table keeps."""
        self.service_labels = tuple(service_labels)
        self.environment_labels = tuple(environment_labels)
        self.recent: deque[tuple[float, str, str, str, bool, str]] = deque()  # t, fp, name, svc, novel, instance
        self.novel_recent: deque[tuple[float, str]] = deque()  # t, environment of first-ever fingerprints
        self.envs: dict[tuple[str, float], str] = {}  # environment of each occurrence in ``recent``
        self.seen_inst_names = SeenSet(capacity=capacity)
        self.fp_times: dict[str, deque[float]] = defaultdict(deque)
        self.name_times: dict[str, deque[float]] = defaultdict(deque)
        self.name_svc_times: dict[str, deque[float]] = defaultdict(deque)
        self.fp_short: dict[str, deque[float]] = defaultdict(deque)
        self.open_fps: dict[str, float] = {}
        self.seen_fps = SeenSet(capacity=capacity)
        self.seen_names = SeenSet(capacity=capacity)
        self.seen_name_svc = SeenSet(capacity=capacity)
        self.occurrences: dict[tuple[str, float], float | None] = {}
        self.ends: list[tuple[float, str, float]] = []  # heap of (end, fp, start) not yet applied
        self.now = 0.0
        self.pruned_at = 0.0

    # ---- updating -------------------------------------------------------------------------------
    def advance(self, now: float) -> None:
        """Apply the resolutions that happened up to ``now`` and forget what is older than a week."""
        self.now = max(self.now, now)
        while self.ends and self.ends[0][0] <= self.now:
            end, fp, start = heapq.heappop(self.ends)
            self._resolved(fp, start, end)
        horizon = self.now - HISTORY_S
        while self.recent and self.recent[0][0] < horizon:
            t, fp = self.recent.popleft()[:2]
            self.envs.pop((fp, t), None)
        while self.novel_recent and self.novel_recent[0][0] < self.now - HOUR:
            self.novel_recent.popleft()
        if self.now - self.pruned_at >= HOUR:  # trimming every table is costly: once an hour of stream
            self.pruned_at = self.now
            for table in (self.fp_times, self.name_times, self.name_svc_times, self.fp_short):
                for key in list(table):
                    queue = table[key]
                    while queue and queue[0] < horizon:
                        queue.popleft()
                    if not queue:
                        del table[key]
            self.occurrences = {k: v for k, v in self.occurrences.items() if k[1] >= horizon}

    def instance_of(self, alert: Alert) -> str:
        """The first present instance-like label: the host or target that fired."""
        return next((alert.labels[k] for k in INSTANCE_LABELS if alert.labels.get(k)), "")

    def environment_of(self, alert: Alert) -> str:
        return "\x1f".join(alert.labels.get(k, "") for k in self.environment_labels)

    def _resolved(self, fp: str, start: float, end: float) -> None:
        if self.open_fps.get(fp) == start:
            del self.open_fps[fp]
        if end - start < SHORT_FIRE_S:
            self.fp_short[fp].append(end)

    def observe(self, alert: Alert) -> bool:
        """Record one alert; returns False for a repeat of an occurrence already seen."""
        start = _ts(alert.startsAt)
        key = (alert.fingerprint, start)
        end = _ts(alert.endsAt) if alert.endsAt else None
        if key in self.occurrences:
            if end is not None and self.occurrences[key] is None:
                self.occurrences[key] = end
                heapq.heappush(self.ends, (end, alert.fingerprint, start))
            return False
        self.advance(start)
        fp, name, svc = alert.fingerprint, alert.alertname, alert.service(self.service_labels)
        novel, inst, env = fp not in self.seen_fps, self.instance_of(alert), self.environment_of(alert)
        self.recent.append((start, fp, name, svc, novel, inst))
        self.envs[(fp, start)] = env
        if novel:
            self.novel_recent.append((start, env))
        if inst:
            self.seen_inst_names.add(f"{name}\x1f{inst}")
        self.fp_times[fp].append(start)
        self.name_times[name].append(start)
        self.name_svc_times[f"{name}\x1f{svc}"].append(start)
        self.open_fps[fp] = start
        self.seen_fps.add(fp)
        self.seen_names.add(name)
        self.seen_name_svc.add(f"{name}\x1f{svc}")
        self.occurrences[key] = end
        if end is not None:
            heapq.heappush(self.ends, (end, fp, start))
        return True

    # ---- reading --------------------------------------------------------------------------------
    def features(self, alert: Alert) -> np.ndarray:
        """The context vector of ``alert`` given everything observed before it (FEATURE_NAMES order)."""
        now = _ts(alert.startsAt)
        self.advance(now)
        # Tables are trimmed lazily (hourly): count only the week kept in ``recent`` and in snapshots.
        horizon = self.now - HISTORY_S
        fp, name, svc = alert.fingerprint, alert.alertname, alert.service(self.service_labels)
        name_svc = f"{name}\x1f{svc}"
        level = severity_level(alert.labels)
        when = alert.startsAt
        hour = (when.hour + when.minute / 60.0) * 2 * math.pi / 24
        weekday = when.weekday() * 2 * math.pi / 7
        fp_times = self.fp_times.get(fp, deque())
        last = fp_times[-1] if fp_times and fp_times[-1] >= horizon else None
        gap_h = MAX_GAP_H if last is None else min(MAX_GAP_H, max(0.0, now - last) / HOUR)
        name_times = self.name_times.get(name, deque())
        same_time_days = {
            int((now - t) // DAY)
            for t in self.name_svc_times.get(name_svc, deque())
            if t >= horizon and now - t >= 20 * HOUR and ((now - t) % DAY < HOUR or (now - t) % DAY > DAY - HOUR)
        }
        inst, env = self.instance_of(alert), self.environment_of(alert)
        svc_5m, svc_30m, svc_names, svc_novel = set(), set(), set(), set()
        all_5m, all_30m, services_15m, novel_30m, peers = set(), set(), set(), set(), set()
        inst_5m, novel_5m = set(), set()
        for t, rfp, rname, rsvc, rnovel, rinst in reversed(self.recent):
            age = now - t
            if age > 30 * MINUTE:
                break
            all_30m.add(rfp)
            if rnovel:
                novel_30m.add(rfp)
            if age <= 15 * MINUTE:
                services_15m.add(rsvc)
            if age <= 5 * MINUTE:
                all_5m.add(rfp)
                if rnovel:
                    novel_5m.add(rfp)
                if inst and rinst == inst:
                    inst_5m.add(rfp)
                if rname == name and rsvc == svc and rfp != fp:
                    peers.add(rfp)
            if rsvc == svc:
                svc_30m.add(rfp)
                svc_names.add(rname)
                if rnovel:
                    svc_novel.add(rfp)
                if age <= 5 * MINUTE:
                    svc_5m.add(rfp)
        env_novel_5m = sum(1 for t, e in self.novel_recent if e == env and now - t <= 5 * MINUTE)
        env_novel_60m = sum(1 for t, e in self.novel_recent if e == env and now - t <= HOUR)
        log = math.log1p
        return np.array(
            [
                0.5 if level is None else level, float(level is None),
                math.sin(hour), math.cos(hour), math.sin(weekday), math.cos(weekday), float(when.weekday() >= 5),
                float(fp in self.seen_fps), log(_count_since(fp_times, now - HOUR)),
                log(_count_since(fp_times, now - DAY)), log(_count_since_oldest(fp_times, horizon)),
                log(gap_h) / log(MAX_GAP_H), log(_count_since(self.fp_short.get(fp, deque()), now - DAY)),
                float(self.open_fps.get(fp, -math.inf) >= horizon),
                float(name in self.seen_names), float(name_svc in self.seen_name_svc),
                log(_count_since(name_times, now - HOUR)), log(_count_since(name_times, now - DAY)),
                log(_count_since_oldest(name_times, horizon)), log(len(same_time_days)),
                log(len(svc_5m)), log(len(svc_30m)), log(len(svc_names)), log(len(svc_novel)),
                log(len(all_5m)), log(len(all_30m)), log(len(services_15m)), log(len(novel_30m)), log(len(peers)),
                float(not inst or f"{name}\x1f{inst}" in self.seen_inst_names), log(len(inst_5m)),
                log(len(novel_5m)), log(env_novel_5m), log(env_novel_60m),
            ],
            dtype=np.float32,
        )  # fmt: skip

    def score_then_observe(self, alert: Alert) -> np.ndarray:
        """Features as of just before the alert, then record it (repeats reuse the first features)."""
        vector = self.features(alert)
        self.observe(alert)
        return vector

    # ---- persistence ----------------------------------------------------------------------------
    def snapshot(self) -> StreamSnapshot:
        ends = {(fp, s): e for (fp, s), e in self.occurrences.items()}
        return StreamSnapshot(
            service_labels=self.service_labels,
            environment_labels=self.environment_labels,
            recent=[
                (t, fp, n, s, nov, ends.get((fp, t)), inst, self.envs.get((fp, t), ""))
                for t, fp, n, s, nov, inst in self.recent
            ],  # fmt: skip
            seen_fingerprints=list(self.seen_fps),
            seen_instance_names=list(self.seen_inst_names),
            seen_names=list(self.seen_names),
            seen_name_services=list(self.seen_name_svc),
        )

    @classmethod
    def from_snapshot(cls, snap: StreamSnapshot, capacity: int = DEFAULT_CAPACITY) -> StreamState:
        state = cls(snap.service_labels, snap.environment_labels, capacity)
        for t, fp, name, svc, novel, end, inst, env in snap.recent:
            state.now = max(state.now, t)
            state.recent.append((t, fp, name, svc, novel, inst))
            state.envs[(fp, t)] = env
            if novel:
                state.novel_recent.append((t, env))
            state.fp_times[fp].append(t)
            state.name_times[name].append(t)
            state.name_svc_times[f"{name}\x1f{svc}"].append(t)
            state.open_fps[fp] = t
            state.occurrences[(fp, t)] = end
            if end is not None:
                heapq.heappush(state.ends, (end, fp, t))
        state.seen_fps = SeenSet(snap.seen_fingerprints, capacity)
        state.seen_names = SeenSet(snap.seen_names, capacity)
        state.seen_name_svc = SeenSet(snap.seen_name_services, capacity)
        state.seen_inst_names = SeenSet(snap.seen_instance_names, capacity)
        state.advance(state.now)
        return state


def replay(alerts: Iterable[Alert], state: StreamState | None = None) -> tuple[np.ndarray, StreamState]:
    """Context features for alerts in the given order (sort by startsAt first), and the final state."""
    state = state or StreamState()
    rows = [state.score_then_observe(alert) for alert in alerts]
    matrix = np.vstack(rows) if rows else np.zeros((0, len(FEATURE_NAMES)), dtype=np.float32)
    return matrix, state


def time_order(alerts: Sequence[Alert]) -> list[int]:
    """Indices that put alerts in startsAt order, ties kept in input order."""
    return sorted(range(len(alerts)), key=lambda i: (alerts[i].startsAt, i))
