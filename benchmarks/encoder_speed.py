"""Encoder speed: all-MiniLM-L6-v2 on torch and on ONNX Runtime, side by side in one process.

    python benchmarks/encoder_speed.py [--sentences 512] [--batch 64] [--repeats 5] [--threads N]

Single-sentence latency (median over distinct sentences, one ``encode`` call each) and batched throughput
(sentences/s over the whole set in batches of ``--batch``, median of ``--repeats``), with the ONNX/torch
ratio, and the worst cosine between the two runtimes on the same sentences. The ONNX graph is exported
under $ALERTSIEVE_HOME/encoders on first use (or ``--cache-dir``).
"""

from __future__ import annotations

import argparse
import statistics
import time
from collections.abc import Callable, Sequence
from pathlib import Path

import numpy as np

from alertsieve.embedding import MiniLMEncoder
from alertsieve.onnx_encoder import OnnxMiniLMEncoder
from alertsieve.settings import get_settings

Encode = Callable[[Sequence[str]], np.ndarray]


def sentences(count: int) -> list[str]:
    """Distinct canonical-alert-like texts of realistic lengths."""
    names = [
        "HighLatency",
        "DiskFull",
        "PodCrashLooping",
        "HighErrorRate",
        "QueueBacklog",
        "NodeNotReady",
        "CertificateExpiry",
        "ReplicationLag",
        "MemoryPressure",
        "TargetDown",
    ]
    services = ["checkout", "payments", "postgres", "search", "billing", "ingress", "api", "cache"]
    words = "alpha bravo charlie delta echo foxtrot golf hotel india juliet kilo lima".split()
    out = []
    for i in range(count):
        tag = " ".join(words[(i // 12**k) % 12] for k in range(3))
        out.append(
            f"alert: {names[i % len(names)]} | service: {services[i % len(services)]} | severity: warning"
            f" | summary: {tag} p99 latency <num>s on pod <pod> in <num> minutes"
        )
    return out


def single_latency(encode: Encode, texts: list[str]) -> float:
    times = []
    for text in texts:
        started = time.perf_counter()
        encode([text])
        times.append(time.perf_counter() - started)
    return statistics.median(times)


def throughput(encode: Encode, texts: list[str], batch: int, repeats: int) -> float:
    rates = []
    for _ in range(repeats):
        started = time.perf_counter()
        for i in range(0, len(texts), batch):
            encode(texts[i : i + batch])
        rates.append(len(texts) / (time.perf_counter() - started))
    return statistics.median(rates)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--sentences", type=int, default=512)
    parser.add_argument("--single", type=int, default=200, help="sentences timed one at a time")
    parser.add_argument("--batch", type=int, default=64)
    parser.add_argument("--repeats", type=int, default=5)
    parser.add_argument("--threads", type=int, default=0, help="intra-op threads for both (0: each runtime's default)")
    parser.add_argument("--cache-dir", type=Path, default=None)
    args = parser.parse_args()

    import torch

    if args.threads:
        torch.set_num_threads(args.threads)
    torch_encoder = MiniLMEncoder(batch_size=args.batch)
    onnx_encoder = OnnxMiniLMEncoder(
        args.cache_dir or get_settings().encoder_dir, batch_size=args.batch, threads=args.threads
    )
    texts = sentences(args.sentences)
    single = texts[: args.single]
    runtimes: dict[str, Encode] = {"torch": torch_encoder.encode, "onnx": onnx_encoder.encode}
    for encode in runtimes.values():  # warm up: first calls allocate
        encode(texts[: args.batch])
        encode(texts[:1])
    latency = {name: single_latency(encode, single) for name, encode in runtimes.items()}
    rate = {name: throughput(encode, texts, args.batch, args.repeats) for name, encode in runtimes.items()}
    a, b = torch_encoder.encode(texts), onnx_encoder.encode(texts)
    cosine = float((np.sum(a * b, axis=1) / (np.linalg.norm(a, axis=1) * np.linalg.norm(b, axis=1))).min())

    print(
        f"all-MiniLM-L6-v2, torch {torch.__version__} ({torch.get_num_threads()} threads) vs ONNX Runtime "
        f"(intra-op threads {args.threads or 'default'}); {len(single)} single sentences, "
        f"{len(texts)} in batches of {args.batch} x {args.repeats}"
    )
    print(f"{'measure':<34} {'torch':>10} {'onnx':>10} {'ONNX gain':>11}")
    print(
        f"{'single sentence, median (ms)':<34} {latency['torch'] * 1000:>10.2f} {latency['onnx'] * 1000:>10.2f}"
        f" {latency['torch'] / latency['onnx']:>10.2f}x"
    )
    print(
        f"{'batched, median (sentences/s)':<34} {rate['torch']:>10.1f} {rate['onnx']:>10.1f}"
        f" {rate['onnx'] / rate['torch']:>10.2f}x"
    )
    print(f"worst cosine torch vs onnx over {len(texts)} sentences: {cosine:.7f}")


if __name__ == "__main__":
    main()
