"""Scoring: alerts in, decisions out, through the one featurisation path and the decision policy.

``Scorer`` is split into the steps that serving spreads over deployments: ``StreamContext.rows``
(stateful stream features), then the per-text features (``TextFeatures``: remembered per text; what is
pending is embedded and looked up in process here, by the Embedder and NeighbourLookup deployments in
serve_app), then ``decide``. ``score`` runs all steps in process, as `alertsieve score` does. Decisions fail open:
an unknown service or any error gives "page".
"""

from __future__ import annotations

from collections import OrderedDict
from collections.abc import Mapping, Sequence
from datetime import UTC, datetime

import numpy as np

from alertsieve.bundle import ModelBundle
from alertsieve.context import FEATURE_NAMES, StreamState, time_order
from alertsieve.contracts import Arm, OccurrenceKey
from alertsieve.embedding import EmbeddingCache
from alertsieve.featurize import dense_rows, identities_of, model_inputs, texts_of
from alertsieve.override_scope import Overrides
from alertsieve.policy import decide
from alertsieve.schema import Alert, Decision, Neighbour, Reason
from alertsieve.text_features import TextFeatures, TextRows


def fail_open(alert: Alert, service: str, model_version: str, reason: str, arm: Arm = Arm.CHAMPION) -> Decision:
    """The decision when we cannot decide: page."""
    return Decision(
        fingerprint=alert.fingerprint,
        service=service,
        score=1.0,
        threshold=0.0,
        decision="page",
        model_version=model_version,
        reason=f"fail-open: {reason}",
        reason_code=Reason.FAIL_OPEN,
        arm=arm,
        startsAt=alert.startsAt,
    )


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
    """Scores alerts with one model bundle, keeping the stream state between calls."""

    def __init__(self, bundle: ModelBundle, cache: EmbeddingCache | None, state: StreamState | None = None) -> None:
        self.bundle = bundle
        self.cache = cache
        self.stream = StreamContext(state or StreamState.from_snapshot(bundle.meta.stream))
        self.text_features = TextFeatures(bundle.index)
        self._novel: OrderedDict[str, bool] = OrderedDict()  # canonical text -> novel (identity never seen)

    @property
    def version(self) -> str:
        return self.bundle.version

    def service_of(self, alert: Alert) -> str:
        return alert.service(self.bundle.meta.features.service_labels)

    def texts(self, alerts: Sequence[Alert]) -> list[str]:
        return texts_of(alerts, self.bundle.meta.features)

    def novel(self, alert: Alert, text: str) -> bool:
        """Whether the model never saw this alert's identity; remembered by canonical text (the identity is
        a function of it: the same labels and summary, less instance and environment labels)."""
        found = self._novel.get(text)
        if found is None:
            found = self.bundle.is_novel(identities_of([alert], self.bundle.meta.features)[0])
            self._novel[text] = found
            if len(self._novel) > self.text_features.capacity:
                self._novel.popitem(last=False)
        return found

    def text_rows(self, texts: Sequence[str]) -> TextRows:
        """Per-text features, embedding (through the cache) and searching in process what is pending."""
        pending = self.text_features.pending(texts)
        if pending.lookup:
            embedded = None
            if pending.embed:
                if self.cache is None:
                    raise RuntimeError("this scorer has no embedding cache")
                embedded = self.cache.embed(pending.embed)
            vectors = self.text_features.vectors(pending, embedded)
            self.text_features.remember(pending.lookup, vectors, *self.bundle.index.features(vectors))
        return self.text_features.rows(texts)

    def decide(
        self,
        alerts: Sequence[Alert],
        context_rows: np.ndarray,
        text_rows: TextRows,
        texts: Sequence[str],
        arm: Arm = Arm.CHAMPION,
        overrides: Overrides | Mapping[str, float] | None = None,
    ) -> list[Decision]:
        """Decisions for scored alerts under the policy; ``overrides`` (scoped by each alert's labels,
        expired by the wall clock now) and the page-everything switch on top."""
        meta = self.bundle.meta
        rules, now = Overrides.of(overrides), datetime.now(UTC)
        novel = [self.novel(alert, text) for alert, text in zip(alerts, texts, strict=True)]
        dense = dense_rows(meta.features, context_rows, text_rows.neighbour_rows)
        inputs = model_inputs(meta.features, meta.scaler, dense, text_rows.embeddings)
        scores = self.bundle.predict(*inputs)
        decisions = []
        for i, alert in enumerate(alerts):
            service = self.service_of(alert)
            score = float(np.clip(scores[i], 0.0, 1.0))
            if not np.isfinite(score):
                decisions.append(fail_open(alert, service, self.version, "non-finite score", arm))
                continue
            ruling = decide(score, service, meta.policy, rules, novel[i], alert.labels, now)
            neighbours: list[Neighbour] = self.bundle.index.explain(text_rows.sims[i], text_rows.ids[i])
            decisions.append(
                Decision(
                    fingerprint=alert.fingerprint,
                    service=service,
                    score=score,
                    threshold=ruling.threshold,
                    decision=ruling.decision,
                    model_version=self.version,
                    neighbours=neighbours,
                    reason=ruling.text,
                    reason_code=ruling.reason,
                    arm=arm,
                    startsAt=alert.startsAt,
                )
            )
        return decisions

    def score(self, alerts: Sequence[Alert], arm: Arm = Arm.CHAMPION) -> list[Decision]:
        """All steps in process; any failure pages every alert of the batch."""
        try:
            context_rows = self.stream.rows(alerts)
            texts = self.texts(alerts)
            return self.decide(alerts, context_rows, self.text_rows(texts), texts, arm)
        except Exception as exc:  # noqa: BLE001 - fail open on anything
            return [fail_open(a, self.service_of(a), self.version, type(exc).__name__, arm) for a in alerts]

    def decide_stream(self, alerts: Sequence[Alert], chunk: int = 512) -> list[Decision]:
        """Decisions in input order for a recorded stream, fed in startsAt order in chunks, without
        failing open (for offline evaluation, where an error must surface, not page)."""
        order = time_order(alerts)
        out: list[Decision | None] = [None] * len(alerts)
        for start in range(0, len(order), chunk):
            idx = order[start : start + chunk]
            batch = [alerts[i] for i in idx]
            context_rows = self.stream.rows(batch)
            texts = self.texts(batch)
            decided = self.decide(batch, context_rows, self.text_rows(texts), texts)
            for i, decision in zip(idx, decided, strict=True):
                out[i] = decision
        return [d for d in out if d is not None]
