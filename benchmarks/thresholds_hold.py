"""Do thresholds chosen on one window hold the FNR budget on the weeks after it?

Simulates ``--days`` of labelled history (``alertsieve.simulate.simulate_history``), trains a bundle on the
first ``--train-days`` with ``alertsieve.training.train_bundle`` (in process; its thresholds are chosen on the
last quarter of those days, which the model did not fit), then scores every later alert with the core
``Scorer`` (the stream continuing from training) and compares, week by week and per service:

- per-service thresholds: the bundle's policy (``alertsieve.optimize.choose_thresholds``), as served;
- one global threshold: ``alertsieve.optimize.global_threshold`` on the same validation slice and rule.

Services the model never saw, and alerts whose text it never saw, are paged under both (as in serving).
"FNR upper" is the one-sided 95% Clopper-Pearson bound of the FNR.

    python benchmarks/thresholds_hold.py [--days 56] [--train-days 28] [--seed 7] [--encoder hashing-64]
"""

from __future__ import annotations

import argparse
import time
from collections.abc import Callable
from datetime import timedelta

import torch
from rich.console import Console
from rich.table import Table
from scipy.stats import beta

from alertsieve.context import time_order
from alertsieve.embedding import EmbeddingCache, load_encoder
from alertsieve.evaluation import Counts
from alertsieve.featurize import FeatureConfig
from alertsieve.model import TrainParams
from alertsieve.optimize import global_threshold
from alertsieve.policy import ThresholdParams, decide
from alertsieve.schema import LabelledAlert
from alertsieve.simulate import DEFAULT_START, simulate_history
from alertsieve.training import train_bundle
from thresholds.scored import decide_alerts, rows_of

Rule = Callable[[str, float], bool]  # (service, score) -> suppressed
VALIDATION_FRACTION = 0.25


def upper(counts: Counts, level: float = 0.95) -> float:
    n, k = counts.actionable, counts.suppressed_actionable
    return 1.0 if n == 0 or k >= n else float(beta.ppf(level, k + 1, n - k))


def tally(rows: list[tuple[str, float, bool]], rule: Rule) -> Counts:
    counts = Counts()
    for service, score, actionable in rows:
        counts.add(actionable, rule(service, score))
    return counts


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--days", type=int, default=56)
    parser.add_argument("--train-days", type=int, default=28)
    parser.add_argument("--seed", type=int, default=7)
    parser.add_argument("--encoder", default="hashing-64", help="hashing-64 (fast) or all-MiniLM-L6-v2")
    parser.add_argument("--epochs", type=int, default=TrainParams().epochs)
    parser.add_argument("--min-actionable", type=int, default=30, help="later actionable alerts a service needs")
    args = parser.parse_args()
    torch.set_num_threads(2)
    console = Console(width=180)
    params = ThresholdParams()

    started = time.perf_counter()
    history = simulate_history(args.days, seed=args.seed)
    cut = DEFAULT_START + timedelta(days=args.train_days)
    train = [a for a in history if a.startsAt < cut]
    later: list[LabelledAlert] = [a for a in history if a.startsAt >= cut]
    cache = EmbeddingCache(load_encoder(args.encoder))
    bundle, report = train_bundle(
        train,
        cache,
        FeatureConfig(encoder=args.encoder),
        TrainParams(epochs=args.epochs),
        params,
        validation_fraction=VALIDATION_FRACTION,
    )
    policy = bundle.meta.policy
    # the global threshold sees what the per-service policy saw: the validation slice (novel texts at 1.0),
    # with the alerts' times for the incident bound
    ordered = [train[i] for i in time_order(train)]
    val_alerts = ordered[int(round(len(ordered) * (1 - VALIDATION_FRACTION))) :]
    val = bundle.meta.validation
    assert len(val) == len(val_alerts), "the validation split differs from train_bundle's"
    single = global_threshold(
        [s for _, s, _ in val], [y for _, _, y in val], params, times=[a.startsAt.timestamp() for a in val_alerts]
    )
    decisions = decide_alerts(bundle, later, cache)
    rows = [(r.service, r.score, r.actionable) for r in rows_of(later, decisions)]
    weeks = [int((a.startsAt - cut) / timedelta(days=7)) for a in later]
    elapsed = time.perf_counter() - started

    def per_service(service: str, score: float) -> bool:
        return decide(score, service, policy).decision == "suppress"

    def one_global(service: str, score: float) -> bool:
        return policy.threshold_for(service) is not None and score < single.threshold

    rules: dict[str, Rule] = {"per-service": per_service, "global": one_global}
    console.print(
        f"history {len(history)} alerts over {args.days} days (seed {args.seed}); trained on the first "
        f"{args.train_days} days ({len(train)} alerts, encoder {args.encoder}, {args.epochs} epochs), "
        f"thresholds chosen on its last {report.validation_rows} alerts; {len(later)} later alerts; "
        f"validation AUC {bundle.meta.metrics.get('val_auc', float('nan')):.3f}; {elapsed:.0f}s"
    )
    console.print(
        f"per-service policy: {len(policy.services)} services with their own threshold, pooled "
        f"{policy.pooled.threshold:.2g}, expected FNR {policy.expected_fnr:.2%} (upper bound "
        f"{policy.fnr_upper_bound:.2%}); global threshold {single.threshold:.2g} (expected FNR "
        f"{single.expected_fnr:.2%}); FNR budget {params.budget:.1%}"
    )

    table = Table(title="later weeks: noise reduction and FNR (FNR upper: 95% Clopper-Pearson)")
    table.add_column("window", no_wrap=True)
    for column in ("alerts", "actionable"):
        table.add_column(column, justify="right")
    for name in rules:
        for column in ("NR", "FNR", "missed", "FNR upper"):
            table.add_column(f"{name} {column}", justify="right")

    def add(label: str, subset: list[tuple[str, float, bool]]) -> None:
        cells = []
        for rule in rules.values():
            c = tally(subset, rule)
            cells += [f"{c.noise_reduction:.1%}", f"{c.fnr:.2%}", str(c.suppressed_actionable), f"{upper(c):.2%}"]
        first = tally(subset, per_service)
        table.add_row(label, str(first.alerts), str(first.actionable), *cells)

    for week in sorted(set(weeks)):
        start = cut + timedelta(days=7 * week)
        add(f"week {week + 1} from {start:%m-%d}", [r for r, w in zip(rows, weeks, strict=True) if w == week])
    table.add_section()
    add("all later weeks", rows)
    console.print(table)

    services = Table(title=f"services with >= {args.min_actionable} actionable later alerts (all later weeks)")
    for column in ("service", "threshold", "source", "alerts", "actionable"):
        services.add_column(column, justify="left" if column in ("service", "source") else "right", no_wrap=True)
    for name in rules:
        for column in ("NR", "FNR", "missed"):
            services.add_column(f"{name} {column}", justify="right")
    held = {name: 0 for name in rules}
    capped = {name: 0 for name in rules}
    supported = sorted({s for s, _, _ in rows if sum(y for t, _, y in rows if t == s) >= args.min_actionable})
    for service in supported:
        subset = [r for r in rows if r[0] == service]
        found = policy.threshold_for(service)
        cells = []
        for name, rule in rules.items():
            c = tally(subset, rule)
            held[name] += int(c.fnr <= params.budget)
            capped[name] += int(c.fnr <= params.service_cap)
            cells += [f"{c.noise_reduction:.1%}", f"{c.fnr:.2%}", str(c.suppressed_actionable)]
        counts = tally(subset, per_service)
        services.add_row(
            service,
            f"{found[0]:.2g}" if found else "paged",
            found[1] if found else "unknown",
            str(counts.alerts),
            str(counts.actionable),
            *cells,
        )
    console.print(services)
    for name, rule in rules.items():
        overall = tally(rows, rule)
        verdict = "holds" if overall.fnr <= params.budget else "BREAKS"
        console.print(
            f"{name}: FNR {overall.fnr:.2%} on all later weeks ({verdict} the {params.budget:.1%} budget), "
            f"noise reduction {overall.noise_reduction:.1%}; of {len(supported)} supported services "
            f"{held[name]} within the budget, {capped[name]} within the {params.service_cap:.0%} "
            "per-service cap"
        )


if __name__ == "__main__":
    main()
