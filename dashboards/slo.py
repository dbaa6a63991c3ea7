"""The SLO definitions of ``dashboards/slos.yaml`` as pydantic models.

The file is the one source for the Prometheus rules, the Grafana alert rules and the SLO dashboard.
Loading it checks what a typo would otherwise only show at 3 a.m.: objectives in range, unique
names usable as Prometheus label values, and queries that select only series alertsieve exports.
"""

from __future__ import annotations

import re
from enum import StrEnum
from pathlib import Path

import yaml
from pydantic import BaseModel, ConfigDict, Field, field_validator, model_validator

from alertsieve.metric_names import scraped_series
from dashboards.promql import WINDOW_VAR, is_balanced, series_in

SLOS_FILE = Path(__file__).resolve().parent / "slos.yaml"
_NAME = re.compile(r"^[a-z][a-z0-9-]{0,62}$")
_ALERT_NAME = re.compile(r"^[A-Za-z_][A-Za-z0-9_]*$")
_PERIOD = re.compile(r"^([1-9][0-9]*)d$")
# docs/runbook.md of the repo as GitHub renders it; slos.yaml can point elsewhere (a fork, a wiki)
RUNBOOK_URL = "https://github.com/alertsieve/alertsieve/blob/main/docs/runbook.md"


class SLOKind(StrEnum):
    """How an SLO alerts: multiwindow multi-burn-rate, or a floor the SLI must stay above."""

    BURN_RATE = "burn_rate"
    THRESHOLD = "threshold"


class SLI(BaseModel):
    """An events SLI: error ratio = error_query / total_query, both templated on ``{{.window}}``."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    error_query: str = Field(min_length=1)
    total_query: str = Field(min_length=1)

    @field_validator("error_query", "total_query")
    @classmethod
    def _windowed(cls, query: str) -> str:
        query = " ".join(query.split())
        if WINDOW_VAR not in query:
            raise ValueError(f"query must use {WINDOW_VAR} as its range: {query}")
        if not is_balanced(query):
            raise ValueError(f"unbalanced brackets in query: {query}")
        unknown = series_in(query) - scraped_series()
        if unknown:
            raise ValueError(f"query selects series alertsieve does not export: {sorted(unknown)}")
        return query

    def error_ratio(self, window: str) -> str:
        """The PromQL error ratio over ``window``; empty (not NaN) while there are no events."""
        error = self.error_query.replace(WINDOW_VAR, window)
        total = self.total_query.replace(WINDOW_VAR, window)
        return f"({error})\n/\n({total} > 0)"


class SLO(BaseModel):
    """One service level objective."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    name: str
    title: str = Field(min_length=1)
    description: str = Field(min_length=1)
    kind: SLOKind
    objective: float = Field(gt=0, lt=100, description="percent of good events")
    sli: SLI
    alert_name: str

    @field_validator("name")
    @classmethod
    def _name(cls, name: str) -> str:
        if not _NAME.match(name):
            raise ValueError(f"SLO name must be lowercase letters, digits and dashes: {name!r}")
        return name

    @field_validator("alert_name")
    @classmethod
    def _alert_name(cls, name: str) -> str:
        if not _ALERT_NAME.match(name):
            raise ValueError(f"not a valid Prometheus alert name: {name!r}")
        return name

    @property
    def objective_ratio(self) -> float:
        """The objective as a ratio (99.9 -> 0.999), rounded to drop float noise."""
        return round(self.objective / 100, 10)

    @property
    def error_budget(self) -> float:
        """1 - objective as a ratio (99.9 -> 0.001)."""
        return round(1 - self.objective / 100, 10)


class SLOSpec(BaseModel):
    """All SLOs of one service over one compliance period."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    service: str
    period: str = "30d"
    labels: dict[str, str] = Field(default_factory=dict)
    runbook_url: str = Field(
        default=RUNBOOK_URL,
        pattern=r"^https?://[^#\s]+$",
        description="the runbook page; every alert's runbook_url annotation is this plus #<alertname, lowercased>",
    )
    slos: list[SLO] = Field(min_length=1)

    @field_validator("service")
    @classmethod
    def _service(cls, service: str) -> str:
        if not _NAME.match(service):
            raise ValueError(f"service must be lowercase letters, digits and dashes: {service!r}")
        return service

    @field_validator("period")
    @classmethod
    def _period(cls, period: str) -> str:
        if not _PERIOD.match(period):
            raise ValueError(f"period must be a whole number of days like '30d': {period!r}")
        return period

    @field_validator("labels")
    @classmethod
    def _labels(cls, labels: dict[str, str]) -> dict[str, str]:
        for key in labels:
            if not re.match(r"^[a-zA-Z_][a-zA-Z0-9_]*$", key) or key.startswith(("sloth_", "__")):
                raise ValueError(f"label name not allowed: {key!r}")
        return labels

    @model_validator(mode="after")
    def _unique(self) -> SLOSpec:
        names = [slo.name for slo in self.slos]
        alerts = [slo.alert_name for slo in self.slos]
        if len(set(names)) != len(names):
            raise ValueError(f"duplicate SLO names: {names}")
        if len(set(alerts)) != len(alerts):
            raise ValueError(f"duplicate alert names: {alerts}")
        return self

    @property
    def period_days(self) -> int:
        """The compliance period in days."""
        return int(self.period[:-1])

    def slo_id(self, slo: SLO) -> str:
        """Sloth's ``sloth_id``: service and SLO name."""
        return f"{self.service}-{slo.name}"


def load_slos(path: Path = SLOS_FILE) -> SLOSpec:
    """Read and validate an SLO file."""
    data = yaml.safe_load(path.read_text(encoding="utf-8"))
    return SLOSpec.model_validate(data)
