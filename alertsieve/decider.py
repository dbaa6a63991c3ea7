"""Deciding: one model's decisions for alerts whose features are at hand, under the decision policy.

A ``Decider`` holds no stream: given alerts, their context rows (a ``StreamContext``'s) and their per-text
features (a ``TextLookup``'s), it scores them through the model's ``Featurizer`` and classifier and decides
each under the thresholds, the threshold overrides and the page-everything switch. An alert the model never
saw (by its identity) pages; whether it did is worked out once per canonical text and remembered (the
identity is a function of the text: its labels and summary less instance and environment labels), so the
same inputs always give the same decisions. Decisions fail open: a non-finite score pages, and
``fail_open`` is the decision when nothing can be decided.
"""

from __future__ import annotations

from collections import OrderedDict
from collections.abc import Mapping, Sequence
from datetime import UTC, datetime

import numpy as np

from alertsieve.bundle import ModelBundle
from alertsieve.contracts import Arm
from alertsieve.featurizer import Featurizer
from alertsieve.override_scope import Overrides
from alertsieve.policy import decide
from alertsieve.schema import Alert, Decision, Neighbour, Reason
from alertsieve.text_features import TextRows


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


class Decider:
    """Decisions of one model bundle (no stream state: the same inputs give the same decisions)."""

    def __init__(self, bundle: ModelBundle, featurizer: Featurizer | None = None, capacity: int = 50_000) -> None:
        self.bundle = bundle
        self.featurizer = featurizer or Featurizer.of(bundle)
        self.capacity = capacity
        self._novel: OrderedDict[str, bool] = OrderedDict()  # canonical text -> its identity is novel

    @property
    def version(self) -> str:
        return self.bundle.version

    def service_of(self, alert: Alert) -> str:
        return alert.service(self.featurizer.config.service_labels)

    def novel(self, alerts: Sequence[Alert], texts: Sequence[str]) -> list[bool]:
        """Per alert (with its canonical text): whether the model never saw its identity (the policy pages it)."""
        out = []
        for alert, text in zip(alerts, texts, strict=True):
            found = self._novel.get(text)
            if found is None:
                found = self.bundle.is_novel(self.featurizer.identities([alert])[0])
                self._novel[text] = found
                if len(self._novel) > self.capacity:
                    self._novel.popitem(last=False)
            out.append(found)
        return out

    def decide(
        self,
        alerts: Sequence[Alert],
        context_rows: np.ndarray,
        text_rows: TextRows,
        arm: Arm = Arm.CHAMPION,
        overrides: Overrides | Mapping[str, float] | None = None,
    ) -> list[Decision]:
        """Decisions in input order; ``overrides`` (scoped by each alert's labels, expired by the wall clock
        now) and the page-everything switch on top."""
        policy = self.bundle.meta.policy
        rules, now = Overrides.of(overrides), datetime.now(UTC)
        novel = self.novel(alerts, text_rows.texts or self.featurizer.texts(alerts))
        scores = self.bundle.predict(*self.featurizer.transform(alerts, context_rows, text_rows))
        decisions = []
        for i, alert in enumerate(alerts):
            service = self.service_of(alert)
            score = float(np.clip(scores[i], 0.0, 1.0))
            if not np.isfinite(score):
                decisions.append(fail_open(alert, service, self.version, "non-finite score", arm))
                continue
            ruling = decide(score, service, policy, rules, novel[i], alert.labels, now)
            neighbours: list[Neighbour] = self.featurizer.index.explain(text_rows.sims[i], text_rows.ids[i])
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
