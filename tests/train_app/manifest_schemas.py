"""The manifests' schema check, shared by every infra test: the vendored Kubernetes 1.31 (strict), KubeRay
ray.io/v1 and prometheus-operator monitoring.coreos.com/v1 schemas of infra/schemas, resolved offline by
their $id, a validator per (apiVersion, kind), and the documents of the kustomize base."""

from __future__ import annotations

import json
from functools import cache
from pathlib import Path
from typing import Any

import yaml
from jsonschema import Draft202012Validator
from referencing import Registry, Resource

ROOT = Path(__file__).resolve().parents[2]
INFRA = ROOT / "infra"
BASE = INFRA / "kustomize" / "base"
SCHEMAS = INFRA / "schemas"


@cache
def validators() -> dict[tuple[str, str], Draft202012Validator]:
    """(apiVersion, kind) -> a validator, over every vendored schema (resolved by their $id)."""
    schemas = [json.loads(p.read_text()) for p in sorted(SCHEMAS.rglob("*.json"))]
    registry: Registry = Registry().with_resources((s["$id"], Resource.from_contents(s)) for s in schemas)
    found = {}
    for schema in schemas:
        for gvk in schema.get("x-kubernetes-group-version-kind", []):
            api = f"{gvk['group']}/{gvk['version']}" if gvk["group"] else gvk["version"]
            found[(api, gvk["kind"])] = schema
        props = schema.get("properties", {})
        if "const" in props.get("kind", {}):
            found[(props["apiVersion"]["const"], props["kind"]["const"])] = schema
    for schema in found.values():
        Draft202012Validator.check_schema(schema)
    return {key: Draft202012Validator(schema, registry=registry) for key, schema in found.items()}


def errors(doc: dict[str, Any]) -> list[str]:
    """Where ``doc`` breaks its kind's schema (``path: message``); a kind with no vendored schema fails."""
    key = (doc.get("apiVersion", ""), doc.get("kind", ""))
    assert key in validators(), f"no vendored schema for {key}"
    return [f"{'/'.join(map(str, e.absolute_path))}: {e.message}" for e in validators()[key].iter_errors(doc)]


def base_files() -> list[Path]:
    """The manifests of the kustomize base (its kustomization.yaml aside)."""
    return [p for p in sorted(BASE.glob("*.yaml")) if p.name != "kustomization.yaml"]


def embedded(doc: dict[str, Any]) -> list[tuple[str, dict[str, Any]]]:
    """(key, document) of the manifests a ConfigMap carries as text (the retrain RayJob template)."""
    if doc.get("kind") != "ConfigMap":
        return []
    return [(key, yaml.safe_load(text)) for key, text in (doc.get("data") or {}).items()]
