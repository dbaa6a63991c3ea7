"""Real-stream benchmark: alertsieve beside two baselines on alerts from the Microsoft Cloud Monitoring Dataset.

The alerts come from ``mscloud_alerts`` (alert rules run over repository microsoft/cloud-monitoring-dataset,
MIT). Two kinds of split, each scored by every method in the same run:

* ``time``: the first 65% of each series' time span trains, the rest tests;
* ``lodo:<domain>``: train on all other domains, test on the left-out one (skipped without test alerts).

Methods, each with an honest operating point (chosen without the test labels) and an oracle one (the
largest threshold over its scores with test FNR <= 1.5%, i.e. the most noise reduction inside budget):

* ``alertsieve``: ``train_bundle`` then ``Scorer.decide_stream`` through the core API; honest = its own
  decisions (thresholds, novelty and unknown-service guards included); oracle over ``Decision.score``;
* ``never-actionable-name``: suppress alert names never actionable in training (unseen names included);
  its score is the name's actionable share in training;
* ``tfidf-lr``: TF-IDF (1-2 grams) + logistic regression on the canonical text, fitted on the first 75%
  of training (time order); thresholds chosen on the last 25% and the validated model kept (no refit,
  so the thresholds still hold for it): "zero-miss" suppresses below the lowest actionable validation
  score, "val-fnr" is the highest threshold with validation FNR <= 1.5%.

Metrics count alert rows (Alertmanager re-sends included; ``--no-resends`` keeps one row per occurrence).
"inc missed" is the share of test incidents all of whose alerts were suppressed; "inc touched" the share
with at least one suppressed. Pass (alertsieve honest rows): FNR <= 1.5% and NR at least the best honest
baseline's NR among baselines with FNR <= 1.5% (0 when none is inside budget). A method that raises
(alertsieve's internals change under this script) gives an ERROR row and the run goes on. After the
table: alertsieve's decision reasons per split (numbers masked); ``--json`` rows add the training
report's validation figures and suppressed/total per service.

    python benchmarks/real_streams.py --mscloud PATH [--json OUT] [--encoder all-MiniLM-L6-v2|hashing-64]
"""

from __future__ import annotations

import argparse
import json
import math
import re
import sys
import time
from collections import Counter
from collections.abc import Callable
from dataclasses import asdict, dataclass, field, replace
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import numpy as np
from mscloud_alerts import StreamAlert, convert
from sklearn.metrics import roc_auc_score

BUDGET = 0.015
TRAIN_SHARE = 0.65
VALIDATION_SHARE = 0.25


@dataclass
class Outcome:
    """One operating point of one method: which test alerts it suppresses, and its scores."""

    threshold_rule: str
    honest: bool
    suppressed: np.ndarray
    scores: np.ndarray | None
    oracle: bool = True  # also report the oracle threshold over these scores
    extra: dict[str, object] = field(default_factory=dict)


@dataclass
class Row:
    split: str
    method: str
    threshold_rule: str
    honest: bool
    alerts: int = 0
    actionable: int = 0
    noise_reduction: float = math.nan
    fnr: float = math.nan
    incidents: int = 0
    incident_missed: float = math.nan
    incident_touched: float = math.nan
    auc: float = math.nan
    seconds: float = math.nan
    passed: str = "-"
    error: str = ""
    extra: dict[str, object] = field(default_factory=dict)


def log(message: str) -> None:
    print(f"[{time.strftime('%H:%M:%S')}] {message}", file=sys.stderr, flush=True)


def oracle_threshold(scores: np.ndarray, labels: np.ndarray, budget: float = BUDGET) -> float:
    """The largest t with share(actionable score < t) <= budget; +inf when nothing is actionable."""
    positives = np.sort(scores[labels])
    if len(positives) == 0:
        return math.inf
    return float(positives[int(math.floor(budget * len(positives) + 1e-9))])


def with_oracle(outcome: Outcome, labels: np.ndarray) -> list[Outcome]:
    if outcome.scores is None or not outcome.oracle:
        return [outcome]
    threshold = oracle_threshold(outcome.scores, labels)
    return [outcome, Outcome("oracle", False, outcome.scores < threshold, outcome.scores)]


# ---- methods: (train, test) -> outcomes on test --------------------------------------------------------------
def never_actionable_name(train: list[StreamAlert], test: list[StreamAlert]) -> list[Outcome]:
    seen: Counter[str] = Counter(s.alert.alertname for s in train)
    acted: Counter[str] = Counter(s.alert.alertname for s in train if s.alert.actionable)
    scores = np.array(
        [acted[s.alert.alertname] / seen[s.alert.alertname] if seen[s.alert.alertname] else 0.0 for s in test]
    )
    return [Outcome("rule", True, scores == 0.0, scores)]


def tfidf_lr(train: list[StreamAlert], test: list[StreamAlert]) -> list[Outcome]:
    from sklearn.feature_extraction.text import TfidfVectorizer
    from sklearn.linear_model import LogisticRegression

    from alertsieve.canonical import canonical_text

    ordered = sorted(train, key=lambda s: s.alert.startsAt)
    split = int(round(len(ordered) * (1 - VALIDATION_SHARE)))
    fit, val = ordered[:split], ordered[split:]
    vectoriser = TfidfVectorizer(ngram_range=(1, 2), min_df=1)
    x_fit = vectoriser.fit_transform([canonical_text(s.alert) for s in fit])
    y_fit = [s.alert.actionable for s in fit]
    if len(set(y_fit)) < 2:
        raise ValueError("the fit part has one class only")
    model = LogisticRegression(max_iter=2000, C=4.0).fit(x_fit, y_fit)

    def scores_of(rows: list[StreamAlert]) -> np.ndarray:
        return np.asarray(model.predict_proba(vectoriser.transform([canonical_text(s.alert) for s in rows]))[:, 1])

    val_scores, test_scores = scores_of(val), scores_of(test)
    val_labels = np.array([s.alert.actionable for s in val], dtype=bool)
    # no actionable validation alert: no evidence for any threshold, so suppress nothing (t = 0)
    zero_miss = float(val_scores[val_labels].min()) if val_labels.any() else 0.0
    val_fnr = oracle_threshold(val_scores, val_labels) if val_labels.any() else 0.0
    return [
        Outcome("zero-miss", True, test_scores < zero_miss, test_scores, extra={"threshold": zero_miss}),
        Outcome("val-fnr", True, test_scores < val_fnr, test_scores, oracle=False, extra={"threshold": val_fnr}),
    ]


def make_alertsieve(encoder: str, reasons: dict[str, Counter[str]]) -> Callable[..., list[Outcome]]:
    state: dict[str, object] = {}

    def alertsieve(train: list[StreamAlert], test: list[StreamAlert], split: str) -> list[Outcome]:
        from alertsieve.embedding import EmbeddingCache, load_encoder
        from alertsieve.featurize import FeatureConfig
        from alertsieve.scoring import Scorer
        from alertsieve.training import LocalFit, train_bundle

        if "cache" not in state:  # one encoder and cache for every split: texts repeat across splits
            state["cache"] = EmbeddingCache(load_encoder(encoder))
        cache = state["cache"]
        assert isinstance(cache, EmbeddingCache)
        bundle, report = train_bundle(
            [s.alert for s in train],
            cache,
            FeatureConfig(encoder=encoder),
            backend=LocalFit(),
            progress=lambda step: log(f"  alertsieve {split}: {step}"),
        )
        decisions = Scorer(bundle, cache).decide_stream([s.alert for s in test])
        reasons[split] = Counter(reason_kind(d.reason) for d in decisions)
        suppressed = np.array([d.decision == "suppress" for d in decisions], dtype=bool)
        extra = report_summary(report)
        by_service: dict[str, list[int]] = {}  # service -> [suppressed, alerts]
        for d in decisions:
            by_service.setdefault(d.service, [0, 0])[0 if d.decision == "suppress" else 1] += 1
        extra["suppressed_by_service"] = {k: [v[0], v[0] + v[1]] for k, v in sorted(by_service.items())}
        log(f"  alertsieve {split}: {extra}")
        return [Outcome("bundle policy", True, suppressed, np.array([d.score for d in decisions]), extra=extra)]

    return alertsieve


def report_summary(report: Any) -> dict[str, object]:
    """What the training report says about validation; tolerant of a report whose fields are changing."""
    try:
        val = report.validation.overall
        return {
            "val_noise_reduction": round(val.noise_reduction, 4),
            "val_fnr": round(val.fnr, 4),
            "fnr_upper_bound": round(report.fnr_upper_bound, 4),
            "services_with_own_threshold": report.services_with_own_threshold,
        }
    except Exception as exc:  # noqa: BLE001 - the decisions still count without the report
        return {"report_error": f"{type(exc).__name__}: {exc}"}


def reason_kind(reason: str) -> str:
    """A decision reason with its numbers masked, so reasons can be counted."""
    return re.sub(r"\d+(?:\.\d+)?", "#", reason)


# ---- evaluation ------------------------------------------------------------------------------------------------
def evaluate(row: Row, test: list[StreamAlert], outcome: Outcome) -> Row:
    labels = np.array([s.alert.actionable for s in test], dtype=bool)
    sup = outcome.suppressed
    row.alerts, row.actionable = len(test), int(labels.sum())
    noise = int((~labels).sum())
    row.noise_reduction = float((sup & ~labels).sum() / noise) if noise else math.nan
    row.fnr = float((sup & labels).sum() / row.actionable) if row.actionable else 0.0
    per_incident: dict[str, list[bool]] = {}
    for s, suppressed in zip(test, sup, strict=True):
        if s.incident:
            per_incident.setdefault(s.incident, []).append(bool(suppressed))
    row.incidents = len(per_incident)
    if per_incident:
        row.incident_missed = sum(all(v) for v in per_incident.values()) / len(per_incident)
        row.incident_touched = sum(any(v) for v in per_incident.values()) / len(per_incident)
    if outcome.scores is not None and 0 < row.actionable < len(test):
        row.auc = float(roc_auc_score(labels, outcome.scores))
    return row


def shifted(
    alerts: list[StreamAlert], by: dict[str, timedelta], key: Callable[[StreamAlert], str]
) -> list[StreamAlert]:
    """The alerts moved in time by ``by[key(alert)]`` (labels and fingerprints unchanged)."""
    out = []
    for s in alerts:
        delta, a = by[key(s)], s.alert
        moved = a.model_copy(update={"startsAt": a.startsAt + delta, "endsAt": a.endsAt + delta if a.endsAt else None})
        out.append(replace(s, alert=moved, series_start=s.series_start + delta))
    return out


def splits(alerts: list[StreamAlert]) -> list[tuple[str, list[StreamAlert], list[StreamAlert]]]:
    """The time split and the leave-one-domain-out splits, each made chronological as a user's would be.

    The series come from different months. For the time split each series is moved so that its 65% point
    falls on one common instant: training is then everything before it, as when a team trains on its
    history up to today. For a left-out domain, its series move together so that the domain starts an
    hour after the last training alert: a new domain coming online."""
    common = datetime(2019, 1, 7, tzinfo=UTC)
    by_series = {s.series: common - (s.series_start + timedelta(seconds=TRAIN_SHARE * s.series_span_s)) for s in alerts}
    aligned = shifted(alerts, by_series, lambda s: s.series)
    out = [
        (
            "time",
            [s for s in aligned if s.span_position < TRAIN_SHARE],
            [s for s in aligned if s.span_position >= TRAIN_SHARE],
        )
    ]
    for domain in sorted({s.domain for s in alerts}):
        test = [s for s in alerts if s.domain == domain]
        train = [s for s in alerts if s.domain != domain]
        if test and train:
            start = min(s.alert.startsAt for s in test)
            end = max(s.alert.startsAt for s in train)
            moved = shifted(test, {domain: end + timedelta(hours=1) - start}, lambda s: s.domain)
            out.append((f"lodo:{domain}", train, moved))
    return out


def mark_passes(rows: list[Row]) -> None:
    for split in dict.fromkeys(r.split for r in rows):
        group = [r for r in rows if r.split == split and not r.error]
        baselines = [r.noise_reduction for r in group if r.method != "alertsieve" and r.honest and r.fnr <= BUDGET]
        best = max(baselines, default=0.0)
        for r in group:
            if r.method == "alertsieve" and r.honest:
                if r.actionable == 0:
                    r.passed = "n/a"  # no actionable test alert: FNR is undefined, nothing to hold
                    continue
                r.passed = "PASS" if r.fnr <= BUDGET and r.noise_reduction >= best - 1e-12 else "fail"


def no_nan(value: object) -> object:
    """JSON has no NaN: write null."""
    if isinstance(value, float) and math.isnan(value):
        return None
    if isinstance(value, dict):
        return {k: no_nan(v) for k, v in value.items()}
    if isinstance(value, list):
        return [no_nan(v) for v in value]
    return value


def pct(value: float) -> str:
    return f"{value:.1%}" if not math.isnan(value) else "nan"


def print_table(rows: list[Row]) -> None:
    print(
        f"{'split':<46} {'method':<22} {'threshold':<14} {'alerts':>6} {'act.':>5} {'NR':>6} {'FNR':>6} "
        f"{'inc':>4} {'inc missed':>10} {'inc touched':>11} {'AUC':>6} {'secs':>6} {'pass':>4}"
    )
    for r in rows:
        if r.error:
            print(f"{r.split:<46} {r.method:<22} {'ERROR':<14} {r.error[:120]}")
            continue
        kind = r.threshold_rule if r.honest else "oracle"
        auc = f"{r.auc:.3f}" if not math.isnan(r.auc) else "nan"
        secs = f"{r.seconds:.1f}" if not math.isnan(r.seconds) else ""
        print(
            f"{r.split:<46} {r.method:<22} {kind:<14} {r.alerts:>6} {r.actionable:>5} {pct(r.noise_reduction):>6} "
            f"{pct(r.fnr):>6} {r.incidents:>4} {pct(r.incident_missed):>10} {pct(r.incident_touched):>11} "
            f"{auc:>6} {secs:>6} {r.passed:>4}"
        )


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--mscloud", type=Path, required=True, help="the cloud-monitoring-dataset folder")
    parser.add_argument("--json", type=Path, help="write the rows here")
    parser.add_argument("--encoder", default="all-MiniLM-L6-v2", choices=["all-MiniLM-L6-v2", "hashing-64"])
    parser.add_argument("--no-resends", action="store_true", help="one row per occurrence (no repeat_interval rows)")
    args = parser.parse_args()

    started = time.perf_counter()
    alerts, incidents = convert(args.mscloud, resends=not args.no_resends)
    log(
        f"{len(alerts)} alerts, {sum(s.alert.actionable for s in alerts)} actionable, "
        f"{len({s.incident for s in alerts if s.incident})}/{sum(incidents.values())} incidents alerted on"
    )
    reasons: dict[str, Counter[str]] = {}
    methods: list[tuple[str, Callable[..., list[Outcome]]]] = [
        ("alertsieve", make_alertsieve(args.encoder, reasons)),
        ("never-actionable-name", lambda tr, te, _split: never_actionable_name(tr, te)),
        ("tfidf-lr", lambda tr, te, _split: tfidf_lr(tr, te)),
    ]
    rows: list[Row] = []
    for split, train, test in splits(alerts):
        labels = np.array([s.alert.actionable for s in test], dtype=bool)
        log(
            f"split {split}: train {len(train)} ({sum(s.alert.actionable for s in train)} act.), "
            f"test {len(test)} ({int(labels.sum())} act.)"
        )
        for name, method in methods:
            t0 = time.perf_counter()
            try:
                outcomes = method(train, test, split)
            except Exception as exc:  # noqa: BLE001 - one failing method must not stop the table
                log(f"  {name} failed on {split}: {type(exc).__name__}: {exc}")
                rows.append(Row(split, name, "-", True, error=f"{type(exc).__name__}: {exc}"))
                continue
            seconds = time.perf_counter() - t0
            for outcome in [o for base in outcomes for o in with_oracle(base, labels)]:
                row = Row(split, name, outcome.threshold_rule, outcome.honest, seconds=seconds, extra=outcome.extra)
                rows.append(evaluate(row, test, outcome))
            log(f"  {name}: {seconds:.1f}s")
    mark_passes(rows)
    print(f"{len(alerts)} alerts from {args.mscloud}; encoder {args.encoder}; budget FNR <= {BUDGET:.1%}")
    print_table(rows)
    print(
        "inc missed = share of test incidents all of whose alerts were suppressed; "
        "inc touched = share with at least one suppressed"
    )
    for split, counter in reasons.items():
        total = sum(counter.values())
        top = "; ".join(f"{n / total:.1%} {kind}" for kind, n in counter.most_common(4))
        print(f"alertsieve reasons {split}: {top}")
    print(f"total {time.perf_counter() - started:.0f}s")
    if args.json:
        records = [
            {**asdict(r), "reasons": dict(reasons.get(r.split, {})) if r.method == "alertsieve" else None} for r in rows
        ]
        args.json.write_text(json.dumps(no_nan(records), indent=1))


if __name__ == "__main__":
    main()
