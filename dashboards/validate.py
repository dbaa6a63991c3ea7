"""Checks a Grafana dashboard without a Grafana server.

* ``schema_errors``: against ``schema/grafana11-dashboard.schema.json`` (derived from Grafana 11's
  dashboard kind, see its description) with ``jsonschema``;
* ``layout_errors``: what a JSON Schema cannot say: unique panel ids, panels inside the 24-column
  grid and not overlapping;
* ``query_errors``: every target's PromQL selects only series alertsieve exports or the SLO rules
  record, and queries through the dashboard's ``$datasource`` variable.
"""

from __future__ import annotations

import json
from functools import lru_cache
from pathlib import Path
from typing import Any

from jsonschema import Draft202012Validator

from alertsieve.metric_names import scraped_series
from dashboards.grafana import DATASOURCE
from dashboards.promql import is_balanced, series_in
from dashboards.rules import RECORDED_SERIES

SCHEMA_FILE = Path(__file__).resolve().parent / "schema" / "grafana11-dashboard.schema.json"


@lru_cache(maxsize=1)
def _validator() -> Draft202012Validator:
    schema = json.loads(SCHEMA_FILE.read_text(encoding="utf-8"))
    Draft202012Validator.check_schema(schema)
    return Draft202012Validator(schema)


def known_series() -> frozenset[str]:
    """Series a dashboard or alert may query: alertsieve's metrics and the SLO recording rules."""
    return scraped_series() | RECORDED_SERIES


def _panels(dashboard: dict[str, Any]) -> list[dict[str, Any]]:
    found = []
    for panel in dashboard.get("panels", []):
        found.append(panel)
        found.extend(panel.get("panels", []) if panel.get("type") == "row" else [])
    return found


def schema_errors(dashboard: dict[str, Any]) -> list[str]:
    """Schema violations, as 'path: message'."""
    errors = sorted(_validator().iter_errors(dashboard), key=lambda error: list(error.absolute_path))
    return [f"{'/'.join(str(part) for part in error.absolute_path) or '<root>'}: {error.message}" for error in errors]


def layout_errors(dashboard: dict[str, Any]) -> list[str]:
    """Duplicate ids, panels past the grid's right edge, overlapping panels."""
    errors: list[str] = []
    seen: dict[int, str] = {}
    cells: dict[tuple[int, int], str] = {}
    for panel in _panels(dashboard):
        title = str(panel.get("title", "?"))
        panel_id = panel.get("id")
        if isinstance(panel_id, int):
            if panel_id in seen:
                errors.append(f"panel id {panel_id} used by {seen[panel_id]!r} and {title!r}")
            seen[panel_id] = title
        pos = panel.get("gridPos")
        if not isinstance(pos, dict):
            continue
        x, y, w, h = (int(pos.get(key, 0)) for key in ("x", "y", "w", "h"))
        if x + w > 24:
            errors.append(f"panel {title!r} extends past the grid (x={x}, w={w})")
        for cell in ((cx, cy) for cx in range(x, min(x + w, 24)) for cy in range(y, y + h)):
            if cell in cells:
                errors.append(f"panels {cells[cell]!r} and {title!r} overlap at {cell}")
                break
            cells[cell] = title
    return errors


def query_errors(dashboard: dict[str, Any], datasource_uid: str = DATASOURCE) -> list[str]:
    """Targets without expr, unknown series, unbalanced brackets, other datasources."""
    errors: list[str] = []
    known = known_series()
    for panel in _panels(dashboard):
        if panel.get("type") == "row":
            continue
        title = str(panel.get("title", "?"))
        targets = panel.get("targets") or []
        if not targets:
            errors.append(f"panel {title!r} has no targets")
        refs = [panel.get("datasource", {})] + [target.get("datasource", {}) for target in targets]
        if any(ref.get("uid") != datasource_uid for ref in refs):
            errors.append(f"panel {title!r} does not query datasource {datasource_uid!r}")
        for target in targets:
            expr = str(target.get("expr", ""))
            if not expr.strip():
                errors.append(f"panel {title!r} target {target.get('refId')} has no expr")
                continue
            if not is_balanced(expr):
                errors.append(f"panel {title!r}: unbalanced brackets in {expr!r}")
            unknown = series_in(expr) - known
            if unknown:
                errors.append(f"panel {title!r} queries unknown series {sorted(unknown)}")
    return errors


def dashboard_errors(dashboard: dict[str, Any]) -> list[str]:
    """Every problem found by the three checks."""
    return schema_errors(dashboard) + layout_errors(dashboard) + query_errors(dashboard)
