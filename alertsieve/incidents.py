"""Incidents as units: an alert fired into a confident incident on its host or service pages.

Incidents come as bursts, and their quiet members look like noise on their own: on a held-back server
stream, most of the actionable alerts a model suppressed fired within minutes of a confidently paged alert
on the same host. The incident is known at that moment, so an alert fired into it is not suppressed on its
own merits. ``IncidentGuard`` remembers, per host (the first instance-like label; the service when the
alert has none), when an alert there was last paged with a score of at least ``incident_score`` (the
model's own call, not a guard's); a suppression within ``incident_guard_minutes`` after it on the same
host becomes a page with ``Reason.INCIDENT``. Pages made by this guard do not extend the incident, so it
cannot chain through a noisy burst. Both settings are in the policy's ``ThresholdParams``; the memory is
bounded (the oldest hosts forgotten first). The Serve stream shards hold one, as ``Scorer`` does in
process: the same alerts in the same order give the same decisions.
"""

from __future__ import annotations

from collections import OrderedDict
from collections.abc import Sequence

from alertsieve.canonical import DEFAULT_INSTANCE_LABELS
from alertsieve.policy import ThresholdParams
from alertsieve.schema import DEFAULT_SERVICE_LABELS, Alert, Decision, Reason


def host_of(alert: Alert, instance_labels: Sequence[str], service_labels: Sequence[str]) -> str:
    """The host an alert fired on: its first instance-like label, else its service."""
    found = next((alert.labels[k] for k in instance_labels if alert.labels.get(k)), "")
    return f"host={found}" if found else f"service={alert.service(service_labels)}"


class IncidentGuard:
    """Turns suppressions that fire into a confident incident on their host into pages."""

    def __init__(
        self,
        params: ThresholdParams | None = None,
        instance_labels: Sequence[str] = DEFAULT_INSTANCE_LABELS,
        service_labels: Sequence[str] = DEFAULT_SERVICE_LABELS,
        capacity: int = 50_000,
    ) -> None:
        params = params or ThresholdParams()
        self.window_s = params.incident_guard_minutes * 60
        self.confident = params.incident_score
        self.instance_labels, self.service_labels = tuple(instance_labels), tuple(service_labels)
        self.capacity = capacity
        self.last_confident: OrderedDict[str, float] = OrderedDict()  # host -> start of its last confident page

    def apply(self, alerts: Sequence[Alert], decisions: Sequence[Decision]) -> list[Decision]:
        """The decisions (input order), those fired into a confident incident paged; alerts are taken in
        startsAt order, so a batch's louder alert guards its quieter peers that fired after it."""
        out = list(decisions)
        if self.window_s <= 0:
            return out
        order = sorted(range(len(alerts)), key=lambda i: alerts[i].startsAt)
        for i in order:
            alert, decision = alerts[i], out[i]
            host = host_of(alert, self.instance_labels, self.service_labels)
            now = alert.startsAt.timestamp()
            if decision.decision == "page":
                if decision.reason_code == Reason.AT_OR_ABOVE_THRESHOLD and decision.score >= self.confident:
                    self._remember(host, now)
                continue
            since = self.last_confident.get(host)
            if since is not None and 0 <= now - since <= self.window_s:
                minutes = (now - since) / 60
                text = (
                    f"{decision.reason}; fired {minutes:.0f} min after a confident page on {host}: "
                    "part of that incident, paged"
                )
                out[i] = decision.model_copy(
                    update={"decision": "page", "reason": text, "reason_code": Reason.INCIDENT}
                )
        return out

    def _remember(self, host: str, at: float) -> None:
        self.last_confident[host] = max(at, self.last_confident.get(host, at))
        self.last_confident.move_to_end(host)
        while len(self.last_confident) > self.capacity:
            self.last_confident.popitem(last=False)
