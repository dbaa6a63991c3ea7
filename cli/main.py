"""The whole `alertsieve` command line in one place: each command and command group, in help order.

The core commands (``alertsieve.cli``: simulate, score, evaluate and the shared output layer) know
nothing of the rooms around them; training and the retraining loop (``train_app``), thresholds and
dashboards bring their own. `python -m train_app` is the Ray Job entrypoint with the loop's commands only.
"""

from __future__ import annotations

import sys
from collections.abc import Callable, Sequence
from typing import Any

import typer

from alertsieve import cli as core
from alertsieve.output import JsonErrorsGroup
from dashboards.cli import dashboards_app
from thresholds.cli import thresholds_app
from train_app import cli as loop
from train_app import manifests, rollout_cli
from train_app.train_cli import train

COMMANDS: dict[str, Callable[..., Any]] = {
    "simulate": core.simulate,
    "train": train,
    "score": core.score,
    "evaluate": core.evaluate_command,
    "compare": loop.compare,
    "promote": rollout_cli.promote,
    "rayservice": manifests.rayservice,
    "retrain": loop.retrain,
    "rollback": rollout_cli.rollback,
    "schedule": loop.schedule,
    "serve": manifests.serve,
    "serve-config": manifests.serve_config,
}
GROUPS = {"dashboards": dashboards_app, "thresholds": thresholds_app}


def cli_app() -> typer.Typer:
    """A fresh `alertsieve` app with every command and group."""
    app = typer.Typer(cls=JsonErrorsGroup, help=core.app.info.help, no_args_is_help=True)
    app.callback()(core.main_options)
    for name, command in COMMANDS.items():
        app.command(name)(command)
    for name, group in GROUPS.items():
        app.add_typer(group, name=name)
    return app


def main(argv: Sequence[str] | None = None) -> None:
    cli_app()(args=list(argv) if argv is not None else sys.argv[1:], prog_name="alertsieve")
