from __future__ import annotations

import json
from datetime import UTC, datetime, timedelta
from functools import reduce

import pytest
from pydantic import ValidationError

from alertsieve.schema import Alert, Decision, Feedback, LabelledAlert, fingerprint_of
from tests.factories import T0, alert, from_labels, labelled


def _fnv1a64(data: bytes) -> int:
    """FNV-1a 64 written independently of the module: a fold over the whole byte string."""
    return reduce(lambda h, b: ((h ^ b) * 1099511628211) % 2**64, data, 14695981039346656037)


def _expected_fingerprint(labels: dict[str, str]) -> str:
    data = b"".join(k.encode() + b"\xff" + labels[k].encode() + b"\xff" for k in sorted(labels))
    return format(_fnv1a64(data), "016x")


def test_independent_fnv_matches_published_vectors():
    # Published FNV-1a 64 test vectors: "" and "a".
    assert _fnv1a64(b"") == 0xCBF29CE484222325
    assert _fnv1a64(b"a") == 0xAF63DC4C8601EC8C


@pytest.mark.parametrize(
    "labels",
    [
        {"alertname": "HighLatency"},
        {"alertname": "HighLatency", "service": "checkout", "severity": "warning"},
        {"z": "1", "a": "ünïcode", "m": ""},
    ],
)
def test_fingerprint_is_alertmanager_fnv1a(labels):
    assert fingerprint_of(labels) == _expected_fingerprint(labels)
    assert len(fingerprint_of(labels)) == 16


def test_fingerprint_ignores_label_order_but_not_values():
    forward = {"alertname": "A", "service": "s", "severity": "critical"}
    backward = dict(reversed(list(forward.items())))
    assert list(forward) != list(backward)
    assert fingerprint_of(forward) == fingerprint_of(backward)
    assert fingerprint_of(forward) != fingerprint_of({**forward, "severity": "warning"})
    # The separator keeps name/value boundaries apart.
    assert fingerprint_of({"ab": "c"}) != fingerprint_of({"a": "bc"})


def test_missing_fingerprint_is_computed_and_given_one_is_kept():
    labels = {"alertname": "A", "service": "s"}
    assert from_labels(labels).fingerprint == _expected_fingerprint(labels)
    given = Alert.model_validate({"labels": labels, "startsAt": T0.isoformat(), "fingerprint": "abc"})
    assert given.fingerprint == "abc"


def test_zero_ends_at_means_not_ended():
    a = Alert.model_validate(
        {"labels": {"alertname": "A"}, "startsAt": "2026-01-05T09:00:00Z", "endsAt": "0001-01-01T00:00:00Z"}
    )
    assert a.endsAt is None
    resolved = alert(ends_after=5)
    assert resolved.endsAt == datetime(2026, 1, 5, 9, 5, tzinfo=UTC)


@pytest.mark.parametrize("field", ["startsAt", "endsAt"])
@pytest.mark.parametrize("value", [0, 0.5, 1767603600, "0.5", "1767603600", True])
def test_a_number_is_not_a_datetime(field, value):
    """Alertmanager sends RFC 3339 text; pydantic would take a number (or numeric text) for a Unix time."""
    body = {"labels": {"alertname": "A"}, "startsAt": "2026-01-05T09:00:00Z", field: value}
    with pytest.raises(ValidationError, match="not a number"):
        Alert.model_validate(body)
    with pytest.raises(ValidationError, match="not a number"):
        Alert.model_validate_json(json.dumps(body))
    feedback = {"fingerprint": "f", "startsAt": value, "actionable": True, "by": "ana"}
    with pytest.raises(ValidationError, match="not a number"):
        Feedback.model_validate(feedback)


def test_rfc3339_text_and_datetimes_are_datetimes():
    text = Alert.model_validate_json('{"labels": {"a": "b"}, "startsAt": "2026-01-05T09:00:00.5Z", "endsAt": null}')
    assert text.startsAt == datetime(2026, 1, 5, 9, 0, 0, 500000, tzinfo=UTC) and text.endsAt is None
    assert Alert(labels={"a": "b"}, startsAt=T0, endsAt=T0 + timedelta(minutes=1)).endsAt == T0 + timedelta(minutes=1)


def test_naive_datetimes_are_utc():
    a = Alert.model_validate(
        {"labels": {"alertname": "A"}, "startsAt": "2026-01-05T09:00:00", "endsAt": "2026-01-05T09:30:00"}
    )
    assert a.startsAt == datetime(2026, 1, 5, 9, 0, tzinfo=UTC)
    assert a.startsAt.utcoffset() == timedelta(0)
    assert a.endsAt == datetime(2026, 1, 5, 9, 30, tzinfo=UTC)
    offset = Alert.model_validate({"labels": {"alertname": "A"}, "startsAt": "2026-01-05T10:00:00+01:00"})
    assert offset.startsAt == a.startsAt


def test_unknown_fields_are_ignored():
    a = Alert.model_validate(
        {
            "labels": {"alertname": "A"},
            "startsAt": T0.isoformat(),
            "silenceURL": "http://grafana/silence",
            "values": {"B": 1.0},
            "someFutureField": [1, 2],
        }
    )
    assert a.alertname == "A"
    assert not hasattr(a, "someFutureField")


def test_empty_labels_rejected():
    with pytest.raises(ValidationError) as info:
        Alert.model_validate({"labels": {}, "startsAt": T0.isoformat()})
    assert info.value.errors()[0]["loc"] == ("labels",)


def test_status_must_be_firing_or_resolved():
    with pytest.raises(ValidationError):
        Alert.model_validate({"labels": {"alertname": "A"}, "startsAt": T0.isoformat(), "status": "pending"})


@pytest.mark.parametrize(
    ("labels", "expected"),
    [
        ({"alertname": "A", "service": "svc", "job": "j", "app": "a", "namespace": "ns"}, "svc"),
        ({"alertname": "A", "job": "j", "app": "a", "namespace": "ns"}, "j"),
        ({"alertname": "A", "app": "a", "namespace": "ns"}, "a"),
        ({"alertname": "A", "namespace": "ns"}, "ns"),
        ({"alertname": "A", "service": "", "job": "j"}, "j"),  # an empty value is not a service
        ({"alertname": "A", "instance": "10.0.0.1"}, ""),
    ],
)
def test_service_label_precedence(labels, expected):
    assert from_labels(labels).service() == expected


def test_service_labels_are_configurable():
    a = from_labels({"alertname": "A", "service": "svc", "team": "core", "namespace": "ns"})
    assert a.service(("team", "service")) == "core"
    assert a.service(("namespace",)) == "ns"
    assert a.service(("cluster",)) == ""


def test_alertname_and_occurrence():
    a = alert(name="DiskFull", at=3)
    assert a.alertname == "DiskFull"
    assert a.occurrence == (a.fingerprint, a.startsAt)
    assert from_labels({"job": "x"}).alertname == ""
    # Same labels, same start: the same occurrence even when re-sent resolved.
    assert alert(at=3).occurrence == alert(at=3, ends_after=2).occurrence
    assert alert(at=3).occurrence != alert(at=4).occurrence


def test_alert_is_frozen():
    a = alert()
    with pytest.raises(ValidationError):
        a.status = "resolved"  # type: ignore[misc]  # the assignment under test: a frozen model refuses it


def test_labelled_alert_requires_actionable():
    base = alert().model_dump()
    with pytest.raises(ValidationError) as info:
        LabelledAlert.model_validate(base)
    assert info.value.errors()[0]["loc"] == ("actionable",)
    assert labelled(True).actionable is True
    assert labelled(False).actionable is False


def test_decision_score_bounds():
    common = {
        "fingerprint": "f",
        "service": "s",
        "threshold": 0.5,
        "decision": "page",
        "model_version": "1",
        "reason": "r",
    }
    assert Decision(score=0.3, **common).arm == "champion"
    with pytest.raises(ValidationError):
        Decision(score=1.5, **common)
    with pytest.raises(ValidationError):
        Decision(score=0.5, **{**common, "decision": "mute"})


def test_lone_surrogates_are_replaced_at_the_boundary():
    """JSON may escape a lone surrogate ("\\ud800"): valid JSON, invalid Unicode. Left in, it broke the
    fingerprint hash, the decision log and the response for the whole request."""
    import json

    from alertsieve.schema import Feedback

    raw = json.loads(
        '{"labels": {"alertname": "A\\ud800", "k\\udc00": "v"}, "annotations": {"summary": "\\ud800"},'
        ' "fingerprint": "ab\\ud800", "generatorURL": "\\udfff", "startsAt": "2026-01-05T00:00:00Z"}'
    )
    a = Alert.model_validate(raw)
    assert a.labels == {"alertname": "A\ufffd", "k\ufffd": "v"} and a.annotations == {"summary": "\ufffd"}
    assert a.fingerprint == "ab\ufffd" and a.generatorURL == "\ufffd"
    assert a.model_dump_json().encode("utf-8")
    unfingerprinted = Alert.model_validate({**raw, "fingerprint": ""})
    assert unfingerprinted.fingerprint == fingerprint_of({"alertname": "A\ufffd", "k\ufffd": "v"})
    fb = Feedback.model_validate(
        {
            "fingerprint": "f\ud800",
            "startsAt": "2026-01-05T00:00:00Z",
            "actionable": True,
            "by": "\ud800",
            "comment": "x\udc00",
        }
    )
    assert (fb.fingerprint, fb.by, fb.comment) == ("f\ufffd", "\ufffd", "x\ufffd")
