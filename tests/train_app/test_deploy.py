"""Deployers: the serve_config.yaml edit (comments kept), `serve deploy`, `kubectl patch` of the RayService,
and builders found by import path."""

from __future__ import annotations

import json
import sys
from pathlib import Path
from typing import Any

import pytest
import yaml
from pydantic import BaseModel

from train_app.deploy import (
    DeployError,
    RayServiceDeployer,
    ServeConfigDeployer,
    ServeRunDeployer,
    builder_from_import_path,
    set_app_args,
    set_http_options,
)
from train_app.promotion import ServeTarget

REPO_CONFIG = Path(__file__).resolve().parents[2] / "serve_config.yaml"
CANARY = ServeTarget(champion="3", challenger="4", mode="ab", challenger_weight=0.1)


def args_of(text: str, app: str = "alertsieve") -> dict[str, Any]:
    args: dict[str, Any] = next(a for a in yaml.safe_load(text)["applications"] if a["name"] == app)["args"]
    return args


def test_the_repo_config_gets_the_stage_and_keeps_its_comments() -> None:
    text = REPO_CONFIG.read_text()
    updated = set_app_args(text, "alertsieve", CANARY.app_args())
    args = args_of(updated)
    assert (args["champion"], args["challenger"]) == ("3", "4")
    assert args["router"] == {"mode": "ab", "challenger_weight": 0.1}
    assert args["score_timeout_s"] == args_of(text)["score_timeout_s"]  # the rest untouched
    kept = [line for line in text.splitlines() if "#" in line]
    assert kept and all(line.split("#", 1)[1] in updated for line in kept)
    assert len(updated.splitlines()) == len(text.splitlines())
    back = set_app_args(updated, "alertsieve", ServeTarget(champion="4").app_args())
    assert args_of(back)["challenger"] is None and args_of(back)["router"]["mode"] == "off"


def test_a_config_without_those_args_is_rewritten_whole() -> None:
    text = "applications:\n  - name: other\n    import_path: x:y\n  - name: alertsieve\n    import_path: a:b\n"
    updated = yaml.safe_load(set_app_args(text, "alertsieve", CANARY.app_args()))
    assert updated["applications"][1]["args"]["router"]["challenger_weight"] == 0.1
    assert "args" not in updated["applications"][0]
    with pytest.raises(DeployError, match="no application named 'missing'"):
        set_app_args(text, "missing", {})


def test_serve_config_deployer_writes_the_file_and_runs_serve_deploy(tmp_path: Path) -> None:
    config = tmp_path / "serve_config.yaml"
    config.write_text(REPO_CONFIG.read_text())
    record = tmp_path / "argv.txt"
    fake_serve = [sys.executable, "-c", f"import sys; open({str(record)!r}, 'w').write(' '.join(sys.argv[1:]))"]
    ServeConfigDeployer(config, address="http://head:8265", command=fake_serve).deploy(CANARY)
    assert args_of(config.read_text())["challenger"] == "4"
    assert record.read_text() == f"{config} --address http://head:8265"


def test_a_failing_serve_deploy_is_an_error(tmp_path: Path) -> None:
    config = tmp_path / "serve_config.yaml"
    config.write_text(REPO_CONFIG.read_text())
    failing = [sys.executable, "-c", "import sys; sys.stderr.write('no Ray cluster'); sys.exit(1)"]
    with pytest.raises(DeployError, match="no Ray cluster"):
        ServeConfigDeployer(config, command=failing).deploy(CANARY)


class FakeArgs(BaseModel):
    champion: str
    challenger: str | None = None
    downstream_url: str | None = None


def fake_builder(args: FakeArgs) -> FakeArgs:
    return args


def test_builders_are_found_by_import_path_and_get_typed_args() -> None:
    build = builder_from_import_path(f"{__name__}:fake_builder")
    built = build({"champion": "7", "challenger": None})
    assert isinstance(built, FakeArgs) and built.champion == "7"


def test_serve_run_deployer_reads_the_builder_and_base_args_from_the_config(tmp_path: Path) -> None:
    config = tmp_path / "serve_config.yaml"
    config.write_text(
        "applications:\n  - name: demo\n    route_prefix: /demo\n"
        f"    import_path: {__name__}:fake_builder\n"
        "    args: {champion: champion, downstream_url: 'http://receiver/hook'}\n"
    )
    deployer = ServeRunDeployer.from_config(config, "demo")
    assert deployer.route_prefix == "/demo" and deployer.base_args["downstream_url"] == "http://receiver/hook"
    built = deployer.builder({**deployer.base_args, "champion": "9"})
    assert built.champion == "9" and built.downstream_url == "http://receiver/hook"


# ---- RayServiceDeployer: kubectl get / patch of the RayService --------------------------------------
# No Kubernetes API server can run here; this stand-in for kubectl keeps the RayService in a JSON file and
# honours a merge patch's resourceVersion as the API server does (409 Conflict when it is stale).
FAKE_KUBECTL = """
import json, sys
state_path, argv = sys.argv[1], sys.argv[2:]
with open(state_path + ".argv", "a") as log:
    log.write(json.dumps(argv) + "\\n")
state = json.load(open(state_path))
if argv[:2] == ["get", "rayservice"]:
    if argv[2] != state["metadata"]["name"]:
        sys.exit('Error from server (NotFound): rayservices.ray.io "%s" not found' % argv[2])
    print(json.dumps(state))
elif argv[:2] == ["patch", "rayservice"]:
    patch = json.loads(argv[argv.index("--patch") + 1])
    assert argv[argv.index("--type") + 1] == "merge"
    if patch["metadata"]["resourceVersion"] != state["metadata"]["resourceVersion"]:
        sys.exit("Error from server (Conflict): the object has been modified")
    state["spec"].update(patch["spec"])
    state["metadata"]["resourceVersion"] = str(int(state["metadata"]["resourceVersion"]) + 1)
    json.dump(state, open(state_path, "w"))
    print("rayservice.ray.io/%s patched" % argv[2])
else:
    sys.exit("unexpected kubectl call: %s" % argv)
"""


def fake_cluster(tmp_path: Path, serve_config: str | None) -> tuple[Path, list[str]]:
    state = tmp_path / "rayservice.json"
    spec = {"serveConfigV2": serve_config} if serve_config is not None else {}
    state.write_text(
        json.dumps(
            {
                "apiVersion": "ray.io/v1",
                "kind": "RayService",
                "metadata": {"name": "alertsieve", "resourceVersion": "41"},
                "spec": spec,
            }
        )
    )
    script = tmp_path / "kubectl.py"
    script.write_text(FAKE_KUBECTL)
    return state, [sys.executable, str(script), str(state)]


def test_rayservice_deployer_patches_the_serve_config_in_the_rayservice(tmp_path: Path) -> None:
    rayservice = yaml.safe_load((REPO_CONFIG.parent / "infra" / "kustomize" / "base" / "rayservice.yaml").read_text())
    state, kubectl = fake_cluster(tmp_path, rayservice["spec"]["serveConfigV2"])
    RayServiceDeployer("alertsieve", namespace="alertsieve", command=kubectl).deploy(CANARY)
    after = json.loads(state.read_text())
    assert after["metadata"]["resourceVersion"] == "42"
    text = after["spec"]["serveConfigV2"]
    assert args_of(text)["challenger"] == "4" and args_of(text)["router"] == {"mode": "ab", "challenger_weight": 0.1}
    before = rayservice["spec"]["serveConfigV2"]
    comments = [line.split("#", 1)[1] for line in before.splitlines() if "#" in line]
    assert comments == [line.split("#", 1)[1] for line in text.splitlines() if "#" in line]
    assert yaml.safe_load(text)["http_options"] == yaml.safe_load(before)["http_options"]
    calls = [json.loads(line) for line in (tmp_path / "rayservice.json.argv").read_text().splitlines()]
    assert [c[:2] for c in calls] == [["get", "rayservice"], ["patch", "rayservice"]]
    assert all(c[-2:] == ["--namespace", "alertsieve"] for c in calls)
    # and back: the champion alone
    RayServiceDeployer("alertsieve", command=kubectl).deploy(ServeTarget(champion="4"))
    assert args_of(json.loads(state.read_text())["spec"]["serveConfigV2"])["router"]["mode"] == "off"


def test_rayservice_deployer_errors_are_deploy_errors(tmp_path: Path) -> None:
    _, kubectl = fake_cluster(tmp_path, None)
    with pytest.raises(DeployError, match="no readable spec.serveConfigV2"):
        RayServiceDeployer("alertsieve", command=kubectl).deploy(CANARY)
    with pytest.raises(DeployError, match="NotFound"):
        RayServiceDeployer("other", command=kubectl).deploy(CANARY)
    with pytest.raises(DeployError, match="failed"):
        RayServiceDeployer("alertsieve", command=[str(tmp_path / "no-such-kubectl")]).deploy(CANARY)


def test_rayservice_deployer_refuses_to_overwrite_a_concurrent_change(tmp_path: Path) -> None:
    state, kubectl = fake_cluster(tmp_path, REPO_CONFIG.read_text())

    class Racing(RayServiceDeployer):
        def _kubectl(self, *args: str) -> str:
            if args[0] == "patch":  # someone else patched between our get and our patch
                data = json.loads(state.read_text())
                data["metadata"]["resourceVersion"] = "99"
                state.write_text(json.dumps(data))
            return super()._kubectl(*args)

    with pytest.raises(DeployError, match="Conflict"):
        Racing("alertsieve", command=kubectl).deploy(CANARY)
    assert args_of(json.loads(state.read_text())["spec"]["serveConfigV2"])["challenger"] is None


def test_set_http_options_keeps_comments_and_adds_missing_keys() -> None:
    text = REPO_CONFIG.read_text()
    bound = set_http_options(text, "0.0.0.0", 9000)
    assert len(bound.splitlines()) == len(text.splitlines())
    assert yaml.safe_load(bound)["http_options"] == {"host": "0.0.0.0", "port": 9000}
    bare = yaml.safe_load(set_http_options("applications: []\n", "10.0.0.1", 8001))
    assert bare == {"applications": [], "http_options": {"host": "10.0.0.1", "port": 8001}}
