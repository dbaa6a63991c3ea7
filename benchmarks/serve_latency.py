"""Serving speed: the real Ray Serve app over HTTP, beside the in-process scorer, in one run.

    python benchmarks/serve_latency.py [--encoder all-MiniLM-L6-v2] [--seconds 20] [--rate 20]

1. P50/P95 latency of single-alert POST /v1/score at a steady request rate (open loop), overall and split
   into alerts whose text the serving scorer already knows (trained on, or seen before) and first
   sightings of a text the model never saw (one Embedder call: embedding and lookup), beside the
   in-process ``Scorer`` deciding the same alerts one at a time in the same order: the Serve overhead
   as a ratio of P95s.
2. Bulk throughput (alerts/s, batches of 100) for a realistic stream with repeats and for all-distinct
   texts (every alert misses the embedding cache), beside the in-process ``Scorer`` on the same alerts,
   and the raw in-process encoder throughput on the all-distinct texts: the limit the bulk figures are
   held against.
A model is trained in process on two simulated weeks and served from its bundle directory. The encoder
runs as ``load_encoder`` picks it (ONNX Runtime on CPU); the ONNX export is shared with the replicas.
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
from typing import Any

import httpx
import numpy as np

from alertsieve.embedding import EmbeddingCache, TextEncoder, load_encoder
from alertsieve.featurize import FeatureConfig, texts_of
from alertsieve.schema import Alert, LabelledAlert
from alertsieve.scoring import Scorer
from alertsieve.settings import get_settings
from alertsieve.simulate import simulate_history
from alertsieve.training import train_bundle


def free_port() -> int:
    import socket

    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def as_json(alerts: Sequence[Alert]) -> list[dict[str, Any]]:
    return [json.loads(a.model_dump_json(exclude_none=True)) for a in alerts]


def distinct(alerts: list[LabelledAlert]) -> list[Alert]:
    """The same alerts with a unique word in every summary: no embedding-cache hits."""
    out = []
    for i, a in enumerate(alerts):
        words = "alpha bravo charlie delta echo foxtrot golf hotel india juliet kilo lima".split()
        tag = " ".join(words[(i // 12**k) % 12] for k in range(3))
        out.append(Alert.model_validate({**a.model_dump(), "annotations": {"summary": f"{tag} {a.alertname}"}}))
    return out


def steady_latency(url: str, alerts: list[dict[str, Any]], rate: float, seconds: float) -> list[float]:
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


def p95(latencies: list[float]) -> float:
    return float(np.percentile(latencies, 95)) if latencies else float("nan")


def percentiles(latencies: list[float]) -> str:
    if not latencies:
        return "-"
    return f"P50 {statistics.median(latencies) * 1000:6.1f} ms, P95 {p95(latencies) * 1000:6.1f} ms ({len(latencies)})"


def in_process_single(scorer: Scorer, warm_up: Sequence[Alert], alerts: Sequence[Alert]) -> list[float]:
    """The in-process scorer on the same single alerts, in the same order, as the Serve run sent them."""
    for alert in warm_up:
        scorer.score([alert])
    latencies = []
    for alert in alerts:
        started = time.perf_counter()
        scorer.score([alert])
        latencies.append(time.perf_counter() - started)
    return latencies


def encoder_rate(encoder: TextEncoder, texts: list[str], batch: int = 100) -> float:
    """Raw encoder throughput (texts/s), no cache, in batches of ``batch``."""
    encoder.encode(texts[:batch])  # warm up
    started = time.perf_counter()
    for i in range(0, len(texts), batch):
        encoder.encode(texts[i : i + batch])
    return len(texts) / (time.perf_counter() - started)


def bulk(url: str, alerts: list[dict[str, Any]], batch: int = 100) -> float:
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
    encoder = load_encoder(args.encoder)  # exports the ONNX graph once, under the caller's home
    bundle, _ = train_bundle(train, EmbeddingCache(encoder), FeatureConfig(encoder=args.encoder))
    with tempfile.TemporaryDirectory() as tmp:
        bundle_dir = bundle.save(Path(tmp) / "bundle")
        os.environ.update(
            {
                "ALERTSIEVE_HOME": str(Path(tmp) / "home"),
                "RAY_USAGE_STATS_ENABLED": "0",
                "ALERTSIEVE_ENCODER_CACHE": str(get_settings().encoder_dir),
            }
        )
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
        warm_up = realistic[:40]
        steady_latency(url, as_json(warm_up), args.rate, 2.0)  # warm up
        latencies = steady_latency(url, as_json(realistic[100:]), args.rate, args.seconds)
        texts = texts_of(realistic[:40], bundle.meta.features) + texts_of(realistic[100:], bundle.meta.features)
        first = first_sightings(bundle.index.known_texts, texts)[40 : 40 + len(latencies)]
        serve_repeat = bulk(url, as_json(realistic))
        serve_distinct = bulk(url, as_json(unique))
        serve.shutdown()  # type: ignore[no-untyped-call]  # Ray leaves serve.shutdown unannotated
        ray.shutdown()

    single = in_process_single(Scorer(bundle, EmbeddingCache(encoder)), warm_up, realistic[100:][: len(latencies)])
    local = Scorer(bundle, EmbeddingCache(encoder))
    local_repeat = in_process(local, list(realistic))
    local_distinct = in_process(local, unique)
    limit = encoder_rate(encoder, list(dict.fromkeys(texts_of(unique, bundle.meta.features))))
    print(
        f"single-alert POST /v1/score at {args.rate:.0f} req/s for {args.seconds:.0f}s, encoder {args.encoder}"
        f" ({type(encoder).__name__}), beside the in-process Scorer on the same alerts one at a time:"
    )
    print(f"  {'':<36} {'Serve':<36} {'in-process':<36} P95 ratio")
    for name, pick in (
        ("all requests", lambda novel: True),
        ("familiar text (trained on or seen)", lambda n: not n),
        ("first sighting of a new text", lambda novel: novel),
    ):
        via_serve = [t for t, novel in zip(latencies, first, strict=True) if pick(novel)]
        local_part = [t for t, novel in zip(single, first, strict=True) if pick(novel)]
        ratio = p95(via_serve) / p95(local_part)
        print(f"  {name:<36} {percentiles(via_serve):<36} {percentiles(local_part):<36} {ratio:>8.2f}x")
    print(f"raw in-process encoder, all-distinct texts, batches of 100: {limit:.1f} texts/s (the bulk limit)")
    print(
        f"{'bulk, batches of 100':<32} {'Serve alerts/s':>15} {'in-process':>12} {'Serve/in-process':>17}"
        f" {'Serve/encoder':>14}"
    )
    for name, served, here in (
        ("realistic stream (repeats)", serve_repeat, local_repeat),
        ("all-distinct texts", serve_distinct, local_distinct),
    ):
        print(f"{name:<32} {served:>15.1f} {here:>12.1f} {served / here:>17.2f} {served / limit:>14.2f}")


if __name__ == "__main__":
    main()
