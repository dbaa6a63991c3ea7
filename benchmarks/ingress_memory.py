"""Memory of the Ingress's router under a stream of unique alerts: each bounded structure reaches its cap, and
resident memory levels off there.

    python benchmarks/ingress_memory.py [--alerts 300000] [--every 25000] [--small 5000] [--no-defaults]

In process, no Serve: the router the Ingress holds (``serve_app/router.py``: stream context, decision memory,
incident guard, live-safety watch, decision log writes to a temporary state store, snapshots on their timer)
scores ``--alerts`` alerts in batches of ``--batch``, every one a new occurrence of a fingerprint never seen
before (a new ``instance`` label on one of the training stream's alerts, so its text is one the model knows),
``--rate`` alerts a second of stream time ending now, through the webhook's path (suppressions wait for delayed
paging, holding their alert) unless ``--score-path``. The model deployment's decisions are made in process by
the same ``Decider`` (a stand-in handle); the model is trained here on ``--days`` simulated days with the
hashing encoder.

Each configuration runs in its own process, so resident memory (RSS, /proc/self/statm) is not shared: ``--small``
sets every cap this can set to one size (decision memory, remembered context rows, the incident guard's hosts,
the live-safety watch's counted occurrences, ALERTSIEVE_STREAM_MEMORY: at least 1,000), and a second run has the
Ingress's own caps (unless ``--no-defaults``; the stream's 500,000 needs ``--alerts`` past it). Its first line, 0 alerts,
is the process with the model loaded and nothing fed: the baseline that "+MB" counts from. Per checkpoint:
RSS, growth over the baseline, KB per alert overall and over the last step (near 0 once the caps are reached),
and each structure's size (its cap in the "cap" line): "waiting" the suppressions held for delayed paging,
"rows" the context rows kept for resends, "occurrences" and "fingerprints" the stream state's, "windows" the
alerts of its last hour, "tracked" its occurrences and firing histories, "hosts" the incident guard's,
"counted" the live-safety watch's.
"""

from __future__ import annotations

import asyncio
import logging
import multiprocessing
import tempfile
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path
from types import SimpleNamespace
from typing import Annotated

import numpy as np
import typer
from stream_memory import rss_mb

from alertsieve.bundle import ModelBundle
from alertsieve.context import StreamState
from alertsieve.decider import Decider
from alertsieve.embedding import EmbeddingCache, load_encoder
from alertsieve.schema import Alert, Decision
from alertsieve.scoring import StreamContext
from alertsieve.text_features import LocalTextLookup
from serve_app.late_paging import FROM_WEBHOOK
from serve_app.router import Router

# what is measured of the router, in the table's order: column name -> the structure
STRUCTURES = ("decisions", "waiting", "rows", "occurrences", "windows", "fingerprints", "tracked", "hosts", "counted")


@dataclass(frozen=True)
class Caps:
    """Caps to set; None: the Ingress's own."""

    decisions: int | None = None  # DecisionMemory.capacity (REMEMBERED)
    rows: int | None = None  # StreamContext.remember: context rows of the occurrences seen last
    stream: int | None = None  # ALERTSIEVE_STREAM_MEMORY: occurrences and fingerprints of the stream state
    hosts: int | None = None  # IncidentGuard.capacity: hosts with a recent confident page
    counted: int | None = None  # LiveSafety.capacity (SEEN_CAPACITY): occurrences counted in its windows

    @classmethod
    def every(cls, size: int) -> Caps:
        return cls(decisions=size, rows=size, stream=max(size, 1_000), hosts=size, counted=size)


@dataclass(frozen=True)
class Step:
    alerts: int
    rss_mb: float
    sizes: dict[str, int]
    micros: float  # per alert, scoring only


class InProcessScorer:
    """The ModelScorer deployment's ``score`` in this process: the champion bundle's decider over its texts."""

    def __init__(self, bundle: ModelBundle) -> None:
        self.decider = Decider(bundle)
        self.lookup = LocalTextLookup(bundle.index, EmbeddingCache(load_encoder(bundle.meta.features.encoder)))

    async def remote(self, alerts: list[Alert], rows: np.ndarray) -> list[Decision]:
        texts = self.decider.featurizer.texts(alerts)
        return self.decider.decide(alerts, rows, self.lookup.lookup(texts))


def build_router(bundle: ModelBundle, caps: Caps, state_location: str) -> Router:
    handle = SimpleNamespace(score=InProcessScorer(bundle))
    router = Router(handle, None, "champion", lambda ref: bundle, state_location=state_location)  # type: ignore[arg-type]
    if caps.stream is not None or caps.rows is not None:
        capacity = caps.stream if caps.stream is not None else router.stream.state.capacity
        state = StreamState.from_snapshot(bundle.meta.stream, capacity)
        router.stream = StreamContext(state, caps.rows if caps.rows is not None else router.stream.remember)
    if caps.decisions is not None:
        router.memory.capacity = caps.decisions
    if caps.hosts is not None:
        router.incidents.capacity = caps.hosts
    if caps.counted is not None:
        router.safety.safety.capacity = caps.counted
    return router


def caps_of(router: Router) -> dict[str, int]:
    """Each structure's cap as the router holds it (the stream state's: one beyond its memory, the alert just
    observed; "tracked", its occurrences and firing histories, is pruned past twice its memory)."""
    capacity = router.stream.state.capacity
    return {
        "decisions": router.memory.capacity,
        "waiting": router.memory.capacity,
        "rows": router.stream.remember,
        "occurrences": capacity + 1,
        "windows": capacity + 1,
        "fingerprints": capacity,
        "tracked": 2 * capacity + 1,
        "hosts": router.incidents.capacity,
        "counted": router.safety.safety.capacity,
    }


def sizes_of(router: Router) -> dict[str, int]:
    state = router.stream.state
    return {
        "decisions": len(router.memory),
        "waiting": len(router.memory.firing_suppressed()),
        "rows": router.stream.remembered,
        "occurrences": len(state.recent),
        "windows": len(state.windows.log),  # the last hour's alerts, the longest of the windows
        "fingerprints": len(state.seen_fps),
        "tracked": max(len(state.occurrences), len(state.fp_times)),
        "hosts": len(router.incidents.last_confident),
        "counted": len(router.safety.safety.seen),
    }


def unique_alerts(
    templates: Sequence[Alert], start: int, count: int, total: int, rate: float, now: float
) -> list[Alert]:
    """Alerts ``start`` .. ``start + count``: each template's labels on a host never seen (a new fingerprint),
    ``rate`` a second of stream time, the last of ``total`` starting at ``now``."""
    out = []
    for i in range(start, start + count):
        template = templates[i % len(templates)]
        at = datetime.fromtimestamp(now - (total - i) / rate, UTC)
        labels = {**template.labels, "instance": f"ingress-memory-{i}"}
        out.append(Alert(labels=labels, annotations=template.annotations, startsAt=at))
    return out


async def feed(
    router: Router,
    templates: Sequence[Alert],
    total: int,
    batch: int,
    every: int,
    rate: float,
    webhook: bool,
    on_step: Callable[[Step], None],
) -> None:
    """Score ``total`` unique alerts through the router, reporting a step every ``every`` alerts (and at 0)."""
    mark = FROM_WEBHOOK.set(webhook)
    try:
        on_step(Step(0, rss_mb(), sizes_of(router), 0.0))
        now, done, spent, last = time.time(), 0, 0.0, 0
        while done < total:
            alerts = unique_alerts(templates, done, min(batch, total - done), total, rate, now)
            started = time.perf_counter()
            await router.score(alerts)
            spent += time.perf_counter() - started
            done += len(alerts)
            if done - last >= every or done == total:
                last = done
                on_step(Step(done, rss_mb(), sizes_of(router), spent / done * 1e6))
    finally:
        FROM_WEBHOOK.reset(mark)


def train(days: int) -> tuple[ModelBundle, list[Alert]]:
    """A small model on ``days`` simulated days (hashing encoder), and those days' alerts as templates."""
    from alertsieve.featurize import FeatureConfig
    from alertsieve.model import TrainParams
    from alertsieve.policy import ThresholdParams
    from alertsieve.simulate import simulate_history
    from alertsieve.training import train_bundle

    history = simulate_history(days=days, seed=0)
    bundle, _ = train_bundle(
        history,
        EmbeddingCache(load_encoder("hashing-64")),
        FeatureConfig(encoder="hashing-64", label_delay_hours=1.0),
        TrainParams(epochs=4, batch_size=256, seed=0),
        ThresholdParams(budget=0.1, service_cap=0.2),  # loose: the router holds suppressions too
    )
    return bundle, list(history)


@dataclass(frozen=True)
class Run:
    name: str
    caps: Caps
    alerts: int
    batch: int
    every: int
    rate: float
    webhook: bool
    days: int


Line = tuple[str, dict[str, int] | Step | None]  # ("caps", its caps), ("step", a step), or (name, None): done


def run_one(run: Run, out: multiprocessing.Queue[Line]) -> None:
    """One configuration in this (spawned) process: train, build the router, feed, report each step."""
    logging.getLogger("ray.serve").setLevel(logging.WARNING)  # the router logs every decision at INFO
    bundle, templates = train(run.days)
    with tempfile.TemporaryDirectory(prefix="ingress-memory-") as state:
        router = build_router(bundle, run.caps, str(Path(state)))
        out.put((run.name, caps_of(router)))
        asyncio.run(
            feed(
                router,
                templates,
                run.alerts,
                run.batch,
                run.every,
                run.rate,
                run.webhook,
                lambda s: out.put((run.name, s)),
            )
        )
    out.put((run.name, None))


def header() -> str:
    names = "".join(f" {n:>12}" for n in STRUCTURES)
    return f"{'caps':>8} {'alerts':>9} {'RSS MB':>7} {'+MB':>6} {'KB/alert':>8} {'KB/step':>7}{names} {'us/alert':>8}"


def row(name: str, step: Step, base: Step, previous: Step) -> str:
    grown = step.rss_mb - base.rss_mb
    per = grown * 1024 / step.alerts if step.alerts else 0.0
    fed = step.alerts - previous.alerts
    per_step = (step.rss_mb - previous.rss_mb) * 1024 / fed if fed else 0.0
    sizes = "".join(f" {step.sizes[n]:>12,}" for n in STRUCTURES)
    return (
        f"{name:>8} {step.alerts:>9,} {step.rss_mb:>7.0f} {grown:>6.0f} {per:>8.2f} {per_step:>7.2f}{sizes} "
        f"{step.micros:>8.0f}"
    )


def main(
    alerts: Annotated[int, typer.Option(min=1, help="unique alerts fed per configuration")] = 300_000,
    batch: Annotated[int, typer.Option(min=1, help="alerts per router.score call")] = 500,
    every: Annotated[int, typer.Option(min=1, help="alerts between checkpoints")] = 25_000,
    small: Annotated[int, typer.Option(min=0, help="the caps of the small configuration (0: skip it)")] = 5_000,
    defaults: Annotated[bool, typer.Option(help="also run with the Ingress's own caps")] = True,
    rate: Annotated[float, typer.Option(min=0.001, help="alerts a second of stream time")] = 50.0,
    score_path: Annotated[bool, typer.Option(help="as POST /v1/score (default: the webhook's path)")] = False,
    days: Annotated[int, typer.Option(min=2, help="simulated days the model is trained on")] = 4,
) -> None:
    runs = [Run(f"{small:,}", Caps.every(small), alerts, batch, every, rate, not score_path, days)] if small else []
    if defaults:
        runs.append(Run("default", Caps(), alerts, batch, every, rate, not score_path, days))
    spawn = multiprocessing.get_context("spawn")
    print(header(), flush=True)
    for run in runs:
        queue: multiprocessing.Queue[Line] = spawn.Queue()
        worker = spawn.Process(target=run_one, args=(run, queue))
        worker.start()
        base: Step | None = None
        previous: Step | None = None
        while (line := queue.get())[1] is not None:
            item = line[1]
            if isinstance(item, dict):
                caps = "".join(f" {item[n]:>12,}" for n in STRUCTURES)
                print(f"{'cap':>8} {'':>9} {'':>7} {'':>6} {'':>8} {'':>7}{caps}", flush=True)
                continue
            base = base or item
            print(row(run.name, item, base, previous or item), flush=True)
            previous = item
        worker.join()


if __name__ == "__main__":
    typer.run(main)
