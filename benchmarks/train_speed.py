"""Training speed: `train_bundle` on about 20k alerts, step by step, beside a TF-IDF + logistic baseline fitted
on the same alerts in the same process (these machines are noisy: compare within one run).

Each profile's 8 simulated weeks (about 20k alerts) are trained on in process (the local backend; Ray
Train adds its start-up on top). The encoder's cache starts empty, so the embedding step is included.
The goal (issue: decisions that hold on real streams) is under 2 minutes on 2 cores.

    python benchmarks/train_speed.py [--profile default sparse] [--encoder all-MiniLM-L6-v2] [--repeat 1]
"""

from __future__ import annotations

import argparse
import statistics
import time

from sklearn.feature_extraction.text import TfidfVectorizer
from sklearn.linear_model import LogisticRegression

from alertsieve.canonical import canonical_text
from alertsieve.embedding import EmbeddingCache, load_encoder
from alertsieve.featurize import FeatureConfig
from alertsieve.schema import LabelledAlert
from alertsieve.simulate import simulate_history
from alertsieve.training import LocalFit, train_bundle


def timed_training(alerts: list[LabelledAlert], encoder: str) -> tuple[float, dict[str, float]]:
    """Total seconds and seconds per step of one training run with a fresh embedding cache."""
    steps: dict[str, float] = {}
    marks = [("start", time.perf_counter())]

    def progress(step: str) -> None:
        marks.append((step, time.perf_counter()))

    cache = EmbeddingCache(load_encoder(encoder))
    started = time.perf_counter()
    train_bundle(alerts, cache, FeatureConfig(encoder=encoder), backend=LocalFit(), progress=progress)
    marks.append(("end", time.perf_counter()))
    for (name, at), (_, until) in zip(marks, marks[1:], strict=False):
        steps[name] = until - at
    return time.perf_counter() - started, steps


def timed_baseline(alerts: list[LabelledAlert]) -> float:
    started = time.perf_counter()
    texts = [canonical_text(a) for a in alerts]
    matrix = TfidfVectorizer(ngram_range=(1, 2), min_df=2).fit_transform(texts)
    LogisticRegression(max_iter=2000, C=4.0).fit(matrix, [a.actionable for a in alerts])
    return time.perf_counter() - started


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--profile", nargs="+", default=["default", "sparse"])
    parser.add_argument("--encoder", default="all-MiniLM-L6-v2")
    parser.add_argument("--repeat", type=int, default=1)
    args = parser.parse_args()
    print(f"{'profile':<9} {'alerts':>7} {'alertsieve s':>13} {'TF-IDF+LR s':>12} {'ratio':>7}  steps (median run)")
    for profile in args.profile:
        alerts = simulate_history(days=56, seed=7, profile=profile)
        runs = [timed_training(alerts, args.encoder) for _ in range(args.repeat)]
        baseline = statistics.median(timed_baseline(alerts) for _ in range(args.repeat))
        total = statistics.median(r[0] for r in runs)
        steps = sorted(runs, key=lambda r: r[0])[len(runs) // 2][1]
        detail = ", ".join(f"{name} {seconds:.1f}" for name, seconds in steps.items() if name != "start")
        print(f"{profile:<9} {len(alerts):>7} {total:>13.1f} {baseline:>12.1f} {total / baseline:>6.1f}x  {detail}")


if __name__ == "__main__":
    main()
