"""Real-stream benchmark: alertsieve beside baselines on alerts from the Microsoft Cloud Monitoring Dataset.

The alerts come from ``mscloud_alerts`` (alert rules run over repository microsoft/cloud-monitoring-dataset,
MIT). The splits (``real_splits``; each row of the table and of ``--json`` carries its ``kind``), every one
chronological and scored by every method in the same run:

* ``time`` (``time:50%``, ``time:65%``, ``time:80%``): rolling origin; each series' first 50/65/80% of its
  time span trains, the rest is scored;
* ``series`` (``series:<name>``): leave one series out within the services that have several (at most
  ``--series-folds``, preferring series with incidents), scored after training as a new series would be;
* ``no-signal`` (``no-signal:65%``): the 65% time split relabelled by random incident windows per service
  (seeded, the actionable share kept): labels independent of the alerts. Its budget is FNR <= 2%;
* ``shift`` (``shift:65%``): the 65% time split with half of training's incidents dropped with their
  alerts: the scored part carries about twice training's incident share;
* ``domain`` (``lodo:<domain>``): train on all other domains, score the left-out one.

Methods, each with honest operating points (chosen without the test labels) and an oracle one (the largest
threshold over its scores with test FNR inside the split's budget, i.e. the most noise reduction inside it):

* ``alertsieve``: ``train_bundle`` then ``Scorer.decide_stream`` through the core API; honest = its own
  decisions (thresholds, novelty and unknown-service guards included); oracle over ``Decision.score``.
  Beside its FNR: the FNR the training report expected (``expected_fnr``) and its ``fnr_upper_bound``;
* ``never-actionable-name``: suppress alert names never actionable in training (unseen names included);
  its score is the name's actionable share in training;
* ``tfidf-lr``: TF-IDF (1-2 grams) + logistic regression on the canonical text, fitted on the first 75%
  of training (time order); thresholds chosen on the last 25% and the validated model kept: "zero-miss"
  suppresses below the lowest actionable validation score, "val-fnr" is the highest threshold with
  validation FNR <= 1.5%;
* ``history:<key>`` (key ``alertname``, ``name+service``, ``fingerprint``): suppress keys never actionable
  in >= N training alerts. N is picked on validation (counts from the first 75% of training, applied to the
  last 25%): the largest validation NR with validation FNR <= 1.5%, the larger N on ties and when validation
  has no actionable alert; the test part is then ruled with the counts from all of training. Its score for
  the oracle: the key's smoothed actionable share (acted + 1) / (seen + 2), unseen keys 1.

Metrics count alert rows (Alertmanager re-sends included; ``--no-resends`` keeps one row per occurrence).
"NR-net" leaves out the wrong-direction alerts (a rule looking in a direction the domain does not care
about: noise by construction): suppressed right-direction noise / right-direction noise. "occ" columns
count occurrences, (fingerprint, startsAt), each suppressed when its first row is. "inc missed" is the share
of test incidents all of whose alerts were suppressed; "inc touched" the share with at least one suppressed.

Pass (alertsieve honest rows): FNR within the split's budget (1.5%; 2% on no-signal) and, except on the
no-signal control (where suppressing little is right, and a baseline's NR there is luck), NR at least the
best honest baseline's NR among baselines inside the budget (0 when none is). A split without actionable test
alerts is ``n/a``; where the guards (unknown service, novel alert) page >= 95% of the test alerts it is
``guarded`` (``fail`` if the rest still breaks the budget): neither is a pass. A method that raises (alertsieve's internals change under this script)
gives an ERROR row and the run goes on. After the full table: one line per split (alertsieve against the
best baseline), a summary per split kind (expected against actual FNR: the margin measured; pass counts),
and alertsieve's decision reasons per split (numbers masked). ``--json`` rows add the training report's
figures, the guard share and suppressed/total per service.

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
from collections.abc import Callable, Sequence
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any

import numpy as np
from mscloud_alerts import StreamAlert, convert
from real_splits import SERIES_FOLDS, Split, all_splits
from sklearn.metrics import roc_auc_score

BUDGET = 0.015
NO_SIGNAL_BUDGET = 0.02
VALIDATION_SHARE = 0.25
GUARDED_SHARE = 0.95  # alertsieve rows where guards page at least this share of the test alerts
GUARD_REASONS = ("unknown_service", "novel")
HISTORY_N = (1, 2, 3, 5, 10, 20, 30, 50, 100, 200, 500, 1000)
KINDS = ("time", "series", "no-signal", "shift", "domain")

Method = Callable[[list[StreamAlert], list[StreamAlert], str], list["Outcome"]]


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
    kind: str = ""
    budget: float = BUDGET
    alerts: int = 0
    actionable: int = 0
    noise_reduction: float = math.nan
    noise_reduction_net: float = math.nan  # right-direction alerts only
    fnr: float = math.nan  # nan: no actionable test alert
    occurrences: int = 0
    occurrence_actionable: int = 0
    occurrence_noise_reduction: float = math.nan
    occurrence_fnr: float = math.nan
    expected_fnr: float = math.nan  # alertsieve: what its training report expected
    fnr_upper_bound: float = math.nan
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


def labels_of(alerts: Sequence[StreamAlert]) -> np.ndarray:
    return np.array([s.alert.actionable for s in alerts], dtype=bool)


def oracle_threshold(scores: np.ndarray, labels: np.ndarray, budget: float = BUDGET) -> float:
    """The largest t with share(actionable score < t) <= budget; +inf when nothing is actionable."""
    positives = np.sort(scores[labels])
    if len(positives) == 0:
        return math.inf
    return float(positives[int(math.floor(budget * len(positives) + 1e-9))])


def with_oracle(outcome: Outcome, labels: np.ndarray, budget: float = BUDGET) -> list[Outcome]:
    if outcome.scores is None or not outcome.oracle:
        return [outcome]
    threshold = oracle_threshold(outcome.scores, labels, budget)
    return [outcome, Outcome("oracle", False, outcome.scores < threshold, outcome.scores)]


def fit_and_validation(train: list[StreamAlert]) -> tuple[list[StreamAlert], list[StreamAlert]]:
    """Training in time order, cut into the fit part and the last ``VALIDATION_SHARE`` (validation)."""
    ordered = sorted(train, key=lambda s: s.alert.startsAt)
    split = int(round(len(ordered) * (1 - VALIDATION_SHARE)))
    return ordered[:split], ordered[split:]


# ---- methods: (train, test, split name) -> outcomes on test --------------------------------------------------
def never_actionable_name(train: list[StreamAlert], test: list[StreamAlert]) -> list[Outcome]:
    seen: Counter[str] = Counter(s.alert.alertname for s in train)
    acted: Counter[str] = Counter(s.alert.alertname for s in train if s.alert.actionable)
    scores = np.array(
        [acted[s.alert.alertname] / seen[s.alert.alertname] if seen[s.alert.alertname] else 0.0 for s in test]
    )
    return [Outcome("rule", True, scores == 0.0, scores)]


HISTORY_KEYS: dict[str, Callable[[StreamAlert], str]] = {
    "alertname": lambda s: s.alert.alertname,
    "name+service": lambda s: f"{s.alert.alertname}|{s.domain}",
    "fingerprint": lambda s: s.alert.fingerprint,
}


def history_counts(rows: list[StreamAlert], key: Callable[[StreamAlert], str]) -> tuple[Counter[str], Counter[str]]:
    """How often each key fired, and how often actionable."""
    return Counter(key(s) for s in rows), Counter(key(s) for s in rows if s.alert.actionable)


def history_rule(
    rows: list[StreamAlert], key: Callable[[StreamAlert], str], counts: tuple[Counter[str], Counter[str]], n: int
) -> np.ndarray:
    """Suppress the rows whose key fired at least ``n`` times in the counted history, never actionable."""
    seen, acted = counts
    return np.array([seen[key(s)] >= n and not acted[key(s)] for s in rows], dtype=bool)


def pick_history_n(train: list[StreamAlert], key: Callable[[StreamAlert], str]) -> int | None:
    """N on validation: the largest NR with FNR <= budget, the larger N on ties; the largest N when
    validation has no actionable alert; None (suppress nothing) when no N keeps the budget."""
    fit, val = fit_and_validation(train)
    labels = labels_of(val)
    if not labels.any():
        return max(HISTORY_N)
    counts = history_counts(fit, key)
    best, best_nr = None, -1.0
    for n in sorted(HISTORY_N, reverse=True):
        sup = history_rule(val, key, counts, n)
        fnr = (sup & labels).sum() / labels.sum()
        nr = (sup & ~labels).sum() / max(int((~labels).sum()), 1)
        if fnr <= BUDGET and nr > best_nr + 1e-12:
            best, best_nr = n, float(nr)
    return best


def history_method(key_name: str) -> Method:
    key = HISTORY_KEYS[key_name]

    def method(train: list[StreamAlert], test: list[StreamAlert], _split: str) -> list[Outcome]:
        n = pick_history_n(train, key)
        counts = history_counts(train, key)
        seen, acted = counts
        scores = np.array([(acted[key(s)] + 1) / (seen[key(s)] + 2) if seen[key(s)] else 1.0 for s in test])
        suppressed = history_rule(test, key, counts, n) if n is not None else np.zeros(len(test), dtype=bool)
        rule = f"N>={n}" if n is not None else "no N fits"
        return [Outcome(rule, True, suppressed, scores, extra={"n": n})]

    return method


def tfidf_lr(train: list[StreamAlert], test: list[StreamAlert]) -> list[Outcome]:
    from sklearn.feature_extraction.text import TfidfVectorizer
    from sklearn.linear_model import LogisticRegression

    from alertsieve.canonical import canonical_text

    fit, val = fit_and_validation(train)
    vectoriser = TfidfVectorizer(ngram_range=(1, 2), min_df=1)
    x_fit = vectoriser.fit_transform([canonical_text(s.alert) for s in fit])
    y_fit = [s.alert.actionable for s in fit]
    if len(set(y_fit)) < 2:
        raise ValueError("the fit part has one class only")
    model = LogisticRegression(max_iter=2000, C=4.0).fit(x_fit, y_fit)

    def scores_of(rows: list[StreamAlert]) -> np.ndarray:
        return np.asarray(model.predict_proba(vectoriser.transform([canonical_text(s.alert) for s in rows]))[:, 1])

    val_scores, test_scores = scores_of(val), scores_of(test)
    val_labels = labels_of(val)
    # no actionable validation alert: no evidence for any threshold, so suppress nothing (t = 0)
    zero_miss = float(val_scores[val_labels].min()) if val_labels.any() else 0.0
    val_fnr = oracle_threshold(val_scores, val_labels) if val_labels.any() else 0.0
    return [
        Outcome("zero-miss", True, test_scores < zero_miss, test_scores, extra={"threshold": zero_miss}),
        Outcome("val-fnr", True, test_scores < val_fnr, test_scores, oracle=False, extra={"threshold": val_fnr}),
    ]


def make_alertsieve(encoder: str, reasons: dict[str, Counter[str]]) -> Method:
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
        extra["guard_share"] = round(sum(map(is_guard, decisions)) / max(len(decisions), 1), 4)
        by_service: dict[str, list[int]] = {}  # service -> [suppressed, alerts]
        for d in decisions:
            by_service.setdefault(d.service, [0, 0])[0 if d.decision == "suppress" else 1] += 1
        extra["suppressed_by_service"] = {k: [v[0], v[0] + v[1]] for k, v in sorted(by_service.items())}
        log(f"  alertsieve {split}: {extra}")
        return [Outcome("bundle policy", True, suppressed, np.array([d.score for d in decisions]), extra=extra)]

    return alertsieve


def is_guard(decision: Any) -> bool:
    """Paged by a guard (unknown service, novel alert), whatever the score; by code, else by the words."""
    code = str(getattr(decision, "reason_code", ""))
    reason = str(getattr(decision, "reason", ""))
    return code in GUARD_REASONS or reason.startswith(("unknown service", "alert never seen"))


def report_summary(report: Any) -> dict[str, object]:
    """What the training report says about validation; each field read on its own, so a report whose
    fields are changing still gives the rest."""
    out: dict[str, object] = {}
    fields: dict[str, Callable[[Any], object]] = {
        "val_noise_reduction": lambda r: round(float(r.validation.overall.noise_reduction), 4),
        "val_fnr": lambda r: round(float(r.validation.overall.fnr), 4),
        "expected_fnr": lambda r: round(float(r.expected_fnr), 5),
        "fnr_upper_bound": lambda r: round(float(r.fnr_upper_bound), 5),
        "services_with_own_threshold": lambda r: int(r.services_with_own_threshold),
    }
    for name, read in fields.items():
        try:
            out[name] = read(report)
        except Exception as exc:  # noqa: BLE001 - the decisions still count without the report
            out.setdefault("report_error", f"{name}: {type(exc).__name__}: {exc}")
    return out


def reason_kind(reason: str) -> str:
    """A decision reason with its numbers masked, so reasons can be counted."""
    return re.sub(r"\d+(?:\.\d+)?", "#", reason)


# ---- evaluation ------------------------------------------------------------------------------------------------
def share(hit: np.ndarray, of: np.ndarray) -> float:
    """hit.sum() / of.sum() for a subset ``hit`` of ``of``; nan when ``of`` is empty."""
    total = int(of.sum())
    return float(hit.sum() / total) if total else math.nan


def first_rows(test: Sequence[StreamAlert]) -> np.ndarray:
    """The index of each occurrence's (fingerprint, startsAt) first row."""
    first: dict[tuple[str, object], int] = {}
    for i, s in enumerate(test):
        first.setdefault((s.alert.fingerprint, s.alert.startsAt), i)
    return np.array(sorted(first.values()), dtype=int)


def evaluate(row: Row, test: list[StreamAlert], outcome: Outcome) -> Row:
    labels, sup = labels_of(test), outcome.suppressed
    right = np.array([not s.wrong_direction for s in test], dtype=bool)
    row.alerts, row.actionable = len(test), int(labels.sum())
    row.noise_reduction = share(sup & ~labels, ~labels)
    row.noise_reduction_net = share(sup & ~labels & right, ~labels & right)
    row.fnr = share(sup & labels, labels)
    first = first_rows(test)
    occ_sup, occ_labels = sup[first], labels[first]
    row.occurrences, row.occurrence_actionable = len(first), int(occ_labels.sum())
    row.occurrence_noise_reduction = share(occ_sup & ~occ_labels, ~occ_labels)
    row.occurrence_fnr = share(occ_sup & occ_labels, occ_labels)
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
    for name in ("expected_fnr", "fnr_upper_bound"):
        value = outcome.extra.get(name)
        if isinstance(value, int | float):
            setattr(row, name, float(value))
    return row


def inside(row: Row) -> bool:
    return not row.error and row.actionable > 0 and row.fnr <= row.budget


def best_baseline(group: list[Row], honest: bool = True) -> Row | None:
    """The baseline row with the most noise reduction inside the budget (honest or oracle rows)."""
    found = [r for r in group if r.method != "alertsieve" and r.honest == honest and inside(r)]
    return max(found, key=lambda r: r.noise_reduction, default=None)


def mark_passes(rows: list[Row]) -> None:
    for split in dict.fromkeys(r.split for r in rows):
        group = [r for r in rows if r.split == split]
        best = best_baseline(group)
        for r in group:
            if r.method != "alertsieve" or not r.honest:
                continue
            guard = r.extra.get("guard_share")
            if r.error:
                r.passed = "ERROR"
            elif r.actionable == 0:
                r.passed = "n/a"  # no actionable test alert: FNR is undefined, nothing to hold
            elif isinstance(guard, float) and guard >= GUARDED_SHARE and r.fnr <= r.budget:
                r.passed = "guarded"  # the guards paged (nearly) everything: nothing decided
            else:  # on the no-signal control only the budget counts: suppressing little is the right answer
                floor = best.noise_reduction if best and r.kind != "no-signal" else 0.0
                r.passed = "PASS" if r.fnr <= r.budget and r.noise_reduction >= floor - 1e-12 else "fail"


# ---- printing --------------------------------------------------------------------------------------------------
def no_nan(value: object) -> object:
    """JSON has no NaN: write null."""
    if isinstance(value, float) and math.isnan(value):
        return None
    if isinstance(value, dict):
        return {k: no_nan(v) for k, v in value.items()}
    if isinstance(value, list):
        return [no_nan(v) for v in value]
    return value


def pct(value: float, digits: int = 1) -> str:
    return "n/a" if math.isnan(value) else f"{value:.{digits}%}"


def table(header: list[str], rows: list[list[str]], left: int = 1) -> None:
    """Columns padded to their widest cell: the first ``left`` columns left-aligned, the rest right."""
    widths = [max(len(line[i]) for line in [header, *rows]) for i in range(len(header))]
    for line in [header, *rows]:
        cells = [c.ljust(w) if i < left else c.rjust(w) for i, (c, w) in enumerate(zip(line, widths, strict=True))]
        print("  ".join(cells).rstrip())


def print_rows(rows: list[Row]) -> None:
    header = ["split", "method", "threshold", "alerts", "act.", "NR", "NR-net", "FNR", "exp FNR", "FNR ub"]
    header += ["occ", "occ NR", "occ FNR", "inc", "inc missed", "inc touched", "AUC", "secs", "pass"]
    lines = []
    for r in rows:
        if r.error:
            lines.append([r.split, r.method, "ERROR", *[""] * (len(header) - 4), "ERROR"])
            continue
        expected = [pct(r.expected_fnr, 2), pct(r.fnr_upper_bound, 2)] if r.method == "alertsieve" and r.honest else []
        lines.append(
            [
                r.split,
                r.method,
                r.threshold_rule if r.honest else "oracle",
                str(r.alerts),
                str(r.actionable),
                pct(r.noise_reduction),
                pct(r.noise_reduction_net),
                pct(r.fnr, 2),
                *(expected or ["", ""]),
                str(r.occurrences),
                pct(r.occurrence_noise_reduction),
                pct(r.occurrence_fnr, 2),
                str(r.incidents),
                pct(r.incident_missed),
                pct(r.incident_touched),
                "n/a" if math.isnan(r.auc) else f"{r.auc:.3f}",
                "" if math.isnan(r.seconds) else f"{r.seconds:.1f}",
                r.passed,
            ]
        )
    table(header, lines, left=3)
    for r in rows:
        if r.error:
            print(f"ERROR {r.split} {r.method}: {r.error[:300]}")


def print_splits(rows: list[Row]) -> None:
    """One line per split: alertsieve's honest row against the best honest baseline and the oracles."""
    header = ["split", "kind", "alerts", "act.", "alertsieve NR", "NR-net", "FNR", "exp FNR", "FNR ub"]
    header += ["occ FNR", "best honest baseline", "NR", "FNR", "oracle NR", "best baseline oracle", "pass"]
    lines = []
    for split in dict.fromkeys(r.split for r in rows):
        group = [r for r in rows if r.split == split]
        ours = next((r for r in group if r.method == "alertsieve" and r.honest), None)
        oracle = next((r for r in group if r.method == "alertsieve" and not r.honest and not r.error), None)
        best, best_oracle = best_baseline(group), best_baseline(group, honest=False)
        if ours is None:
            continue
        nan = math.nan
        lines.append(
            [
                split,
                ours.kind,
                str(ours.alerts) if not ours.error else "",
                str(ours.actionable) if not ours.error else "",
                "ERROR" if ours.error else pct(ours.noise_reduction),
                pct(ours.noise_reduction_net) if not ours.error else "",
                pct(ours.fnr, 2) if not ours.error else "",
                pct(ours.expected_fnr, 2),
                pct(ours.fnr_upper_bound, 2),
                pct(ours.occurrence_fnr, 2) if not ours.error else "",
                f"{best.method} {best.threshold_rule}" if best else "-",
                pct(best.noise_reduction if best else nan),
                pct(best.fnr if best else nan, 2),
                pct(oracle.noise_reduction if oracle else nan),
                f"{best_oracle.method} {pct(best_oracle.noise_reduction)}" if best_oracle else "-",
                ours.passed,
            ]
        )
    table(header, lines, left=2)


def mean(values: list[float]) -> float:
    found = [v for v in values if not math.isnan(v)]
    return sum(found) / len(found) if found else math.nan


def print_summary(rows: list[Row]) -> None:
    """Per split kind: expected against actual FNR on the decided splits (the margin measured), and counts."""
    header = ["kind", "splits", "PASS", "fail", "n/a", "guarded", "ERROR", "exp FNR", "FNR ub"]
    header += ["FNR", "FNR max", "FNR > exp", "FNR > ub", "NR", "best baseline NR"]
    lines = []
    ours = [r for r in rows if r.method == "alertsieve" and r.honest]
    for kind in [k for k in KINDS if any(r.kind == k for r in ours)]:
        group = [r for r in ours if r.kind == kind]
        decided = [r for r in group if r.passed in ("PASS", "fail")]
        counts = Counter(r.passed for r in group)
        baselines = [best_baseline([b for b in rows if b.split == r.split]) for r in decided]
        lines.append(
            [
                kind,
                str(len(group)),
                *(str(counts[p]) for p in ("PASS", "fail", "n/a", "guarded", "ERROR")),
                pct(mean([r.expected_fnr for r in decided]), 2),
                pct(mean([r.fnr_upper_bound for r in decided]), 2),
                pct(mean([r.fnr for r in decided]), 2),
                pct(max((r.fnr for r in decided), default=math.nan), 2),
                f"{sum(r.fnr > r.expected_fnr for r in decided)}/{len(decided)}",
                f"{sum(r.fnr > r.fnr_upper_bound for r in decided)}/{len(decided)}",
                pct(mean([r.noise_reduction for r in decided])),
                pct(mean([b.noise_reduction if b else 0.0 for b in baselines])),
            ]
        )
    print("alertsieve per split kind (FNR and NR columns: means over the decided splits, PASS or fail):")
    table(header, lines)


# ---- main ------------------------------------------------------------------------------------------------------
def run_split(split: Split, methods: list[tuple[str, Method]]) -> list[Row]:
    labels = labels_of(split.test)
    budget = NO_SIGNAL_BUDGET if split.kind == "no-signal" else BUDGET
    log(
        f"split {split.name} ({split.kind}): train {len(split.train)} "
        f"({labels_of(split.train).mean():.1%} act., {len({s.incident for s in split.train if s.incident})} inc.), "
        f"test {len(split.test)} ({labels.mean():.1%} act., {len({s.incident for s in split.test if s.incident})} inc.)"
    )
    rows: list[Row] = []
    for name, method in methods:
        t0 = time.perf_counter()
        try:
            outcomes = method(split.train, split.test, split.name)
        except Exception as exc:  # noqa: BLE001 - one failing method must not stop the table
            log(f"  {name} failed on {split.name}: {type(exc).__name__}: {exc}")
            rows.append(Row(split.name, name, "-", True, split.kind, budget, error=f"{type(exc).__name__}: {exc}"))
            continue
        seconds = time.perf_counter() - t0
        for outcome in [o for base in outcomes for o in with_oracle(base, labels, budget)]:
            row = Row(split.name, name, outcome.threshold_rule, outcome.honest, split.kind, budget, seconds=seconds)
            row.extra = outcome.extra
            rows.append(evaluate(row, split.test, outcome))
        log(f"  {name}: {seconds:.1f}s")
    return rows


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--mscloud", type=Path, required=True, help="the cloud-monitoring-dataset folder")
    parser.add_argument("--json", type=Path, help="write the rows here")
    parser.add_argument("--encoder", default="all-MiniLM-L6-v2", choices=["all-MiniLM-L6-v2", "hashing-64"])
    parser.add_argument("--no-resends", action="store_true", help="one row per occurrence (no repeat_interval rows)")
    parser.add_argument("--series-folds", type=int, default=SERIES_FOLDS, help="series left out, at most")
    parser.add_argument("--seed", type=int, default=19, help="seed of the no-signal control's random incidents")
    parser.add_argument("--splits", default="", help="comma-separated: only splits whose name or kind contains one")
    args = parser.parse_args()

    started = time.perf_counter()
    alerts, incidents = convert(args.mscloud, resends=not args.no_resends)
    log(
        f"{len(alerts)} alerts, {sum(s.alert.actionable for s in alerts)} actionable, "
        f"{len({s.incident for s in alerts if s.incident})}/{sum(incidents.values())} incidents alerted on, "
        f"{sum(s.wrong_direction for s in alerts)} wrong-direction"
    )
    reasons: dict[str, Counter[str]] = {}
    methods: list[tuple[str, Method]] = [
        ("alertsieve", make_alertsieve(args.encoder, reasons)),
        ("never-actionable-name", lambda tr, te, _split: never_actionable_name(tr, te)),
        ("tfidf-lr", lambda tr, te, _split: tfidf_lr(tr, te)),
        *((f"history:{key}", history_method(key)) for key in HISTORY_KEYS),
    ]
    rows: list[Row] = []
    wanted = [w for w in args.splits.split(",") if w]
    for split in all_splits(alerts, args.series_folds, args.seed):
        if not wanted or any(w in split.name or w in split.kind for w in wanted):
            rows.extend(run_split(split, methods))
    mark_passes(rows)
    print(f"{len(alerts)} alerts from {args.mscloud}; encoder {args.encoder}; budget FNR <= {BUDGET:.1%}")
    print_rows(rows)
    print(
        "NR-net = suppressed right-direction noise / right-direction noise; occ = occurrences (fingerprint, "
        "startsAt); inc missed = share of test incidents all of whose alerts were suppressed; inc touched = share "
        "with at least one suppressed; exp FNR / FNR ub = the training report's expected_fnr / fnr_upper_bound"
    )
    print()
    print_splits(rows)
    print()
    print_summary(rows)
    print()
    for split_name, counter in reasons.items():
        total = sum(counter.values())
        top = "; ".join(f"{n / total:.1%} {kind}" for kind, n in counter.most_common(4))
        print(f"alertsieve reasons {split_name}: {top}")
    print(f"total {time.perf_counter() - started:.0f}s")
    if args.json:
        records = [
            {**asdict(r), "reasons": dict(reasons.get(r.split, {})) if r.method == "alertsieve" else None} for r in rows
        ]
        args.json.write_text(json.dumps(no_nan(records), indent=1))


if __name__ == "__main__":
    main()
