"""serve_config.yaml's args reach the typed builder the way `serve run` / `serve deploy` pass them."""

from __future__ import annotations

from pathlib import Path
from types import FunctionType
from typing import Any, cast

import pytest
import yaml
from pydantic import ValidationError
from ray.serve import Application
from ray.serve._private.api import call_user_app_builder_with_args_if_necessary
from ray.serve._private.application_state import override_deployment_info
from ray.serve._private.build_app import build_app as build_serve_app
from ray.serve._private.config import DeploymentConfig
from ray.serve._private.deploy_utils import deploy_args_to_deployment_info
from ray.serve.schema import ServeApplicationSchema, ServeDeploySchema

from serve_app.app import build_app, build_app_with
from serve_app.config import AppArgs

CONFIG = Path(__file__).resolve().parents[2] / "serve_config.yaml"
# the builder as Serve's private API annotates it (FunctionType, which mypy never infers for a def)
BUILDER = cast(FunctionType, build_app)


def config_args() -> dict[str, Any]:
    (app,) = yaml.safe_load(CONFIG.read_text())["applications"]
    assert app["import_path"] == "serve_app.app:build_app"
    return dict(app["args"])


def test_serve_validates_the_config_args_into_app_args(monkeypatch) -> None:
    """Serve converts the args dict only when the builder's annotation is the pydantic class itself
    (a string annotation, as `from __future__ import annotations` makes, would hand it a plain dict)."""
    seen: list[object] = []

    def recording_builder(args: object, *rest: object) -> Application:
        seen.append(args)
        return Application.__new__(Application)

    monkeypatch.setattr("serve_app.app.build_app_with", recording_builder)
    call_user_app_builder_with_args_if_necessary(BUILDER, config_args())
    assert isinstance(seen[0], AppArgs)
    assert seen[0].champion == "champion" and seen[0].router.mode == "off"


def test_bad_config_args_are_refused_with_the_field(monkeypatch) -> None:
    monkeypatch.setattr("serve_app.app.build_app_with", lambda *args: pytest.fail("must not build"))
    with pytest.raises(ValidationError, match="needs a challenger model"):
        call_user_app_builder_with_args_if_necessary(BUILDER, {**config_args(), "router": {"mode": "ab"}})
    with pytest.raises(ValidationError, match="score_timeout_s"):
        call_user_app_builder_with_args_if_necessary(BUILDER, {**config_args(), "score_timeout_s": -1})


def _deployment_configs(with_yaml: bool, **extra_args: Any) -> dict[str, DeploymentConfig]:
    """Every deployment of the app (a challenger included) as Serve's controller sees it: the code's
    @serve.deployment options, then serve_config.yaml's overrides through Serve's own merge (the code path
    that logs "Autoscaling will never happen"). Nothing is started."""
    (app,) = ServeDeploySchema.model_validate(yaml.safe_load(CONFIG.read_text())).applications
    args = AppArgs.model_validate({**config_args(), "challenger": "challenger", **extra_args})
    built = build_serve_app(build_app_with(args, loader=lambda ref: pytest.fail("must not load")), name=app.name)
    infos = {
        d.name: deploy_args_to_deployment_info(
            deployment_name=d.name,
            deployment_config_proto_bytes=d._deployment_config.to_proto_bytes(),
            replica_config_proto_bytes=d._replica_config.to_proto_bytes(),
            deployer_job_id="config-test",
            app_name=app.name,
            ingress=d.name == built.ingress_deployment_name,
        )
        for d in built.deployments
    }
    merged = override_deployment_info(
        infos, app if with_yaml else ServeApplicationSchema.model_validate({"import_path": app.import_path})
    )
    return {name: info.deployment_config for name, info in merged.items()}


@pytest.mark.parametrize("with_yaml", [True, False], ids=["serve_config.yaml", "code defaults"])
def test_every_autoscaled_deployment_can_scale(with_yaml: bool) -> None:
    """max_ongoing_requests below target_ongoing_requests means Serve never scales (Ray's default max is 5)."""
    configs = _deployment_configs(with_yaml)
    assert {"Ingress", "ChampionScorer", "ChallengerScorer", "Embedder"} <= set(configs)
    autoscaled = {name: c for name, c in configs.items() if c.autoscaling_config is not None}
    assert {"ChampionScorer", "ChallengerScorer", "Embedder"} <= set(autoscaled)
    for name, config in autoscaled.items():
        scaling = config.autoscaling_config
        assert scaling is not None
        target = scaling.get_target_ongoing_requests()
        assert config.max_ongoing_requests >= target, f"{name}: max_ongoing_requests < target {target}"
        assert scaling.max_replicas > scaling.min_replicas, name


def test_serve_config_names_only_deployments_the_app_has() -> None:
    (app,) = yaml.safe_load(CONFIG.read_text())["applications"]
    assert {d["name"] for d in app["deployments"]} <= set(_deployment_configs(with_yaml=True))


def test_the_config_leaves_the_ingress_replicas_to_the_args() -> None:
    """serve_config.yaml's deployment overrides win over the code's: were it to pin the Ingress's replicas,
    ``ingress_replicas`` would be ignored with stream shards."""
    configs = _deployment_configs(with_yaml=True, stream_shards=2, ingress_replicas=3)
    assert configs["Ingress"].num_replicas == 3
    assert configs["StreamShard0"].num_replicas == configs["StreamShard1"].num_replicas == 1
    assert _deployment_configs(with_yaml=True)["Ingress"].num_replicas == 1  # unsharded: the one writer
