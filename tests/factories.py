"""Small factories for alerts, so tests say what matters about an alert instead of copying JSON."""

from __future__ import annotations

import random
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

from alertsieve.policy import GroupChoice, ThresholdParams, ThresholdPolicy
from alertsieve.schema import Alert, Decision, LabelledAlert, Verdict

T0 = datetime(2026, 1, 5, 9, 0, tzinfo=UTC)


def alert(
    name: str = "HighLatency",
    service: str = "checkout",
    at: datetime | float = 0.0,
    severity: str = "warning",
    ends_after: float | None = None,
    summary: str | None = None,
    **labels: str,
) -> Alert:
    """An alert ``at`` minutes after T0 (or at a datetime), optionally resolved ``ends_after`` minutes later."""
    return Alert.model_validate(_payload(name, service, at, severity, ends_after, summary, labels))


def labelled(actionable: bool = False, **kwargs: Any) -> LabelledAlert:
    base = alert(**kwargs)
    return LabelledAlert.model_validate({**base.model_dump(), "actionable": actionable})


def decision(
    a: Alert,
    verdict: Verdict,
    threshold: float = 0.3,
    service: str | None = None,
    score: float = 0.5,
    model_version: str = "1",
) -> Decision:
    """The decision made for ``a`` (score 0.5, model version 1 unless told otherwise), in its service."""
    return Decision(
        fingerprint=a.fingerprint,
        service=service or a.labels["service"],
        score=score,
        threshold=threshold,
        decision=verdict,
        model_version=model_version,
        reason="test",
        startsAt=a.startsAt,
    )


def threshold_policy(
    own: str, known: list[str], actionable: int = 20, noise: int = 100, suppressed_noise: int = 50
) -> ThresholdPolicy:
    """Service ``own`` at 0.3 of its own, the pooled rest (the other ``known`` services) at 0.2."""
    choice = GroupChoice(
        threshold=0.3, actionable=actionable, noise=noise, suppressed_actionable=0, suppressed_noise=suppressed_noise
    )
    return ThresholdPolicy(
        params=ThresholdParams(),
        expected_fnr=0.01,
        fnr_upper_bound=0.012,
        pooled=choice.model_copy(update={"threshold": 0.2}),
        services={own: choice},
        known_services=known,
    )


def from_labels(
    labels: dict[str, str],
    at: datetime | float = 0.0,
    ends_after: float | None = None,
    annotations: dict[str, str] | None = None,
) -> Alert:
    """An alert with exactly these labels (no defaults added), ``at`` minutes after T0."""
    start = at if isinstance(at, datetime) else T0 + timedelta(minutes=at)
    payload: dict[str, Any] = {"labels": labels, "annotations": annotations or {}, "startsAt": start.isoformat()}
    if ends_after is not None:
        payload["endsAt"] = (start + timedelta(minutes=ends_after)).isoformat()
    return Alert.model_validate(payload)


# Kubernetes' random-suffix alphabet (no vowels, no 0/1/3).
POD_ALPHABET = "bcdfghjklmnpqrstvwxz2456789"
SERVICES = ("checkout", "payments", "search", "auth", "inventory")
NOISE_RULES = (("HighLatency", "warning"), ("DiskUsageHigh", "info"), ("PodRestarting", "warning"))
INCIDENT_RULES = ("ServiceDown", "ErrorBudgetBurn", "DatabaseUnreachable")


def pod_name(service: str, rng: random.Random) -> str:
    return f"{service}-7d9f8b6c4-{''.join(rng.choices(POD_ALPHABET, k=5))}"


def synthetic_history(seed: int = 0, days: float = 8.0) -> list[LabelledAlert]:
    """A small labelled stream: recurring quick-resolving noise per service, and incidents that are bursts
    of critical alerts across two or three services (the actionable ones). Not in time order."""
    rng = random.Random(seed)
    minutes = days * 24 * 60
    out: list[LabelledAlert] = []
    for service in SERVICES:
        for name, severity in NOISE_RULES:
            at = rng.uniform(0, 120)
            while at < minutes:
                out.append(
                    labelled(
                        False,
                        name=name,
                        service=service,
                        at=at,
                        severity=severity,
                        ends_after=rng.uniform(2, 10),
                        pod=pod_name(service, rng),
                    )
                )
                at += rng.uniform(90, 170)
    at = rng.uniform(60, 240)
    while at < minutes:
        for service in rng.sample(SERVICES, k=rng.choice((2, 3))):
            for _ in range(rng.randint(2, 4)):
                out.append(
                    labelled(
                        True,
                        name=rng.choice(INCIDENT_RULES),
                        service=service,
                        at=at + rng.uniform(0, 5),
                        severity="critical",
                        ends_after=rng.uniform(20, 90),
                        pod=pod_name(service, rng),
                    )
                )
        at += rng.uniform(360, 600)
    return out


def _payload(
    name: str,
    service: str,
    at: datetime | float,
    severity: str,
    ends_after: float | None,
    summary: str | None,
    labels: dict[str, str],
) -> dict[str, Any]:
    start = at if isinstance(at, datetime) else T0 + timedelta(minutes=at)
    payload: dict[str, Any] = {
        "labels": {"alertname": name, "service": service, "severity": severity, **labels},
        "annotations": {"summary": summary or f"{name} on {service} at 93% (pod {service}-7d9f8b6c4-x2kqz)"},
        "startsAt": start.isoformat(),
    }
    if ends_after is not None:
        payload["endsAt"] = (start + timedelta(minutes=ends_after)).isoformat()
        payload["status"] = "resolved"
    return payload


def quick_train_args(history: Path, save: Path) -> list[str]:
    """`alertsieve train` on ``history`` in process with the hashing encoder, the bundle also saved to ``save``."""
    return ["train", "--history", str(history), "--backend", "local", "--encoder", "hashing-64", "--save", str(save)]
