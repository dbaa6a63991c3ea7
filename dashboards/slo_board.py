"""The SLO dashboard: error budget remaining and burn rates per SLO, from the recording rules.

Reads only the Sloth-style series of ``dashboards.rules`` (``slo:period_error_budget_remaining:ratio``,
``slo:current_burn_rate:ratio``, ``slo:sli_error:ratio_rate<window>``, ``slo:error_budget:ratio``), through
the ``$datasource`` variable; those series carry no cluster/namespace/job labels, so it has no such selectors.
"""

from __future__ import annotations

from typing import Any

from dashboards.grafana import DATASOURCE, Panel, Query, dashboard_json
from dashboards.queries import BURN_STEPS, PERCENT, slo_sel, stat, ts
from dashboards.slo import SLOSpec


def slo_dashboard(spec: SLOSpec) -> dict[str, Any]:
    """Error budgets and burn rates, one row per SLO, from the Sloth-style recording rules."""
    budgets = [
        stat(
            "Error budget remaining (30d) per SLO",
            Query(f'slo:period_error_budget_remaining:ratio{{sloth_service="{spec.service}"}}', "{{sloth_slo}}"),
            unit=PERCENT,
            width=24,
            thresholds=(("red", None), ("orange", 0.25), ("green", 0.5)),
        ),
    ]
    rows: list[tuple[str, list[Panel]]] = [("All SLOs", budgets)]
    on = "on (sloth_id, sloth_slo, sloth_service) group_left"
    for slo in spec.slos:
        sel = slo_sel(spec, slo.name)
        burn = [
            Query(f"slo:sli_error:ratio_rate{w}{{{sel}}}\n/ {on}\nslo:error_budget:ratio{{{sel}}}", w)
            for w in ("5m", "1h", "6h", "1d", "3d")
        ]
        rows.append(
            (
                f"{slo.title} ({slo.objective:g}%)",
                [
                    Panel(
                        "gauge",
                        f"{slo.title}: error budget remaining ({spec.period})",
                        (Query(f"slo:period_error_budget_remaining:ratio{{{sel}}}"),),
                        unit=PERCENT,
                        width=6,
                        thresholds=(("red", None), ("orange", 0.25), ("green", 0.5)),
                        minimum=0,
                        maximum=1,
                        description=slo.description,
                    ),
                    stat(
                        f"{slo.title}: current burn rate (5m)",
                        Query(f"slo:current_burn_rate:ratio{{{sel}}}"),
                        unit="x",
                        width=6,
                        height=8,
                        thresholds=BURN_STEPS,
                    ),
                    ts(f"{slo.title}: burn rate by window", *burn, unit="x", thresholds=BURN_STEPS, minimum=0),
                ],
            )
        )
    return dashboard_json(
        "alertsieve-slo",
        "alertsieve / SLOs and error budgets",
        f"Error budget remaining over {spec.period} and multiwindow burn rates of alertsieve's SLOs.",
        rows,
        DATASOURCE,
        time_from="now-7d",
    )
