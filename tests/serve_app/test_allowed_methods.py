"""A 405's ``Allow`` lists exactly the methods OpenAPI gives its path (``serve_app/allowed_methods.py``), for
every path of the app the Ingress serves. The Ingress's own routes are registered on that app when
``serve_app.ingress`` is imported; a 405 is answered by routing, before any route runs, so no Serve is needed."""

from __future__ import annotations

import re

import pytest
from fastapi import FastAPI
from fastapi.testclient import TestClient

import serve_app.ingress  # noqa: F401 - registers the Ingress's routes on the app
from serve_app import ui
from serve_app.allowed_methods import allowed_methods
from serve_app.http_api import api

METHODS = ("GET", "HEAD", "PUT", "POST", "DELETE", "PATCH", "OPTIONS")
SPEC = api.openapi()["paths"]


def concrete(template: str) -> str:
    return re.sub(r"\{[^}]+\}", "checkout", template)


@pytest.mark.parametrize("template", sorted(SPEC))
def test_every_unsupported_method_is_405_with_the_spec_methods_in_allow(template: str) -> None:
    client = TestClient(api)
    declared = {m.upper() for m in SPEC[template]}
    unsupported = [m for m in METHODS if m not in declared]
    assert unsupported
    for method in unsupported:
        reply = client.request(method, concrete(template))
        assert reply.status_code == 405, (method, template, reply.text)
        allow = {m.strip() for m in reply.headers["allow"].split(",")}
        assert allow == declared, (method, template)


@pytest.mark.parametrize("name", sorted(ui.READ_ONLY))
def test_a_read_only_name_is_its_own_resource_not_a_service(name: str) -> None:
    """PUT /v1/thresholds/audit reaches the {service} route first (a read-only name: 405); Allow is the audit's."""
    reply = TestClient(api).put(f"/v1/thresholds/{name}", json={"threshold": 0.5, "by": "x", "reason": "y"})
    assert reply.status_code == 405 and reply.headers["allow"] == "GET"


def test_the_resource_is_the_template_with_fewest_parameters() -> None:
    app = FastAPI()
    app.add_api_route("/items/{name}", lambda: None, methods=["PUT"])
    app.add_api_route("/items/{name}", lambda: None, methods=["DELETE"])
    app.add_api_route("/items/new", lambda: None, methods=["POST"])
    scope = {"type": "http", "path": "/items/new", "root_path": "", "method": "PATCH"}
    assert allowed_methods(app.routes, scope) == frozenset({"POST"})
    assert allowed_methods(app.routes, {**scope, "path": "/items/x"}) == frozenset({"PUT", "DELETE"})
    assert allowed_methods(app.routes, {**scope, "path": "/elsewhere"}) is None
