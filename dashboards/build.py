"""alertsieve's Grafana 11 dashboards as code.

Three dashboards, every panel querying Prometheus through the ``$datasource`` variable:

* ``alertsieve-overview``: SLOs at a glance, noise-reduction and FNR trends, latency, request and
  error rates, fail-open events, embedding-cache hit rate, forwarding, thresholds;
* ``alertsieve-models``: model versions and A/B arms in service, decisions, suppress rate and
  feedback FNR per arm and per version, training pipeline status;
* ``alertsieve-slo``: error budget remaining and burn rates per SLO, from the recording rules.

Every scraped series is selected by the ``$cluster``, ``$namespace`` and ``$job`` variables (multi-value,
All = ``.*``); the SLO series recorded by the rules carry none of those labels and are selected by their
``sloth_*`` labels. Ranges are fixed, so ``all_panel_queries(values)`` hands an integration test
expressions it can send to Prometheus once the variables are substituted. ``alertsieve dashboards
generate`` writes the JSON (see ``dashboards.generate``).
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from alertsieve import metric_names as m
from dashboards.grafana import DATASOURCE, Query, dashboard_json
from dashboards.queries import (
    ACTIONABLE,
    BELOW_BAD,
    FEEDBACK,
    FNR_STEPS,
    LATENCY_STEPS,
    NON_ACTIONABLE,
    PERCENT,
    REQUESTS,
    SCOPE,
    SCORED,
    SUPPRESSED,
    p95,
    ratio,
    scope_variables,
    slo_sel,
    stat,
    substitute,
    ts,
)
from dashboards.slo import SLOSpec, load_slos
from dashboards.slo_board import slo_dashboard


def overview(spec: SLOSpec) -> dict[str, Any]:
    """Service health: the SLIs, traffic, errors and the moving parts around scoring."""
    nr_1d = f"1 - slo:sli_error:ratio_rate1d{{{slo_sel(spec, 'noise-reduction')}}}"
    fnr_1d = f"slo:sli_error:ratio_rate1d{{{slo_sel(spec, 'false-negative-rate')}}}"
    avail_1d = f"1 - slo:sli_error:ratio_rate1d{{{slo_sel(spec, 'scoring-availability')}}}"
    glance = [
        stat(
            "Noise reduction (1d)",
            Query(nr_1d),
            unit=PERCENT,
            thresholds=BELOW_BAD,
            description="Suppressed non-actionable / non-actionable alerts (feedback); objective >= 45%.",
        ),
        stat(
            "False-negative rate (1d)",
            Query(fnr_1d),
            unit=PERCENT,
            thresholds=FNR_STEPS,
            description="Suppressed actionable / actionable alerts (feedback); budget < 1.5%.",
        ),
        stat(
            "P95 score latency (5m)",
            Query(p95()),
            unit="s",
            thresholds=LATENCY_STEPS,
            description="Objective: P95 <= 140 ms.",
        ),
        stat(
            "Availability (1d)",
            Query(avail_1d),
            unit=PERCENT,
            thresholds=(("red", None), ("green", 0.999)),
            description="Non-5xx / all requests.",
        ),
    ]
    outcomes = [
        ts(
            "Noise reduction trend",
            Query(ratio(FEEDBACK, f"{NON_ACTIONABLE},{SUPPRESSED}", NON_ACTIONABLE, "1h"), "1h"),
            Query(nr_1d, "1d"),
            unit=PERCENT,
            thresholds=BELOW_BAD,
            minimum=0,
            maximum=1,
        ),
        ts(
            "Noise reduction by service (1d)",
            Query(ratio(FEEDBACK, f"{NON_ACTIONABLE},{SUPPRESSED}", NON_ACTIONABLE, "1d", ("service",)), "{{service}}"),
            unit=PERCENT,
            thresholds=BELOW_BAD,
            minimum=0,
            maximum=1,
        ),
        ts(
            "False-negative rate",
            Query(ratio(FEEDBACK, f"{ACTIONABLE},{SUPPRESSED}", ACTIONABLE, "1h"), "1h"),
            Query(fnr_1d, "1d"),
            unit=PERCENT,
            thresholds=FNR_STEPS,
            minimum=0,
        ),
        ts(
            "False-negative rate by service (1d)",
            Query(ratio(FEEDBACK, f"{ACTIONABLE},{SUPPRESSED}", ACTIONABLE, "1d", ("service",)), "{{service}}"),
            unit=PERCENT,
            thresholds=FNR_STEPS,
            minimum=0,
        ),
    ]
    fail_open = m.prom(m.FAIL_OPEN, counter=True)
    serving = [
        ts(
            "P95 score latency",
            Query(p95(), "all"),
            Query(p95(("route",)), "{{route}}"),
            unit="s",
            thresholds=LATENCY_STEPS,
            minimum=0,
        ),
        ts(
            "Requests by route and code",
            Query(f"sum by (route, code) (rate({REQUESTS}[5m]))", "{{route}} {{code}}"),
            unit="reqps",
        ),
        ts(
            "5xx error ratio",
            Query(ratio(REQUESTS, 'code=~"5.."', "", "5m"), "5xx"),
            unit=PERCENT,
            thresholds=(("green", None), ("red", 0.001)),
            minimum=0,
        ),
        ts(
            "Errors by stage",
            Query(f"sum by (stage) (rate({m.prom(m.ERRORS, counter=True)}[5m]))", "{{stage}}"),
            unit="ops",
        ),
        ts(
            "Fail-open events per hour",
            Query(f"sum by (reason) (increase({fail_open}[1h]))", "{{reason}}"),
            width=8,
            description="Alerts passed through unscored (paged) because scoring failed.",
        ),
        stat(
            "Fail-open events (24h)",
            Query(f"sum(increase({fail_open}[24h])) or vector(0)"),
            width=4,
            height=8,
            thresholds=(("green", None), ("orange", 1)),
        ),
        ts(
            "Embedding-cache hit rate",
            Query(
                f"(sum(rate({m.prom(m.EMBED_CACHE_HITS, counter=True)}[5m])) or vector(0))\n"
                f"/ (sum(rate({m.prom(m.EMBED_CACHE_LOOKUPS, counter=True)}[5m])) > 0)",
                "hit rate",
            ),
            unit=PERCENT,
            minimum=0,
            maximum=1,
        ),
        ts(
            "Delivered to the receivers",
            Query(
                f"sum by (receiver, outcome) (rate({m.prom(m.FORWARDED, counter=True)}[5m]))",
                "{{receiver}}: {{outcome}}",
            ),
            unit="ops",
        ),
        ts(
            "Decision thresholds per service",
            Query(f"max by (service, source) ({m.prom(m.THRESHOLD)})", "{{service}} ({{source}})"),
            minimum=0,
            maximum=1,
        ),
    ]
    return dashboard_json(
        "alertsieve-overview",
        "alertsieve / Overview",
        "Noise reduction, false negatives, latency and traffic of the alertsieve scoring service.",
        [("SLOs at a glance", glance), ("Outcomes (from feedback)", outcomes), ("Serving", serving)],
        DATASOURCE,
        variables=scope_variables(),
        scope=SCOPE,
    )


def models(spec: SLOSpec) -> dict[str, Any]:
    """Model versions and A/B arms side by side, and the weekly training pipeline."""
    del spec
    suppress_1h = {by: ratio(SCORED, SUPPRESSED, "", "1h", (by,)) for by in ("arm", "model_version")}
    fnr_1d = {
        by: ratio(FEEDBACK, f"{ACTIONABLE},{SUPPRESSED}", ACTIONABLE, "1d", (by,)) for by in ("arm", "model_version")
    }
    nr_1d = ratio(FEEDBACK, f"{NON_ACTIONABLE},{SUPPRESSED}", NON_ACTIONABLE, "1d", ("arm",))
    arms = [
        stat(
            "Models in service",
            Query(f"max by (arm, model_version) ({m.prom(m.MODEL_INFO)}) == 1", "{{arm}}: {{model_version}}"),
            width=24,
            extra_options={"textMode": "name", "graphMode": "none"},
        ),
        ts(
            "Scored alerts by arm and decision",
            Query(f"sum by (arm, decision) (rate({SCORED}[5m]))", "{{arm}} {{decision}}"),
            unit="ops",
        ),
        ts(
            "Scored alerts by model version and decision",
            Query(f"sum by (model_version, decision) (rate({SCORED}[5m]))", "{{model_version}} {{decision}}"),
            unit="ops",
        ),
        ts("Suppress rate per arm (1h)", Query(suppress_1h["arm"], "{{arm}}"), unit=PERCENT, minimum=0, maximum=1),
        ts(
            "Suppress rate per model version (1h)",
            Query(suppress_1h["model_version"], "{{model_version}}"),
            unit=PERCENT,
            minimum=0,
            maximum=1,
        ),
        ts("Feedback FNR per arm (1d)", Query(fnr_1d["arm"], "{{arm}}"), unit=PERCENT, thresholds=FNR_STEPS, minimum=0),
        ts(
            "Feedback FNR per model version (1d)",
            Query(fnr_1d["model_version"], "{{model_version}}"),
            unit=PERCENT,
            thresholds=FNR_STEPS,
            minimum=0,
        ),
        ts(
            "Noise reduction per arm (1d)",
            Query(nr_1d, "{{arm}}"),
            unit=PERCENT,
            thresholds=BELOW_BAD,
            minimum=0,
            maximum=1,
            width=24,
        ),
    ]
    last_run = m.prom(m.TRAINING_LAST_RUN)
    outcome_map = {
        "type": "value",
        "options": {
            "0": {"text": "failed", "color": "red", "index": 0},
            "1": {"text": "ok", "color": "green", "index": 1},
        },
    }
    last_success = m.prom(m.TRAINING_LAST_SUCCESS_TIME)
    training = [
        stat("Last training run", Query(f"max({last_run}) * 1000"), unit="dateTimeFromNow", width=5),
        stat(
            "Last run outcome",
            Query(f"min({m.prom(m.TRAINING_LAST_SUCCESS)})"),
            thresholds=(("red", None), ("green", 1)),
            mappings=(outcome_map,),
            width=4,
        ),
        stat("Last successful training run", Query(f"max({last_success}) * 1000"), unit="dateTimeFromNow", width=5),
        stat("Last run duration", Query(f"max({m.prom(m.TRAINING_LAST_DURATION)})"), unit="s", width=5),
        stat("Training rows (last run)", Query(f"max({m.prom(m.TRAINING_ROWS)})"), width=5),
        ts(
            "Hours since the last successful training run",
            Query(f"(time() - max({last_success})) / 3600", "hours"),
            unit="h",
            thresholds=(("green", None), ("red", 192)),
            width=24,
            description="The loop is weekly: red after 8 days without a successful run (alert AlertsieveRetrainingStale).",
        ),
    ]
    return dashboard_json(
        "alertsieve-models",
        "alertsieve / Models and training",
        "Champion and challenger side by side (decisions, suppress rate, feedback FNR) and training status.",
        [("Model versions and A/B arms", arms), ("Training pipeline", training)],
        DATASOURCE,
        time_from="now-7d",
        variables=scope_variables(),
        scope=SCOPE,
    )


def build_dashboards(spec: SLOSpec | None = None) -> dict[str, dict[str, Any]]:
    """Every dashboard, by the file name it is written to."""
    spec = spec or load_slos()
    built = (overview(spec), models(spec), slo_dashboard(spec))
    return {f"{dashboard['uid']}.json": dashboard for dashboard in built}


def all_panel_queries(spec: SLOSpec | None = None, values: Mapping[str, str] | None = None) -> list[tuple[str, str]]:
    """("dashboard title/panel title", expr) for every target of every panel, the variables substituted
    by ``values`` (All where not given), so Prometheus can run them as they are."""
    found: list[tuple[str, str]] = []
    for dashboard in build_dashboards(spec).values():
        for panel in dashboard["panels"]:
            for target in panel.get("targets", []):
                found.append((f"{dashboard['title']}/{panel['title']}", substitute(target["expr"], values)))
    return found
