"""Severity: the label an alert's urgency is read from, and the level each common value means (0 to 1).

Alert sources spell severity differently (``severity``, ``priority``, ``level``; critical, P1, error...);
this is the one vocabulary the context features (``context.py``) and identities (``identity.py``) use.
"""

from __future__ import annotations

SEVERITY_LEVELS: dict[str, float] = {
    "critical": 1.0,
    "page": 1.0,
    "emergency": 1.0,
    "fatal": 1.0,
    "high": 1.0,
    "error": 1.0,
    "p1": 1.0,
    "p2": 0.75,
    "major": 0.75,
    "warning": 0.5,
    "warn": 0.5,
    "medium": 0.5,
    "p3": 0.5,
    "minor": 0.25,
    "low": 0.25,
    "p4": 0.25,
    "info": 0.0,
    "informational": 0.0,
    "none": 0.0,
    "notice": 0.0,
    "p5": 0.0,
}
SEVERITY_LABELS = ("severity", "priority", "level")


def severity_level(labels: dict[str, str]) -> float | None:
    for key in SEVERITY_LABELS:
        if key in labels:
            return SEVERITY_LEVELS.get(labels[key].strip().lower())
    return None
