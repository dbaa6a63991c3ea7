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

import numpy as np
from pydantic import BaseModel

from alertsieve.context_vector import HISTORY_S, SHORT_FIRE_S, context_vector
from alertsieve.schema import DEFAULT_SERVICE_LABELS, Alert
from alertsieve.seen import DEFAULT_CAPACITY, SeenSet
from alertsieve.windows import HOUR, Event, Times, Windows

FEATURE_NAMES: tuple[str, ...] = (
    "severity",
    "severity_missing",
    "hour_sin",
    "hour_cos",
    "weekday_sin",
    "weekday_cos",
    "weekend",
    "fp_seen",
    "fp_fires_1h",
    "fp_fires_24h",
    "fp_fires_7d",
    "fp_gap",
    "fp_short_fires_24h",
    "fp_open",
    "name_seen",
    "name_service_seen",
    "name_fires_1h",
    "name_fires_24h",
    "name_fires_7d",
    "name_service_same_time_days",
    "svc_alerts_5m",
    "svc_alerts_30m",
    "svc_names_30m",
    "svc_novel_30m",
    "all_alerts_5m",
    "all_alerts_30m",
    "all_services_15m",
    "all_novel_30m",
    "same_name_peers_5m",
    "inst_name_seen",
    "inst_alerts_5m",
    "all_novel_5m",
    "env_novel_5m",
    "env_novel_60m",
)
INSTANCE_LABELS = ("instance", "host", "hostname", "node", "pod", "ip")


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
        self.capacity = capacity
        self.recent: deque[Event] = deque()  # the last week of occurrences, at most ``capacity`` of them
        self.windows = Windows()  # the last 5, 15, 30 and 60 minutes of them, as running counts
        self.envs: dict[tuple[str, float], str] = {}  # environment of each occurrence in ``recent``
        self.seen_inst_names = SeenSet(capacity=capacity)
        self.fp_times: defaultdict[str, Times] = defaultdict(Times)
        self.name_times: defaultdict[str, Times] = defaultdict(Times)
        self.name_svc_times: defaultdict[str, Times] = defaultdict(Times)
        self.fp_short: defaultdict[str, Times] = defaultdict(Times)
        self.open_fps: dict[str, float] = {}
        self.seen_fps = SeenSet(capacity=capacity)
        self.seen_names = SeenSet(capacity=capacity)
        self.seen_name_svc = SeenSet(capacity=capacity)
        self.occurrences: dict[tuple[str, float], float | None] = {}
        self.ends: list[tuple[float, str, float]] = []  # heap of (end, fp, start) not yet applied
        self.now = 0.0
        self.floor = -math.inf  # the oldest time still remembered, once more than ``capacity`` occurred
        self.pruned_at = 0.0

    # ---- updating -------------------------------------------------------------------------------
    def advance(self, now: float) -> None:
        """Apply the resolutions that happened up to ``now`` and forget what is older than a week (or
        than the oldest of the last ``capacity`` occurrences, on a stream busier than that)."""
        self.now = max(self.now, now)
        while self.ends and self.ends[0][0] <= self.now:
            end, fp, start = heapq.heappop(self.ends)
            self._resolved(fp, start, end)
        while len(self.recent) > self.capacity:
            self.floor = self.recent[1].t
            self._forget_oldest()
        self.windows.advance(self.now, self.floor)  # bounded by the memory too, not only by the hour
        horizon = self.horizon
        while self.recent and self.recent[0].t < horizon:
            self._forget_oldest()
        # trimming every table is costly: once an hour of stream, or once the stream outgrew the memory twice
        if self.now - self.pruned_at >= HOUR or len(self.occurrences) > 2 * self.capacity:
            self.pruned_at = self.now
            for table in (self.fp_times, self.name_times, self.name_svc_times, self.fp_short):
                for key in list(table):
                    table[key].trim(horizon)
                    if not table[key]:
                        del table[key]
            self.occurrences = {k: v for k, v in self.occurrences.items() if k[1] >= horizon}
            self.open_fps = {fp: start for fp, start in self.open_fps.items() if start >= horizon}

    @property
    def horizon(self) -> float:
        """The oldest time the features count: a week back, or the floor on a very busy stream."""
        return max(self.now - HISTORY_S, self.floor)

    def _forget_oldest(self) -> None:
        event = self.recent.popleft()
        self.envs.pop((event.fingerprint, event.t), None)

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
        start = alert.startsAt.timestamp()
        key = (alert.fingerprint, start)
        end = alert.endsAt.timestamp() if alert.endsAt else None
        if key in self.occurrences:
            if end is not None and self.occurrences[key] is None:
                self.occurrences[key] = end
                heapq.heappush(self.ends, (end, alert.fingerprint, start))
            return False
        self.advance(start)
        fp, name, svc = alert.fingerprint, alert.alertname, alert.service(self.service_labels)
        novel, inst, env = fp not in self.seen_fps, self.instance_of(alert), self.environment_of(alert)
        event = Event(start, fp, name, svc, novel, inst)
        self.recent.append(event)
        self.windows.add(event, env)
        self.envs[(fp, start)] = env
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
    def score_then_observe(self, alert: Alert) -> np.ndarray:
        """Features as of just before the alert, then record it (repeats reuse the first features)."""
        vector = context_vector(self, alert)
        self.observe(alert)
        return vector

    # ---- persistence ----------------------------------------------------------------------------
    def frozen(self) -> StreamState:
        """A copy of what ``snapshot`` reads, made of container copies only (cheap), so a live state can
        be copied on its writer's thread and snapshotted on another."""
        twin = StreamState(self.service_labels, self.environment_labels, self.seen_fps.capacity)
        twin.recent, twin.envs, twin.occurrences = self.recent.copy(), self.envs.copy(), self.occurrences.copy()
        twin.seen_fps, twin.seen_names = self.seen_fps.copy(), self.seen_names.copy()
        twin.seen_name_svc, twin.seen_inst_names = self.seen_name_svc.copy(), self.seen_inst_names.copy()
        twin.now = self.now
        return twin

    def snapshot(self) -> StreamSnapshot:
        ends = {(fp, s): e for (fp, s), e in self.occurrences.items()}
        return StreamSnapshot(
            service_labels=self.service_labels,
            environment_labels=self.environment_labels,
            recent=[
                (
                    e.t,
                    e.fingerprint,
                    e.name,
                    e.service,
                    e.novel,
                    ends.get((e.fingerprint, e.t)),
                    e.instance,
                    self.envs.get((e.fingerprint, e.t), ""),
                )
                for e in self.recent
            ],
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
            event = Event(t, fp, name, svc, novel, inst)
            state.recent.append(event)
            state.windows.add(event, env)  # the windows' clock is still 0: advance() below lets go of the old
            state.envs[(fp, t)] = env
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
