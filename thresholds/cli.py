"""``alertsieve thresholds``: trend report, manual overrides (set, revert, history) and Ray Tune.

Mounted by ``alertsieve.cli.cli_app()`` through the ``alertsieve.cli`` entry-point group. Overrides go
to the same record store the scorers re-read (``--state``, default ``ALERTSIEVE_STATE_URI`` or
``$ALERTSIEVE_HOME/state``), so a change here takes effect in serving within seconds.
"""

from __future__ import annotations

from collections.abc import Sequence
from datetime import UTC, datetime
from pathlib import Path
from typing import Annotated

import typer
from pydantic import ValidationError
from rich.table import Table

from alertsieve.cli import fail, out, print_json, steps, usage
from alertsieve.override_scope import ThresholdOverride
from alertsieve.records import RecordError, read_jsonl, write_jsonl
from alertsieve.schema import Decision, LabelledAlert
from alertsieve.settings import get_settings
from alertsieve.store import open_store
from thresholds.overrides import AuditEvent, OverrideLog, PageEverythingChange, ScopeInput
from thresholds.trends import TrendRow, offline_trends, production_trends

thresholds_app = typer.Typer(
    name="thresholds", help="Per-service thresholds: trends, overrides, tuning.", no_args_is_help=True
)

StateOption = Annotated[str | None, typer.Option("--state", help="record store: a directory or s3://bucket/prefix")]


def _log(state: str | None) -> OverrideLog:
    return OverrideLog(open_store(state or get_settings().state_location))


def _pct(value: float | None, digits: int = 1) -> str:
    return "-" if value is None else f"{value:.{digits}%}"


def _threshold(value: float) -> str:
    """3 decimals, or 2 significant digits for the tiny thresholds of confident models."""
    return f"{value:.2g}" if 0 < value < 0.01 else f"{value:.3f}"


def _num(value: float | None) -> str:
    return "optimised" if value is None else _threshold(value)


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
            "-" if row.threshold is None else _threshold(row.threshold),
        )
    return table


def _until(expires_at: datetime | None) -> str:
    return "-" if expires_at is None else f"{expires_at.astimezone(UTC):%Y-%m-%d %H:%M:%S}"


def changes_table(changes: Sequence[AuditEvent], title: str) -> Table:
    """Threshold changes and switch events (``page everything`` in the old/new columns as off/on)."""
    table = Table(title=title)
    for column in ("when (UTC)", "service", "scope", "old", "new", "until (UTC)", "by", "reason"):
        table.add_column(column, justify="right" if column in ("old", "new") else "left")
    for c in changes:
        scope = ", ".join(f"{k}={v}" for k, v in sorted(c.matchers.items())) or "-"
        if isinstance(c, PageEverythingChange):
            old, new, service = "page everything", "on" if c.on else "off", c.service
        else:
            old, new, service = _num(c.old), _num(c.new), c.service
        when = c.at.strftime("%Y-%m-%d %H:%M:%S")
        table.add_row(when, service, scope, old, new, _until(c.expires_at), c.by, c.reason)
    return table


def _matchers(values: list[str] | None) -> dict[str, str]:
    """``--match team=db --match env=prod|staging`` as matchers (checked like the API's)."""
    pairs = {}
    for value in values or []:
        name, sep, wanted = value.partition("=")
        if not sep:
            raise usage(f"--match {value!r}: give name=value")
        pairs[name.strip()] = wanted
    try:
        return ScopeInput(matchers=pairs).matchers
    except ValidationError as exc:
        raise usage(str(exc.errors()[0]["msg"])) from None


def _expiry(for_minutes: float | None) -> datetime | None:
    try:
        return ScopeInput(for_minutes=for_minutes).expiry(datetime.now(UTC))
    except ValidationError as exc:
        raise usage(f"--for-minutes: {exc.errors()[0]['msg']}") from None


def _in_force_text(override: ThresholdOverride) -> str:
    scope = f" ({override.scope_text()})" if override.matchers else ""
    until = f" until {_until(override.expires_at)}" if override.expires_at else ""
    return f"{override.service}={_threshold(override.threshold)}{scope}{until}"


MatchOption = Annotated[list[str] | None, typer.Option("--match", help="label matcher name=value (a|b: either)")]
ForOption = Annotated[float | None, typer.Option("--for-minutes", help="expire after this many minutes")]


@thresholds_app.command("report")
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
        raise fail(str(exc)) from None
    if service is not None:
        rows = [r for r in rows if r.service == service]
    if as_json:
        print_json([r.model_dump(mode="json") for r in rows])
        return
    if not rows:
        out.print("no decisions to report")
        return
    out.print(trend_table(rows, title))


@thresholds_app.command("set")
def set_command(
    service: Annotated[str, typer.Argument(help="the service")],
    value: Annotated[float, typer.Argument(min=0.0, max=1.0, help="suppress scores below this")],
    by: Annotated[str, typer.Option(help="who makes the change")],
    reason: Annotated[str, typer.Option(help="why")],
    match: MatchOption = None,
    for_minutes: ForOption = None,
    state: StateOption = None,
) -> None:
    """Override a service's threshold ("*" with --match: any service's), for the alerts the matchers take
    (all without), until reverted or for --for-minutes (takes effect in serving within seconds)."""
    matchers, expires_at = _matchers(match), _expiry(for_minutes)
    try:
        change = _log(state).set(service, value, by=by, reason=reason, matchers=matchers, expires_at=expires_at)
    except ValidationError as exc:
        raise fail(str(exc.errors()[0]["msg"])) from None
    except ValueError as exc:
        raise usage(str(exc)) from None
    scope = f" ({', '.join(f'{k}={v}' for k, v in sorted(matchers.items()))})" if matchers else ""
    until = f", until {_until(expires_at)} UTC" if expires_at else ""
    out.print(f"{service}{scope}: threshold {_num(change.old)} -> {_num(change.new)} (by {by}{until})")


@thresholds_app.command("revert")
def revert(
    service: Annotated[str, typer.Argument(help="the service")],
    by: Annotated[str, typer.Option(help="who makes the change")],
    reason: Annotated[str, typer.Option(help="why")] = "reverted to the optimised threshold",
    match: MatchOption = None,
    state: StateOption = None,
) -> None:
    """Drop a service's override (the one scoped by exactly these --match matchers): back to the optimised one."""
    log, matchers = _log(state), _matchers(match)
    if log.in_force(service, matchers) is None:
        raise fail(f"{service} has no override in force" + (" for these matchers" if matchers else ""))
    change = log.set(service, None, by=by, reason=reason, matchers=matchers)
    out.print(f"{service}: threshold {_num(change.old)} -> optimised (by {by})")


@thresholds_app.command("page-everything")
def page_everything(
    switch: Annotated[str, typer.Argument(help="on or off")],
    by: Annotated[str, typer.Option(help="who makes the change")],
    reason: Annotated[str, typer.Option(help="why (an incident, a rollout)")],
    service: Annotated[str, typer.Option(help="only this service's alerts")] = "*",
    match: MatchOption = None,
    for_minutes: ForOption = None,
    state: StateOption = None,
) -> None:
    """Page every alert (or a service's, or those the matchers take) whatever its score, until turned off
    or for --for-minutes; "off" gives the alerts back to the model."""
    if switch not in ("on", "off"):
        raise usage("say on or off")
    on = switch == "on"
    matchers, expires_at = (_matchers(match), _expiry(for_minutes)) if on else ({}, None)
    try:
        _log(state).set_page_everything(on, by, reason, service if on else "*", matchers, expires_at)
    except ValidationError as exc:
        raise fail(str(exc.errors()[0]["msg"])) from None
    until = f" until {_until(expires_at)} UTC" if expires_at else ""
    out.print(f"page everything: {switch}{until} (by {by})")


@thresholds_app.command("history")
def history(
    service: Annotated[str | None, typer.Option(help="only this service")] = None,
    state: StateOption = None,
) -> None:
    """The audit log of overrides and the page-everything switch: who, when, scope, old, new, reason (oldest first)."""
    log = _log(state)
    changes = sorted((c for c in log.events() if service is None or c.service == service), key=lambda c: c.at)
    if not changes:
        out.print("no threshold overrides recorded")
        return
    out.print(changes_table(changes, f"threshold overrides in {log.store.location}"))
    rules = log.overrides()
    shown = [o for o in rules.thresholds if service is None or o.service == service]
    words = [_in_force_text(o) for o in sorted(shown, key=lambda o: o.service)]
    out.print("in force: " + (", ".join(words) or "none"))
    if rules.page_everything is not None:
        out.print(f"PAGE EVERYTHING is on ({rules.page_everything.describe()})")


@thresholds_app.command("tune")
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
            from alertsieve import registry

            assert alerts is not None
            labelled = read_jsonl(alerts, LabelledAlert)
            bundle = registry.load_registered(get_settings(), model)
            with steps(f"scoring {len(labelled)} alerts with version {bundle.version}"):
                rows = rows_of(labelled, decide_alerts(bundle, labelled))
    except (RecordError, RuntimeError) as exc:
        raise fail(str(exc)) from None
    if rows_out is not None:
        write_jsonl(rows_out, rows)
    settings = TuneSettings(eval_days=eval_days, folds=folds, base=ThresholdParams(budget=get_settings().fnr_budget))
    try:
        with steps(f"tuning on {len(rows)} scored rows ({samples} samples)"):
            outcome = run_tune(rows, settings, num_samples=samples, seed=seed)
    except (ValueError, RuntimeError) as exc:
        raise fail(str(exc)) from None
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
