from __future__ import annotations

from alertsieve.canonical import DEFAULT_INSTANCE_LABELS, DEFAULT_TEXT_ANNOTATIONS
from alertsieve.identity import DEFAULT_ENVIRONMENT_LABELS, detect_environment_labels, identity_of
from tests.factories import alert


def _identity(a, environment=DEFAULT_ENVIRONMENT_LABELS):
    return identity_of(a, DEFAULT_INSTANCE_LABELS, environment, DEFAULT_TEXT_ANNOTATIONS)


def test_a_new_cluster_value_keeps_the_identity():
    old = alert(name="HighLatency", service="checkout", at=0, cluster="prod-eu-1")
    new = alert(name="HighLatency", service="checkout", at=5, cluster="prod-us-7")
    assert _identity(old) == _identity(new)
    other = alert(name="DiskFull", service="checkout", at=5, cluster="prod-us-7")
    assert _identity(other) != _identity(new)


def test_environment_values_in_the_summary_are_masked():
    a = alert(name="HighLatency", at=0, summary="latency high at lon-edge", site="lon-edge")
    b = alert(name="HighLatency", at=0, summary="latency high at par-core", site="par-core")
    assert _identity(a) == _identity(b)
    assert "<env>" in _identity(a)


def test_detects_labels_that_copy_the_stream_across_values():
    alerts = []
    for i, tenant in enumerate(("acme", "globex", "initech")):
        for name in ("HighLatency", "DiskFull", "PodRestarts"):
            for k in range(6):
                alerts.append(alert(name=name, service="api", at=i * 100 + k, tenant_id=tenant, rulegroup=f"{name}-g"))
    found = detect_environment_labels(alerts, skip=("service", "instance", "pod"))
    assert "tenant_id" in found
    assert "rulegroup" not in found  # one alert name per value: it names the rule, not a copy of the stream
    assert "service" not in found


def test_labels_with_one_value_or_too_few_alerts_are_not_environments():
    alerts = [alert(name="A", service="api", at=i, region="eu") for i in range(10)]
    alerts += [alert(name="A", service="api", at=20, region="us")]
    assert detect_environment_labels(alerts, skip=("service",)) == ()


def test_host_names_in_the_text_do_not_make_an_alert_new():
    a = alert(name="NodeCPUHigh", at=0, summary="CPU high on ip-10-1-2-3.eu-west-1.compute.internal")
    b = alert(name="NodeCPUHigh", at=0, summary="CPU high on ip-10-9-8-7.ap-southeast-1.compute.internal")
    assert _identity(a) == _identity(b)
    assert "<host>" in _identity(a)
