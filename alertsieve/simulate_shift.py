"""The shift simulator profile: the default fleet whose scored weeks change under the model.

This module owns what ``simulate.simulate_history(..., profile="shift")`` does: the default profile
(``simulate_default``) everywhere, except that from ``shift_day`` on (the first day of the last
``holdout_days``, or of the last ``SHIFT_DAYS`` when none is given; the later half of a history no longer
than that) two things change:

- the production incident rate doubles: a second, independent incident process at the default's rate
  (``INCIDENTS_PER_DAY``, fewer at weekends) adds incidents like the default's (``incident_root`` with
  cascades up the dependency graph, ``incident_cascade``);
- a share ``NEW_MODE_SHARE`` of those added incidents is a failure mode the training weeks never saw: they
  open with ``NEW_FAILURE_RULE`` (``TLSHandshakeErrorsHigh``, a rule of no other profile, on any existing
  service) at critical, followed by the root's usual failure and noisy rules (kind ``new_failure``), then
  cascade like any other incident.

The added events come from a second ``numpy`` Generator (seeded from the seed), drawn after the default's
and rendered after them, so the alerts before ``shift_day`` are exactly the default profile's for the same
seed and days, and the noise and services after it are the default's too. The output is fixed by the seed.
"""

from __future__ import annotations

from datetime import datetime

import numpy as np

from alertsieve.simulate_default import ACTIONABLE_KINDS, INCIDENTS_PER_DAY, NOISE_KINDS, DefaultSimulator
from alertsieve.simulate_events import Event
from alertsieve.simulate_rules import ALL, WC, Rule

SHIFT_DAYS = 14
NEW_MODE_SHARE = 0.3
SHIFT_NOISE_KINDS = NOISE_KINDS
SHIFT_ACTIONABLE_KINDS = (*ACTIONABLE_KINDS, "new_failure")
_STREAM = 19  # the added events' Generator: default_rng([seed, _STREAM])

NEW_FAILURE_RULE = Rule(
    "TLSHandshakeErrorsHigh",
    WC,
    ALL,
    "fp",
    (3, 80),
    "{svc} fails TLS handshakes with its peers",
    "{v:.1f}% of TLS handshakes from {target} fail (x509: certificate signed by unknown authority); "
    "connection {req} to {ip} closed.",
    'sum by (namespace) (rate(tls_handshake_errors_total{{namespace="{ns}"}}[5m])) > 0.03',
)


def shift_day(days: int, holdout_days: int = 0) -> int:
    """The first day of the shifted weeks: ``days - holdout_days`` (``SHIFT_DAYS`` when 0), at least days // 2."""
    return max(days - (holdout_days or SHIFT_DAYS), days // 2)


class ShiftSimulator(DefaultSimulator):
    """The shift profile: ``run()`` fills ``events`` like the default, then adds the shifted incidents."""

    actionable_kinds = frozenset(SHIFT_ACTIONABLE_KINDS)

    def __init__(self, days: int, seed: int, start: datetime, holdout_days: int = 0) -> None:
        super().__init__(days, seed, start)
        self.shift_day = shift_day(days, holdout_days)
        self._added = np.random.default_rng([seed, _STREAM])
        self.incidents: list[tuple[int, str]] = []  # production incidents: (start second, kind of the root burst)
        self._added_events: set[int] = set()

    def run(self) -> None:
        super().run()
        first_added = len(self.events)
        own, self.rng = self.rng, self._added  # the default's Generator keeps its state for rendering
        try:
            for day in range(self.shift_day, self.days):
                weekend = 0.7 if self._weekday(day) >= 5 else 1.0
                for t in self._times(INCIDENTS_PER_DAY * weekend, day, regular=True):
                    new = self.rng.random() < NEW_MODE_SHARE
                    kind = "new_failure" if new else "incident_root"
                    self._incident(t, day, "prod", NEW_FAILURE_RULE if new else None, kind)
        finally:
            self.rng = own
        self._added_events = {id(ev) for ev in self.events[first_added:]}

    def _incident(self, t0: int, day: int, env: str, opening: Rule | None = None, kind: str = "incident_root") -> None:
        if env == "prod":
            self.incidents.append((t0, kind))
        super()._incident(t0, day, env, opening, kind)

    def _labels(self, ev: Event) -> tuple[dict[str, str], dict[str, object]]:
        """An added event's labels (new pods, extra labels) come from the added Generator: every alert
        before ``shift_day`` then renders exactly as in the default profile."""
        if id(ev) not in self._added_events:
            return super()._labels(ev)
        own, self.rng = self.rng, self._added
        try:
            return super()._labels(ev)
        finally:
            self.rng = own
