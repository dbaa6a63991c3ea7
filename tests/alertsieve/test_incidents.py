from __future__ import annotations

from alertsieve.incidents import IncidentGuard, host_of
from alertsieve.policy import ThresholdParams
from alertsieve.schema import Reason
from tests.factories import alert, decision


def _confident_page(a, score: float = 0.9):
    return decision(a, "page", score=score).model_copy(update={"reason_code": Reason.AT_OR_ABOVE_THRESHOLD})


def _suppress(a):
    return decision(a, "suppress", score=1e-4).model_copy(update={"reason_code": Reason.BELOW_THRESHOLD})


def test_a_quiet_alert_during_a_confident_incident_on_its_host_pages():
    guard = IncidentGuard(ThresholdParams(incident_guard_minutes=10))
    loud = alert("DiskFull", at=0, instance="db-1")
    quiet = alert("SlowQueries", at=4, instance="db-1")
    elsewhere = alert("SlowQueries", at=4, instance="db-2")
    out = guard.apply([quiet, loud, elsewhere], [_suppress(quiet), _confident_page(loud), _suppress(elsewhere)])
    assert out[0].decision == "page" and out[0].reason_code == Reason.INCIDENT
    assert "part of that incident" in out[0].reason and "host=db-1" in out[0].reason
    assert out[1].decision == "page"
    assert out[2].decision == "suppress"  # another host: not part of it


def test_the_incident_ends_after_its_window_and_weak_pages_start_none():
    guard = IncidentGuard(ThresholdParams(incident_guard_minutes=10, incident_score=0.5))
    loud, late = alert("DiskFull", at=0, instance="db-1"), alert("SlowQueries", at=11, instance="db-1")
    assert guard.apply([loud, late], [_confident_page(loud), _suppress(late)])[1].decision == "suppress"
    weak, after = alert("DiskFull", at=20, instance="db-3"), alert("SlowQueries", at=21, instance="db-3")
    assert guard.apply([weak, after], [_confident_page(weak, 0.2), _suppress(after)])[1].decision == "suppress"


def test_guarded_pages_do_not_chain_and_the_state_carries_across_calls():
    guard = IncidentGuard(ThresholdParams(incident_guard_minutes=10))
    loud = alert("DiskFull", at=0, instance="db-1")
    guard.apply([loud], [_confident_page(loud)])
    second, third = alert("SlowQueries", at=8, instance="db-1"), alert("SlowQueries", at=16, instance="db-1")
    out = guard.apply([second, third], [_suppress(second), _suppress(third)])
    assert [d.decision for d in out] == ["page", "suppress"]  # 16 min after the loud one; 8 after a guarded page


def test_without_an_instance_label_the_service_is_the_host_and_zero_minutes_turns_it_off():
    a = alert("QueueDepth", service="billing")
    assert host_of(a, ("instance",), ("service",)) == "service=billing"
    off = IncidentGuard(ThresholdParams(incident_guard_minutes=0))
    loud, quiet = alert("A", service="billing", at=0), alert("B", service="billing", at=1)
    assert off.apply([loud, quiet], [_confident_page(loud), _suppress(quiet)])[1].decision == "suppress"


def test_the_memory_is_bounded():
    guard = IncidentGuard(capacity=2)
    for i in range(5):
        a = alert("DiskFull", at=i, instance=f"h{i}")
        guard.apply([a], [_confident_page(a)])
    assert list(guard.last_confident) == ["host=h3", "host=h4"]
