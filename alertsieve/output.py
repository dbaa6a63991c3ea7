"""The output layer of every `alertsieve` command: the two consoles, exit codes, errors, JSON and progress.

Tables and messages go to standard output (``out``), progress and error messages to standard error
(``console``). ``fail`` is where every command's error is rendered: a message, or, when the command was
given ``--json``, one JSON object on standard output with the message, the exit code and, where the error
knows them, the file, line and field. Exit codes: 0 done; 1 bad data or state; 2 usage; 3 a training gate
failed. ``quiet_libraries`` is the CLI's logging set-up, called by the root command's callback.
"""

from __future__ import annotations

import json
import logging
import os
import sys
from collections.abc import Iterator
from contextlib import contextmanager
from typing import Any

import typer
from pydantic import ValidationError
from rich.console import Console
from rich.progress import BarColumn, MofNCompleteColumn, Progress, SpinnerColumn, TextColumn, TimeElapsedColumn
from typer.core import TyperGroup

from alertsieve.records import RecordError

console = Console(stderr=True)
out = Console(width=None if sys.stdout.isatty() else 120)
EXIT_DATA, EXIT_USAGE, EXIT_GATE = 1, 2, 3
_JSON_ARGV = "alertsieve.json_argv"  # the key in the context tree's shared ``meta``


def wants_json() -> bool:
    """Whether the running command was given ``--json`` (a parameter named ``as_json``, on it or a parent).

    Typer carries its own copy of Click (``typer._click``): the context stack of the running command is
    that copy's, not the ``click`` package's."""
    from typer._click.globals import get_current_context

    ctx = get_current_context(silent=True)
    while ctx is not None:
        if ctx.params.get("as_json"):
            return True
        ctx = ctx.parent
    return False


def error_json(error: str | Exception, code: int) -> dict[str, object]:
    """An error as JSON: its message and exit code, and the file, line and field (a record's field, or the
    option a bad value was given to) where the error knows them."""
    found: dict[str, object] = {"error": str(error), "exit_code": code}
    if isinstance(error, RecordError):
        found |= {"file": error.path, "line": error.line, "field": error.field}
    elif isinstance(error, ValidationError) and error.errors():
        found["field"] = ".".join(str(part) for part in error.errors()[0]["loc"]) or None
    elif isinstance(error, typer.BadParameter):
        found["error"] = error.format_message()
        if error.param is not None:
            found["field"] = error.param.opts[0] if error.param.opts else error.param.name
    return found


def fail(error: str | Exception, code: int = EXIT_DATA, details: dict[str, object] | None = None) -> typer.Exit:
    """Report an error and return the exit to raise (bad data or state unless ``code`` says otherwise): a
    message on standard error, or under ``--json`` one JSON object on standard output (``error_json``, with
    ``details``: what the command did before it failed)."""
    if wants_json():
        print_json({**(details or {}), **error_json(error, code)})
    else:
        console.print(f"[bold red]error:[/] {error}")
    return typer.Exit(code)


class JsonErrorsGroup(TyperGroup):
    """The root command group. Click checks option values (a choice, a number's range, a missing option) before
    the command runs, so ``fail`` never sees those errors: this group notes whether ``--json`` is on the command
    line and then prints them as JSON too, with Click's exit code (2)."""

    def parse_args(self, ctx: typer.Context, args: list[str]) -> list[str]:  # type: ignore[override]
        ctx.meta[_JSON_ARGV] = "--json" in args
        return super().parse_args(ctx, args)

    def invoke(self, ctx: typer.Context) -> Any:  # type: ignore[override]
        try:
            return super().invoke(ctx)
        except typer.BadParameter as exc:
            if not ctx.meta.get(_JSON_ARGV):
                raise
            print_json(error_json(exc, exc.exit_code))
            raise typer.Exit(exc.exit_code) from None


def usage(message: str) -> typer.Exit:
    """Options that do not fit together: Click's usage exit."""
    return fail(message, EXIT_USAGE)


def print_json(value: object) -> None:
    """One JSON document on standard output, for scripts (``--json``)."""
    out.print_json(json.dumps(value, default=str))


def quiet_libraries() -> None:
    """The CLI's logging: MLflow's INFO lines (database set-up, run links) are noise before a command's own
    output; its warnings still show. MLflow sets its logger's level when first imported, from
    ``MLFLOW_LOGGING_LEVEL``: that variable says WARNING unless the user set it, and the logger follows it
    now in case MLflow is imported already."""
    level = os.environ.setdefault("MLFLOW_LOGGING_LEVEL", "WARNING").upper()
    logging.getLogger("mlflow").setLevel(level if level in logging.getLevelNamesMapping() else logging.WARNING)


@contextmanager
def steps(title: str) -> Iterator[Progress]:
    with Progress(
        SpinnerColumn(),
        TextColumn("{task.description}"),
        BarColumn(),
        MofNCompleteColumn(),
        TimeElapsedColumn(),
        console=console,
        transient=False,
        disable=not console.is_terminal,
    ) as bar:
        console.print(f"[bold]{title}[/]")
        yield bar
