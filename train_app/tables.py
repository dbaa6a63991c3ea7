"""Rich tables of the retraining and promotion commands (the compare table is in ``train_app.compare``)."""

from __future__ import annotations

from collections.abc import Mapping

from rich.table import Table

from alertsieve.evaluation import Counts, Evaluation
from train_app.promotion import Assessment, Interval


def side_by_side(evaluations: Mapping[str, Evaluation | None], title: str, per_service: bool = True) -> Table:
    """Noise reduction / FNR of several models on the same alerts, one column pair per model."""
    shown = {name: e for name, e in evaluations.items() if e is not None}
    table = Table(title=title)
    table.add_column("service")
    table.add_column("alerts", justify="right")
    table.add_column("actionable", justify="right")
    for name in shown:
        table.add_column(f"{name} NR", justify="right")
        table.add_column(f"{name} FNR", justify="right")

    def cells(counts: dict[str, Counts]) -> list[str]:
        return [part for c in counts.values() for part in (f"{c.noise_reduction:.1%}", f"{c.fnr:.2%}")]

    first = next(iter(shown.values()), None)
    if first is None:
        return table
    if per_service:
        for service, base in first.services.items():
            row = {name: e.services.get(service, Counts()) for name, e in shown.items()}
            table.add_row(service or "(none)", str(base.alerts), str(base.actionable), *cells(row))
        table.add_section()
    overall = {name: e.overall for name, e in shown.items()}
    table.add_row("ALL", str(first.overall.alerts), str(first.overall.actionable), *cells(overall))
    aucs = [f"AUC {e.auc:.3f}" if e.auc is not None else "AUC -" for e in shown.values()]
    table.caption = "; ".join(f"{name}: {auc}" for name, auc in zip(shown, aucs, strict=True))
    return table


def _interval(value: Interval | None) -> str:
    return str(value) if value is not None else "-"


def assessment_table(assessment: Assessment, title: str) -> Table:
    """The gates' evidence with its one-sided bounds, and the verdict."""
    table = Table(title=title)
    for column in ("measure", "challenger", "champion"):
        table.add_column(column, justify="left" if column == "measure" else "right")
    a = assessment
    table.add_row("FNR (bounds)", _interval(a.challenger_fnr), _interval(a.champion_fnr))
    table.add_row(
        "actionable with feedback", str(a.challenger_fnr.trials), str(a.champion_fnr.trials) if a.champion_fnr else "-"
    )
    table.add_row("noise reduction (bounds)", _interval(a.challenger_nr), _interval(a.champion_nr))
    table.add_row("NR difference (bounds)", _interval(a.nr_difference), "")
    if a.exposure is not None:
        table.add_row("decisions with feedback in this stage", str(a.exposure), "")
    table.caption = f"verdict: {a.verdict} - " + "; ".join(a.reasons)
    return table
