"""Retraining benchmark: does the retrained model beat the stale one on the weeks after it, and how long
does training take on ~20k alerts?

Simulate 8 weeks (seed 7; services, noisy rules and flapping sources come and go from week to week),
train the stale champion on weeks 1-4 and the retrained challenger on weeks 1-6, both with the
retraining job's code (``train_bundle`` on Ray Train workers, thresholds under the 1.5% FNR budget), and
score weeks 7-8 with both exactly as `alertsieve retrain` compares them (``train_app.offline``). Then time
one training on all 8 weeks (~20k alerts) from a cold embedding cache.

    python benchmarks/retrain_drift.py [--seed 7] [--encoder all-MiniLM-L6-v2] [--backend ray|local]
"""

from __future__ import annotations

import argparse
import time
from datetime import timedelta

import torch
from rich.console import Console
from rich.table import Table

from alertsieve.embedding import MINILM, EmbeddingCache, load_encoder
from alertsieve.featurize import FeatureConfig
from alertsieve.model import TrainParams
from alertsieve.policy import ThresholdParams
from alertsieve.schema import LabelledAlert
from alertsieve.simulate import DEFAULT_START, simulate_history
from alertsieve.training import FitBackend, LocalFit, train_bundle
from train_app.offline import Caches, evaluate_bundle
from train_app.promotion import GateConfig, assess
from train_app.tables import assessment_table, side_by_side

console = Console(width=150)


def weeks(alerts: list[LabelledAlert], first: int, last: int) -> list[LabelledAlert]:
    """Alerts of weeks ``first``..``last`` (1-based, inclusive)."""
    lo, hi = DEFAULT_START + timedelta(weeks=first - 1), DEFAULT_START + timedelta(weeks=last)
    return [a for a in alerts if lo <= a.startsAt < hi]


class Phases:
    """Seconds spent in each step ``train_bundle`` reports."""

    def __init__(self) -> None:
        self.marks: list[tuple[str, float]] = []

    def __call__(self, step: str) -> None:
        self.marks.append((step, time.perf_counter()))

    def summary(self, end: float) -> str:
        ends = [t for _, t in self.marks[1:]] + [end]
        return ", ".join(f"{step} {stop - start:.1f}s" for (step, start), stop in zip(self.marks, ends, strict=True))


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--seed", type=int, default=7)
    parser.add_argument("--encoder", default=MINILM)
    parser.add_argument("--backend", choices=("ray", "local"), default="ray")
    parser.add_argument("--epochs", type=int, default=TrainParams().epochs)
    args = parser.parse_args()
    torch.set_num_threads(2)

    backend: FitBackend = LocalFit()
    if args.backend == "ray":
        import ray

        from train_app.fit import RayTorchFit

        ray.init(address="local", num_cpus=2, include_dashboard=False, log_to_driver=False)
        backend = RayTorchFit(num_workers=1)

    stream = simulate_history(days=56, seed=args.seed)
    features = FeatureConfig(encoder=args.encoder)
    params, thresholds = TrainParams(epochs=args.epochs), ThresholdParams()
    console.print(
        f"simulated {len(stream)} alerts over 8 weeks (seed {args.seed}); encoder {args.encoder}, "
        f"backend {args.backend}, {args.epochs} epochs"
    )

    # training time on all 8 weeks, from a cold embedding cache (the whole train_bundle: context, embeddings,
    # neighbour index, Ray Train fit, thresholds)
    phases = Phases()
    started = time.perf_counter()
    _, full = train_bundle(
        stream, EmbeddingCache(load_encoder(args.encoder)), features, params, thresholds, backend, progress=phases
    )
    full_wall = time.perf_counter() - started
    breakdown = phases.summary(time.perf_counter())

    caches = Caches()
    stale_alerts, fresh_alerts, later = weeks(stream, 1, 4), weeks(stream, 1, 6), weeks(stream, 7, 8)
    stale, stale_report = train_bundle(stale_alerts, caches.get(args.encoder), features, params, thresholds, backend)
    fresh, fresh_report = train_bundle(fresh_alerts, caches.get(args.encoder), features, params, thresholds, backend)
    results = {
        "stale (wk 1-4)": evaluate_bundle(stale, caches, fresh_alerts, later),
        "retrained (wk 1-6)": evaluate_bundle(fresh, caches, fresh_alerts, later),
    }

    console.print(
        side_by_side(
            results,
            f"weeks 7-8: {len(later)} alerts, {sum(a.actionable for a in later)} actionable (NR = noise reduction)",
        )
    )
    summary = Table(title="summary on weeks 7-8")
    for column in ("model", "trained on", "noise reduction", "FNR", "missed", "AUC", "training s"):
        summary.add_column(column, justify="left" if column in ("model", "trained on") else "right")
    for (name, evaluation), report in zip(results.items(), (stale_report, fresh_report), strict=True):
        o = evaluation.overall
        summary.add_row(
            name,
            f"{report.rows} alerts",
            f"{o.noise_reduction:.1%}",
            f"{o.fnr:.2%}",
            f"{o.suppressed_actionable}/{o.actionable}",
            f"{evaluation.auc:.3f}" if evaluation.auc else "-",
            f"{report.train_seconds:.1f}",
        )
    console.print(summary)
    gates = assess(results["retrained (wk 1-6)"].overall, results["stale (wk 1-4)"].overall, GateConfig())
    console.print(assessment_table(gates, "promotion gates on weeks 7-8 (retrained vs stale, default GateConfig)"))
    v = full.validation.overall
    console.print(
        f"training on all 8 weeks: {full.rows} alerts in {full.train_seconds:.1f}s "
        f"({full_wall:.1f}s wall, backend {full.backend}, cold embedding cache); "
        f"validation NR {v.noise_reduction:.1%}, FNR {v.fnr:.2%}"
    )
    console.print(f"  steps: {breakdown}")


if __name__ == "__main__":
    main()
