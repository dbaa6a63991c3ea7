"""Scoring: alerts in, decisions out, in the steps that serving spreads over deployments.

``StreamContext.rows`` gives the stateful stream features (the Serve router holds one), a ``TextLookup``
the per-text features (``text_features``), and the stateless ``decider.Decider`` the decisions; the incident
guard and the live-safety watch then see them, as the Serve router's do. ``Scorer`` runs all of it in
process over one model bundle, as `alertsieve score`, offline evaluation and the benchmarks do. Decisions fail open: an unknown service or any error gives "page".
"""

from __future__ import annotations

from collections import OrderedDict
from collections.abc import Sequence

import numpy as np

from alertsieve.bundle import ModelBundle
from alertsieve.context import FEATURE_NAMES, StreamState, time_order
from alertsieve.contracts import Arm, OccurrenceKey
from alertsieve.decider import Decider, fail_open
from alertsieve.embedding import EmbeddingCache
from alertsieve.incidents import IncidentGuard
from alertsieve.live_safety import Expectations, LiveSafety
from alertsieve.schema import Alert, Decision
from alertsieve.text_features import LocalTextLookup


class StreamContext:
    """Context rows for alerts as they arrive, from one stream state.

    Alerts of a batch are fed to the stream in startsAt order; rows come back in input order. A repeat
    of an occurrence already seen (Alertmanager re-sends firing alerts) gets the row it had the first
    time, so its decision does not flip.
    """

    def __init__(self, state: StreamState, remember: int = 100_000) -> None:
        self.state = state
        self.remember = remember
        self._seen: OrderedDict[OccurrenceKey, np.ndarray] = OrderedDict()

    def rows(self, alerts: Sequence[Alert]) -> np.ndarray:
        rows = np.zeros((len(alerts), len(FEATURE_NAMES)), dtype=np.float32)
        for i in time_order(alerts):
            alert = alerts[i]
            key = alert.occurrence.key
            if key in self._seen:
                rows[i] = self._seen[key]
                self.state.observe(alert)
                continue
            rows[i] = self.state.score_then_observe(alert)
            self._seen[key] = rows[i]
            if len(self._seen) > self.remember:
                self._seen.popitem(last=False)
        return rows

    @property
    def remembered(self) -> int:
        """How many occurrences' rows are remembered (at most ``remember``)."""
        return len(self._seen)

    def remembered_rows(self, limit: int) -> list[tuple[tuple[str, float], np.ndarray]]:
        """The rows of the ``limit`` occurrences seen last, oldest first (to carry them over a restart)."""
        if limit <= 0:
            return []
        newest = []
        for item in reversed(self._seen.items()):
            newest.append(item)
            if len(newest) >= limit:
                break
        return newest[::-1]

    def restore_rows(self, items: Sequence[tuple[tuple[str, float], np.ndarray]]) -> None:
        """Rows remembered before a restart: a resend of those occurrences gets the row it had then."""
        for key, row in items:
            self._seen[key] = np.asarray(row, dtype=np.float32)
        while len(self._seen) > self.remember:
            self._seen.popitem(last=False)


class Scorer:
    """Scores alerts with one model bundle in process, keeping the stream state and the per-text features
    between calls."""

    def __init__(self, bundle: ModelBundle, cache: EmbeddingCache | None, state: StreamState | None = None) -> None:
        self.bundle = bundle
        self.cache = cache
        self.stream = StreamContext(state or StreamState.from_snapshot(bundle.meta.stream))
        self.decider = Decider(bundle)
        features = bundle.meta.features
        self.incidents = IncidentGuard(bundle.meta.policy.params, features.instance_labels, features.service_labels)
        meta = bundle.meta
        self.safety = LiveSafety(Expectations.of(bundle.version, meta.validation, meta.policy))
        self.lookup = LocalTextLookup(bundle.index, cache)

    @property
    def version(self) -> str:
        return self.bundle.version

    def service_of(self, alert: Alert) -> str:
        return self.decider.service_of(alert)

    def texts(self, alerts: Sequence[Alert]) -> list[str]:
        return self.decider.featurizer.texts(alerts)

    def _decide(self, alerts: Sequence[Alert], arm: Arm = Arm.CHAMPION) -> list[Decision]:
        context_rows = self.stream.rows(alerts)
        text_rows = self.lookup.lookup(self.texts(alerts))
        decisions = self.incidents.apply(alerts, self.decider.decide(alerts, context_rows, text_rows, arm))
        return self.safety.watch(decisions)[0]

    def score(self, alerts: Sequence[Alert], arm: Arm = Arm.CHAMPION) -> list[Decision]:
        """All steps in process; any failure pages every alert of the batch."""
        try:
            return self._decide(alerts, arm)
        except Exception as exc:  # noqa: BLE001 - fail open on anything
            return [fail_open(a, self.service_of(a), self.version, type(exc).__name__, arm) for a in alerts]

    def decide_stream(self, alerts: Sequence[Alert], chunk: int = 512) -> list[Decision]:
        """Decisions in input order for a recorded stream, fed in startsAt order in chunks, without
        failing open (for offline evaluation, where an error must surface, not page)."""
        order = time_order(alerts)
        out: list[Decision | None] = [None] * len(alerts)
        for start in range(0, len(order), chunk):
            idx = order[start : start + chunk]
            decided = self._decide([alerts[i] for i in idx])
            for i, decision in zip(idx, decided, strict=True):
                out[i] = decision
        return [d for d in out if d is not None]
