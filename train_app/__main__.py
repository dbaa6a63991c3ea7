"""`python -m train_app retrain ...`: the retraining loop's commands as a Ray Job entrypoint
(`ray job submit -- python -m train_app retrain --history s3://...`)."""

from __future__ import annotations

from collections.abc import Callable

import typer


def build() -> typer.Typer:
    from alertsieve.output import JsonErrorsGroup, quiet_libraries
    from train_app import cli, manifests, rollout_cli

    app = typer.Typer(
        cls=JsonErrorsGroup, help="alertsieve retraining loop (Ray Job entrypoint).", no_args_is_help=True
    )
    app.callback()(quiet_libraries)
    commands: list[Callable[..., None]] = [cli.retrain, cli.schedule, rollout_cli.promote, rollout_cli.rollback]
    commands += [cli.compare]
    commands += [manifests.serve, manifests.serve_config, manifests.rayservice]
    for command in commands:
        app.command(command.__name__.replace("_", "-"))(command)
    return app


if __name__ == "__main__":
    build()(prog_name="python -m train_app")
