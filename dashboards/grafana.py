"""Small builders for Grafana 11 dashboard JSON (schemaVersion 39): panels, rows, layout.

Only what alertsieve's dashboards use: Prometheus targets, time series, stat and gauge panels, and
rows. Panels are placed left to right on Grafana's 24-column grid, wrapping to a new line, and
every panel and target carries an explicit datasource reference: the ``$datasource`` variable, so the
dashboards query whichever Prometheus the Grafana already has. ``label_variable`` makes the
``cluster``/``namespace``/``job`` selectors, which ``scope`` adds to every scraped series.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from dashboards.promql import add_matchers

SCHEMA_VERSION = 39
PLUGIN_VERSION = "11.0.0"
GRID_WIDTH = 24
DATASOURCE_VARIABLE = "datasource"
DATASOURCE = "${datasource}"
ALL = ".*"


@dataclass(frozen=True)
class Query:
    """One Prometheus target of a panel."""

    expr: str
    legend: str = "__auto"
    instant: bool = False


@dataclass(frozen=True)
class Panel:
    """A panel before layout: its type, size and JSON fields other than id and position."""

    kind: str
    title: str
    queries: tuple[Query, ...]
    description: str = ""
    unit: str = "short"
    width: int = 8
    height: int = 8
    thresholds: tuple[tuple[str, float | None], ...] = (("green", None),)
    minimum: float | None = None
    maximum: float | None = None
    mappings: tuple[dict[str, Any], ...] = ()
    extra_options: dict[str, Any] = field(default_factory=dict)


def datasource_ref(uid: str) -> dict[str, str]:
    """A Prometheus datasource reference."""
    return {"type": "prometheus", "uid": uid}


def datasource_variable() -> dict[str, Any]:
    """The ``$datasource`` variable: any Prometheus datasource of the Grafana (its default first)."""
    return {
        "type": "datasource",
        "name": DATASOURCE_VARIABLE,
        "label": "Prometheus",
        "query": "prometheus",
        "current": {},
        "hide": 0,
        "includeAll": False,
        "multi": False,
        "options": [],
        "refresh": 1,
        "regex": "",
        "skipUrlSync": False,
    }


def label_variable(label: str, metric: str, parents: tuple[str, ...] = ()) -> dict[str, Any]:
    """A multi-value ``$label`` from the values ``metric`` has under the ``parents`` selected so far;
    All is ``.*`` (which also matches a series without the label)."""
    selector = ", ".join(f'{p}=~"${p}"' for p in parents)
    query = f"label_values({metric}{{{selector}}}, {label})" if selector else f"label_values({metric}, {label})"
    return {
        "type": "query",
        "name": label,
        "label": label,
        "datasource": datasource_ref(DATASOURCE),
        "definition": query,
        "query": {"query": query, "refId": "PrometheusVariableQueryEditor-VariableQuery", "qryType": 1},
        "current": {"selected": True, "text": ["All"], "value": ["$__all"]},
        "hide": 0,
        "includeAll": True,
        "allValue": ALL,
        "multi": True,
        "options": [],
        "refresh": 2,
        "regex": "",
        "skipUrlSync": False,
        "sort": 1,
    }


def scope_matchers(labels: tuple[str, ...]) -> str:
    """Label matchers selecting each of ``labels`` by its dashboard variable."""
    return ", ".join(f'{label}=~"${label}"' for label in labels)


def _options(kind: str) -> dict[str, Any]:
    reduce = {"calcs": ["lastNotNull"], "fields": "", "values": False}
    if kind == "timeseries":
        return {
            "legend": {"calcs": [], "displayMode": "list", "placement": "bottom", "showLegend": True},
            "tooltip": {"mode": "multi", "sort": "none"},
        }
    if kind == "stat":
        return {
            "reduceOptions": reduce,
            "colorMode": "value",
            "graphMode": "area",
            "justifyMode": "auto",
            "orientation": "auto",
            "textMode": "auto",
            "wideLayout": True,
            "showPercentChange": False,
        }
    if kind == "gauge":
        return {
            "reduceOptions": reduce,
            "orientation": "auto",
            "showThresholdLabels": False,
            "showThresholdMarkers": True,
            "sizing": "auto",
        }
    raise ValueError(f"unsupported panel type: {kind}")


def _field_defaults(panel: Panel) -> dict[str, Any]:
    defaults: dict[str, Any] = {
        "unit": panel.unit,
        "color": {"mode": "palette-classic" if panel.kind == "timeseries" else "thresholds"},
        "thresholds": {
            "mode": "absolute",
            "steps": [{"color": color, "value": value} for color, value in panel.thresholds],
        },
        "mappings": list(panel.mappings),
    }
    if panel.minimum is not None:
        defaults["min"] = panel.minimum
    if panel.maximum is not None:
        defaults["max"] = panel.maximum
    if panel.kind == "timeseries":
        defaults["custom"] = {
            "drawStyle": "line",
            "lineWidth": 1,
            "fillOpacity": 10,
            "showPoints": "never",
            "spanNulls": False,
            "thresholdsStyle": {"mode": "line" if len(panel.thresholds) > 1 else "off"},
        }
    return defaults


def panel_json(panel: Panel, panel_id: int, x: int, y: int, datasource_uid: str, scope: str = "") -> dict[str, Any]:
    """The JSON of a placed panel; ``scope`` matchers are added to every scraped series it queries."""
    ref = datasource_ref(datasource_uid)
    targets = [
        {
            "refId": chr(ord("A") + index),
            "datasource": ref,
            "editorMode": "code",
            "expr": add_matchers(query.expr, scope),
            "legendFormat": query.legend,
            "instant": query.instant,
            "range": not query.instant,
        }
        for index, query in enumerate(panel.queries)
    ]
    return {
        "id": panel_id,
        "type": panel.kind,
        "title": panel.title,
        "description": panel.description,
        "datasource": ref,
        "gridPos": {"h": panel.height, "w": panel.width, "x": x, "y": y},
        "targets": targets,
        "fieldConfig": {"defaults": _field_defaults(panel), "overrides": []},
        "options": {**_options(panel.kind), **panel.extra_options},
        "transformations": [],
        "transparent": False,
        "pluginVersion": PLUGIN_VERSION,
    }


def layout(rows: list[tuple[str, list[Panel]]], datasource_uid: str, scope: str = "") -> list[dict[str, Any]]:
    """Rows and their panels, placed on the grid with ids 1, 2, ... in reading order."""
    placed: list[dict[str, Any]] = []
    y = 0
    next_id = 1
    for row_title, panels in rows:
        placed.append(
            {
                "id": next_id,
                "type": "row",
                "title": row_title,
                "collapsed": False,
                "gridPos": {"h": 1, "w": GRID_WIDTH, "x": 0, "y": y},
                "panels": [],
            }
        )
        next_id += 1
        y += 1
        x = 0
        line_height = 0
        for panel in panels:
            if not 0 < panel.width <= GRID_WIDTH:
                raise ValueError(f"panel width out of range: {panel.title}")
            if x + panel.width > GRID_WIDTH:
                x, y, line_height = 0, y + line_height, 0
            placed.append(panel_json(panel, next_id, x, y, datasource_uid, scope))
            next_id += 1
            x += panel.width
            line_height = max(line_height, panel.height)
        y += line_height
    return placed


def dashboard_json(
    uid: str,
    title: str,
    description: str,
    rows: list[tuple[str, list[Panel]]],
    datasource_uid: str,
    time_from: str = "now-24h",
    variables: tuple[dict[str, Any], ...] = (),
    scope: str = "",
) -> dict[str, Any]:
    """A complete Grafana 11 dashboard with ``variables`` (after ``$datasource``) and ``scope`` matchers."""
    return {
        "id": None,
        "uid": uid,
        "title": title,
        "description": description,
        "tags": ["alertsieve"],
        "timezone": "browser",
        "editable": True,
        "graphTooltip": 1,
        "fiscalYearStartMonth": 0,
        "liveNow": False,
        "refresh": "1m",
        "schemaVersion": SCHEMA_VERSION,
        "version": 1,
        "time": {"from": time_from, "to": "now"},
        "timepicker": {},
        "links": [],
        "annotations": {
            "list": [
                {
                    "builtIn": 1,
                    "datasource": {"type": "grafana", "uid": "-- Grafana --"},
                    "enable": True,
                    "hide": True,
                    "iconColor": "rgba(0, 211, 255, 1)",
                    "name": "Annotations & Alerts",
                    "type": "dashboard",
                }
            ]
        },
        "templating": {"list": [datasource_variable(), *variables]},
        "panels": layout(rows, datasource_uid, scope),
    }
