"""Serving speed: the real Ray Serve app over HTTP, beside the in-process scorer, in one run.

    python benchmarks/serve_latency.py [--encoder all-MiniLM-L6-v2] [--seconds 20] [--rate 20]

1. P50/P95 latency of single-alert POST /v1/score at a steady request rate (open loop), overall and split
   into alerts whose text the serving scorer already knows (trained on, or seen before) and first
   sightings of a text the model never saw (these go to the Embedder and NeighbourLookup).
2. Bulk throughput (alerts/s, batches of 100) for a realistic stream with repeats and for all-distinct
   texts (every alert misses the embedding cache), beside the in-process ``Scorer`` on the same alerts:
   the Serve overhead as a ratio.
A model is trained in process on two simulated weeks and served from its bundle directory.
"""

from __future__ import annotations

import argparse
import json
import os
import statistics
import tempfile
import time
from collections.abc import Sequence
from pathlib import Path

import httpx
import numpy as np

from alertsieve.embedding import EmbeddingCache, load_encoder
from alertsieve.featurize import FeatureConfig, texts_of
from alertsieve.schema import Alert, LabelledAlert
from alertsieve.scoring import Scorer
from alertsieve.simulate import simulate_history
from alertsieve.training import train_bundle


def free_port() -> int:
    import socket

    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def as_json(alerts: Sequence[Alert]) -> list[dict]:
    return [json.loads(a.model_dump_json(exclude_none=True)) for a in alerts]


def distinct(alerts: list[LabelledAlert]) -> list[Alert]:
    """The same alerts with a unique word in every summary: no embedding-cache hits."""
    out = []
    for i, a in enumerate(alerts):
        words = "alpha bravo charlie delta echo foxtrot golf hotel india juliet kilo lima".split()
        tag = " ".join(words[(i // 12**k) % 12] for k in range(3))
        out.append(Alert.model_validate({**a.model_dump(), "annotations": {"summary": f"{tag} {a.alertname}"}}))
    return out


def steady_latency(url: str, alerts: list[dict], rate: float, seconds: float) -> list[float]:
    latencies: list[float] = []
    interval = 1.0 / rate
    start = time.perf_counter()
    with httpx.Client(timeout=30) as client:
        for i in range(int(rate * seconds)):
            due = start + i * interval
            pause = due - time.perf_counter()
            if pause > 0:
                time.sleep(pause)
            sent = time.perf_counter()
            reply = client.post(f"{url}/v1/score", json={"alerts": [alerts[i % len(alerts)]]})
            reply.raise_for_status()
            latencies.append(time.perf_counter() - sent)
    return latencies


def first_sightings(bundle_texts: frozenset[str], texts: list[str]) -> list[bool]:
    """Per alert: is this the first time the scorer meets a text the model never saw?"""
    seen: set[str] = set()
    out = []
    for text in texts:
        out.append(text not in bundle_texts and text not in seen)
        seen.add(text)
    return out


def percentiles(latencies: list[float]) -> str:
    if not latencies:
        return "-"
    return (f"P50 {statistics.median(latencies) * 1000:.1f} ms, P95 {float(np.percentile(latencies, 95)) * 1000:.1f} ms"
            f" ({len(latencies)})")  # fmt: skip


def bulk(url: str, alerts: list[dict], batch: int = 100) -> float:
    started = time.perf_counter()
    with httpx.Client(timeout=120) as client:
        for i in range(0, len(alerts), batch):
            client.post(f"{url}/v1/score", json={"alerts": alerts[i : i + batch]}).raise_for_status()
    return len(alerts) / (time.perf_counter() - started)


def in_process(scorer: Scorer, alerts: list[Alert], batch: int = 100) -> float:
    started = time.perf_counter()
    for i in range(0, len(alerts), batch):
        scorer.score(alerts[i : i + batch])
    return len(alerts) / (time.perf_counter() - started)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--encoder", default="all-MiniLM-L6-v2")
    parser.add_argument("--seconds", type=float, default=20.0)
    parser.add_argument("--rate", type=float, default=20.0)
    args = parser.parse_args()

    history = simulate_history(days=21, seed=11)
    train, later = history[: int(len(history) * 0.7)], history[int(len(history) * 0.7) :]
    cache = EmbeddingCache(load_encoder(args.encoder))
    bundle, _ = train_bundle(train, cache, FeatureConfig(encoder=args.encoder))
    with tempfile.TemporaryDirectory() as tmp:
        bundle_dir = bundle.save(Path(tmp) / "bundle")
        os.environ.update({"ALERTSIEVE_HOME": str(Path(tmp) / "home"), "RAY_USAGE_STATS_ENABLED": "0"})
        import ray
        from ray import serve

        from serve_app.app import build_app
        from serve_app.config import AppArgs

        ray.init(address="local", include_dashboard=False, log_to_driver=False)
        port = free_port()
        serve.start(http_options={"host": "127.0.0.1", "port": port})
        serve.run(build_app(AppArgs(champion=str(bundle_dir))), name="alertsieve", route_prefix="/")
        url = f"http://127.0.0.1:{port}"
        while httpx.get(f"{url}/readyz", timeout=60).status_code != 200:
            time.sleep(0.5)
        realistic = later[:1500]
        unique = distinct(later[1500:2500])
        steady_latency(url, as_json(realistic[:40]), args.rate, 2.0)  # warm up
        latencies = steady_latency(url, as_json(realistic[100:]), args.rate, args.seconds)
        texts = texts_of(realistic[:40], bundle.meta.features) + texts_of(realistic[100:], bundle.meta.features)
        first = first_sightings(bundle.index.known_texts, texts)[40 : 40 + len(latencies)]
        serve_repeat = bulk(url, as_json(realistic))
        serve_distinct = bulk(url, as_json(unique))
        serve.shutdown()
        ray.shutdown()

    local = Scorer(bundle, EmbeddingCache(load_encoder(args.encoder)))
    local_repeat = in_process(local, list(realistic))
    local_distinct = in_process(local, unique)
    print(f"single-alert POST /v1/score at {args.rate:.0f} req/s for {args.seconds:.0f}s, encoder {args.encoder}:")
    known = [t for t, novel in zip(latencies, first, strict=True) if not novel]
    novel = [t for t, novel in zip(latencies, first, strict=True) if novel]
    for name, part in (("all requests", latencies), ("familiar text (trained on or seen)", known),
                       ("first sighting of a new text", novel)):  # fmt: skip
        print(f"  {name:<36} {percentiles(part)}")
    print(f"{'bulk, batches of 100':<32} {'Serve alerts/s':>15} {'in-process':>12} {'Serve/in-process':>17}")
    for name, served, here in (("realistic stream (repeats)", serve_repeat, local_repeat),
                               ("all-distinct texts", serve_distinct, local_distinct)):  # fmt: skip
        print(f"{name:<32} {served:>15.1f} {here:>12.1f} {served / here:>17.2f}")


if __name__ == "__main__":
    main()
