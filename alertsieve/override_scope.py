"""Overrides in force as the decision policy sees them: threshold overrides scoped like a silence, and the
"page everything" switch.

An override or the switch has a scope: a service (``"*"``: any service, which needs at least one
matcher) and label matchers, an optional expiry, and who set it and why. It applies to an alert when the
service matches, every matcher matches the alert's labels, and it has not expired at the decision's
clock: an expired override stops applying with no new event. Asked without labels (the service-level
view of the gauges and the threshold list), only scopes without matchers apply.

Matchers are equality on label values, kept linear-time (no regular expressions): ``{"team": "db"}``
matches alerts whose ``team`` label is ``db``; a value with ``|`` also matches any one of its
alternatives (``"db|cache"``); an absent label reads as ``""`` (so ``{"team": ""}`` matches alerts
without one). Sizes are capped: MAX_MATCHERS names of at most MAX_NAME characters, values of at most
MAX_VALUE characters and MAX_ALTERNATIVES alternatives.

Of several threshold overrides that apply, the most specific wins (one point for a named service, one per
matcher), then the latest. This module only reads overrides; ``thresholds.overrides`` folds them out of
the audit log, and ``alertsieve.policy`` is the one rule that uses them.
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from datetime import UTC, datetime
from typing import Annotated

from pydantic import AfterValidator, BaseModel, Field, field_validator

from alertsieve.schema import clean_text

ANY_SERVICE = "*"
MAX_MATCHERS = 16
MAX_NAME = 100
MAX_VALUE = 200
MAX_ALTERNATIVES = 20
LABEL_NAME = re.compile(r"[a-zA-Z_][a-zA-Z0-9_]*")  # Prometheus label names; no nested quantifiers


BAD_TEXT = re.compile("[\ud800-\udfff\ufffd]")  # lone surrogates, and what a decoder put for bad UTF-8


def check_name(value: str) -> str:
    """A name a person gave (a service, a matcher's value): refused when it was not valid UTF-8, as a lone
    surrogate or as U+FFFD, what a decoder puts for bytes it could not read (an override for "\ufffd\ufffd"
    would match nothing anyone meant)."""
    if BAD_TEXT.search(value):
        raise ValueError("not valid UTF-8 text (a lone surrogate, or bytes that do not decode)")
    return value


Name = Annotated[str, AfterValidator(check_name)]


def check_matchers(value: dict[str, str]) -> dict[str, str]:
    """Valid label matchers (sizes capped, Prometheus label names), lone surrogates replaced (as stored)."""
    if len(value) > MAX_MATCHERS:
        raise ValueError(f"at most {MAX_MATCHERS} matchers")
    checked: dict[str, str] = {}
    for name, wanted in value.items():
        if len(name) > MAX_NAME or not LABEL_NAME.fullmatch(name):
            raise ValueError(f"matcher name {name[:MAX_NAME]!r} is not a label name ([a-zA-Z_][a-zA-Z0-9_]*)")
        if len(wanted) > MAX_VALUE:
            raise ValueError(f"matcher {name}: value over {MAX_VALUE} characters")
        if wanted.count("|") >= MAX_ALTERNATIVES:
            raise ValueError(f"matcher {name}: at most {MAX_ALTERNATIVES} alternatives")
        checked[name] = clean_text(wanted)
    return checked


def check_matcher_text(value: dict[str, str]) -> dict[str, str]:
    """Matchers as a person gives them (the API, the CLI): every value valid UTF-8 (``check_name``)."""
    for name, wanted in value.items():
        try:
            check_name(wanted)
        except ValueError as exc:
            raise ValueError(f"matcher {name}: {exc}") from None
    return value


Matchers = Annotated[dict[str, str], AfterValidator(check_matchers)]  # as stored: old records still read
InputMatchers = Annotated[dict[str, str], AfterValidator(check_matcher_text), AfterValidator(check_matchers)]


def matches(matchers: Mapping[str, str], labels: Mapping[str, str]) -> bool:
    """Whether every matcher matches ``labels``: the whole value, or one of its ``|`` alternatives."""
    for name, wanted in matchers.items():
        have = labels.get(name, "")
        if have != wanted and have not in wanted.split("|"):
            return False
    return True


def _aware(value: datetime | None) -> datetime | None:
    return value if value is None or value.tzinfo else value.replace(tzinfo=UTC)


class Scope(BaseModel):
    """Where an override or the switch applies, until when, and who set it why."""

    service: str = Field(default=ANY_SERVICE, min_length=1, max_length=200)
    matchers: Matchers = Field(default_factory=dict)
    expires_at: datetime | None = Field(default=None, description="None: until changed")
    by: str = ""
    reason: str = ""
    at: datetime = Field(default_factory=lambda: datetime.now(UTC), description="when it was set")

    @field_validator("expires_at", "at")
    @classmethod
    def _utc(cls, value: datetime | None) -> datetime | None:
        return _aware(value)

    @property
    def specificity(self) -> int:
        return len(self.matchers) + (self.service != ANY_SERVICE)

    def expired(self, now: datetime) -> bool:
        return self.expires_at is not None and now >= self.expires_at

    def applies(self, service: str, labels: Mapping[str, str] | None, now: datetime) -> bool:
        """Whether it applies to an alert of ``service`` with ``labels`` (None: the service as a whole)."""
        if self.expired(now) or self.service not in (service, ANY_SERVICE):
            return False
        if labels is None:
            return not self.matchers
        return matches(self.matchers, labels)

    def scope_text(self) -> str:
        """The matchers in words: ``team=db, env=prod|staging`` (or ``all alerts``)."""
        return ", ".join(f"{k}={v}" for k, v in sorted(self.matchers.items())) or "all alerts"

    def describe(self) -> str:
        """``by alice, until 2026-01-05 14:00 UTC, matchers team=db`` (for decision reasons)."""
        parts = [f"by {self.by}"] if self.by else []
        if self.expires_at is not None:
            parts.append(f"until {self.expires_at.astimezone(UTC):%Y-%m-%d %H:%M:%S} UTC")
        if self.service == ANY_SERVICE:
            parts.append("any service")
        if self.matchers:
            parts.append(f"matchers {self.scope_text()}")
        return ", ".join(parts)


class ThresholdOverride(Scope):
    """A manual threshold for the alerts in its scope."""

    service: str = Field(min_length=1, max_length=200)
    threshold: float = Field(ge=0.0, le=1.0)


class PageEverything(Scope):
    """The switch is on for the alerts in its scope: they page whatever their score."""


class Overrides(BaseModel):
    """Everything set by hand that the policy applies on top of the model's thresholds."""

    thresholds: list[ThresholdOverride] = Field(default_factory=list)
    page_everything: PageEverything | None = Field(default=None, description="None: the switch is off")

    @classmethod
    def of(cls, value: Overrides | Mapping[str, float] | None) -> Overrides:
        """Overrides as given, or from ``{service: threshold}`` (unscoped, never expiring)."""
        if isinstance(value, Overrides):
            return value
        unscoped = [ThresholdOverride(service=s, threshold=t) for s, t in (value or {}).items()]
        return cls(thresholds=unscoped)

    def threshold_for(
        self, service: str, labels: Mapping[str, str] | None = None, now: datetime | None = None
    ) -> ThresholdOverride | None:
        """The override that decides an alert of ``service`` with ``labels``: most specific, then latest."""
        when = now or datetime.now(UTC)
        found = [o for o in self.thresholds if o.applies(service, labels, when)]
        return max(found, key=lambda o: (o.specificity, o.at)) if found else None

    def paging_everything(
        self, service: str, labels: Mapping[str, str] | None = None, now: datetime | None = None
    ) -> PageEverything | None:
        """The switch, when it is on for an alert of ``service`` with ``labels``."""
        switch = self.page_everything
        return switch if switch is not None and switch.applies(service, labels, now or datetime.now(UTC)) else None

    def switch_on(self, now: datetime | None = None) -> bool:
        """Whether the switch is on for any scope."""
        return self.page_everything is not None and not self.page_everything.expired(now or datetime.now(UTC))

    def unscoped(self, now: datetime | None = None) -> dict[str, float]:
        """``{service: threshold}`` of the overrides without matchers in force (the service-level view)."""
        when = now or datetime.now(UTC)
        ordered = sorted((o for o in self.thresholds if not o.matchers and not o.expired(when)), key=lambda o: o.at)
        return {o.service: o.threshold for o in ordered if o.service != ANY_SERVICE}
