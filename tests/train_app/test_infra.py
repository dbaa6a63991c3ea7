"""The schedule as code: the manifests parse, the CronJob is weekly, and the job's command line is one the
commands accept."""

from __future__ import annotations

import shlex
from typing import Any

import typer
import yaml

from tests.train_app.manifest_schemas import base_files
from train_app.__main__ import build


def documents() -> dict[tuple[str, str], dict]:  # type: ignore[type-arg]
    """Every document of the kustomize base by (kind, name)."""
    return {
        (d["kind"], d["metadata"]["name"]): d
        for path in base_files()
        for d in yaml.safe_load_all(path.read_text())
        if d
    }


def parses(argv: list[str]) -> Any:
    """Parse (not run) a train_app command line the way the CLI would; the command's context."""
    group: Any = typer.main.get_command(build())
    with group.make_context("train_app", list(argv)) as ctx:
        command = group.get_command(ctx, argv[0])
        assert command is not None, argv[0]
        return command.make_context(argv[0], list(argv[1:]))


def test_a_weekly_cronjob_creates_the_rayjob_from_its_template() -> None:
    docs = documents()
    cron = docs[("CronJob", "alertsieve-retrain")]["spec"]
    assert cron["schedule"] == "0 3 * * 1" and cron["concurrencyPolicy"] == "Forbid"
    pod = cron["jobTemplate"]["spec"]["template"]["spec"]
    [container] = pod["containers"]
    assert container["command"][:3] == ["/bin/kubectl", "create", "-f"]
    assert container["image"].startswith("registry.k8s.io/kubectl:v1.31.")
    mount = container["volumeMounts"][0]
    assert container["command"][3] == f"{mount['mountPath']}/rayjob.yaml"
    [volume] = [v for v in pod["volumes"] if v["name"] == mount["name"]]
    assert volume["configMap"]["name"] == "alertsieve-retrain-rayjob"
    role = docs[("Role", pod["serviceAccountName"])]
    [rule] = role["rules"]
    assert rule == {"apiGroups": ["ray.io"], "resources": ["rayjobs"], "verbs": ["create", "get", "list", "watch"]}
    assert docs[("RoleBinding", "alertsieve-scheduler")]["subjects"][0]["name"] == pod["serviceAccountName"]


def test_the_rayjob_runs_the_retraining_entrypoint_on_a_cluster_it_tears_down() -> None:
    template = documents()[("ConfigMap", "alertsieve-retrain-rayjob")]["data"]["rayjob.yaml"]
    job = yaml.safe_load(template)
    assert (job["apiVersion"], job["kind"]) == ("ray.io/v1", "RayJob")
    assert job["metadata"]["generateName"] == "alertsieve-retrain-"
    spec = job["spec"]
    assert spec["shutdownAfterJobFinishes"] is True and spec["rayClusterSpec"]["rayVersion"] == "2.60.0"
    assert 0 < spec["ttlSecondsAfterFinished"] <= 600  # the cluster goes minutes after the job, not a day
    argv = shlex.split(spec["entrypoint"])
    assert argv[:3] == ["python", "-m", "train_app"]
    ctx = parses(argv[3:])
    assert ctx.params["history"].startswith("s3://") and ctx.params["weeks"] == 6 and ctx.params["workers"] == 2
    groups = {g["groupName"]: g for g in spec["rayClusterSpec"]["workerGroupSpecs"]}
    gpu = groups["gpu"]["template"]["spec"]["containers"][0]["resources"]["limits"]
    assert gpu["nvidia.com/gpu"] == "1" and groups["gpu"]["replicas"] == 0
    for pod in [spec["rayClusterSpec"]["headGroupSpec"]["template"], *(g["template"] for g in groups.values())]:
        env = pod["spec"]["containers"][0]["envFrom"]
        assert {"secretRef": {"name": "alertsieve-s3"}} in env
        assert {"configMapRef": {"name": "alertsieve-config"}} in env


def test_the_hourly_promotion_step_is_a_valid_command() -> None:
    cron = documents()[("CronJob", "alertsieve-promote")]["spec"]
    [container] = cron["jobTemplate"]["spec"]["template"]["spec"]["containers"]
    assert container["command"][:2] == ["alertsieve", "promote"]
    ctx = parses(container["command"][1:])
    assert ctx.params["deployer"] == "rayservice" and ("RayService", ctx.params["rayservice"]) in documents()
