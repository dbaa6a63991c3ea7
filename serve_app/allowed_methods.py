"""What a 405 says in its ``Allow`` header: the methods the resource at the request's path supports, computed
from the app's routes (never written by hand), so it is exactly the methods OpenAPI lists for that path.

A path's resource is the route template that matches it with the fewest path parameters (of equals, the first
registered): ``/v1/thresholds/audit`` is the audit log (GET), not a service named "audit" under
``/v1/thresholds/{service}`` (PUT, DELETE), whichever route Starlette tried first. Its methods are those of
every route with that template. A mount (the docs' static files) keeps the header its app wrote.
"""

from __future__ import annotations

from collections.abc import Sequence

from fastapi.routing import iter_route_contexts
from starlette.routing import BaseRoute, Match
from starlette.types import Scope

__all__ = ["allow_header", "allowed_methods"]


def allowed_methods(routes: Sequence[BaseRoute], scope: Scope) -> frozenset[str] | None:
    """The methods the resource at this request's path supports; None when no route with methods has it."""
    best: tuple[int, str] | None = None  # (path parameters, template) of the resource
    methods: dict[str, set[str] | None] = {}
    probe = {**scope, "method": "GET"}  # a path match, whatever the method: FULL or PARTIAL
    for route in iter_route_contexts(routes):
        template = route.path
        if template is None or route.matches(probe)[0] == Match.NONE:
            continue
        found, known = route.methods, methods.get(template, set())
        methods[template] = None if found is None or known is None else known | set(found)
        rank = (template.count("{"), template)
        if best is None or rank[0] < best[0]:
            best = rank
    if best is None:
        return None
    chosen = methods[best[1]]
    return frozenset(chosen) if chosen else None


def allow_header(routes: Sequence[BaseRoute], scope: Scope) -> str | None:
    """The ``Allow`` header for a 405 on this request (methods sorted), or None to keep the one written."""
    found = allowed_methods(routes, scope)
    return ", ".join(sorted(found)) if found else None
