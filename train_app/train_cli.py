"""`alertsieve train`: the output layer of ``train_app.pipeline.run`` for one labelled history.

Options in, progress and tables (or, with ``--json``, the report as one JSON object) out; bad data exits 1
naming the file, line and field, and a model that fails its first-model gate is registered but not made
champion (exit 3; under ``--json`` the report with the ``error``).
"""

from __future__ import annotations

from pathlib import Path
from typing import Annotated

import typer

from alertsieve.cli import counts_table, evaluation_json, notes_table
from alertsieve.featurize import FeatureConfig
from alertsieve.output import EXIT_GATE, fail, out, print_json, steps
from alertsieve.settings import get_settings
from train_app.cli import Backend


def train(
    history: Annotated[Path, typer.Option(help="JSONL of labelled alerts", exists=True, dir_okay=False)],
    backend: Backend = "ray",
    workers: Annotated[int, typer.Option(min=1, help="Ray Train workers")] = 1,
    gpu: Annotated[bool, typer.Option("--gpu", help="train on GPU workers (same code)")] = False,
    encoder: Annotated[str, typer.Option(help="text encoder: all-MiniLM-L6-v2 or hashing-64")] = "all-MiniLM-L6-v2",
    validation_fraction: Annotated[float, typer.Option(min=0.05, max=0.5)] = 0.25,
    save: Annotated[Path | None, typer.Option(help="also save the bundle to this directory")] = None,
    register: Annotated[bool, typer.Option(help="register the version in MLflow")] = True,
    skip_bad_lines: Annotated[
        bool, typer.Option("--skip-bad-lines", help="skip malformed lines (counted) instead of stopping")
    ] = False,
    as_json: Annotated[bool, typer.Option("--json", help="print the training report as JSON")] = False,
) -> None:
    """Train a model on labelled history, choose thresholds on its later part, register it."""
    from alertsieve.records import RecordError
    from train_app.pipeline import BackendOptions, TrainRequest, run

    settings = get_settings()
    request = TrainRequest(
        history=str(history),
        features=FeatureConfig(encoder=encoder, service_labels=settings.service_labels),
        backend=BackendOptions(backend=backend, workers=workers, gpu=gpu),
        validation_fraction=validation_fraction,
        skip_bad_lines=skip_bad_lines,
        register_version=register,
    )
    with steps(f"training on {history}") as bar:
        task = bar.add_task("reading", total=7)

        def progress(step: str) -> None:
            bar.update(task, description=step, advance=1)

        try:
            result = run(request, settings, progress)
        except (RecordError, ValueError) as exc:
            raise fail(exc) from None
        bar.update(task, description="done", completed=7)
    report = result.report
    passed = result.assessment.verdict == "advance"
    if save:
        result.bundle.save(save)
    gate = (
        None
        if passed
        else f"validation FNR {report.validation.overall.fnr:.2%} is above the {settings.fnr_budget:.2%} budget: "
        "not made champion"
    )
    if as_json:
        summary = {
            "version": result.version,
            "champion": result.champion,
            "gate": result.assessment.model_dump(mode="json"),
            "validation": evaluation_json(report.validation),
            **report.model_dump(mode="json", exclude={"validation"}),
            "skipped_lines": result.skipped_lines,
            "saved": str(save) if save else None,
        }
        if gate is not None:
            raise fail(gate, EXIT_GATE, details=summary)
        print_json(summary)
        return
    out.print(counts_table("validation (later history, unseen in training)", report.validation))
    out.print(notes_table(report.notes))
    if report.environment_labels:
        out.print(f"environment labels (features, not identity): {', '.join(report.environment_labels)}")
    if result.skipped_lines:
        out.print(f"skipped {result.skipped_lines} malformed lines of {history}")
    cal = report.calibration
    penalty = (
        f"L2 penalty {report.penalty.weight_decay:g} (held-out log-loss)" if report.penalty else "L2 penalty as given"
    )
    out.print(f"{penalty}; calibration {cal.kind} (slope {cal.slope:.2f}, intercept {cal.intercept:+.2f})")
    out.print(
        f"training time {report.train_seconds:.1f}s on {report.fit_rows} rows ({report.backend}); "
        f"expected FNR {report.expected_fnr:.2%} (upper bound {report.fnr_upper_bound:.2%}); "
        f"gate {'passed' if passed else 'FAILED'}"
    )
    if save:
        out.print(f"saved bundle to {save}")
    if result.version is not None:
        out.print(f"registered {settings.model_name} version {result.version}" + (" as champion" if passed else ""))
    if gate is not None:
        raise fail(gate, EXIT_GATE)
