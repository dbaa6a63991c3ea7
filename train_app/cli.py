"""Commands of the retraining loop: retrain, schedule, promote, rollback, compare.

They are imported into `alertsieve` by ``cli.main``, and run as a
Ray Job entrypoint with `python -m train_app ...`. This is the output layer: options in, tables out,
errors as messages with a non-zero exit.
"""

from __future__ import annotations

from datetime import datetime
from pathlib import Path
from typing import TYPE_CHECKING, Annotated

import typer
from pydantic import ValidationError

from alertsieve.cli import console, fail, out, print_json, usage
from alertsieve.settings import get_settings

if TYPE_CHECKING:
    from train_app.deploy import Deployer
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
Backend = Annotated[str, typer.Option(help="'ray' (Ray Train workers) or 'local' (this process)")]
SkipBadLines = Annotated[bool, typer.Option("--skip-bad-lines", help="skip malformed lines (counted), do not fail")]
ServeConfig = Annotated[Path, typer.Option(help="the Serve config whose app args a rollout updates")]
AppName = Annotated[str, typer.Option("--app", help="the application's name in the Serve config")]
DeployWith = Annotated[
    str,
    typer.Option(
        "--deployer",
        help="'serve-deploy' (the config + `serve deploy`), "
        "'serve-run' (serve.run on the connected Ray cluster) or 'rayservice' "
        "(kubectl patch of the RayService's serveConfigV2)",
    ),
]
Address = Annotated[str | None, typer.Option(help="Ray dashboard address for `serve deploy`")]
RayServiceName = Annotated[str, typer.Option("--rayservice", help="the RayService to patch (--deployer rayservice)")]
Namespace = Annotated[str | None, typer.Option(help="its namespace; the pod's own by default")]


def _retrain_config(
    history: str,
    state: str | None,
    weeks: float,
    holdout_days: float,
    until: str | None,
    epochs: int,
    encoder: str | None,
    workers: int,
    gpu: bool,
    backend: str,
) -> RetrainConfig:
    from alertsieve.model import TrainParams
    from train_app.retrain import RetrainConfig
    from train_app.window import WindowSpec

    try:
        window = WindowSpec(
            weeks=weeks, holdout_days=holdout_days, until=datetime.fromisoformat(until) if until else None
        )
        return RetrainConfig(
            history=history,
            state=state,
            window=window,
            encoder=encoder,
            params=TrainParams(epochs=epochs),
            backend=backend,
            workers=workers,
            gpu=gpu,
        )
    except (ValidationError, ValueError) as exc:
        raise fail(str(exc)) from None


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


def retrain(
    history: History,
    state: State = None,
    weeks: Weeks = 6.0,
    holdout_days: Holdout = 7.0,
    until: Until = None,
    epochs: Epochs = 25,
    encoder: Encoder = None,
    workers: Workers = 1,
    gpu: Gpu = False,
    backend: Backend = "ray",
    skip_bad_lines: SkipBadLines = False,
) -> None:
    """Retrain on the last weeks of history and feedback, compare with the champion, register a challenger."""
    config = _retrain_config(history, state, weeks, holdout_days, until, epochs, encoder, workers, gpu, backend)
    config.skip_bad_lines = skip_bad_lines
    try:
        _run_retrain(config)
    except (ValueError, RuntimeError) as exc:
        raise fail(str(exc)) from None


def schedule(
    history: History,
    cron: Annotated[str, typer.Option(help="when to run, e.g. '0 3 * * 1' (Mondays 03:00 UTC)")],
    once: Annotated[bool, typer.Option("--once", help="run the job once now and exit")] = False,
    max_runs: Annotated[int | None, typer.Option(min=1, help="stop after this many scheduled runs")] = None,
    state: State = None,
    weeks: Weeks = 6.0,
    holdout_days: Holdout = 7.0,
    epochs: Epochs = 25,
    encoder: Encoder = None,
    workers: Workers = 1,
    gpu: Gpu = False,
    backend: Backend = "ray",
    skip_bad_lines: SkipBadLines = False,
) -> None:
    """Run the retraining job at every tick of a cron expression (the single-machine CronJob)."""
    from train_app.schedule import run_schedule, validate_cron

    try:
        validate_cron(cron)
    except ValueError as exc:
        raise usage(str(exc)) from None
    config = _retrain_config(history, state, weeks, holdout_days, None, epochs, encoder, workers, gpu, backend)
    config.skip_bad_lines = skip_bad_lines
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


def _deployer(
    kind: str,
    serve_config: Path,
    app_name: str,
    address: str | None,
    rayservice: str = "alertsieve",
    namespace: str | None = None,
) -> Deployer:
    from train_app.deploy import RayServiceDeployer, ServeConfigDeployer, ServeRunDeployer

    if kind == "serve-deploy":
        return ServeConfigDeployer(serve_config, app_name, address)
    if kind == "rayservice":
        return RayServiceDeployer(rayservice, app_name, namespace)
    if kind == "serve-run":
        from train_app.ray_runtime import ensure_ray

        ensure_ray(address="auto")  # the running cluster (RAY_ADDRESS or a local `ray start`), never a new one
        return ServeRunDeployer.from_config(serve_config, app_name)
    raise usage(f"unknown deployer {kind!r}: serve-deploy, serve-run or rayservice")


def promote(
    serve_config: ServeConfig = Path("serve_config.yaml"),
    app_name: AppName = "alertsieve",
    deployer: DeployWith = "serve-deploy",
    address: Address = None,
    state: State = None,
    rayservice: RayServiceName = "alertsieve",
    namespace: Namespace = None,
    confidence: Annotated[float, typer.Option(min=0.5, max=0.999, help="one-sided confidence of the bounds")] = 0.9,
    nr_margin: Annotated[float, typer.Option(min=0.0, max=0.5, help="allowed noise reduction loss")] = 0.02,
    min_stage_feedback: Annotated[int, typer.Option(min=0, help="challenger decisions with feedback per stage")] = 50,
    max_stage_hours: Annotated[float, typer.Option(help="roll back a stage inconclusive for longer")] = 168.0,
    watch: Annotated[bool, typer.Option("--watch", help="keep stepping until promoted or rolled back")] = False,
    interval: Annotated[float, typer.Option(min=1.0, help="seconds between steps with --watch")] = 3600.0,
) -> None:
    """Start or advance the challenger's rollout: shadow, 10%, 50%, 100% (champion), or roll it back."""
    import time

    from train_app.deploy import DeployError
    from train_app.promotion import GateConfig, Stage
    from train_app.rollout import RolloutError, promote_step
    from train_app.tables import assessment_table

    settings = get_settings()
    gates = GateConfig(
        budget=settings.fnr_budget,
        confidence=confidence,
        nr_margin=nr_margin,
        min_stage_feedback=min_stage_feedback,
        max_stage_hours=max_stage_hours,
    )
    target = _deployer(deployer, serve_config, app_name, address, rayservice, namespace)
    while True:
        try:
            outcome = promote_step(settings, target, gates, state)
        except (RolloutError, DeployError) as exc:
            raise fail(str(exc)) from None
        if outcome.assessment is not None:
            source = "offline (held-out days)" if outcome.offline else "online (decisions joined with feedback)"
            out.print(assessment_table(outcome.assessment, f"challenger vs champion, {source}"))
        for note in outcome.notes:
            console.print(f"[yellow]note:[/] {note}")
        out.print(outcome.message)
        stage = outcome.state.stage if outcome.state else None
        if stage is Stage.ROLLED_BACK or (outcome.state is None and outcome.assessment is not None):
            raise typer.Exit(1)
        if not watch or outcome.state is None or not outcome.state.active:
            return
        time.sleep(interval)


def rollback(
    serve_config: ServeConfig = Path("serve_config.yaml"),
    app_name: AppName = "alertsieve",
    deployer: DeployWith = "serve-deploy",
    address: Address = None,
    state: State = None,
    rayservice: RayServiceName = "alertsieve",
    namespace: Namespace = None,
    reason: Annotated[str, typer.Option(help="recorded with the rollout")] = "manual rollback",
) -> None:
    """Abort the running rollout, or restore the previous champion when none is running."""
    from train_app.deploy import DeployError
    from train_app.rollout import RolloutError
    from train_app.rollout import rollback as do_rollback

    try:
        target = _deployer(deployer, serve_config, app_name, address, rayservice, namespace)
        outcome = do_rollback(get_settings(), target, state, reason)
    except (RolloutError, DeployError) as exc:
        raise fail(str(exc)) from None
    out.print(outcome.message)


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
    backend: Annotated[str, typer.Option(help="variants train with: local or ray")] = "local",
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
        raise fail(str(exc)) from None
    if as_json:
        print_json([r.model_dump(mode="json") for r in rows])
        return
    title = f"{window.split:%Y-%m-%d} .. {window.end:%Y-%m-%d}: {len(window.holdout)} held-out alerts"
    out.print(compare_table(rows, settings.fnr_budget, title))
