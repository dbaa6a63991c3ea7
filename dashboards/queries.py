"""PromQL and panel helpers shared by alertsieve's dashboards.

Series names come from ``alertsieve.metric_names`` (Ray's exported names); ratios are written so
that a missing numerator reads as 0 and a zero denominator as no data, never as NaN. The scope
variables (``$cluster``, ``$namespace``, ``$job``) and their substitution for running queries live here.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from alertsieve import metric_names as m
from dashboards.grafana import ALL, Panel, Query, label_variable, scope_matchers
from dashboards.slo import SLOSpec

FEEDBACK = m.prom(m.FEEDBACK, counter=True)
SCORED = m.prom(m.ALERTS_SCORED, counter=True)
REQUESTS = m.prom(m.REQUESTS, counter=True)
LATENCY_BUCKET = f"{m.prom(m.SCORE_LATENCY)}_bucket"
# The selectors of every scraped series, outermost first (each variable's values depend on the ones before).
SCOPE_LABELS: tuple[str, ...] = ("cluster", "namespace", "job")
SCOPE = scope_matchers(SCOPE_LABELS)


def scope_variables() -> tuple[dict[str, Any], ...]:
    """``$cluster``, ``$namespace``, ``$job`` from the labels of alertsieve's request counter."""
    return tuple(label_variable(label, REQUESTS, SCOPE_LABELS[:i]) for i, label in enumerate(SCOPE_LABELS))


def substitute(expr: str, values: Mapping[str, str] | None = None) -> str:
    """``expr`` with the scope variables replaced by ``values`` (All, ``.*``, for any not given)."""
    values = values or {}
    for label in sorted(SCOPE_LABELS, key=len, reverse=True):
        expr = expr.replace(f"${label}", values.get(label, ALL))
    return expr


PERCENT = "percentunit"
NON_ACTIONABLE = 'actionable="false"'
ACTIONABLE = 'actionable="true"'
SUPPRESSED = 'decision="suppress"'


def _sel(metric: str, matchers: str) -> str:
    return f"{metric}{{{matchers}}}" if matchers else metric


def ratio(metric: str, num: str, den: str, window: str, by: tuple[str, ...] = ()) -> str:
    """Rate of ``metric{num}`` over rate of ``metric{den}``; 0 (not empty) where only num is missing."""
    group = f" by ({', '.join(by)})" if by else ""
    num_q = f"sum{group} (rate({_sel(metric, num)}[{window}]))"
    den_q = f"sum{group} (rate({_sel(metric, den)}[{window}]))"
    zero = f"0 * {den_q}" if by else "vector(0)"
    return f"({num_q} or {zero})\n/ ({den_q} > 0)"


def p95(by: tuple[str, ...] = (), window: str = "5m") -> str:
    """The 95th percentile of score latency from the histogram buckets."""
    group = ", ".join(("le", *by))
    return f"histogram_quantile(0.95, sum by ({group}) (rate({LATENCY_BUCKET}[{window}])))"


def slo_sel(spec: SLOSpec, slo_name: str) -> str:
    """Label matchers selecting one SLO's recorded series."""
    return f'sloth_service="{spec.service}", sloth_slo="{slo_name}"'


def ts(title: str, *queries: Query, unit: str = "short", width: int = 12, **kw: Any) -> Panel:
    """A time series panel."""
    return Panel("timeseries", title, tuple(queries), unit=unit, width=width, **kw)


def stat(title: str, *queries: Query, unit: str = "short", width: int = 6, height: int = 5, **kw: Any) -> Panel:
    """A stat panel (5 rows high unless told)."""
    return Panel("stat", title, tuple(queries), unit=unit, width=width, height=height, **kw)


BELOW_BAD = (("red", None), ("green", 0.45))
FNR_STEPS = (("green", None), ("red", 0.015))
LATENCY_STEPS = (("green", None), ("red", 0.14))

BURN_STEPS = (("green", None), ("yellow", 1), ("orange", 6), ("red", 14.4))
