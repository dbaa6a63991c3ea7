"""Vendors the Kubernetes JSON schemas the manifests in infra/ (and the kustomize overlays' output) are
validated against (run by hand).

Source: the PyPI package kubernetes-validate (its ``v1.31.0-local-strict`` schemas, Draft 2020-12, every
object ``additionalProperties: false``). Keeps the kinds infra/ uses and only the definitions they (and
the core types KubeRay embeds) reach, so the repo carries ~1 MB instead of 22:

    pip download --no-deps kubernetes-validate==1.37.0 -d /tmp/kv && unzip -q /tmp/kv/*.whl -d /tmp/kv
    python infra/schemas/vendor_kubernetes.py /tmp/kv/kubernetes_validate/kubernetes-json-schema/v1.31.0-local-strict

Standard library only; infra/ is not a Python package and nothing imports this file.
"""

from __future__ import annotations

import json
import sys
from pathlib import Path
from typing import Any

KINDS = (
    "cronjob-batch-v1",
    "job-batch-v1",
    "serviceaccount-v1",
    "role-rbac-v1",
    "rolebinding-rbac-v1",
    "configmap-v1",
    "service-v1",
    "secret-v1",
    "networkpolicy-networking-v1",
)
# core types KubeRay's CRDs embed (pod templates, services, the autoscaler container's fields)
EMBEDDED = (
    "io.k8s.api.core.v1.PodTemplateSpec",
    "io.k8s.api.core.v1.Service",
    "io.k8s.api.core.v1.ResourceRequirements",
    "io.k8s.api.core.v1.EnvVar",
    "io.k8s.api.core.v1.EnvFromSource",
    "io.k8s.api.core.v1.VolumeMount",
    "io.k8s.api.core.v1.SecurityContext",
)
OUT = Path(__file__).resolve().parent / "kubernetes-v1.31-strict"


def refs(node: Any) -> set[str]:
    found: set[str] = set()
    if isinstance(node, dict):
        ref = node.get("$ref")
        if isinstance(ref, str) and "#/$defs/" in ref:
            found.add(ref.rsplit("/", 1)[-1])
        for value in node.values():
            found |= refs(value)
    elif isinstance(node, list):
        for value in node:
            found |= refs(value)
    return found


def main(source: Path) -> None:
    definitions = json.loads((source / "_definitions.json").read_text())
    defs = definitions["$defs"]
    kinds = {name: json.loads((source / f"{name}.json").read_text()) for name in KINDS}
    todo = set(EMBEDDED).union(*(refs(kind) for kind in kinds.values()))
    keep: set[str] = set()
    while todo:
        name = todo.pop()
        if name not in keep:
            keep.add(name)
            todo |= refs(defs[name]) - keep
    OUT.mkdir(parents=True, exist_ok=True)
    subset = {**definitions, "$defs": {name: defs[name] for name in sorted(keep)}}
    (OUT / "_definitions.json").write_text(json.dumps(subset, indent=1, sort_keys=True) + "\n")
    for name, schema in kinds.items():
        (OUT / f"{name}.json").write_text(json.dumps(schema, indent=1, sort_keys=True) + "\n")
    sys.stdout.write(f"kept {len(keep)} of {len(defs)} definitions and {len(kinds)} kinds in {OUT}\n")


if __name__ == "__main__":
    main(Path(sys.argv[1]))
