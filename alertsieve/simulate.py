"""A synthetic, labelled Alertmanager alert history whose noise and incident behaviours are known.

This module owns the simulator's entry points. ``simulate_history(days, seed, start, profile,
holdout_days)`` returns ``LabelledAlert`` records sorted by startsAt (ties by label set), the same list for
the same arguments (one ``numpy.random.default_rng(seed)``, and one more for the shift profile's added
incidents); ``simulate_with_truth`` adds each alert's behaviour kind, for tests and docs only. Profiles:

- ``default`` (``simulate_default``): a busy fleet, about 16% actionable, two to three incidents a day with
  cascades up the dependency graph, chronic, flapping, batch, replica, deploy and staging noise.
- ``sparse`` (``simulate_sparse``): what real streams look like: 1-2% actionable from 3-8 incidents a month,
  most alert types never actionable, incidents mixing unfamiliar alerts with familiar ones in unusual bursts,
  parallel clusters (``cluster`` label) of which new ones appear in later weeks, and one service
  (``NO_SIGNAL_SERVICE``) whose actionable alerts are drawn exactly like its noise.
- ``shift`` (``simulate_shift``): the default profile, except that the last ``holdout_days`` (the last 14
  days when 0; the later half of a shorter history) hold twice the production incident rate, some of the
  added incidents of a failure mode (``NEW_FAILURE_RULE``) the earlier weeks never saw; the alerts before
  them are the default profile's.

The catalogue (services, rules, texts, schedules) is in ``simulate_catalog`` and ``simulate_rules``; the
rendering of events as alerts in ``simulate_events``.
"""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Literal

from alertsieve.schema import LabelledAlert
from alertsieve.simulate_default import ACTIONABLE_KINDS, NOISE_KINDS, DefaultSimulator
from alertsieve.simulate_shift import NEW_FAILURE_RULE, SHIFT_ACTIONABLE_KINDS, SHIFT_NOISE_KINDS, ShiftSimulator
from alertsieve.simulate_sparse import NO_SIGNAL_SERVICE, SPARSE_ACTIONABLE_KINDS, SPARSE_NOISE_KINDS, SparseSimulator

__all__ = [
    "ACTIONABLE_KINDS",
    "DEFAULT_START",
    "NEW_FAILURE_RULE",
    "NOISE_KINDS",
    "NO_SIGNAL_SERVICE",
    "PROFILES",
    "SHIFT_ACTIONABLE_KINDS",
    "SHIFT_NOISE_KINDS",
    "SPARSE_ACTIONABLE_KINDS",
    "SPARSE_NOISE_KINDS",
    "Profile",
    "simulate_history",
    "simulate_with_truth",
]

DEFAULT_START = datetime(2026, 1, 5, tzinfo=UTC)
Profile = Literal["default", "sparse", "shift"]
PROFILES: tuple[Profile, ...] = ("default", "sparse", "shift")


def simulate_with_truth(
    days: int,
    seed: int,
    start: datetime = DEFAULT_START,
    profile: Profile | str = "default",
    holdout_days: int = 0,
) -> list[tuple[LabelledAlert, str]]:
    """``days`` of alerts from ``start``, each with its behaviour kind (for tests and docs only).

    ``holdout_days`` places the shift profile's shifted weeks (the last 14 days when 0); the other profiles
    ignore it.
    """
    if days < 1:
        raise ValueError("days must be at least 1")
    if holdout_days < 0:
        raise ValueError("holdout_days must not be negative")
    begin = start if start.tzinfo else start.replace(tzinfo=UTC)
    sim: DefaultSimulator
    if profile == "default":
        sim = DefaultSimulator(days, seed, begin)
    elif profile == "sparse":
        sim = SparseSimulator(days, seed, begin)
    elif profile == "shift":
        sim = ShiftSimulator(days, seed, begin, holdout_days)
    else:
        raise ValueError(f"unknown profile {profile!r}; choose one of {', '.join(PROFILES)}")
    sim.run()
    return sim.alerts()


def simulate_history(
    days: int,
    seed: int,
    start: datetime = DEFAULT_START,
    profile: Profile | str = "default",
    holdout_days: int = 0,
) -> list[LabelledAlert]:
    """``days`` of labelled alerts from ``start``, sorted by startsAt; the same list for the same seed."""
    return [alert for alert, _ in simulate_with_truth(days, seed, start, profile, holdout_days)]
