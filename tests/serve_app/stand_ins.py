"""Stand-in model decisions for the router's unit tests (the ModelScorer deployments cannot run without
Serve): alerts labelled page=yes are paged, every other one is suppressed."""

from __future__ import annotations

from typing import Any

from alertsieve.schema import Alert, Decision


def page_if_labelled(alerts: list[Alert], score: float, **fields: Any) -> list[Decision]:
    """One decision per alert, as model version "1" (unless ``fields`` say otherwise) would log it."""
    return [
        Decision(
            fingerprint=a.fingerprint,
            service=a.labels.get("service", ""),
            score=score,
            threshold=0.4,
            decision="page" if a.labels.get("page") == "yes" else "suppress",
            **{"model_version": "1", "reason": "stand-in", **fields},
            startsAt=a.startsAt,
        )
        for a in alerts
    ]
