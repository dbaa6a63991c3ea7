"""``alertsieve thresholds``: the group, its trend report and Ray Tune.

``thresholds_app`` (mounted by ``cli.main``) lists every command of the group explicitly, in help order:
report and tune are here; set, revert, page-everything and history (manual overrides and their audit
log) are ``thresholds.overrides_cli``.
"""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path
from typing import Annotated

import typer
from pydantic import ValidationError
from rich.table import Table

from alertsieve.cli import load_model
from alertsieve.output import fail, out, print_json, steps, usage
from alertsieve.records import RecordError, read_jsonl, write_jsonl
from alertsieve.schema import Decision, LabelledAlert
from alertsieve.settings import get_settings
from alertsieve.store import open_store
from thresholds.overrides_cli import StateOption, history, page_everything, revert, set_command, threshold_text
from thresholds.trends import TrendRow, offline_trends, production_trends


def _pct(value: float | None, digits: int = 1) -> str:
    return "-" if value is None else f"{value:.{digits}%}"


def trend_table(rows: list[TrendRow], title: str) -> Table:
    table = Table(title=title)
    columns = (
        "service",
        "week",
        "alerts",
        "suppressed",
        "labelled",
        "actionable",
        "noise reduction",
        "FNR",
        "threshold",
    )
    for column in columns:
        table.add_column(column, justify="left" if column in ("service", "week") else "right")
    previous = None
    for row in rows:
        if previous is not None and row.service != previous:
            table.add_section()
        previous = row.service
        table.add_row(
            row.service or "(none)",
            row.week,
            str(row.alerts),
            str(row.suppressed),
            str(row.labelled),
            _pct(row.actionable_share),
            _pct(row.noise_reduction),
            _pct(row.fnr, 2),
            "-" if row.threshold is None else threshold_text(row.threshold),
        )
    return table


def report(
    alerts: Annotated[
        Path | None, typer.Option(help="labelled JSONL (offline, with --decisions)", exists=True, dir_okay=False)
    ] = None,
    decisions: Annotated[
        Path | None, typer.Option(help="decisions JSONL, line by line", exists=True, dir_okay=False)
    ] = None,
    service: Annotated[str | None, typer.Option(help="only this service")] = None,
    fleet: Annotated[bool, typer.Option(help="add the weekly total over all services (ALL)")] = True,
    state: StateOption = None,
    as_json: Annotated[bool, typer.Option("--json", help="print the rows as JSON")] = False,
) -> None:
    """Per service and ISO week: alert volume, actionable share, noise reduction, FNR, threshold in force.

    With --alerts and --decisions from files; otherwise from the decision log joined with feedback."""
    if (alerts is None) != (decisions is None):
        raise usage("--alerts and --decisions go together")
    try:
        if alerts is not None and decisions is not None:
            rows = offline_trends(read_jsonl(alerts, LabelledAlert), read_jsonl(decisions, Decision), fleet)
            title = f"weekly trends of {alerts.name}"
        else:
            store = open_store(state or get_settings().state_location)
            rows = production_trends(store, fleet)
            title = f"weekly trends from the decision log and feedback in {store.location}"
    except (RecordError, ValidationError, ValueError) as exc:
        raise fail(exc) from None
    if service is not None:
        rows = [r for r in rows if r.service == service]
    if as_json:
        print_json([r.model_dump(mode="json") for r in rows])
        return
    if not rows:
        out.print("no decisions to report")
        return
    out.print(trend_table(rows, title))


def tune_command(
    rows_path: Annotated[
        Path | None,
        typer.Option(
            "--rows", help="JSONL of scored rows (time, service, score, actionable)", exists=True, dir_okay=False
        ),
    ] = None,
    alerts: Annotated[
        Path | None,
        typer.Option(
            help="labelled JSONL after the model's training history, to score with --model", exists=True, dir_okay=False
        ),
    ] = None,
    model: Annotated[str | None, typer.Option(help="alias, version, models:/ URI or bundle dir")] = None,
    rows_out: Annotated[Path | None, typer.Option(help="also write the scored rows here")] = None,
    samples: Annotated[int, typer.Option(min=1, help="random configurations to try")] = 16,
    eval_days: Annotated[float, typer.Option(min=0.5, help="days of each later evaluation window")] = 7.0,
    folds: Annotated[int, typer.Option(min=1, help="evaluation windows, going back from the end")] = 1,
    seed: Annotated[int, typer.Option(help="search seed")] = 0,
) -> None:
    """Ray Tune for validation window, margin, min support and confidence, judged on later windows."""
    from alertsieve.policy import ThresholdParams
    from thresholds.scored import ScoredRow, decide_alerts, rows_of
    from thresholds.tune import TuneSettings, run_tune

    if (rows_path is None) == (alerts is None):
        raise usage("give either --rows or --alerts (scored with --model)")
    try:
        if rows_path is not None:
            rows = read_jsonl(rows_path, ScoredRow)
        else:
            assert alerts is not None
            labelled = read_jsonl(alerts, LabelledAlert)
    except RecordError as exc:
        raise fail(exc) from None
    if rows_path is None:
        bundle = load_model(model)
        try:
            with steps(f"scoring {len(labelled)} alerts with version {bundle.version}"):
                rows = rows_of(labelled, decide_alerts(bundle, labelled))
        except RuntimeError as exc:
            raise fail(exc) from None
    if rows_out is not None:
        write_jsonl(rows_out, rows)
    settings = TuneSettings(eval_days=eval_days, folds=folds, base=ThresholdParams(budget=get_settings().fnr_budget))
    try:
        with steps(f"tuning on {len(rows)} scored rows ({samples} samples)"):
            outcome = run_tune(rows, settings, num_samples=samples, seed=seed)
    except (ValueError, RuntimeError) as exc:
        raise fail(exc) from None
    table = Table(title=f"trials, best first (FNR budget {settings.base.budget:.2%})")
    for column in (
        "validation days",
        "margin",
        "min support",
        "confidence",
        "objective",
        "noise reduction",
        "FNR",
        "missed",
    ):
        table.add_column(column, justify="right")
    for trial in outcome.trials:
        c, r = trial.config, trial.result
        table.add_row(
            f"{c.validation_days:g}",
            f"{c.margin:.3f}",
            str(c.min_support),
            f"{c.confidence:.3f}",
            f"{r.objective:.4f}",
            _pct(r.noise_reduction),
            _pct(r.fnr, 2),
            f"{r.suppressed_actionable}/{r.actionable}",
        )
    out.print(table)
    best = outcome.best
    out.print(
        f"best: validation_days={best.config.validation_days:g} margin={best.config.margin:.3f} "
        f"min_support={best.config.min_support} confidence={best.config.confidence:.3f}: noise reduction "
        f"{best.result.noise_reduction:.1%}, FNR {best.result.fnr:.2%} on the later window(s)"
    )


COMMANDS: dict[str, Callable[..., None]] = {
    "report": report,
    "set": set_command,
    "revert": revert,
    "page-everything": page_everything,
    "history": history,
    "tune": tune_command,
}


def group() -> typer.Typer:
    """The ``thresholds`` group with every command of ``COMMANDS``, in help order."""
    app = typer.Typer(
        name="thresholds", help="Per-service thresholds: trends, overrides, tuning.", no_args_is_help=True
    )
    for name, command in COMMANDS.items():
        app.command(name)(command)
    return app


thresholds_app = group()
