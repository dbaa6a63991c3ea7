from __future__ import annotations

import random

import numpy as np
import pytest

from alertsieve.bundle import ModelBundle
from alertsieve.context import StreamState
from alertsieve.contracts import Arm
from alertsieve.decider import fail_open
from alertsieve.embedding import EmbeddingCache, HashingEncoder
from alertsieve.schema import Neighbour
from alertsieve.scoring import Scorer, StreamContext
from tests.factories import alert, pod_name

END = 8 * 24 * 60  # the small history spans eight days from T0


@pytest.fixture()
def scorer(small_bundle) -> Scorer:
    return Scorer(small_bundle, EmbeddingCache(HashingEncoder()))


def noise(service: str = "auth", at: float = END + 30, suffix: str = "bbbbb"):
    return alert(name="HighLatency", service=service, at=at, severity="warning", pod=f"{service}-7d9f8b6c4-{suffix}")


def incident(at: float = END + 200):
    rng = random.Random(3)
    return [
        alert(name=name, service=service, at=at + i * 0.5, severity="critical", pod=pod_name(service, rng))
        for i, (name, service) in enumerate(
            [
                ("ServiceDown", "auth"),
                ("ErrorBudgetBurn", "auth"),
                ("DatabaseUnreachable", "checkout"),
                ("ServiceDown", "checkout"),
                ("ErrorBudgetBurn", "payments"),
            ]
        )
    ]


def test_small_bundle_is_trained_and_has_a_threshold_to_apply(small_bundle):
    policy = small_bundle.meta.policy
    assert set(policy.known_services) == {"checkout", "payments", "search", "auth", "inventory"}
    assert policy.threshold_for("auth") is not None and policy.threshold_for("auth")[0] > 0
    assert small_bundle.meta.features.encoder == "hashing-64"


def test_noise_suppressed_and_incident_paged(scorer):
    quiet = scorer.score([noise()])[0]
    assert quiet.decision == "suppress"
    assert quiet.score < quiet.threshold
    assert "below pooled threshold" in quiet.reason
    burst = scorer.score(incident())
    assert [d.decision for d in burst] == ["page"] * 5
    assert all(d.score >= 0.5 for d in burst)


def test_decision_fields(scorer, small_bundle):
    alerts = [noise(at=END + 40), noise(at=END + 30, service="checkout")]
    decisions = scorer.score(alerts, arm="challenger")
    assert [d.fingerprint for d in decisions] == [a.fingerprint for a in alerts]  # input order kept
    assert [d.service for d in decisions] == ["auth", "checkout"]
    for d, a in zip(decisions, alerts, strict=True):
        assert d.model_version == small_bundle.version
        assert d.arm == "challenger"
        assert d.startsAt == a.startsAt
        assert 0.0 <= d.score <= 1.0
        assert 1 <= len(d.neighbours) <= 3
        assert all(isinstance(n, Neighbour) for n in d.neighbours)
        assert d.neighbours[0].alertname == "HighLatency"


def test_unknown_service_pages(scorer):
    d = scorer.score([noise(service="brand-new")])[0]
    assert d.decision == "page"
    assert d.threshold == 0.0
    assert d.reason.startswith("unknown service")


def test_empty_batch(scorer):
    assert scorer.score([]) == []


@pytest.mark.parametrize("step", ["stream.rows", "texts", "lookup.lookup", "decider.decide"])
def test_fails_open_when_a_step_raises(scorer, monkeypatch, step):
    def broken(*args, **kwargs):
        raise RuntimeError("boom")

    owner = getattr(scorer, step.split(".")[0]) if "." in step else scorer
    monkeypatch.setattr(owner, step.rsplit(".", 1)[-1], broken)
    alerts = [noise(), *incident()]
    decisions = scorer.score(alerts)
    assert len(decisions) == len(alerts)
    for d, a in zip(decisions, alerts, strict=True):
        assert d.decision == "page"
        assert d.reason == "fail-open: RuntimeError"
        assert (d.score, d.threshold) == (1.0, 0.0)
        assert d.fingerprint == a.fingerprint and d.service == a.service()


def test_fails_open_when_the_encoder_raises(small_bundle):
    class Broken(HashingEncoder):
        def encode(self, texts):
            raise ValueError("bad text")

    scorer = Scorer(small_bundle, EmbeddingCache(Broken()))
    new_text = noise().model_copy(update={"annotations": {"summary": "a text the model never saw"}})
    decisions = scorer.score([new_text])
    assert decisions[0].decision == "page" and decisions[0].reason == "fail-open: ValueError"
    # a text the model was trained on needs no encoder: it is still decided
    assert scorer.score([noise()])[0].decision == "suppress"


def test_a_new_text_fails_open_without_an_encoder(small_bundle):
    scorer = Scorer(small_bundle, None)
    new_text = noise().model_copy(update={"annotations": {"summary": "a text the model never saw"}})
    decisions = scorer.score([new_text])
    assert decisions[0].decision == "page" and decisions[0].reason == "fail-open: RuntimeError"
    assert scorer.score([noise()])[0].decision == "suppress"


def test_non_finite_score_fails_open(scorer, monkeypatch):
    monkeypatch.setattr(ModelBundle, "predict", lambda self, dense, emb: np.full(len(dense), np.nan))
    d = scorer.score([noise()])[0]
    assert d.decision == "page" and d.reason == "fail-open: non-finite score"


def test_fail_open_helper():
    a = noise()
    d = fail_open(a, "auth", "v3", "timeout", arm=Arm.SHADOW)
    assert (d.decision, d.score, d.threshold, d.reason, d.arm, d.model_version) == (
        "page",
        1.0,
        0.0,
        "fail-open: timeout",
        "shadow",
        "v3",
    )


def test_repeated_occurrence_gets_the_same_decision(scorer):
    first = scorer.score([noise()])[0]
    # The stream moves on (an incident), then Alertmanager re-sends the same firing, later resolved.
    scorer.score(incident(at=END + 31))
    again = scorer.score([noise()])[0]
    resolved = scorer.score([noise().model_copy(update={"endsAt": noise().startsAt, "status": "resolved"})])[0]
    assert (again.score, again.decision) == (first.score, first.decision)
    assert (resolved.score, resolved.decision) == (first.score, first.decision)
    # A new firing of the same alert is a new occurrence, scored in the new context.
    fresh = scorer.score([noise(at=END + 32)])[0]
    assert fresh.score != first.score


def test_duplicates_in_one_batch_get_one_decision(scorer):
    decisions = scorer.score([noise(), noise(), noise(service="checkout")])
    assert decisions[0].score == pytest.approx(decisions[1].score, rel=1e-4)  # one row, maybe another BLAS lane
    assert decisions[0].decision == decisions[1].decision


def test_stream_state_counts_resent_occurrence_once(scorer):
    scorer.score([noise(), noise()])
    assert sum(1 for entry in scorer.stream.state.recent if entry[1] == noise().fingerprint) == 1


def test_stream_context_remembers_a_bounded_number_of_rows():
    ctx = StreamContext(StreamState(), remember=1)
    first, second = noise(at=0), noise(at=1)
    ctx.rows([first])
    ctx.rows([second])
    assert list(ctx._seen) == [(second.fingerprint, second.startsAt.timestamp())]


def test_decide_stream_keeps_input_order_and_never_fails_open(small_bundle):
    alerts = [alert(name="HighLatency", service="checkout", at=float(60 - i)) for i in range(6)]  # newest first
    decisions = Scorer(small_bundle, EmbeddingCache(HashingEncoder())).decide_stream(alerts, chunk=4)
    assert [d.fingerprint for d in decisions] == [a.fingerprint for a in alerts]
    assert [d.startsAt for d in decisions] == [a.startsAt for a in alerts]
    new_text = alerts[0].model_copy(update={"annotations": {"summary": "a text the model never saw"}})
    with pytest.raises(RuntimeError, match="no embedding cache"):
        Scorer(small_bundle, None).decide_stream([*alerts, new_text])
