"""Commands of the retraining loop: retrain, schedule and compare, and the options they share.

They are imported into `alertsieve` by ``cli.main``, and run as a Ray Job entrypoint with
`python -m train_app ...`; the rollout's commands (promote, rollback) are ``train_app.rollout_cli``.
This is the output layer: options in, tables out, errors as messages with a non-zero exit.
"""

from __future__ import annotations

import functools
import inspect
from collections.abc import Callable, Sequence
from datetime import datetime
from typing import TYPE_CHECKING, Annotated, Any, Literal

import typer
from pydantic import BaseModel, ValidationError

from alertsieve.output import console, fail, out, print_json, usage
from alertsieve.settings import get_settings

if TYPE_CHECKING:
    from train_app.retrain import RetrainConfig

History = Annotated[str, typer.Option(help="labelled history: a .jsonl file, a folder of them, or s3://bucket/prefix")]
State = Annotated[str | None, typer.Option(help="decision log and feedback (dir or s3://); ALERTSIEVE_STATE_URI")]
Weeks = Annotated[float, typer.Option(min=0.1, help="the training window: the last N weeks")]
Holdout = Annotated[float, typer.Option(min=0.0, help="the window's last days, held out to compare models")]
Until = Annotated[str | None, typer.Option(help="the window's end (ISO time); the newest alert by default")]
Epochs = Annotated[int, typer.Option(min=1, help="training epochs")]
Encoder = Annotated[str | None, typer.Option(help="all-MiniLM-L6-v2 or hashing-64; the champion's by default")]
Workers = Annotated[int, typer.Option(min=1, help="Ray Train workers")]
Gpu = Annotated[bool, typer.Option("--gpu", help="train (and embed) on GPU workers: the same code")]
BackendName = Literal["ray", "local"]  # the fit backends of `alertsieve.trainers` the commands offer
Backend = Annotated[BackendName, typer.Option(help="ray (Ray Train workers) or local (this process)")]
SkipBadLines = Annotated[bool, typer.Option("--skip-bad-lines", help="skip malformed lines (counted), do not fail")]


class RetrainOptions(BaseModel):
    """The retraining job's options as given to `retrain` and `schedule` (``RETRAIN_OPTIONS``)."""

    history: str
    state: str | None = None
    weeks: float = 6.0
    holdout_days: float = 7.0
    until: str | None = None
    epochs: int = 25
    encoder: str | None = None
    workers: int = 1
    gpu: bool = False
    backend: BackendName = "ray"
    skip_bad_lines: bool = False


def option(name: str, annotation: object, default: object = inspect.Parameter.empty) -> inspect.Parameter:
    return inspect.Parameter(name, inspect.Parameter.KEYWORD_ONLY, default=default, annotation=annotation)


RETRAIN_OPTIONS = (
    option("history", History),
    option("state", State, None),
    option("weeks", Weeks, 6.0),
    option("holdout_days", Holdout, 7.0),
    option("until", Until, None),
    option("epochs", Epochs, 25),
    option("encoder", Encoder, None),
    option("workers", Workers, 1),
    option("gpu", Gpu, False),
    option("backend", Backend, "ray"),
    option("skip_bad_lines", SkipBadLines, False),
)


def with_options(
    into: str, options: Sequence[inspect.Parameter], build: Callable[..., object]
) -> Callable[[Callable[..., None]], Callable[..., None]]:
    """A decorator for commands that share a group of options: the command's parameter ``into`` is replaced
    by ``options`` (in front of its own), and it is called with ``build(**those options)`` as ``into``.
    Typer reads the options from the signature, so each group is declared once."""

    def decorate(command: Callable[..., None]) -> Callable[..., None]:
        parameters = inspect.signature(command, eval_str=True).parameters.values()
        own = [p.replace(kind=inspect.Parameter.KEYWORD_ONLY) for p in parameters if p.name != into]

        @functools.wraps(command)
        def with_group(**values: Any) -> None:
            chosen = {p.name: values.pop(p.name) for p in options}
            command(**{into: build(**chosen)}, **values)

        signature = inspect.Signature([*options, *own], return_annotation=None)
        with_group.__signature__ = signature  # type: ignore[attr-defined]  # what typer reads the options from
        with_group.__annotations__ = {p.name: p.annotation for p in signature.parameters.values()}
        return with_group

    return decorate


def _retrain_config(options: RetrainOptions) -> RetrainConfig:
    from alertsieve.model import TrainParams
    from train_app.retrain import RetrainConfig
    from train_app.window import WindowSpec

    o = options
    try:
        window = WindowSpec(
            weeks=o.weeks, holdout_days=o.holdout_days, until=datetime.fromisoformat(o.until) if o.until else None
        )
        return RetrainConfig(
            history=o.history,
            state=o.state,
            window=window,
            encoder=o.encoder,
            params=TrainParams(epochs=o.epochs),
            backend=o.backend,
            workers=o.workers,
            gpu=o.gpu,
            skip_bad_lines=o.skip_bad_lines,
        )
    except (ValidationError, ValueError) as exc:
        raise fail(exc) from None


def _run_retrain(config: RetrainConfig) -> None:
    from alertsieve.cli import counts_table
    from train_app.retrain import run_retrain
    from train_app.tables import side_by_side

    settings = get_settings()
    result = run_retrain(config, settings, progress=lambda step: console.print(f"[dim]{step}[/]"))
    title = f"held-out days {result.window_split:%Y-%m-%d} .. {result.window_end:%Y-%m-%d}"
    out.print(side_by_side({"new": result.challenger, "champion": result.champion}, title))
    if result.challenger is None:
        out.print(counts_table("validation (thresholds chosen here)", result.train.validation))
    s = result.sources
    out.print(
        f"window {result.window_start:%Y-%m-%d} .. {result.window_end:%Y-%m-%d}: {result.rows} labelled alerts "
        f"({s.history} history, {s.feedback} feedback, {s.decisions} logged decisions joined, "
        f"{s.invalid_lines} invalid lines); training {result.train.train_seconds:.1f}s "
        f"({result.train.backend}), job {result.duration_s:.1f}s"
    )
    if result.version:
        out.print(
            f"registered {settings.model_name} version {result.version} as challenger "
            f"(champion: {result.champion_version or 'none'})"
        )


@with_options("options", RETRAIN_OPTIONS, RetrainOptions)
def retrain(options: RetrainOptions) -> None:
    """Retrain on the last weeks of history and feedback, compare with the champion, register a challenger."""
    config = _retrain_config(options)
    try:
        _run_retrain(config)
    except (ValueError, RuntimeError) as exc:
        raise fail(exc) from None


@with_options("options", [o for o in RETRAIN_OPTIONS if o.name != "until"], RetrainOptions)
def schedule(
    options: RetrainOptions,
    cron: Annotated[str, typer.Option(help="when to run, e.g. '0 3 * * 1' (Mondays 03:00 UTC)")],
    once: Annotated[bool, typer.Option("--once", help="run the job once now and exit")] = False,
    max_runs: Annotated[int | None, typer.Option(min=1, help="stop after this many scheduled runs")] = None,
) -> None:
    """Run the retraining job at every tick of a cron expression (the single-machine CronJob)."""
    from train_app.schedule import run_schedule, validate_cron

    try:
        validate_cron(cron)
    except ValueError as exc:
        raise usage(str(exc)) from None
    config = _retrain_config(options)
    ticks = run_schedule(
        cron,
        lambda: _run_retrain(config),
        max_runs=1 if once else max_runs,
        run_now=once,
        on_wait=lambda when: console.print(f"next run at {when.isoformat()}"),
        on_tick=lambda t: console.print(
            f"run scheduled {t.scheduled:%Y-%m-%d %H:%M}: " + ("ok" if t.ok else f"[red]failed[/] {t.error}")
        ),
    )
    if ticks and not ticks[-1].ok:
        raise typer.Exit(1)


def compare(
    history: History,
    state: State = None,
    weeks: Weeks = 6.0,
    holdout_days: Holdout = 7.0,
    until: Until = None,
    version: Annotated[list[str] | None, typer.Option("--version", help="registered version or alias (repeat)")] = None,
    variant: Annotated[
        list[str] | None,
        typer.Option("--variant", help="[name:]encoder=minilm|hashing,neighbours=on|off,embedding=on|off (repeat)"),
    ] = None,
    epochs: Epochs = 25,
    backend: Annotated[BackendName, typer.Option(help="variants train with: local or ray")] = "local",
    latency_sample: Annotated[int, typer.Option(min=1, help="alerts timed one by one")] = 200,
    as_json: Annotated[bool, typer.Option("--json", help="print the rows as JSON")] = False,
) -> None:
    """Evaluate registered versions and featurisation variants on the same window; print one table."""
    from alertsieve.model import TrainParams
    from alertsieve.policy import ThresholdParams
    from alertsieve.training import load_fit_backend
    from train_app.compare import compare_table, compare_variants, compare_versions, parse_variant
    from train_app.data import load_window
    from train_app.window import WindowSpec

    settings = get_settings()
    if not version and not variant:
        raise usage("nothing to compare: give --version and/or --variant")
    try:
        variants = [parse_variant(v) for v in variant or []]
        end = datetime.fromisoformat(until) if until else None
        spec = WindowSpec(weeks=weeks, holdout_days=holdout_days, until=end)
        window, _ = load_window(history, state or settings.state_location, spec)
        if not window.holdout:
            raise ValueError("the window has no held-out days to compare on")

        def progress(step: str) -> None:
            console.print(f"[dim]{step}[/]")

        rows = compare_versions(version or [], window, settings, latency_sample, progress)
        thresholds = ThresholdParams(budget=settings.fnr_budget)
        rows += compare_variants(
            variants,
            window,
            TrainParams(epochs=epochs),
            thresholds,
            load_fit_backend(backend),
            latency_sample,
            progress,
        )
    except (ValidationError, ValueError, RuntimeError) as exc:
        raise fail(exc) from None
    if as_json:
        print_json([r.model_dump(mode="json") for r in rows])
        return
    title = f"{window.split:%Y-%m-%d} .. {window.end:%Y-%m-%d}: {len(window.holdout)} held-out alerts"
    out.print(compare_table(rows, settings.fnr_budget, title))
