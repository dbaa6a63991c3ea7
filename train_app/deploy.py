"""Putting a rollout stage into service: the Serve app's args (models, mode, split) behind one protocol.

``ServeConfigDeployer`` is production's: it writes the stage into the ``args`` of the app in
serve_config.yaml (only the changed values, so the file's comments survive) and runs ``serve deploy``;
Serve updates the running app in place. ``ServeRunDeployer`` calls ``serve.run`` on the Ray cluster this
process is connected to, with the app builder that the config's ``import_path`` names (or one passed in),
which is what tests and single-machine setups use. ``RayServiceDeployer`` is Kubernetes': it reads the
RayService's ``serveConfigV2`` with ``kubectl get``, sets the stage in its app args the same way and writes
it back with ``kubectl patch`` (guarded by the object's resourceVersion); KubeRay then updates the Serve
apps in place. ``set_http_options`` puts the bind host and port (Settings: ALERTSIEVE_HOST/PORT) into a
config's ``http_options``. train_app never imports serve_app: the builder is found by name, as ``serve
deploy`` finds it.
"""

from __future__ import annotations

import copy
import importlib
import inspect
import json
import subprocess
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import Any, Protocol, get_type_hints

import yaml
from pydantic import BaseModel

from alertsieve.records import atomic_writer
from train_app.promotion import ServeTarget


class DeployError(RuntimeError):
    """The Serve config could not be updated or deployed."""


class Deployer(Protocol):
    def deploy(self, target: ServeTarget) -> None: ...


def merge(base: dict[str, Any], updates: dict[str, Any]) -> dict[str, Any]:
    """``base`` with ``updates`` applied recursively (nested mappings merged, other values replaced)."""
    out = copy.deepcopy(base)
    for key, value in updates.items():
        if isinstance(value, dict) and isinstance(out.get(key), dict):
            out[key] = merge(out[key], value)
        else:
            out[key] = copy.deepcopy(value)
    return out


def find_app(config: dict[str, Any], app_name: str) -> dict[str, Any]:
    for app in config.get("applications") or []:
        if isinstance(app, dict) and app.get("name") == app_name:
            return app
    raise DeployError(f"no application named {app_name!r} in the Serve config")


def _child(node: yaml.Node | None, key: str) -> yaml.Node | None:
    if not isinstance(node, yaml.MappingNode):
        return None
    return next((value for k, value in node.value if isinstance(k, yaml.ScalarNode) and k.value == key), None)


def _scalar_edits(node: yaml.Node | None, updates: dict[str, Any]) -> list[tuple[int, int, str]] | None:
    """Text edits that replace the scalar values of ``updates`` in place; None if one is not a scalar there."""
    edits: list[tuple[int, int, str]] = []
    for key, value in updates.items():
        child = _child(node, key)
        if isinstance(value, dict):
            nested = _scalar_edits(child, value)
            if nested is None:
                return None
            edits += nested
        elif isinstance(child, yaml.ScalarNode):
            edits.append((child.start_mark.index, child.end_mark.index, json.dumps(value)))
        else:
            return None
    return edits


def _apply_edits(text: str, edits: list[tuple[int, int, str]]) -> str:
    for start, end, replacement in sorted(edits, reverse=True):
        text = text[:start] + replacement + text[end:]
    return text


def set_http_options(text: str, host: str, port: int) -> str:
    """The config text with ``http_options`` host and port set, comments kept where possible."""
    data = yaml.safe_load(text) or {}
    updates = {"http_options": {"host": host, "port": port}}
    expected = merge(data, updates)
    edits = _scalar_edits(yaml.compose(text), updates)
    if edits is not None:
        out = _apply_edits(text, edits)
        if yaml.safe_load(out) == expected:
            return out
    return yaml.safe_dump(expected, sort_keys=False)


def set_app_args(text: str, app_name: str, updates: dict[str, Any]) -> str:
    """The config text with ``updates`` merged into the app's args, comments kept where possible."""
    data = yaml.safe_load(text) or {}
    expected = merge(find_app(data, app_name).get("args") or {}, updates)
    root = yaml.compose(text)
    apps = _child(root, "applications")
    app_node = (
        next(
            (
                n
                for n in apps.value
                if isinstance(n, yaml.MappingNode) and getattr(_child(n, "name"), "value", None) == app_name
            ),
            None,
        )
        if isinstance(apps, yaml.SequenceNode)
        else None
    )
    edits = _scalar_edits(_child(app_node, "args"), updates) if app_node is not None else None
    if edits is not None:
        out = _apply_edits(text, edits)
        if (find_app(yaml.safe_load(out), app_name).get("args") or {}) == expected:
            return out
    find_app(data, app_name)["args"] = expected  # a key not there yet: write the whole file
    return yaml.safe_dump(data, sort_keys=False)


class ServeConfigDeployer:
    """Writes the stage into serve_config.yaml and runs ``serve deploy`` (to ``address`` when given)."""

    def __init__(
        self,
        config_path: Path,
        app_name: str = "alertsieve",
        address: str | None = None,
        command: Sequence[str] = ("serve", "deploy"),
    ) -> None:
        self.config_path, self.app_name, self.address, self.command = config_path, app_name, address, command

    def deploy(self, target: ServeTarget) -> None:
        try:
            text = self.config_path.read_text(encoding="utf-8")
        except OSError as exc:
            raise DeployError(f"cannot read {self.config_path}: {exc}") from exc
        with atomic_writer(self.config_path) as handle:
            handle.write(set_app_args(text, self.app_name, target.app_args()))
        argv = [*self.command, str(self.config_path), *(["--address", self.address] if self.address else [])]
        done = subprocess.run(argv, capture_output=True, text=True, check=False)
        if done.returncode != 0:
            raise DeployError(f"{' '.join(argv)} failed ({done.returncode}): {(done.stderr or done.stdout)[-2000:]}")


class RayServiceDeployer:
    """Sets the stage in the RayService's ``serveConfigV2`` through ``kubectl get`` / ``kubectl patch``.

    Runs in the cluster with a service account that may get and patch ``rayservices`` (infra/); kubectl
    finds the API server and the namespace from the pod's service account unless ``namespace`` is given."""

    def __init__(
        self,
        name: str,
        app_name: str = "alertsieve",
        namespace: str | None = None,
        command: Sequence[str] = ("kubectl",),
    ) -> None:
        self.name, self.app_name, self.namespace, self.command = name, app_name, namespace, command

    def _kubectl(self, *args: str) -> str:
        argv = [*self.command, *args, *(["--namespace", self.namespace] if self.namespace else [])]
        try:
            done = subprocess.run(argv, capture_output=True, text=True, check=False, timeout=120)
        except (OSError, subprocess.TimeoutExpired) as exc:
            raise DeployError(f"{argv[0]} {args[0]} failed: {exc}") from exc
        if done.returncode != 0:
            raise DeployError(
                f"kubectl {' '.join(args[:3])} failed ({done.returncode}): {(done.stderr or done.stdout)[-2000:]}"
            )
        return done.stdout

    def deploy(self, target: ServeTarget) -> None:
        try:
            current = json.loads(self._kubectl("get", "rayservice", self.name, "--output", "json"))
            text = current["spec"]["serveConfigV2"]
            version = current["metadata"]["resourceVersion"]
        except (ValueError, KeyError, TypeError) as exc:
            raise DeployError(f"RayService {self.name!r} has no readable spec.serveConfigV2: {exc}") from exc
        updated = set_app_args(text, self.app_name, target.app_args())
        # a merge patch with the resourceVersion read: refused (409) if someone changed the object since
        patch = {"metadata": {"resourceVersion": version}, "spec": {"serveConfigV2": updated}}
        self._kubectl("patch", "rayservice", self.name, "--type", "merge", "--patch", json.dumps(patch))


Builder = Callable[[dict[str, Any]], Any]


def builder_from_import_path(import_path: str) -> Builder:
    """The app builder a Serve config names (``module:function``), taking its args as a dict and
    validating them against its typed parameter as Serve does."""
    module_name, _, attr = import_path.partition(":")
    function = getattr(importlib.import_module(module_name), attr)
    params = list(inspect.signature(function).parameters)
    model = get_type_hints(function).get(params[0]) if params else None

    def build(args: dict[str, Any]) -> Any:
        if isinstance(model, type) and issubclass(model, BaseModel):
            return function(model.model_validate(args))
        return function(args)

    return build


class ServeRunDeployer:
    """``serve.run(builder(args))`` on the connected Ray cluster: the base args with the stage merged in."""

    def __init__(
        self, builder: Builder, base_args: dict[str, Any], app_name: str = "alertsieve", route_prefix: str = "/"
    ) -> None:
        self.builder, self.base_args = builder, base_args
        self.app_name, self.route_prefix = app_name, route_prefix
        self.deployed: list[ServeTarget] = []

    @classmethod
    def from_config(cls, config_path: Path, app_name: str = "alertsieve") -> ServeRunDeployer:
        app = find_app(yaml.safe_load(config_path.read_text(encoding="utf-8")) or {}, app_name)
        return cls(
            builder_from_import_path(app["import_path"]), app.get("args") or {}, app_name, app.get("route_prefix", "/")
        )

    def deploy(self, target: ServeTarget) -> None:
        from ray import serve

        serve.run(
            self.builder(merge(self.base_args, target.app_args())), name=self.app_name, route_prefix=self.route_prefix
        )
        self.deployed.append(target)
