"""The core commands of `alertsieve`: simulate, score, evaluate, and the output layer every command shares.

This module is the output layer: it parses options, shows progress, prints tables (or JSON with
``--json``) and turns errors into messages with a non-zero exit. Exit codes: 0 done; 1 bad data or state
(a malformed file, no model, nothing to compare); 2 usage (Click's convention: options that do not fit);
3 a training gate failed (the model is registered but not made champion). The `alertsieve` command
itself is assembled in ``cli.main``, which imports these and the commands of the outer rooms (training,
thresholds, dashboards) explicitly: the core never imports them.
"""

from __future__ import annotations

import json
import sys
from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from importlib.metadata import version as package_version
from pathlib import Path
from typing import Annotated

import typer
from rich.console import Console
from rich.progress import BarColumn, MofNCompleteColumn, Progress, SpinnerColumn, TextColumn, TimeElapsedColumn
from rich.table import Table

from alertsieve.evaluation import Counts, Evaluation, evaluate
from alertsieve.records import RecordError, iter_jsonl, paired, read_jsonl, write_jsonl
from alertsieve.schema import Alert, Decision, LabelledAlert
from alertsieve.settings import get_settings

app = typer.Typer(help="alertsieve: page or suppress every alert under a false-negative budget.", no_args_is_help=True)
console = Console(stderr=True)
out = Console(width=None if sys.stdout.isatty() else 120)


EXIT_DATA, EXIT_USAGE, EXIT_GATE = 1, 2, 3


def fail(message: str, code: int = EXIT_DATA) -> typer.Exit:
    """An error message and the exit to raise: bad data or state unless ``code`` says otherwise."""
    console.print(f"[bold red]error:[/] {message}")
    return typer.Exit(code)


def usage(message: str) -> typer.Exit:
    """Options that do not fit together: Click's usage exit."""
    return fail(message, EXIT_USAGE)


def print_json(value: object) -> None:
    """One JSON document on standard output, for scripts (``--json``)."""
    out.print_json(json.dumps(value, default=str))


def _version(show: bool) -> None:
    if show:
        out.print(f"alertsieve {package_version('alertsieve')}")
        raise typer.Exit()


@app.callback()
def main_options(
    version: Annotated[
        bool, typer.Option("--version", callback=_version, is_eager=True, help="print the version and exit")
    ] = False,
) -> None:
    """alertsieve: page or suppress every alert under a false-negative budget."""


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


def counts_table(title: str, evaluation: Evaluation) -> Table:
    table = Table(title=title)
    for column in ("service", "alerts", "actionable", "noise", "noise reduction", "FNR", "missed"):
        table.add_column(column, justify="left" if column == "service" else "right")

    def row(name: str, c: Counts) -> None:
        table.add_row(
            name,
            str(c.alerts),
            str(c.actionable),
            str(c.noise),
            f"{c.noise_reduction:.1%}",
            f"{c.fnr:.2%}",
            str(c.suppressed_actionable),
        )

    for name, counts in evaluation.services.items():
        row(name or "(none)", counts)
    table.add_section()
    row("ALL", evaluation.overall)
    return table


def _counts_json(c: Counts) -> dict[str, float | int]:
    return {**c.model_dump(), "noise_reduction": c.noise_reduction, "fnr": c.fnr}


def evaluation_json(evaluation: Evaluation) -> dict[str, object]:
    """An evaluation as plain JSON: overall and per-service counts with their NR and FNR, and the AUC."""
    return {
        "overall": _counts_json(evaluation.overall),
        "auc": evaluation.auc,
        "services": {name: _counts_json(c) for name, c in evaluation.services.items()},
    }


def notes_table(notes: dict[str, str]) -> Table:
    """Per service: the evidence, what its threshold does and, where it suppresses little, why."""
    table = Table(title="thresholds per service (validation evidence)")
    table.add_column("service")
    table.add_column("why", overflow="fold")
    for service, note in sorted(notes.items()):
        table.add_row(service or "(none)", note)
    return table


@app.command()
def simulate(
    out_path: Annotated[Path, typer.Option("--out", help="JSONL file of labelled history to write")],
    days: Annotated[int, typer.Option(min=1, help="days of history")] = 56,
    seed: Annotated[int, typer.Option(help="random seed; the output is deterministic per seed")] = 7,
    holdout_days: Annotated[int, typer.Option(min=0, help="write the last N days to --holdout-out")] = 0,
    holdout_out: Annotated[Path | None, typer.Option(help="JSONL for the held-out last days")] = None,
    profile: Annotated[
        str,
        typer.Option(
            metavar="default|sparse|shift",
            help="default: a busy fleet, ~16% actionable over weeks (1-30% in a day or two, by its incidents); "
            "sparse: shaped like real streams, 1-2% actionable over weeks (under 1% in a few days); "
            "shift: the default, its last --holdout-days (14 when 0) with twice the incidents and a failure "
            "mode unseen before them",
        ),
    ] = "default",
) -> None:
    """Write simulated labelled alert history (see alertsieve/simulate.py for what it models)."""
    from datetime import timedelta

    from alertsieve.simulate import DEFAULT_START, PROFILES, simulate_history

    if holdout_days and (holdout_out is None or holdout_days >= days):
        raise usage("--holdout-days needs --holdout-out and must be fewer than --days")
    if profile not in PROFILES:
        raise usage(f"--profile must be one of {', '.join(PROFILES)}, not {profile!r}")
    with steps("simulating"):
        history = simulate_history(days=days, seed=seed, profile=profile, holdout_days=holdout_days)
    cut = DEFAULT_START + timedelta(days=days - holdout_days)
    parts = [(out_path, [a for a in history if a.startsAt < cut])]
    if holdout_days and holdout_out is not None:
        parts.append((holdout_out, [a for a in history if a.startsAt >= cut]))
    for path, alerts in parts:
        count = write_jsonl(path, alerts)
        share = sum(a.actionable for a in alerts) / max(count, 1)
        out.print(f"wrote {count} alerts ({share:.1%} actionable) to {path}")


@app.command()
def score(
    alerts_path: Annotated[Path, typer.Option("--alerts", help="JSONL of alerts", exists=True, dir_okay=False)],
    out_path: Annotated[Path, typer.Option("--out", help="JSONL of decisions, one per input line, in order")],
    model: Annotated[str | None, typer.Option(help="alias, version, models:/ URI or bundle dir")] = None,
    as_json: Annotated[bool, typer.Option("--json", help="print the summary as JSON")] = False,
) -> None:
    """Decide page or suppress for every alert, with the champion unless --model says otherwise."""
    from alertsieve import registry
    from alertsieve.context import time_order
    from alertsieve.embedding import EmbeddingCache, load_encoder
    from alertsieve.scoring import Scorer

    try:
        alerts = list(iter_jsonl(alerts_path, Alert))
        bundle = registry.load_registered(get_settings(), model)
    except (RecordError, registry.RegistryError, RuntimeError) as exc:
        raise fail(str(exc)) from None
    scorer = Scorer(bundle, EmbeddingCache(load_encoder(bundle.meta.features.encoder)))
    order = time_order(alerts)
    decisions: list[Decision | None] = [None] * len(alerts)
    chunk = 512
    with steps(f"scoring {len(alerts)} alerts with version {bundle.version}") as bar:
        task = bar.add_task("scoring", total=len(alerts))
        for start in range(0, len(order), chunk):
            rows = order[start : start + chunk]
            for i, decision in zip(rows, scorer.score([alerts[i] for i in rows]), strict=True):
                decisions[i] = decision
            bar.update(task, advance=len(rows))
    write_jsonl(out_path, [d for d in decisions if d is not None])
    suppressed = sum(d.decision == "suppress" for d in decisions if d is not None)
    if as_json:
        print_json(
            {
                "decisions": len(alerts),
                "suppressed": suppressed,
                "paged": len(alerts) - suppressed,
                "out": str(out_path),
                "model_version": bundle.version,
            }
        )
        return
    out.print(f"wrote {len(alerts)} decisions to {out_path}: {suppressed} suppressed, {len(alerts) - suppressed} paged")


@app.command("evaluate")
def evaluate_command(
    alerts_path: Annotated[Path, typer.Option("--alerts", help="labelled JSONL", exists=True, dir_okay=False)],
    decisions_path: Annotated[Path, typer.Option("--decisions", exists=True, dir_okay=False)],
    as_json: Annotated[bool, typer.Option("--json", help="print the evaluation as JSON")] = False,
) -> None:
    """Print noise reduction and FNR overall and per service."""
    try:
        labelled = read_jsonl(alerts_path, LabelledAlert)
        decisions = read_jsonl(decisions_path, Decision)
    except RecordError as exc:
        raise fail(str(exc)) from None
    try:
        paired(labelled, decisions, str(decisions_path))
    except ValueError as exc:
        raise fail(str(exc)) from None
    result = evaluate(
        [a.actionable for a in labelled],
        [d.decision for d in decisions],
        [d.service for d in decisions],
        [d.score for d in decisions],
    )
    if as_json:
        print_json(evaluation_json(result))
        return
    out.print(counts_table("evaluation", result))
    o = result.overall
    out.print(
        f"noise reduction {o.noise_reduction:.1%}  FNR {o.fnr:.2%}  "
        f"({o.suppressed_noise}/{o.noise} noise suppressed, {o.suppressed_actionable}/{o.actionable} "
        f"actionable suppressed)"
    )


def main(argv: Sequence[str] | None = None) -> None:
    """The core commands alone (``python -m alertsieve``); the `alertsieve` command is ``cli.main``."""
    app(args=list(argv) if argv is not None else sys.argv[1:], prog_name="alertsieve")
