"""Commands of the rollout: promote and rollback, and the deploy target both act on.

The target (where the Serve app's args are changed: a Serve config + `serve deploy`, ``serve.run`` on the
connected cluster, or a RayService patch) is chosen by the same options in both commands: ``deploying``
(``train_app.cli.with_options``) adds them to a command and hands it the ``Deployer`` they name.
Imported into `alertsieve` by ``cli.main`` and into `python -m train_app` (``train_app.__main__``); this
is the output layer.
"""

from __future__ import annotations

from pathlib import Path
from typing import Annotated, Literal

import typer

from alertsieve.output import console, fail, out, print_json
from alertsieve.settings import get_settings
from train_app.cli import State, option, with_options
from train_app.deploy import Deployer, DeployError, RayServiceDeployer, ServeConfigDeployer, ServeRunDeployer

ServeConfig = Annotated[Path, typer.Option(help="the Serve config whose app args a rollout updates")]
AppName = Annotated[str, typer.Option("--app", help="the application's name in the Serve config")]
DeployerName = Literal["serve-deploy", "serve-run", "rayservice"]
DeployWith = Annotated[
    DeployerName,
    typer.Option(
        "--deployer",
        help="serve-deploy (the config + `serve deploy`), "
        "serve-run (serve.run on the connected Ray cluster) or rayservice "
        "(kubectl patch of the RayService's serveConfigV2)",
    ),
]
Address = Annotated[str | None, typer.Option(help="Ray dashboard address for `serve deploy`")]
RayServiceName = Annotated[str, typer.Option("--rayservice", help="the RayService to patch (--deployer rayservice)")]
Namespace = Annotated[str | None, typer.Option(help="its namespace; the pod's own by default")]

TARGET_OPTIONS = (
    option("serve_config", ServeConfig, Path("serve_config.yaml")),
    option("app_name", AppName, "alertsieve"),
    option("deployer", DeployWith, "serve-deploy"),
    option("address", Address, None),
    option("rayservice", RayServiceName, "alertsieve"),
    option("namespace", Namespace, None),
)


def _deployer(
    kind: DeployerName,
    serve_config: Path,
    app_name: str,
    address: str | None,
    rayservice: str = "alertsieve",
    namespace: str | None = None,
) -> Deployer:
    if kind == "serve-deploy":
        return ServeConfigDeployer(serve_config, app_name, address)
    if kind == "rayservice":
        return RayServiceDeployer(rayservice, app_name, namespace)
    from train_app.ray_runtime import ensure_ray  # serve-run

    ensure_ray(address="auto")  # the running cluster (RAY_ADDRESS or a local `ray start`), never a new one
    return ServeRunDeployer.from_config(serve_config, app_name)


def _target(
    serve_config: Path,
    app_name: str,
    deployer: DeployerName,
    address: str | None,
    rayservice: str,
    namespace: str | None,
) -> Deployer:
    try:
        return _deployer(deployer, serve_config, app_name, address, rayservice, namespace)
    except DeployError as exc:
        raise fail(exc) from None


deploying = with_options("target", TARGET_OPTIONS, _target)


@deploying
def promote(
    target: Deployer,
    state: State = None,
    confidence: Annotated[float, typer.Option(min=0.5, max=0.999, help="one-sided confidence of the bounds")] = 0.9,
    nr_margin: Annotated[float, typer.Option(min=0.0, max=0.5, help="allowed noise reduction loss")] = 0.02,
    min_stage_feedback: Annotated[int, typer.Option(min=0, help="challenger decisions with feedback per stage")] = 50,
    max_stage_hours: Annotated[float, typer.Option(help="roll back a stage inconclusive for longer")] = 168.0,
    watch: Annotated[bool, typer.Option("--watch", help="keep stepping until promoted or rolled back")] = False,
    interval: Annotated[float, typer.Option(min=1.0, help="seconds between steps with --watch")] = 3600.0,
    as_json: Annotated[
        bool, typer.Option("--json", help="print each step's outcome as JSON (one object per step with --watch)")
    ] = False,
) -> None:
    """Start or advance the challenger's rollout: shadow, 10%, 50%, 100% (champion), or roll it back."""
    import time

    from train_app.promotion import GateConfig, Stage
    from train_app.rollout import RolloutError, promote_step
    from train_app.tables import assessment_table

    settings = get_settings()
    gates = GateConfig(
        budget=settings.fnr_budget,
        confidence=confidence,
        nr_margin=nr_margin,
        min_stage_feedback=min_stage_feedback,
        max_stage_hours=max_stage_hours,
    )
    while True:
        try:
            outcome = promote_step(settings, target, gates, state)
        except (RolloutError, DeployError) as exc:
            raise fail(exc) from None
        if as_json:
            print_json(outcome.model_dump(mode="json"))
        else:
            if outcome.assessment is not None:
                source = "offline (held-out days)" if outcome.offline else "online (decisions joined with feedback)"
                out.print(assessment_table(outcome.assessment, f"challenger vs champion, {source}"))
            for note in outcome.notes:
                console.print(f"[yellow]note:[/] {note}")
            out.print(outcome.message)
        stage = outcome.state.stage if outcome.state else None
        if stage is Stage.ROLLED_BACK or (outcome.state is None and outcome.assessment is not None):
            raise typer.Exit(1)
        if not watch or outcome.state is None or not outcome.state.active:
            return
        time.sleep(interval)


@deploying
def rollback(
    target: Deployer,
    state: State = None,
    reason: Annotated[str, typer.Option(help="recorded with the rollout")] = "manual rollback",
) -> None:
    """Abort the running rollout, or restore the previous champion when none is running."""
    from train_app.rollout import RolloutError
    from train_app.rollout import rollback as do_rollback

    try:
        outcome = do_rollback(get_settings(), target, state, reason)
    except (RolloutError, DeployError) as exc:
        raise fail(exc) from None
    out.print(outcome.message)
