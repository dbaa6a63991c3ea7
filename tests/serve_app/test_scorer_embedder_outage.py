"""Familiar texts are decided without waiting on the Embedder (issue 12, finding 10): when it is slow or
failing, a request's new texts page (fail open, "embedder unavailable") within ``embedder_wait_s`` while
its familiar ones keep their model decisions, and a lookup that finishes late is remembered.

The ModelScorer class itself runs here, at unit level (``func_or_class``: the plain class under Serve's
decorator). Its Embedder handle is a stand-in that computes the features in process with the same core
code the Embedder deployment runs, and can be made to hang or fail: an outage cannot be staged on
demand in the shared Serve app."""

from __future__ import annotations

import asyncio
import time
from types import SimpleNamespace
from typing import Any, cast

import numpy as np
from ray.serve.deployment import Deployment

from alertsieve.bundle import ModelBundle
from alertsieve.context import FEATURE_NAMES
from alertsieve.embedding import EmbeddingCache, HashingEncoder
from alertsieve.schema import Alert, LabelledAlert, Reason
from alertsieve.text_features import LocalTextLookup
from serve_app.scorer import ModelScorer
from tests.factories import alert

WAIT_S = 0.3


class StandInEmbedder:
    """Answers ``features.remote((encoder, ref, texts))`` like the Embedder; ``mode`` "hang" or "fail"."""

    def __init__(self, bundle: ModelBundle) -> None:
        self.local = LocalTextLookup(bundle.index, EmbeddingCache(HashingEncoder()))
        self.mode = "up"
        self.delay_s = 0.0
        self.features = SimpleNamespace(remote=self._features)

    def _features(self, request: tuple[str, str, list[str]]) -> Any:
        _, _, texts = request
        mode, delay = self.mode, self.delay_s

        async def answer() -> tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray]:
            if mode == "hang":
                await asyncio.sleep(3600)
            if mode == "fail":
                raise RuntimeError("Embedder replica died")
            await asyncio.sleep(delay)
            rows = self.local.lookup(texts)
            return rows.embeddings, rows.neighbour_rows, rows.sims, rows.ids

        return answer()


def scorer_with(embedder: StandInEmbedder, bundle: ModelBundle) -> Any:
    scorer_class = cast("type[ModelScorer]", cast(Deployment, ModelScorer).func_or_class)  # the class it wraps
    scorer = scorer_class(embedder, loader=lambda ref: bundle)  # type: ignore[arg-type]  # a stand-in handle
    scorer.reconfigure({"model": "small", "arm": "champion", "embedder_wait_s": WAIT_S})
    return scorer


def familiar_and_new(history: list[LabelledAlert], tag: str) -> list[Alert]:
    known = history[0]
    familiar = Alert.model_validate(
        {"labels": known.labels, "annotations": known.annotations, "startsAt": known.startsAt.isoformat()}
    )
    new = alert(name="NeverSeenBefore", service="checkout", summary=f"a text no model has seen ({tag})")
    return [familiar, new]


def rows_for(alerts: list[Alert]) -> np.ndarray:
    return np.zeros((len(alerts), len(FEATURE_NAMES)), dtype=np.float32)


def test_an_embedder_outage_fails_open_only_the_new_texts(small_bundle: ModelBundle, small_history) -> None:
    async def scenario() -> None:
        embedder = StandInEmbedder(small_bundle)
        scorer = scorer_with(embedder, small_bundle)
        await scorer.describe()  # model load: every text the model knows is remembered
        for mode in ("hang", "fail"):
            embedder.mode = mode
            alerts = familiar_and_new(small_history, mode)
            started = time.monotonic()
            familiar, new = await scorer.score(alerts, rows_for(alerts))
            assert time.monotonic() - started < WAIT_S + 2.0  # a generous bound: never the Embedder's time
            assert familiar.reason_code != Reason.FAIL_OPEN and familiar.model_version == small_bundle.version
            assert new.decision == "page" and new.reason_code == Reason.FAIL_OPEN
            assert new.reason == "fail-open: embedder unavailable"

    asyncio.run(scenario())


def test_a_slow_lookup_is_remembered_for_the_next_alerts(small_bundle: ModelBundle, small_history) -> None:
    async def scenario() -> None:
        embedder = StandInEmbedder(small_bundle)
        scorer = scorer_with(embedder, small_bundle)
        await scorer.describe()
        embedder.delay_s = WAIT_S * 2  # answers, but after the request stopped waiting
        alerts = familiar_and_new(small_history, "slow")
        _, new = await scorer.score(alerts, rows_for(alerts))
        assert new.reason_code == Reason.FAIL_OPEN
        await asyncio.wait(set(scorer.filling))  # the lookup carried on in the background
        embedder.mode = "hang"  # the text is remembered now: no Embedder needed for it
        _, again = await scorer.score(alerts, rows_for(alerts))
        assert again.reason_code != Reason.FAIL_OPEN

    asyncio.run(scenario())
