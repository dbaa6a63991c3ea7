"""The stateless Decider (alertsieve/decider.py): the same inputs give the same decisions, the in-process
Scorer is the Decider over a stream context and a text lookup, and novelty and overrides apply."""

from __future__ import annotations

import numpy as np

from alertsieve.context import FEATURE_NAMES
from alertsieve.contracts import Arm
from alertsieve.decider import Decider
from alertsieve.embedding import EmbeddingCache, HashingEncoder
from alertsieve.schema import Reason
from alertsieve.scoring import Scorer
from alertsieve.text_features import LocalTextLookup
from tests.factories import alert

END = 8 * 24 * 60  # the small history spans eight days from T0


def alerts_of_a_quiet_minute():
    return [
        alert(name="HighLatency", service=service, at=END + 30 + i, pod=f"{service}-7d9f8b6c4-{i:05d}")
        for i, service in enumerate(["auth", "checkout", "payments"])
    ]


def test_the_scorer_is_the_decider_over_a_stream_and_a_lookup(small_bundle) -> None:
    alerts = alerts_of_a_quiet_minute()
    scorer = Scorer(small_bundle, EmbeddingCache(HashingEncoder()))
    expected = scorer.score(alerts)
    decider = Decider(small_bundle)
    context_rows = Scorer(small_bundle, None).stream.rows(alerts)  # a fresh stream from the same snapshot
    text_rows = LocalTextLookup(small_bundle.index, EmbeddingCache(HashingEncoder())).lookup(
        decider.featurizer.texts(alerts)
    )
    first = decider.decide(alerts, context_rows, text_rows)
    again = decider.decide(alerts, context_rows, text_rows)
    assert first == again  # stateless
    assert [(d.score, d.decision, d.reason) for d in first] == [(d.score, d.decision, d.reason) for d in expected]


def test_novelty_and_overrides(small_bundle) -> None:
    decider = Decider(small_bundle)
    familiar = alerts_of_a_quiet_minute()[0]
    new = alert(name="NeverSeenBefore", service="auth", at=END + 40, summary="a text no model has seen")
    alerts = [familiar, new]
    assert decider.novel(alerts, decider.featurizer.texts(alerts)) == [False, True]
    rows = LocalTextLookup(small_bundle.index, EmbeddingCache(HashingEncoder())).lookup(
        decider.featurizer.texts(alerts)
    )
    context_rows = np.zeros((2, len(FEATURE_NAMES)), dtype=np.float32)
    quiet, novel = decider.decide(alerts, context_rows, rows, arm=Arm.CHALLENGER)
    assert novel.decision == "page" and novel.reason_code == Reason.NOVEL
    assert quiet.arm == "challenger" and quiet.model_version == small_bundle.version
    paged, _ = decider.decide(alerts, context_rows, rows, overrides={"auth": 0.0})
    assert paged.decision == "page" and paged.threshold == 0.0
