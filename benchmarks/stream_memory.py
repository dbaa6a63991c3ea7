"""Memory of the live stream context over a long, busy stream: bounded by ALERTSIEVE_STREAM_MEMORY, not by time.

    python benchmarks/stream_memory.py [--rate 50] [--hours 24] [--memories 100000,500000] [--every-hours 2]

Replays a synthetic stream fast through the Ingress's stream context (``StreamContext`` over a ``StreamState``,
the core the router holds) at ``--rate`` alerts a second of stream time for ``--hours``: the worst case for
memory, every alert a new occurrence of a fingerprint never seen before (one in 20 on a host it fired on before),
200 alert names, 60 services, 5,000 hosts, 4 clusters. Each configured memory size runs in its own process, side
by side, so resident memory (RSS, from /proc) is not shared between them; the first line of each is the process
before any alert. Per checkpoint: stream hours, alerts replayed, occurrences and fingerprints remembered, RSS,
and the replay speed (microseconds an alert, context features and observation together). A week at 50 alerts/s
is 30 million alerts: ``--hours 168`` takes about an hour here; memory is flat once the memory size is reached
(about 2.8 hours of stream at 50/s for 500,000), which the default day shows.
"""

from __future__ import annotations

import argparse
import multiprocessing
import os
import random
import time
from datetime import UTC, datetime, timedelta

from alertsieve.context import StreamState
from alertsieve.schema import Alert
from alertsieve.scoring import StreamContext

START = datetime(2026, 1, 5, tzinfo=UTC)
# one progress line: memory, hours replayed, alerts, occurrences, fingerprints, RSS MB, microseconds an alert
Progress = tuple[int, float, int, int, int, float, float]


def rss_mb() -> float:
    with open("/proc/self/statm") as handle:
        return int(handle.read().split()[1]) * os.sysconf("SC_PAGE_SIZE") / 2**20


def replay(
    memory: int, rate: float, hours: float, every_hours: float, out: multiprocessing.Queue[Progress | None]
) -> None:
    rng = random.Random(7)
    names = [f"Alert{i}" for i in range(200)]
    context = StreamContext(StreamState(environment_labels=("cluster",), capacity=memory))
    out.put((memory, 0.0, 0, 0, 0, rss_mb(), 0.0))
    total = int(rate * hours * 3600)
    batch, step = 100, int(rate * every_hours * 3600)
    spent, done = 0.0, 0
    while done < total:
        alerts = []
        for i in range(done, min(done + batch, total)):
            labels = {
                "alertname": rng.choice(names),
                "service": f"svc{rng.randrange(60)}",
                "instance": f"host-{rng.randrange(5000)}",
                "cluster": f"c{rng.randrange(4)}",
                "id": str(i),
            }
            alerts.append(Alert(fingerprint=f"{i:016x}", startsAt=START + timedelta(seconds=i / rate), labels=labels))
        started = time.perf_counter()
        context.rows(alerts)
        spent += time.perf_counter() - started
        done += len(alerts)
        if done % step < batch or done >= total:
            state = context.state
            out.put(
                (memory, done / rate / 3600, done, len(state.recent), len(state.seen_fps), rss_mb(), spent / done * 1e6)
            )
    out.put(None)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--rate", type=float, default=50.0, help="alerts a second of stream time")
    parser.add_argument("--hours", type=float, default=24.0, help="hours of stream")
    parser.add_argument("--memories", default="100000,500000", help="ALERTSIEVE_STREAM_MEMORY values to compare")
    parser.add_argument("--every-hours", type=float, default=2.0, help="hours of stream between checkpoints")
    args = parser.parse_args()
    print(
        f"{'memory':>8} {'hours':>6} {'alerts':>11} {'occurrences':>11} {'fingerprints':>12} {'RSS MB':>8} "
        f"{'us/alert':>8}",
        flush=True,
    )
    spawn = multiprocessing.get_context("spawn")
    for memory in (int(m) for m in args.memories.split(",")):
        queue: multiprocessing.Queue[Progress | None] = spawn.Queue()
        worker = spawn.Process(target=replay, args=(memory, args.rate, args.hours, args.every_hours, queue))
        worker.start()
        while (line := queue.get()) is not None:
            m, hours, alerts, occurrences, fingerprints, rss, micros = line
            print(
                f"{m:>8} {hours:>6.1f} {alerts:>11,} {occurrences:>11,} {fingerprints:>12,} {rss:>8.0f} {micros:>8.1f}",
                flush=True,
            )
        worker.join()


if __name__ == "__main__":
    main()
