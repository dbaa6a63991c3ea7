"""The core commands of `alertsieve`: simulate, score, evaluate, and the tables they share with the outer rooms.

Options in, tables (or JSON with ``--json``) out; errors, consoles, progress and exit codes are the output
layer's (``alertsieve.output``). The `alertsieve` command itself is assembled in ``cli.main``, which
imports these and the commands of the outer rooms (training, thresholds, dashboards) explicitly: the core
never imports them.
"""

from __future__ import annotations

import sys
from collections.abc import Sequence
from importlib.metadata import version as package_version
from pathlib import Path
from typing import TYPE_CHECKING, Annotated

import typer
from rich.table import Table

from alertsieve.evaluation import Counts, Evaluation, evaluate
from alertsieve.output import JsonErrorsGroup, fail, out, print_json, quiet_libraries, steps, usage
from alertsieve.records import RecordError, iter_jsonl, paired, read_jsonl, write_jsonl
from alertsieve.schema import Alert, Decision, LabelledAlert
from alertsieve.settings import get_settings
from alertsieve.simulate import Profile

if TYPE_CHECKING:
    from alertsieve.bundle import ModelBundle

app = typer.Typer(
    cls=JsonErrorsGroup,
    help="alertsieve: page or suppress every alert under a false-negative budget.",
    no_args_is_help=True,
)
NO_MODEL = 'no model: run "alertsieve train --history <file>" first'


def load_model(model: str | None) -> ModelBundle:
    """The bundle ``--model`` names (the champion by default); ``NO_MODEL`` when nothing is registered yet."""
    from alertsieve import registry

    settings = get_settings()
    try:
        return registry.load_registered(settings, model)
    except RuntimeError as exc:  # RegistryError, BundleError: no such model, or not a readable one
        champion = model in (None, registry.CHAMPION) and isinstance(exc, registry.RegistryError)
        if champion and registry.alias_version(settings, registry.CHAMPION) is None:
            raise fail(NO_MODEL) from None
        raise fail(exc) from None


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
    quiet_libraries()


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
        Profile,
        typer.Option(
            help="default: a busy fleet, ~16% actionable over weeks (1-30% in a day or two, by its incidents); "
            "sparse: shaped like real streams, 1-2% actionable over weeks (under 1% in a few days); "
            "shift: the default, its last --holdout-days (14 when 0) with twice the incidents and a failure "
            "mode unseen before them",
        ),
    ] = "default",
    as_json: Annotated[bool, typer.Option("--json", help="print what was written as JSON")] = False,
) -> None:
    """Write simulated labelled alert history (see alertsieve/simulate.py for what it models)."""
    from datetime import timedelta

    from alertsieve.simulate import DEFAULT_START, simulate_history

    if holdout_days and (holdout_out is None or holdout_days >= days):
        raise usage("--holdout-days needs --holdout-out and must be fewer than --days")
    with steps("simulating"):
        history = simulate_history(days=days, seed=seed, profile=profile, holdout_days=holdout_days)
    cut = DEFAULT_START + timedelta(days=days - holdout_days)
    parts = [(out_path, [a for a in history if a.startsAt < cut])]
    if holdout_days and holdout_out is not None:
        parts.append((holdout_out, [a for a in history if a.startsAt >= cut]))
    written = [(path, write_jsonl(path, alerts), sum(a.actionable for a in alerts)) for path, alerts in parts]
    if as_json:
        files = [{"out": str(path), "alerts": count, "actionable": actionable} for path, count, actionable in written]
        print_json({"profile": profile, "seed": seed, "days": days, "files": files})
        return
    for path, count, actionable in written:
        out.print(f"wrote {count} alerts ({actionable / max(count, 1):.1%} actionable) to {path}")


@app.command()
def score(
    alerts_path: Annotated[Path, typer.Option("--alerts", help="JSONL of alerts", exists=True, dir_okay=False)],
    out_path: Annotated[Path, typer.Option("--out", help="JSONL of decisions, one per input line, in order")],
    model: Annotated[str | None, typer.Option(help="alias, version, models:/ URI or bundle dir")] = None,
    as_json: Annotated[bool, typer.Option("--json", help="print the summary as JSON")] = False,
) -> None:
    """Decide page or suppress for every alert, with the champion unless --model says otherwise."""
    from alertsieve.context import time_order
    from alertsieve.embedding import EmbeddingCache, load_encoder
    from alertsieve.scoring import Scorer

    try:
        alerts = list(iter_jsonl(alerts_path, Alert))
    except RecordError as exc:
        raise fail(exc) from None
    bundle = load_model(model)
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
        raise fail(exc) from None
    try:
        paired(labelled, decisions, str(decisions_path))
    except ValueError as exc:
        raise fail(exc) from None
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
