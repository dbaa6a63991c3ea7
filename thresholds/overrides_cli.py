"""``alertsieve thresholds`` set, revert, page-everything and history: manual overrides and their audit log.

Overrides go to the same record store the scorers re-read (``--state``, default ``ALERTSIEVE_STATE_URI``
or ``$ALERTSIEVE_HOME/state``), so a change here takes effect in serving within seconds. The commands are
added to the ``thresholds`` group by ``thresholds.cli``; this is their output layer.
"""

from __future__ import annotations

from collections.abc import Sequence
from datetime import UTC, datetime
from typing import Annotated, Literal

import typer
from pydantic import ValidationError
from rich.table import Table

from alertsieve.output import fail, out, usage
from alertsieve.override_scope import ThresholdOverride
from alertsieve.settings import get_settings
from alertsieve.store import open_store
from thresholds.overrides import AuditEvent, LiveSafetyChange, OverrideLog, PageEverythingChange, ScopeInput

StateOption = Annotated[str | None, typer.Option("--state", help="record store: a directory or s3://bucket/prefix")]


def _log(state: str | None) -> OverrideLog:
    return OverrideLog(open_store(state or get_settings().state_location))


def threshold_text(value: float) -> str:
    """3 decimals, or 2 significant digits for the tiny thresholds of confident models."""
    return f"{value:.2g}" if 0 < value < 0.01 else f"{value:.3f}"


def _num(value: float | None) -> str:
    return "optimised" if value is None else threshold_text(value)


def _until(expires_at: datetime | None) -> str:
    return "-" if expires_at is None else f"{expires_at.astimezone(UTC):%Y-%m-%d %H:%M:%S}"


def changes_table(changes: Sequence[AuditEvent], title: str) -> Table:
    """Threshold changes, switch events (``page everything`` in the old/new columns as off/on) and live-safety
    pauses (``live safety``, paused/resumed)."""
    table = Table(title=title)
    for column in ("when (UTC)", "service", "scope", "old", "new", "until (UTC)", "by", "reason"):
        table.add_column(column, justify="right" if column in ("old", "new") else "left")
    for c in changes:
        scope = ", ".join(f"{k}={v}" for k, v in sorted(c.matchers.items())) or "-"
        if isinstance(c, PageEverythingChange):
            old, new, service = "page everything", "on" if c.on else "off", c.service
        elif isinstance(c, LiveSafetyChange):
            old, new, service = "live safety", "paused" if c.paused else "resumed", c.service
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
    return f"{override.service}={threshold_text(override.threshold)}{scope}{until}"


MatchOption = Annotated[list[str] | None, typer.Option("--match", help="label matcher name=value (a|b: either)")]
ForOption = Annotated[float | None, typer.Option("--for-minutes", help="expire after this many minutes")]


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


def page_everything(
    switch: Annotated[Literal["on", "off"], typer.Argument(help="on: page everything; off: back to the model")],
    by: Annotated[str, typer.Option(help="who makes the change")],
    reason: Annotated[str, typer.Option(help="why (an incident, a rollout)")],
    service: Annotated[str, typer.Option(help="only this service's alerts")] = "*",
    match: MatchOption = None,
    for_minutes: ForOption = None,
    state: StateOption = None,
) -> None:
    """Page every alert (or a service's, or those the matchers take) whatever its score, until turned off
    or for --for-minutes; "off" gives the alerts back to the model."""
    on = switch == "on"
    matchers, expires_at = (_matchers(match), _expiry(for_minutes)) if on else ({}, None)
    try:
        _log(state).set_page_everything(on, by, reason, service if on else "*", matchers, expires_at)
    except ValidationError as exc:
        raise fail(str(exc.errors()[0]["msg"])) from None
    until = f" until {_until(expires_at)} UTC" if expires_at else ""
    out.print(f"page everything: {switch}{until} (by {by})")


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
