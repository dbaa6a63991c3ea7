"""The alert, labelled-history and decision records that cross every boundary of alertsieve.

An input alert is Alertmanager's webhook alert object (version 4). Unknown fields are ignored so newer
senders keep working; a missing fingerprint is computed the way Alertmanager does it (FNV-1a over the
sorted label set). A labelled history record adds ``actionable``. A decision is what we answer.
"""

from __future__ import annotations

import re
from collections.abc import Iterable, Sequence
from datetime import UTC, datetime
from enum import StrEnum
from typing import Annotated, Literal

from pydantic import BaseModel, BeforeValidator, ConfigDict, Field, field_validator, model_validator

from alertsieve.contracts import Arm, Occurrence

# Alertmanager writes this for "not ended yet".
ZERO_TIME = datetime(1, 1, 1, tzinfo=UTC)
DEFAULT_SERVICE_LABELS: tuple[str, ...] = ("service", "job", "app", "namespace")
UNKNOWN_SERVICE = ""

_FNV_OFFSET = 0xCBF29CE484222325
_FNV_PRIME = 0x100000001B3
_MASK64 = 0xFFFFFFFFFFFFFFFF


def fingerprint_of(labels: dict[str, str]) -> str:
    """Alertmanager's label-set fingerprint: FNV-1a 64 over name, 0xff, value, 0xff for sorted names."""
    h = _FNV_OFFSET
    for name in sorted(labels):
        for part in (name.encode(), labels[name].encode()):
            for byte in part + b"\xff":
                h ^= byte
                h = (h * _FNV_PRIME) & _MASK64
    return f"{h:016x}"


def _aware(value: datetime) -> datetime:
    return value if value.tzinfo else value.replace(tzinfo=UTC)


def _not_a_number(value: object) -> object:
    """A datetime is RFC 3339 text, as Alertmanager sends it (or a ``datetime`` from Python): a number, or
    text that reads as one, is refused rather than taken for a Unix timestamp (pydantic's lax default)."""
    if isinstance(value, int | float):
        raise ValueError("a datetime is ISO 8601 text (RFC 3339), not a number")
    if isinstance(value, str):
        try:
            float(value)
        except ValueError:
            return value
        raise ValueError("a datetime is ISO 8601 text (RFC 3339), not a number")
    return value


# every datetime that comes in (alerts, feedback, queries, overrides): ISO 8601 text, never a Unix timestamp
IsoDatetime = Annotated[datetime, BeforeValidator(_not_a_number)]

_SURROGATES = re.compile("[\ud800-\udfff]")


def clean_text(value: str) -> str:
    """The text with lone surrogates (valid JSON escapes, invalid Unicode) replaced by U+FFFD, so that
    it can be encoded, hashed, logged and stored like any other."""
    return _SURROGATES.sub("\ufffd", value)


def _clean_map(value: dict[str, str]) -> dict[str, str]:
    return {clean_text(k): clean_text(v) for k, v in value.items()}


class Alert(BaseModel):
    """One alert as Alertmanager's webhook sends it."""

    model_config = ConfigDict(extra="ignore", frozen=True)

    status: Literal["firing", "resolved"] = "firing"
    labels: dict[str, str] = Field(min_length=1)
    annotations: dict[str, str] = Field(default_factory=dict)
    startsAt: IsoDatetime
    endsAt: IsoDatetime | None = None  # Alertmanager's "0001-01-01T00:00:00Z" (ZERO_TIME) is None: not ended
    generatorURL: str = ""
    fingerprint: str = ""

    @field_validator("startsAt")
    @classmethod
    def _starts_aware(cls, value: datetime) -> datetime:
        return _aware(value)

    @field_validator("labels", "annotations")
    @classmethod
    def _clean_maps(cls, value: dict[str, str]) -> dict[str, str]:
        return _clean_map(value)

    @field_validator("fingerprint", "generatorURL")
    @classmethod
    def _clean_strings(cls, value: str) -> str:
        return clean_text(value)

    @field_validator("endsAt")
    @classmethod
    def _ends_aware_or_none(cls, value: datetime | None) -> datetime | None:
        if value is None:
            return None
        value = _aware(value)
        return None if value <= ZERO_TIME else value

    @model_validator(mode="after")
    def _fill_fingerprint(self) -> Alert:
        if not self.fingerprint:
            object.__setattr__(self, "fingerprint", fingerprint_of(self.labels))
        return self

    @property
    def alertname(self) -> str:
        return self.labels.get("alertname", "")

    def service(self, service_labels: Sequence[str] = DEFAULT_SERVICE_LABELS) -> str:
        """The first present of the configured service labels; UNKNOWN_SERVICE when none is."""
        for name in service_labels:
            if self.labels.get(name):
                return self.labels[name]
        return UNKNOWN_SERVICE

    @property
    def occurrence(self) -> Occurrence:
        """One firing of one alert: Alertmanager re-sends it with the same fingerprint and startsAt."""
        return Occurrence(self.fingerprint, self.startsAt)


class LabelledAlert(Alert):
    """A past alert with its outcome: did it need a human?"""

    actionable: bool


class Neighbour(BaseModel):
    """A similar past alert that explains a decision."""

    fingerprint: str
    alertname: str
    similarity: float
    actionable: bool


Verdict = Literal["page", "suppress"]


class Reason(StrEnum):
    """Why a decision came out as it did (``Decision.reason`` says it in words)."""

    BELOW_THRESHOLD = "below_threshold"
    AT_OR_ABOVE_THRESHOLD = "at_or_above_threshold"
    NOVEL = "novel"
    UNKNOWN_SERVICE = "unknown_service"
    FAIL_OPEN = "fail_open"
    STILL_FIRING = "still_firing"  # suppressed, still firing after the service's delay: paged late
    SHOULD_HAVE_PAGED = "should_have_paged"  # suppressed, then marked actionable by a person: paged late
    PAGE_EVERYTHING = "page_everything"  # the "page everything" switch was on
    INCIDENT = "incident"  # below threshold, but fired into a confident incident on its host or service
    LIVE_SAFETY = "live_safety"  # its service's live stream departed from validation: paged, not suppressed


class Decision(BaseModel):
    """What alertsieve answers for one alert."""

    fingerprint: str
    service: str
    score: float = Field(ge=0.0, le=1.0, description="P(actionable)")
    threshold: float = Field(ge=0.0, le=1.0, description="suppress when score < threshold")
    decision: Verdict
    model_version: str
    neighbours: list[Neighbour] = Field(default_factory=list)
    reason: str
    reason_code: Reason = Field(default=Reason.AT_OR_ABOVE_THRESHOLD, description="the reason, as a code")
    arm: Arm = Arm.CHAMPION
    startsAt: datetime | None = None

    @property
    def occurrence(self) -> Occurrence | None:
        """The occurrence it decided, keyed as ``Alert.occurrence`` (None: a decision without startsAt)."""
        return None if self.startsAt is None else Occurrence(self.fingerprint, self.startsAt)


class LoggedDecision(BaseModel):
    """One line of the decision log: the alert, what was decided, and whether it was applied."""

    alert: Alert
    decision: Decision
    applied: bool = Field(description="False for shadow decisions, which are logged but not acted on")
    logged_at: datetime = Field(default_factory=lambda: datetime.now(UTC))


class Feedback(BaseModel):
    """Someone's word on whether an alert needed a human."""

    model_config = ConfigDict(extra="forbid")

    fingerprint: str = Field(min_length=1, max_length=64)
    startsAt: IsoDatetime
    actionable: bool
    by: str = Field(min_length=1, max_length=200)
    comment: str = Field(default="", max_length=2000)
    received_at: datetime = Field(default_factory=lambda: datetime.now(UTC))

    @field_validator("startsAt")
    @classmethod
    def _starts_aware(cls, value: datetime) -> datetime:
        return _aware(value)

    @field_validator("fingerprint", "by", "comment", mode="before")
    @classmethod
    def _clean_strings(cls, value: object) -> object:
        return clean_text(value) if isinstance(value, str) else value

    @property
    def occurrence(self) -> Occurrence:
        """The occurrence it is about, keyed as ``Alert.occurrence``."""
        return Occurrence(self.fingerprint, self.startsAt)


def latest_feedback(feedback: Iterable[Feedback]) -> dict[Occurrence, Feedback]:
    """The latest word (by ``received_at``; of equal ones, the last given) on each occurrence."""
    out: dict[Occurrence, Feedback] = {}
    for item in sorted(feedback, key=lambda f: f.received_at):
        out[item.occurrence] = item
    return out
