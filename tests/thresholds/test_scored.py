from __future__ import annotations

from datetime import timedelta

import pytest

from alertsieve.embedding import EmbeddingCache, HashingEncoder
from alertsieve.scoring import Scorer
from tests.factories import synthetic_history
from thresholds.scored import ScoredRows, decide_alerts, rows_of


def test_decide_alerts_is_the_scorer_path_in_input_order(small_bundle):
    later = [
        a.model_copy(update={"startsAt": a.startsAt + timedelta(days=8)}) for a in synthetic_history(seed=5, days=1.0)
    ]  # not in time order
    decisions = decide_alerts(small_bundle, later, EmbeddingCache(HashingEncoder()), chunk=64)
    assert [d.fingerprint for d in decisions] == [a.fingerprint for a in later]
    reference = Scorer(small_bundle, EmbeddingCache(HashingEncoder()))
    order = sorted(range(len(later)), key=lambda i: (later[i].startsAt, i))
    expected = {}
    for start in range(0, len(order), 64):
        idx = order[start : start + 64]
        for i, d in zip(idx, reference.score([later[i] for i in idx]), strict=True):
            expected[i] = d
    assert [d.score for d in decisions] == [expected[i].score for i in range(len(later))]
    rows = rows_of(later, decisions)
    assert [r.actionable for r in rows] == [a.actionable for a in later]
    data = ScoredRows.from_rows(rows)
    assert len(data) == len(later) and 0.9 < data.span_days <= 1.0
    with pytest.raises(ValueError, match="line by line"):
        rows_of(later, decisions[:-1])


def test_rows_of_guards_novel_texts():
    from alertsieve.schema import Decision, Reason
    from tests.factories import labelled

    a, b = labelled(True, at=0), labelled(False, name="Other", at=1)
    reasons = ((a, Reason.NOVEL), (b, Reason.AT_OR_ABOVE_THRESHOLD))
    decisions = [
        Decision(
            fingerprint=x.fingerprint,
            service="checkout",
            score=0.01,
            threshold=0.5,
            decision="page",
            model_version="1",
            reason=str(code),
            reason_code=code,
        )
        for x, code in reasons
    ]
    rows = rows_of([a, b], decisions)
    assert [r.score for r in rows] == [1.0, 0.01]  # a novel text is never suppressible, as in serving
