from __future__ import annotations

import pytest

from alertsieve.canonical import MAX_ANNOTATION_CHARS, canonical_text, mask_volatile
from tests.factories import alert, from_labels


@pytest.mark.parametrize(
    ("raw", "masked"),
    [
        ("latency 93.5% over 250ms", "latency <num>% over <num>ms"),
        ("errors 1,204 in 5 minutes", "errors <num> in <num> minutes"),
        ("ratio 1.5e-3", "ratio <num>"),
        ("request 123e4567-e89b-12d3-a456-426614174000 failed", "request <uuid> failed"),
        ("target 10.0.0.12:9100 down", "target <ip> down"),
        ("peer 192.168.1.7 unreachable", "peer <ip> unreachable"),
        ("commit deadbeef12 and sha 0a1b2c3d4e5f6789", "commit <hex> and sha <hex>"),
        ("see https://grafana.example.com/d/abc?var=1 now", "see <url> now"),
        ("pod checkout-7d9f8b6c4-x2kqz restarting", "pod checkout-<pod> restarting"),
        ("pod api-gateway-5f6b7c8d9-bq4zx restarting", "pod api-gateway-<pod> restarting"),
        ("daemon kube-proxy-x2kqz restarting", "daemon kube-proxy-<pod> restarting"),
        ("  many   spaces\there ", "many spaces here"),
    ],
)
def test_mask_volatile(raw, masked):
    assert mask_volatile(raw) == masked


@pytest.mark.parametrize(
    "stable", ["kube-proxy", "order-queue", "high-memory-usage", "api-gateway-latency-alert", "HighLatency"]
)
def test_ordinary_hyphenated_words_are_not_pods(stable):
    # Kubernetes suffixes come from an alphabet without vowels; plain words must survive masking,
    # or distinct services and rules would collapse into one text.
    assert mask_volatile(stable) == stable


def test_two_firings_of_one_rule_give_one_text():
    first = alert(
        name="HighLatency",
        service="checkout",
        at=0,
        pod="checkout-7d9f8b6c4-x2kqz",
        instance="10.0.0.1:9100",
        summary="p99 latency 1.93s on checkout-7d9f8b6c4-x2kqz (10.0.0.1)",
    )
    second = alert(
        name="HighLatency",
        service="checkout",
        at=90,
        pod="checkout-5c6d7f8b9-q9wzt",
        instance="10.0.0.2:9100",
        summary="p99 latency 2.41s on checkout-5c6d7f8b9-q9wzt (10.0.0.2)",
    )
    assert first.fingerprint != second.fingerprint
    assert canonical_text(first) == canonical_text(second)


def test_different_rules_or_services_differ():
    base = canonical_text(alert(name="HighLatency", service="checkout", summary="slow"))
    assert canonical_text(alert(name="HighErrorRate", service="checkout", summary="slow")) != base
    assert canonical_text(alert(name="HighLatency", service="payments", summary="slow")) != base


def test_text_layout_and_instance_labels_excluded():
    a = from_labels(
        {
            "alertname": "DiskFull",
            "service": "db",
            "pod": "db-0",
            "instance": "10.0.0.9:9100",
            "node": "n1",
            "severity": "critical",
        },
        annotations={"summary": "disk 97% full"},
    )
    text = canonical_text(a)
    assert text == "alert: DiskFull | service: db | severity: critical | summary: disk <num>% full"
    assert "pod" not in text and "instance" not in text and "node" not in text


def test_instance_labels_are_configurable():
    a = from_labels({"alertname": "A", "pod": "p", "cluster": "eu-1"})
    assert "cluster" not in canonical_text(a, instance_labels=("cluster",))
    assert "pod: p" in canonical_text(a, instance_labels=("cluster",))


def test_unnamed_alert():
    assert canonical_text(from_labels({"service": "s"})) == "alert: unnamed | service: s"


@pytest.mark.parametrize(
    ("annotations", "expected"),
    [
        ({"description": "d", "title": "t", "message": "m", "summary": "s"}, "summary: s"),
        ({"description": "d", "title": "t", "message": "m"}, "message: m"),
        ({"description": "d", "title": "t"}, "title: t"),
        ({"description": "d", "runbook_url": "http://x"}, "description: d"),
        ({"summary": "", "message": "m"}, "message: m"),  # empty does not count as present
    ],
)
def test_only_first_present_annotation(annotations, expected):
    text = canonical_text(from_labels({"alertname": "A"}, annotations=annotations))
    assert text == f"alert: A | {expected}"


def test_no_text_annotation():
    assert canonical_text(from_labels({"alertname": "A"}, annotations={"runbook_url": "x"})) == "alert: A"


def test_annotation_truncated():
    text = canonical_text(from_labels({"alertname": "A"}, annotations={"summary": "word " * 100}))
    assert len(text.split("summary: ", 1)[1]) == MAX_ANNOTATION_CHARS


def test_masking_is_linear_and_bounded_on_hostile_labels():
    """A 48 KB `a-a-a-...` label made the pod-suffix patterns backtrack quadratically (33 s of blocked
    scoring in the probe). Masking now looks at MAX_FIELD_CHARS per field, with linear-time patterns."""
    import time

    from alertsieve import canonical

    hostile = "a-" * 24_000
    started = time.perf_counter()
    masked = mask_volatile(hostile)
    assert time.perf_counter() - started < 1.0
    assert len(masked) <= canonical.MAX_FIELD_CHARS
    # the patterns themselves are linear: the whole 48 KB, uncapped, in well under a second
    started = time.perf_counter()
    for pattern, replacement in canonical._MASKS:
        hostile = pattern.sub(replacement, hostile)
    assert time.perf_counter() - started < 1.0
    text = canonical_text(from_labels({"alertname": "A", "team": "a-" * 24_000}))
    assert len(text) < 600
