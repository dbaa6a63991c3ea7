"""`python -m train_app retrain ...`: the retraining loop's commands as a Ray Job entrypoint
(`ray job submit -- python -m train_app retrain --history s3://...`)."""

from __future__ import annotations

import typer


def build() -> typer.Typer:
    from train_app import cli

    app = typer.Typer(help="alertsieve retraining loop (Ray Job entrypoint).", no_args_is_help=True)
    for command in (cli.retrain, cli.schedule, cli.promote, cli.rollback, cli.compare):
        app.command(command.__name__)(command)
    return app


if __name__ == "__main__":
    build()(prog_name="python -m train_app")
