"""Deployers: the serve_config.yaml edit (comments kept), `serve deploy`, and builders found by import path."""

from __future__ import annotations

import sys
from pathlib import Path

import pytest
import yaml
from pydantic import BaseModel

from train_app.deploy import DeployError, ServeConfigDeployer, ServeRunDeployer, builder_from_import_path, set_app_args
from train_app.promotion import ServeTarget

REPO_CONFIG = Path(__file__).resolve().parents[2] / "serve_config.yaml"
CANARY = ServeTarget(champion="3", challenger="4", mode="ab", challenger_weight=0.1)


def args_of(text: str, app: str = "alertsieve") -> dict:  # type: ignore[type-arg]
    return next(a for a in yaml.safe_load(text)["applications"] if a["name"] == app)["args"]


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
    config.write_text("applications:\n  - name: demo\n    route_prefix: /demo\n"
                      f"    import_path: {__name__}:fake_builder\n"
                      "    args: {champion: champion, downstream_url: 'http://receiver/hook'}\n")  # fmt: skip
    deployer = ServeRunDeployer.from_config(config, "demo")
    assert deployer.route_prefix == "/demo" and deployer.base_args["downstream_url"] == "http://receiver/hook"
    built = deployer.builder({**deployer.base_args, "champion": "9"})
    assert built.champion == "9" and built.downstream_url == "http://receiver/hook"
