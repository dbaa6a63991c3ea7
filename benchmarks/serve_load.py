"""Load ramp: the real Ray Serve app over HTTP, open loop, from a quiet rate into overload, in one run.

    python benchmarks/serve_load.py [--rates 10,30,60,100,150,200] [--seconds 20] [--bulk-rates 1,2,5]
                                    [--batch 100] [--timeout 15] [--encoder all-MiniLM-L6-v2]
                                    [--shards 1,2] [--ingress-replicas N]

Set up as ``serve_latency.py`` does: a model trained in process on simulated history, served from its bundle
directory by the app with its code defaults, listening on 127.0.0.1 only. Each step sends exactly
rate x seconds POST /v1/score requests, each launched at its scheduled time whether or not the earlier ones
have answered (open loop: asyncio and httpx.AsyncClient, one task per request, at most 500 connections), each
cut off --timeout seconds after its scheduled time; a step ends when every request has answered or timed out, so the run stops
by itself. Single-alert steps first (one request in ten a first sighting: a text the model never saw and
nobody sent before; the rest familiar alerts from the training history), then bulk steps (batches of
--batch alerts, one alert in ten a first sighting). A short warm-up (not reported) comes first.

Per step, one line as it finishes: offered and achieved rate (2xx answers per second, from the step's start
to its last answer; alerts/s for bulk), P50/P95/P99 latency of the answered requests, counted from each
request's scheduled time (client lag counts: no coordinated omission), errors (non-2xx, timeouts, connection
failures), the share of answered alerts decided with ``reason_code == "fail_open"``, and the running replicas
of each deployment at the end of the step (``serve.status()`` in this driver). Then the knee: the highest
single-alert rate with P95 <= 50 ms and no errors. Figures are as measured, one run; nothing is asserted.

``--shards 1,2`` runs the whole ramp once per stream shard count (``AppArgs.stream_shards``,
``serve_app/shards.py``), in that order, in the same run: the app is deleted and started afresh with the
next count (so no run inherits another's warm replicas), and each count prints its table, its cores-per-role
table and its knee; the last line compares the knees. With N > 1 shards the Ingress gets ``--ingress-replicas``
replicas (default: N; one when unsharded, where it must be one).

The load generator shares the machine's cores with the app, so the figures are a lower bound for the app.
With the defaults the run takes about 5-6 minutes (training and start-up, nine steps of 20 s, and the
drains of overloaded steps) per shard count; ``--seconds 8`` takes about 2.5.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import tempfile
import time
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import httpx
import numpy as np
from process_cpu import GENERATOR, PROXY, RAY, CpuMeter, cores
from serve_latency import as_json, free_port

from alertsieve.embedding import EmbeddingCache, load_encoder
from alertsieve.featurize import FeatureConfig, texts_of
from alertsieve.schema import Alert
from alertsieve.settings import get_settings
from alertsieve.simulate import simulate_history
from alertsieve.training import train_bundle

APP = "alertsieve"
KNEE_P95_S = 0.050
WORDS = "alpha bravo charlie delta echo foxtrot golf hotel india juliet kilo lima".split()
# one request's outcome: latency from its scheduled time (None: error or timeout), alerts, fail-open ones, when done
Reply = tuple[float | None, int, int, float]


class Traffic:
    """Alert bodies to send: familiar alerts in turn, and every tenth alert a text never sent before."""

    def __init__(self, familiar: Sequence[Alert], templates: Sequence[Alert], novel_every: int = 10) -> None:
        self.familiar, self.templates, self.novel_every = as_json(familiar), templates, novel_every
        self.sent = 0
        self.novel = 0

    def _novel(self) -> dict[str, Any]:
        self.novel += 1
        n, alert = self.novel, self.templates[self.novel % len(self.templates)]
        tag = " ".join(WORDS[(n // 12**k) % 12] for k in range(5))  # 12**5 distinct tags: never repeats here
        summary = f"unseen {tag} on {alert.alertname}"
        return as_json([Alert.model_validate({**alert.model_dump(), "annotations": {"summary": summary}})])[0]

    def take(self, count: int) -> list[dict[str, Any]]:
        out = []
        for _ in range(count):
            self.sent += 1
            novel = self.sent % self.novel_every == 0
            out.append(self._novel() if novel else self.familiar[self.sent % len(self.familiar)])
        return out


@dataclass
class Step:
    kind: str
    batch: int
    rate: float
    sent: int
    latencies: list[float]
    errors: int
    alerts: int
    fail_open: int
    elapsed: float
    replicas: dict[str, int]
    cores: dict[str, float]  # cores each role used during the step (benchmarks/process_cpu.py)
    rss_mb: dict[str, float]  # resident memory of each role at the step's end

    def pct(self, q: float) -> float:
        return float(np.percentile(self.latencies, q)) if self.latencies else float("nan")

    @property
    def achieved(self) -> float:
        return len(self.latencies) / self.elapsed if self.elapsed > 0 else 0.0


async def open_loop(url: str, bodies: list[bytes], rate: float, timeout: float) -> tuple[list[Reply], float]:
    """Launch one request per body at start + i / rate; wait for all, each cut off ``timeout`` after its due time."""
    limits = httpx.Limits(max_connections=500, max_keepalive_connections=500)
    headers = {"content-type": "application/json"}
    async with httpx.AsyncClient(base_url=url, timeout=timeout, limits=limits) as client:

        async def send(body: bytes, due: float) -> Reply:
            try:
                left = due + timeout - time.perf_counter()  # the deadline runs from the scheduled time
                reply = await asyncio.wait_for(client.post("/v1/score", content=body, headers=headers), left)
            except (TimeoutError, httpx.HTTPError):
                return None, 0, 0, time.perf_counter()
            done = time.perf_counter()
            if not reply.is_success:
                return None, 0, 0, done
            decisions = reply.json()["decisions"]
            return done - due, len(decisions), sum(d.get("reason_code") == "fail_open" for d in decisions), done

        start = time.perf_counter() + 0.05
        tasks = []
        for i, body in enumerate(bodies):
            due = start + i / rate
            pause = due - time.perf_counter()
            if pause > 0:
                await asyncio.sleep(pause)
            tasks.append(asyncio.create_task(send(body, due)))
        results = await asyncio.gather(*tasks)
    return results, max(r[3] for r in results) - start


def replicas() -> dict[str, int]:
    from ray import serve

    deployments = serve.status().applications[APP].deployments
    return {
        name: sum(n for state, n in d.replica_states.items() if getattr(state, "value", state) == "RUNNING")
        for name, d in deployments.items()
    }


def run_step(
    url: str, traffic: Traffic, kind: str, rate: float, batch: int, seconds: float, timeout: float, meter: CpuMeter
) -> Step:
    count = max(1, round(rate * seconds))
    bodies = [json.dumps({"alerts": traffic.take(batch)}).encode() for _ in range(count)]
    before = meter.sample()
    results, elapsed = asyncio.run(open_loop(url, bodies, rate, timeout))
    after = meter.sample()
    ok = [r for r in results if r[0] is not None]
    return Step(
        kind,
        batch,
        rate,
        count,
        [r[0] for r in results if r[0] is not None],
        len(results) - len(ok),
        sum(r[1] for r in ok),
        sum(r[2] for r in ok),
        elapsed,
        replicas(),
        cores(before, after),
        after.rss_mb,
    )


def header(names: list[str]) -> str:
    cols = f"{'step':<10} {'offered/s':>9} {'achieved/s':>10} {'alerts/s':>9} {'P50 ms':>8} {'P95 ms':>8} {'P99 ms':>8}"
    return cols + f" {'errors':>9} {'fail-open':>9} " + " ".join(f"{n:>{max(len(n), 3)}}" for n in names)


def row(step: Step, names: list[str]) -> str:
    ms = [f"{step.pct(q) * 1000:>8.1f}" for q in (50, 95, 99)]
    share = f"{step.fail_open / step.alerts:>9.1%}" if step.alerts else f"{'-':>9}"
    reps = " ".join(f"{step.replicas.get(n, 0):>{max(len(n), 3)}}" for n in names)
    return (
        f"{step.kind:<10} {step.rate:>9g} {step.achieved:>10.1f} {step.achieved * step.batch:>9.1f} {' '.join(ms)}"
        f" {f'{step.errors}/{step.sent}':>9} {share} {reps}"
    )


def cpu_table(steps: list[Step]) -> list[str]:
    """Where the cores went in each step, and each role's resident memory at its end."""
    roles = sorted({r for s in steps for r in s.cores}, key=lambda r: (r in (PROXY, RAY, GENERATOR), r))
    width = {r: max(len(r), 6) for r in roles}
    lines = [f"{'step':<10} {'offered/s':>9} " + " ".join(f"{r:>{width[r]}}" for r in roles) + f" {'total':>6}"]
    for s in steps:
        used = " ".join(f"{s.cores.get(r, 0.0):>{width[r]}.2f}" for r in roles)
        lines.append(f"{s.kind:<10} {s.rate:>9g} {used} {sum(s.cores.values()):>6.2f}")
    last = steps[-1]
    lines.append(f"{'RSS MB':<10} {'(end)':>9} " + " ".join(f"{last.rss_mb.get(r, 0.0):>{width[r]}.0f}" for r in roles))
    return lines


def rates(text: str) -> list[float]:
    return [float(r) for r in text.split(",") if r.strip()]


def counts(text: str) -> list[int]:
    return [int(n) for n in text.split(",") if n.strip()]


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--encoder", default="all-MiniLM-L6-v2")
    parser.add_argument("--rates", type=rates, default=rates("10,30,60,100,150,200"), help="single-alert req/s")
    parser.add_argument("--bulk-rates", type=rates, default=rates("1,2,5"), help="bulk req/s")
    parser.add_argument("--batch", type=int, default=100, help="alerts per bulk request")
    parser.add_argument("--seconds", type=float, default=20.0, help="length of each step")
    parser.add_argument("--timeout", type=float, default=15.0, help="client timeout per request (s)")
    parser.add_argument("--shards", type=counts, default=[1], help="stream shard counts to ramp, in turn: 1,2")
    parser.add_argument("--ingress-replicas", type=int, default=0, help="Ingress replicas when sharded (0: = shards)")
    args = parser.parse_args()

    history = simulate_history(days=21, seed=11)
    train, later = history[: int(len(history) * 0.7)], history[int(len(history) * 0.7) :]
    encoder = load_encoder(args.encoder)  # exports the ONNX graph once, under the caller's home
    bundle, _ = train_bundle(train, EmbeddingCache(encoder), FeatureConfig(encoder=args.encoder))
    known = bundle.index.known_texts
    familiar = [a for a, t in zip(train, texts_of(train, bundle.meta.features), strict=True) if t in known]
    traffic = Traffic(familiar[-3000:], list(later))
    knees: dict[int, str] = {}
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

        ray.init(address="local", include_dashboard=False, log_to_driver=False)
        try:
            port = free_port()
            serve.start(http_options={"host": "127.0.0.1", "port": port})
            for shards in args.shards:
                knees[shards] = ramp(f"http://127.0.0.1:{port}", traffic, args, str(bundle_dir), shards)
        finally:
            serve.shutdown()  # type: ignore[no-untyped-call]  # Ray leaves serve.shutdown unannotated
            ray.shutdown()
    if len(knees) > 1:
        print("\nknee by stream shard count: " + "; ".join(f"{n} shard(s): {k}" for n, k in knees.items()))


def ramp(url: str, traffic: Traffic, args: argparse.Namespace, champion: str, shards: int) -> str:
    """The whole ramp on a fresh app with ``shards`` stream shards: its tables printed, its knee returned."""
    from ray import serve

    from serve_app.app import build_app
    from serve_app.config import AppArgs

    ingress = 1 if shards <= 1 else (args.ingress_replicas or shards)
    app_args = AppArgs(champion=champion, stream_shards=shards, ingress_replicas=ingress)
    serve.run(build_app(app_args), name=APP, route_prefix="/")
    try:
        while httpx.get(f"{url}/readyz", timeout=60).status_code != 200:
            time.sleep(0.5)
        meter = CpuMeter(APP)
        run_step(url, traffic, "warm-up", 10, 1, 3.0, args.timeout, meter)
        run_step(url, traffic, "warm-up", 1, args.batch, 2.0, args.timeout, meter)
        names = list(replicas())
        print(
            f"\n{shards} stream shard(s), {ingress} Ingress replica(s): open-loop POST /v1/score on 127.0.0.1,"
            f" {args.seconds:g} s a step, timeout {args.timeout:g} s, one alert in ten a first sighting;"
            f" replicas running at the end of each step:"
        )
        print(header(names), flush=True)
        steps = []
        plan = [("single", r, 1) for r in args.rates] + [
            (f"bulk x{args.batch}", r, args.batch) for r in args.bulk_rates
        ]
        for kind, rate, batch in plan:
            steps.append(run_step(url, traffic, kind, rate, batch, args.seconds, args.timeout, meter))
            print(row(steps[-1], names), flush=True)
    finally:
        serve.delete(APP)  # the next shard count starts from a fresh app

    print(f"\ncores used during each step, by process role ({os.cpu_count()} cores here; {shards} shard(s)):")
    print("\n".join(cpu_table(steps)))
    good = [s.rate for s in steps if s.batch == 1 and s.errors == 0 and s.pct(95) <= KNEE_P95_S]
    knee = f"{max(good):g} single-alert req/s" if good else "none (no single-alert step met it)"
    print(f"knee (highest single-alert rate with P95 <= {KNEE_P95_S * 1000:.0f} ms and no errors): {knee}")
    return knee


if __name__ == "__main__":
    main()
