"""Quality benchmark: noise reduction at FNR < 1.5% on later weeks, beside two baselines in the same run.

Simulate 8 weeks (fixed seed), train alertsieve on the first 6 through the CLI (`alertsieve train`, Ray
Train backend), score the last 2 through the CLI (`alertsieve score`), and compare with:
  * "never actionable": suppress any alertname never actionable in the training weeks;
  * TF-IDF + logistic regression on the alert text, with the same time split and threshold rule.

    python benchmarks/quality.py [--seed 7] [--backend ray|local] [--encoder all-MiniLM-L6-v2]
                                 [--profile default|sparse|shift]

With ``--profile sparse`` (few incidents, 1-2% actionable, new clusters) it also prints each method's FNR on
the no-signal service, whose actionable alerts look exactly like its noise (suppressing little is right).
With ``--profile shift`` weeks 1-6 are the default profile's and weeks 7-8 hold twice its incident rate and a
failure mode the training weeks never saw.
"""

from __future__ import annotations

import argparse
import os
import subprocess
import sys
import tempfile
import time
from datetime import timedelta
from pathlib import Path

from sklearn.feature_extraction.text import TfidfVectorizer
from sklearn.linear_model import LogisticRegression

from alertsieve.canonical import canonical_text
from alertsieve.context import time_order
from alertsieve.evaluation import Evaluation, evaluate
from alertsieve.optimize import choose_thresholds
from alertsieve.policy import ThresholdParams, decide
from alertsieve.records import read_jsonl, write_jsonl
from alertsieve.schema import Decision, LabelledAlert
from alertsieve.simulate import DEFAULT_START, NO_SIGNAL_SERVICE, PROFILES, simulate_history


def cli(*args: str, env: dict[str, str]) -> float:
    started = time.perf_counter()
    subprocess.run([sys.executable, "-m", "cli", *args], check=True, env=env, stdout=subprocess.DEVNULL)
    return time.perf_counter() - started


def never_actionable(train: list[LabelledAlert], test: list[LabelledAlert]) -> list[str]:
    actionable_names = {a.alertname for a in train if a.actionable}
    return ["page" if a.alertname in actionable_names else "suppress" for a in test]


def tfidf_logistic(train: list[LabelledAlert], test: list[LabelledAlert], validation_fraction: float) -> list[str]:
    ordered = [train[i] for i in time_order(train)]
    split = int(round(len(ordered) * (1 - validation_fraction)))
    fit, val = ordered[:split], ordered[split:]
    vectoriser = TfidfVectorizer(ngram_range=(1, 2), min_df=2)
    x_fit = vectoriser.fit_transform([canonical_text(a) for a in fit])
    model = LogisticRegression(max_iter=2000, C=4.0).fit(x_fit, [a.actionable for a in fit])
    val_scores = model.predict_proba(vectoriser.transform([canonical_text(a) for a in val]))[:, 1]
    policy = choose_thresholds(
        val_scores,
        [a.actionable for a in val],
        [a.service() for a in val],
        ThresholdParams(),
        known_services=sorted({a.service() for a in fit}),
        times=[a.startsAt.timestamp() for a in val],
    )
    test_scores = model.predict_proba(vectoriser.transform([canonical_text(a) for a in test]))[:, 1]
    out: list[str] = []
    for alert, score in zip(test, test_scores, strict=True):
        out.append(decide(float(score), alert.service(), policy).decision)
    return out


def row(name: str, result: Evaluation, seconds: float | None) -> str:
    o = result.overall
    took = f"{seconds:8.1f}" if seconds is not None else f"{'-':>8}"
    return (
        f"{name:<34} {o.noise_reduction:>9.1%} {o.fnr:>7.2%} {o.suppressed_actionable:>4}/{o.actionable:<5} "
        f"{o.suppressed_noise:>6}/{o.noise:<6} {took}"
    )


def no_signal_line(results: dict[str, Evaluation]) -> str:
    """Each method's misses and noise reduction on the sparse profile's no-signal service."""
    parts = []
    for name, result in results.items():
        if (c := result.services.get(NO_SIGNAL_SERVICE)) is not None:
            missed = f"{c.suppressed_actionable}/{c.actionable}"
            parts.append(f"{name} missed {missed} (FNR {c.fnr:.1%}), noise red. {c.noise_reduction:.1%}")
    return f"no-signal service {NO_SIGNAL_SERVICE}: " + "; ".join(parts or ["not in the scored weeks"])


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--seed", type=int, default=7)
    parser.add_argument("--backend", default="ray")
    parser.add_argument("--encoder", default="all-MiniLM-L6-v2")
    parser.add_argument("--profile", choices=PROFILES, default="default", help="simulator profile")
    args = parser.parse_args()

    history = simulate_history(days=56, seed=args.seed, profile=args.profile, holdout_days=14)
    cut = DEFAULT_START + timedelta(days=42)
    train = [a for a in history if a.startsAt < cut]
    test = [a for a in history if a.startsAt >= cut]
    with tempfile.TemporaryDirectory() as tmp:
        work = Path(tmp)
        env = {**os.environ, "ALERTSIEVE_HOME": str(work / "home"), "HF_HUB_OFFLINE": "1"}
        env.pop("MLFLOW_TRACKING_URI", None)
        write_jsonl(work / "train.jsonl", train)
        write_jsonl(work / "test.jsonl", test)
        train_s = cli(
            "train",
            "--history",
            str(work / "train.jsonl"),
            "--backend",
            args.backend,
            "--encoder",
            args.encoder,
            env=env,
        )
        score_s = cli("score", "--alerts", str(work / "test.jsonl"), "--out", str(work / "decisions.jsonl"), env=env)
        decisions = read_jsonl(work / "decisions.jsonl", Decision)
    labels = [a.actionable for a in test]
    services = [a.service() for a in test]
    ours = evaluate(labels, [d.decision for d in decisions], services, [d.score for d in decisions])
    started = time.perf_counter()
    tfidf = evaluate(labels, tfidf_logistic(train, test, 0.25), services)
    tfidf_s = time.perf_counter() - started

    print(
        f"seed {args.seed} ({args.profile}): trained on {len(train)} alerts (weeks 1-6), "
        f"scored {len(test)} (weeks 7-8), {sum(labels)} actionable; budget FNR < 1.5%"
    )
    print(f"{'method':<34} {'noise red.':>9} {'FNR':>7} {'missed':>10} {'suppressed':>13} {'train s':>8}")
    print(row(f"alertsieve ({args.backend}, {args.encoder})", ours, train_s))
    names = evaluate(labels, never_actionable(train, test), services)
    print(row("baseline: never-actionable names", names, None))
    print(row("baseline: TF-IDF + logistic", tfidf, tfidf_s))
    print(f"alertsieve AUC {ours.auc:.3f}; scoring {len(test)} alerts through the CLI took {score_s:.1f}s")
    worst = sorted(ours.services.items(), key=lambda kv: -kv[1].fnr)[:5]
    print("highest per-service FNR:", ", ".join(f"{k} {v.suppressed_actionable}/{v.actionable}" for k, v in worst))
    if args.profile == "sparse":
        print(no_signal_line({"alertsieve": ours, "never-actionable": names, "TF-IDF": tfidf}))


if __name__ == "__main__":
    main()
