"""A synthetic, labelled Alertmanager alert history whose noise and incident behaviours are known.

This module owns the simulator's entry points. ``simulate_history(days, seed, start, profile)`` returns
``LabelledAlert`` records sorted by startsAt (ties by label set), the same list for the same seed and
profile (one ``numpy.random.default_rng(seed)``); ``simulate_with_truth`` adds each alert's behaviour kind,
for tests and docs only. Profiles:

- ``default`` (``simulate_default``): a busy fleet, about 16% actionable, two to three incidents a day with
  cascades up the dependency graph, chronic, flapping, batch, replica, deploy and staging noise.
- ``sparse`` (``simulate_sparse``): what real streams look like: 1-2% actionable from 3-8 incidents a month,
  most alert types never actionable, incidents mixing unfamiliar alerts with familiar ones in unusual bursts,
  parallel clusters (``cluster`` label) of which new ones appear in later weeks, and one service
  (``NO_SIGNAL_SERVICE``) whose actionable alerts are drawn exactly like its noise.

The catalogue (services, rules, texts, schedules) is in ``simulate_catalog`` and ``simulate_rules``; the
rendering of events as alerts in ``simulate_events``.
"""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Literal

from alertsieve.schema import LabelledAlert
from alertsieve.simulate_default import ACTIONABLE_KINDS, NOISE_KINDS, DefaultSimulator
from alertsieve.simulate_sparse import NO_SIGNAL_SERVICE, SPARSE_ACTIONABLE_KINDS, SPARSE_NOISE_KINDS, SparseSimulator

__all__ = [
    "ACTIONABLE_KINDS",
    "DEFAULT_START",
    "NOISE_KINDS",
    "NO_SIGNAL_SERVICE",
    "PROFILES",
    "SPARSE_ACTIONABLE_KINDS",
    "SPARSE_NOISE_KINDS",
    "Profile",
    "simulate_history",
    "simulate_with_truth",
]

DEFAULT_START = datetime(2026, 1, 5, tzinfo=UTC)
Profile = Literal["default", "sparse"]
PROFILES: tuple[Profile, ...] = ("default", "sparse")
_SIMULATORS = {"default": DefaultSimulator, "sparse": SparseSimulator}


def simulate_with_truth(
    days: int, seed: int, start: datetime = DEFAULT_START, profile: Profile | str = "default"
) -> list[tuple[LabelledAlert, str]]:
    """``days`` of alerts from ``start``, each with its behaviour kind (for tests and docs only)."""
    if days < 1:
        raise ValueError("days must be at least 1")
    if profile not in _SIMULATORS:
        raise ValueError(f"unknown profile {profile!r}; choose one of {', '.join(PROFILES)}")
    sim = _SIMULATORS[profile](days, seed, start if start.tzinfo else start.replace(tzinfo=UTC))
    sim.run()
    return sim.alerts()


def simulate_history(
    days: int, seed: int, start: datetime = DEFAULT_START, profile: Profile | str = "default"
) -> list[LabelledAlert]:
    """``days`` of labelled alerts from ``start``, sorted by startsAt; the same list for the same seed."""
    return [alert for alert, _ in simulate_with_truth(days, seed, start, profile)]
